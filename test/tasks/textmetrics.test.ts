import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bleuFromStatistics, corpusBleu, corpusChrf, tokenize13a } from '../../src/tasks/textmetrics';

describe('13a tokenizer', () => {
  it('splits punctuation but keeps numbers, apostrophes and inner dashes', () => {
    expect(tokenize13a('Hello, world!')).toBe('Hello , world !');
    // "$" is split off; "3.50" keeps its point (digits on both sides); the comma before a space is split.
    expect(tokenize13a('It costs $3.50, ok.')).toBe('It costs $ 3.50 , ok .');
    // A dash is split only after a digit.
    expect(tokenize13a("don't stop state-of-the-art 1990-2000 now.")).toBe("don't stop state-of-the-art 1990 - 2000 now .");
    expect(tokenize13a('a &amp; b &lt;c&gt;')).toBe('a & b < c >');
  });
});

describe('corpus BLEU', () => {
  it('is 100 for a perfect match', () => {
    const r = corpusBleu(['the cat sat on the mat'], ['the cat sat on the mat']);
    expect(r.score).toBeCloseTo(100, 10);
    expect(r.bp).toBe(1);
  });

  it('matches a hand-computed partial match', () => {
    // hyp: the cat sat on the mat / ref: the cat sat on a mat (6 tokens each, BP = 1)
    // 1-grams: the×2 (clipped to 1), cat, sat, on, mat → 5/6
    // 2-grams: the cat, cat sat, sat on ✓; on the, the mat ✗ → 3/5
    // 3-grams: the cat sat, cat sat on ✓; sat on the, on the mat ✗ → 2/4
    // 4-grams: the cat sat on ✓; cat sat on the, sat on the mat ✗ → 1/3
    // BLEU = 100 · (5/6 · 3/5 · 2/4 · 1/3)^(1/4) = 100 · (1/12)^(1/4) = 53.7284…
    const r = corpusBleu(['the cat sat on the mat'], ['the cat sat on a mat']);
    expect(r.counts).toEqual([5, 3, 2, 1]);
    expect(r.totals).toEqual([6, 5, 4, 3]);
    expect(r.score).toBeCloseTo(100 * (1 / 12) ** 0.25, 10);
  });

  it('pools statistics over the corpus instead of averaging sentences', () => {
    // seg 1 "a b c d" perfect: 4/4, 3/3, 2/2, 1/1; seg 2 "e f" vs "e g": 1/2, 0/1.
    // Summed: 5/6, 3/4, 2/2, 1/1 → 100 · (5/6 · 3/4)^(1/4) = 100 · 0.625^(1/4) = 88.9140…
    const r = corpusBleu(['a b c d', 'e f'], ['a b c d', 'e g']);
    expect(r.score).toBeCloseTo(100 * 0.625 ** 0.25, 10);
  });

  it('applies the brevity penalty, and is 0 without 4-grams unless effective order is on', () => {
    // hyp "the cat" (2) vs ref of 6 tokens: no 3- or 4-grams → 0.
    expect(corpusBleu(['the cat'], ['the cat sat on the mat']).score).toBe(0);
    // Effective order 2: precisions 100, 100; BP = e^(1 − 6/2) = e^−2 → 13.5335…
    const r = corpusBleu(['the cat'], ['the cat sat on the mat'], { effectiveOrder: true });
    expect(r.bp).toBeCloseTo(Math.exp(-2), 12);
    expect(r.score).toBeCloseTo(100 * Math.exp(-2), 10);
  });

  it("smooths zero-match orders with 'exp' (NIST) only when asked", () => {
    // "a b c d" vs "a b x d": p1 = 3/4, p2 = 1/3, p3 = 0/2, p4 = 0/1.
    expect(corpusBleu(['a b c d'], ['a b x d']).score).toBe(0);
    // exp: p3 = 100/(2·2) = 25, p4 = 100/(4·1) = 25 → (75 · 33.33 · 25 · 25)^(1/4) = 1562500^(1/4) = 35.3553…
    const r = corpusBleu(['a b c d'], ['a b x d'], { smooth: 'exp' });
    expect(r.precisions[2]).toBeCloseTo(25, 12);
    expect(r.precisions[3]).toBeCloseTo(25, 12);
    expect(r.score).toBeCloseTo(1562500 ** 0.25, 10);
  });

  it('scores an empty hypothesis 0 and an empty corpus 0', () => {
    const r = corpusBleu([''], ['the cat']);
    expect(r.score).toBe(0);
    expect(r.bp).toBe(0);
    expect(r.sysLen).toBe(0);
    expect(corpusBleu([], []).score).toBe(0);
  });

  it('uses the closest reference length (shorter on ties) and max counts over references', () => {
    // hyp 3 tokens; refs of 2 and 4 tokens are equally close → 2 is used, so BP = 1.
    const r = corpusBleu(['a b c'], [['a b'], ['a b c d']]);
    expect(r.refLen).toBe(2);
    expect(r.bp).toBe(1);
    // Clipping uses the best reference per n-gram: "a b c" matches fully in ref 2.
    expect(r.counts.slice(0, 3)).toEqual([3, 2, 1]);
  });

  it('rejects mismatched stream lengths and segments without a reference', () => {
    expect(() => corpusBleu(['a', 'b'], ['a'])).toThrow(/segments/);
    expect(() => corpusBleu(['a'], [''])).toThrow(/no non-empty reference/);
  });

  it('bleuFromStatistics gives 0 when nothing matches, whatever the smoothing', () => {
    expect(bleuFromStatistics([0, 0, 0, 0], [3, 2, 1, 0], 3, 3, { smooth: 'exp' }).score).toBe(0);
  });
});

describe('corpus chrF', () => {
  it('is 100 for identical text, ignoring whitespace', () => {
    expect(corpusChrf(['the cat sat'], ['the cat sat']).score).toBeCloseTo(100, 10);
    expect(corpusChrf(['a b c'], ['abc']).score).toBeCloseTo(100, 10);
  });

  it('matches a hand-computed partial match', () => {
    // "abc" vs "abd": 1-grams 2/3 both ways, 2-grams 1/2, 3-grams 0/1; orders 4–6 absent.
    // avg P = avg R = (2/3 + 1/2 + 0)/3 = 7/18, and F_β of P = R is P → 38.888…
    const r = corpusChrf(['abc'], ['abd']);
    expect(r.score).toBeCloseTo((100 * 7) / 18, 10);
    expect(r.statistics.slice(0, 3)).toEqual([
      [3, 3, 2],
      [2, 2, 1],
      [1, 1, 0],
    ]);
  });

  it('weights recall by β = 2', () => {
    // "ab" vs "abcd": 1-grams P = 2/2, R = 2/4; 2-grams P = 1/1, R = 1/3; 3-grams: no hypothesis n-grams → skipped.
    // avg P = 1, avg R = 5/12; F2 = 5·P·R / (4P + R) = (25/12)/(53/12) = 25/53 → 47.1698…
    expect(corpusChrf(['ab'], ['abcd']).score).toBeCloseTo((100 * 25) / 53, 10);
    // β = 1 is the harmonic mean: 2·(5/12)/(17/12) = 10/17.
    expect(corpusChrf(['ab'], ['abcd'], { beta: 1 }).score).toBeCloseTo((100 * 10) / 17, 10);
  });

  it('adds word unigrams and bigrams for chrF++', () => {
    // "ab cd" vs "ab ce": chars "abcd"/"abce": 3/4, 2/3, 1/2, 0/1; words: 1/2, 0/1 (P = R throughout).
    // chrF = (3/4 + 2/3 + 1/2 + 0)/4 = 23/48; chrF++ = (29/12)/6 = 29/72.
    expect(corpusChrf(['ab cd'], ['ab ce']).score).toBeCloseTo((100 * 23) / 48, 10);
    expect(corpusChrf(['ab cd'], ['ab ce'], { wordOrder: 2 }).score).toBeCloseTo((100 * 29) / 72, 10);
  });

  it('scores an empty hypothesis 0', () => {
    expect(corpusChrf([''], ['the cat']).score).toBe(0);
  });

  it('counts code points, not UTF-16 units', () => {
    // 𝔸 is one code point (two UTF-16 units): "𝔸b" vs "𝔸c" → 1-grams 1/2, 2-grams 0/1 → (1/2 + 0)/2 = 1/4.
    expect(corpusChrf(['𝔸b'], ['𝔸c']).score).toBeCloseTo(25, 10);
  });
});

interface ParityCase {
  name: string;
  hyps: string[];
  refs: string[][];
  bleu_none: number;
  bleu_exp: number;
  bleu_floor: number;
  bleu_addk: number;
  bleu_lc: number;
  chrf: number;
  chrfpp: number;
  chrf_eps: number;
}

describe('parity with sacreBLEU 2.6.0 (fixture generated by sacrebleu itself)', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/sacrebleu-parity.json', import.meta.url), 'utf8')) as {
    cases: ParityCase[];
    tokenize13a: Array<[string, string]>;
  };

  it('tokenizes like Tokenizer13a', () => {
    for (const [input, expected] of fixture.tokenize13a) expect(tokenize13a(input)).toBe(expected);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      expect(corpusBleu(c.hyps, c.refs).score).toBeCloseTo(c.bleu_none, 8);
      expect(corpusBleu(c.hyps, c.refs, { smooth: 'exp' }).score).toBeCloseTo(c.bleu_exp, 8);
      expect(corpusBleu(c.hyps, c.refs, { smooth: 'floor' }).score).toBeCloseTo(c.bleu_floor, 8);
      expect(corpusBleu(c.hyps, c.refs, { smooth: 'add-k' }).score).toBeCloseTo(c.bleu_addk, 8);
      expect(corpusBleu(c.hyps, c.refs, { lowercase: true }).score).toBeCloseTo(c.bleu_lc, 8);
      expect(corpusChrf(c.hyps, c.refs).score).toBeCloseTo(c.chrf, 8);
      expect(corpusChrf(c.hyps, c.refs, { wordOrder: 2 }).score).toBeCloseTo(c.chrfpp, 8);
      expect(corpusChrf(c.hyps, c.refs, { epsSmoothing: true }).score).toBeCloseTo(c.chrf_eps, 8);
    });
  }
});
