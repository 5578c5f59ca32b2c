import { describe, expect, it } from 'vitest';
import { analyze, type StemMode } from '../../src/selfspec/analyzer';
import { Bm25Index } from '../../src/selfspec/bm25';
import type { Passage } from '../../src/selfspec/corpus';

const P = (texts: string[]): Passage[] => texts.map((text, i) => ({ id: `p${i + 1}`, text }));

/** Plain float64 BM25 straight from the formula, over token lists: the reference. */
function referenceScores(docs: string[][], query: string[], k1: number, b: number): number[] {
  const N = docs.length;
  const avgdl = docs.reduce((s, d) => s + d.length, 0) / N;
  return docs.map((d) => {
    let s = 0;
    for (const t of new Set(query)) {
      const tf = d.filter((x) => x === t).length;
      if (tf === 0) continue;
      const n = docs.filter((x) => x.includes(t)).length;
      const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
      s += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * d.length) / avgdl));
    }
    return s;
  });
}

describe('BM25: known values', () => {
  // Analysed (stem none): d1 [cat, sat, mat] |3|; d2 [cat, cat, dog] |3|; d3 [dog, bird] |2|; avgdl 8/3.
  const corpus = P(['The cat sat on the mat.', 'Cat, cat and dog!', 'a dog; a bird']);

  it('scores by hand: query "cat dog" (k1 0.9, b 0.4)', () => {
    const idx = Bm25Index.build(corpus, { stem: 'none' });
    const avgdl = 8 / 3;
    const idfCat = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)); // n = 2
    const idfDog = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)); // n = 2
    const norm = (len: number) => 0.9 * (1 - 0.4 + (0.4 * len) / avgdl);
    const s1 = (idfCat * 1 * 1.9) / (1 + norm(3));
    const s2 = (idfCat * 2 * 1.9) / (2 + norm(3)) + (idfDog * 1 * 1.9) / (1 + norm(3));
    const s3 = (idfDog * 1 * 1.9) / (1 + norm(2));
    const hits = idx.search('cat dog', 5);
    expect(hits.map((h) => h.id)).toEqual(['p2', 'p3', 'p1']);
    expect(hits[0].score).toBeCloseTo(s2, 9);
    expect(hits[1].score).toBeCloseTo(s3, 9);
    expect(hits[2].score).toBeCloseTo(s1, 9);
    // The same numbers, computed independently in Python (float64).
    expect(Math.abs(hits[0].score - 1.0655858050898424)).toBeLessThan(1e-9);
    expect(Math.abs(hits[1].score - 0.4933739754513246)).toBeLessThan(1e-9);
    expect(Math.abs(hits[2].score - 0.45912950928889334)).toBeLessThan(1e-9);
    expect(hits[0]).toMatchObject({ text: 'Cat, cat and dog!', index: 1 });
  });

  it('sums over distinct query terms: a repeated query word counts once', () => {
    const idx = Bm25Index.build(corpus, { stem: 'none' });
    expect(idx.search('cat cat cat', 3).map((h) => h.score)).toEqual(idx.search('cat', 3).map((h) => h.score));
  });

  it('k1 and b change the scores as the formula says', () => {
    const idx = Bm25Index.build(corpus, { stem: 'none', k1: 1.2, b: 0.75 });
    const ref = referenceScores([['cat', 'sat', 'mat'], ['cat', 'cat', 'dog'], ['dog', 'bird']], ['bird', 'cat'], 1.2, 0.75);
    for (const h of idx.search('bird cat', 3)) expect(Math.abs(h.score - ref[h.index])).toBeLessThan(1e-9);
  });

  it('ties are broken by corpus order', () => {
    const idx = Bm25Index.build(P(['beta alpha', 'alpha beta', 'gamma', 'beta alpha']), { stem: 'none' });
    expect(idx.search('alpha', 3).map((h) => h.index)).toEqual([0, 1, 3]);
    expect(idx.search('alpha', 2).map((h) => h.index)).toEqual([0, 1]);
  });

  it('|d| counts tokens after stop words', () => {
    const idx = Bm25Index.build(P(['the the the of cat', 'cat dog']), { stem: 'none' });
    expect([...idx.docLen]).toEqual([1, 2]);
  });
});

describe('BM25 against the reference on random corpora', () => {
  it('same scores (1e-9) and the same order, for both stem modes', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const vocab = ['cells', 'cell', 'running', 'runs', 'the', 'of', 'tumour', 'protein', 'proteins', 'dna', 'rna', 'binding', 'bind', 'x', 'β-catenin', 'is'];
    for (const stem of ['porter', 'none'] as StemMode[]) {
      for (let trial = 0; trial < 20; trial++) {
        const texts = Array.from({ length: 1 + Math.floor(rand() * 30) }, () => Array.from({ length: Math.floor(rand() * 12) }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '));
        if (texts.every((t) => analyze(t, stem).length === 0)) continue;
        const idx = Bm25Index.build(P(texts), { stem });
        const q = Array.from({ length: 3 }, () => vocab[Math.floor(rand() * vocab.length)]).join(' ');
        const ref = referenceScores(texts.map((t) => analyze(t, stem)), analyze(q, stem), 0.9, 0.4);
        const want = ref.map((s, i) => ({ s, i })).filter((x) => x.s > 0).sort((a, b) => b.s - a.s || a.i - b.i);
        const got = idx.search(q, texts.length);
        expect(got.length).toBe(want.length);
        got.forEach((h, j) => {
          expect(Math.abs(h.score - ref[h.index])).toBeLessThan(1e-9);
          if (j > 0) expect(got[j - 1].score > h.score || (got[j - 1].score === h.score && got[j - 1].index < h.index)).toBe(true);
        });
      }
    }
  });
});

describe('BM25: bad input', () => {
  it('empty corpus, a corpus with no words, bad k1/b/k: clear messages', () => {
    expect(() => Bm25Index.build([])).toThrow(/the corpus is empty/);
    expect(() => Bm25Index.build(P(['the of', '...']))).toThrow(/no indexable words/);
    expect(() => Bm25Index.build(P(['x']), { k1: -1 })).toThrow(/k1 must be a number ≥ 0/);
    expect(() => Bm25Index.build(P(['x']), { b: 2 })).toThrow(/b must be a number in \[0, 1\]/);
    expect(() => Bm25Index.build(P(['x'])).search('x', 0)).toThrow(/k must be a positive integer/);
  });

  it('a query with no known word: no hits and a reason', () => {
    const idx = Bm25Index.build(P(['cat dog']));
    expect(idx.query('zebra', 3)).toEqual({ hits: [], note: 'no query word occurs in the corpus (analysed: zebra)' });
    expect(idx.query('the of !!', 3).note).toMatch(/no words after analysis/);
  });

  it('k larger than the corpus returns every matching passage, with a note', () => {
    const idx = Bm25Index.build(P(['cat', 'dog', 'cat dog']));
    const r = idx.query('cat', 10);
    expect(r.hits.map((h) => h.id)).toEqual(['p1', 'p3']);
    expect(r.note).toMatch(/only 2 of the 3 passages contain a query word \(k = 10\)/);
  });

  it('repeated queries give the same result (scratch buffers are reset)', () => {
    const idx = Bm25Index.build(P(['cat', 'dog', 'cat dog']));
    const a = idx.search('cat dog', 3);
    idx.search('dog', 3);
    expect(idx.search('cat dog', 3)).toEqual(a);
  });
});
