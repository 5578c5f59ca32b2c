import { describe, expect, it } from 'vitest';
import { DedupPool, lcsLength, rougeL, rougeTokens } from '../../src/selfspec/rouge';

describe('rouge_score tokenization (no stemmer)', () => {
  it('lower case, non [a-z0-9] runs become spaces, non-ASCII letters dropped', () => {
    expect(rougeTokens('Hello, World! It\'s 2024.')).toEqual(['hello', 'world', 'it', 's', '2024']);
    expect(rougeTokens('café au lait — naïve')).toEqual(['caf', 'au', 'lait', 'na', 've']);
    expect(rougeTokens('Running dogs')).toEqual(['running', 'dogs']); // no stemming
    expect(rougeTokens(' !!! ')).toEqual([]);
  });
});

describe('ROUGE-L known values', () => {
  it('Lin (2004) example: "police killed the gunman"', () => {
    // S2 shares "police … the gunman" (LCS 3 of 4); S3 only "the gunman" (2 of 4).
    expect(rougeL('police killed the gunman', 'police kill the gunman').fmeasure).toBe(0.75);
    expect(rougeL('police killed the gunman', 'the gunman kill police').fmeasure).toBe(0.5);
  });

  it('precision over the prediction, recall over the target', () => {
    const s = rougeL('the cat sat on the mat', 'the cat on the mat');
    expect(s.precision).toBe(1);
    expect(s.recall).toBe(5 / 6);
    expect(s.fmeasure).toBeCloseTo(10 / 11, 15);
  });

  it('punctuation and case do not matter; order does', () => {
    expect(rougeL('Hello, World!', 'hello world').fmeasure).toBe(1);
    expect(rougeL('a b c d', 'd c b a').fmeasure).toBe(0.25);
    expect(rougeL('a b c d', 'x y').fmeasure).toBe(0);
  });

  it('an empty side scores 0', () => {
    expect(rougeL('', 'x')).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
    expect(rougeL('!!!', '!!!').fmeasure).toBe(0);
  });

  it('LCS against a brute-force subsequence search on small random strings', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const isSubseq = (s: number[], t: number[]) => {
      let i = 0;
      for (const x of t) if (i < s.length && s[i] === x) i++;
      return i === s.length;
    };
    for (let trial = 0; trial < 200; trial++) {
      const a = Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 3));
      const b = Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 3));
      let best = 0;
      for (let mask = 0; mask < 1 << a.length; mask++) {
        const sub = a.filter((_, i) => mask & (1 << i));
        if (sub.length > best && isSubseq(sub, b)) best = sub.length;
      }
      expect(lcsLength(a, b)).toBe(best);
    }
  });
});

/** Random instruction-like texts: templates over a small vocabulary, so near-duplicates are common. */
function instructions(n: number, seed: number): string[] {
  let s = seed;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const verbs = ['Explain', 'Describe', 'List', 'Summarize', 'Classify', 'Identify', 'Compare', 'Predict'];
  const objs = ['the mechanism', 'the side effects', 'the symptoms', 'the risk factors', 'the treatment options', 'the diagnosis', 'the role'];
  const topics = ['diabetes', 'asthma', 'insulin', 'aspirin', 'statins', 'hypertension', 'sepsis', 'malaria', 'influenza', 'anemia', 'gout', 'migraine'];
  const tails = ['', ' in adults', ' in children', ' for a patient', ' given the abstract', ' in one sentence', ' with examples', ' briefly'];
  return Array.from({ length: n }, () => `${pick(verbs)} ${pick(objs)} of ${pick(topics)}${pick(tails)}${pick(tails)}.`);
}

describe('DedupPool', () => {
  it('nearest() equals brute force over the pool (score, and lowest index among equals)', () => {
    const texts = instructions(400, 3);
    const pool = new DedupPool();
    const kept: string[] = [];
    for (const t of texts) {
      let want: { index: number; score: number } | null = null;
      kept.forEach((k, i) => {
        const f = rougeL(k, t).fmeasure;
        if (f >= 0.7 && (!want || f > want.score)) want = { index: i, score: f };
      });
      expect(pool.nearest(t, 0.7)).toEqual(want);
      if (!want) {
        pool.add(t);
        kept.push(t);
      }
    }
    expect(kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeLessThan(400);
    expect(pool.size).toBe(kept.length);
    expect(pool.text(0)).toBe(kept[0]);
  });

  it('an exact repeat matches with score 1; an empty or unknown text matches nothing; bad threshold refused', () => {
    const pool = new DedupPool();
    pool.add('Explain how insulin lowers blood glucose.');
    expect(pool.nearest('explain how INSULIN lowers blood glucose')).toEqual({ index: 0, score: 1 });
    expect(pool.nearest('...')).toBeNull();
    expect(pool.nearest('zebra quagga okapi')).toBeNull();
    expect(() => pool.nearest('x', 0)).toThrow(/threshold must be in \(0, 1\]/);
  });

  it('5,000 candidates against the growing pool in well under 10 s (a generous bound, requested by issue 8)', () => {
    // Mostly distinct texts (the pool grows to thousands) with edited copies mixed in.
    let s = 11;
    const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    const words = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`);
    const cands: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i > 0 && rand() < 0.3) {
        const src = cands[Math.floor(rand() * i)].split(' ');
        src[Math.floor(rand() * src.length)] = words[Math.floor(rand() * words.length)];
        cands.push(src.join(' '));
      } else {
        cands.push(Array.from({ length: 8 + Math.floor(rand() * 25) }, () => words[Math.floor(rand() ** 2 * words.length)]).join(' '));
      }
    }
    const t0 = performance.now();
    const pool = new DedupPool();
    let dup = 0;
    for (const t of cands) {
      if (pool.nearest(t, 0.7)) dup++;
      else pool.add(t);
    }
    expect(dup + pool.size).toBe(5000);
    expect(pool.size).toBeGreaterThan(3000);
    expect(dup).toBeGreaterThan(500);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
