/**
 * Okapi BM25 over an in-memory passage index (issue 8 item 5), Pyserini's variant:
 *   score(q, d) = Σ over the DISTINCT analysed query terms t present in d of
 *                 idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d|/avgdl)),
 *   idf(t) = ln(1 + (N − n_t + 0.5)/(n_t + 0.5)),
 * |d| = analysed tokens of d after stop words; k1 = 0.9, b = 0.4 by default; ties by corpus order.
 * Scores are computed in float64 at query time (exact), from compact postings: per term a run of
 * passage indices (Uint32Array) and term frequencies (Float32Array, exact for tf < 2^24).
 */
import { createAnalyzer, type Analyzer, type StemMode } from './analyzer';
import type { Passage } from './corpus';

export interface Bm25Options {
  stem?: StemMode;
  k1?: number;
  b?: number;
}

export interface Bm25Hit {
  id: string;
  score: number;
  text: string;
  /** Index of the passage in the corpus as given to build(). */
  index: number;
}

export interface Bm25Result {
  hits: Bm25Hit[];
  /** Why fewer than k hits came back (no known query word, k beyond the matching passages). */
  note?: string;
}

/** Growable Uint32Array: index building appends millions of entries without boxed JS arrays. */
class U32Buffer {
  data = new Uint32Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
}

export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  readonly stem: StemMode;
  readonly avgdl: number;
  private readonly analyzer: Analyzer;
  private readonly scores: Float64Array; // [N] scratch, zero between queries
  private readonly touched: Uint32Array; // [N] scratch: passages scored by the current query

  private constructor(
    private readonly passages: readonly Passage[],
    private readonly vocab: Map<string, number>,
    private readonly termStart: Uint32Array, // [V + 1] offsets into postings
    private readonly postDoc: Uint32Array, // [postings] passage index, ascending within a term
    private readonly postTf: Float32Array, // [postings] term frequency
    private readonly docNorm: Float64Array, // [N] k1·(1 − b + b·|d|/avgdl)
    readonly docLen: Uint32Array, // [N] |d|
    opts: Required<Bm25Options>,
    avgdl: number,
  ) {
    this.k1 = opts.k1;
    this.b = opts.b;
    this.stem = opts.stem;
    this.avgdl = avgdl;
    this.analyzer = createAnalyzer(opts.stem);
    this.scores = new Float64Array(passages.length);
    this.touched = new Uint32Array(passages.length);
  }

  static build(passages: readonly Passage[], opts: Bm25Options = {}): Bm25Index {
    const o: Required<Bm25Options> = { stem: opts.stem ?? 'porter', k1: opts.k1 ?? 0.9, b: opts.b ?? 0.4 };
    if (!(Number.isFinite(o.k1) && o.k1 >= 0)) throw new Error(`k1 must be a number ≥ 0, got ${o.k1}`);
    if (!(Number.isFinite(o.b) && o.b >= 0 && o.b <= 1)) throw new Error(`b must be a number in [0, 1], got ${o.b}`);
    if (passages.length === 0) throw new Error('the corpus is empty: give at least one passage.');
    const analyzer = createAnalyzer(o.stem);
    const vocab = new Map<string, number>();
    const N = passages.length;
    const docLen = new Uint32Array(N);
    // Pass 1: each passage's distinct terms with their frequencies, in passage order.
    const pairTerm = new U32Buffer();
    const pairTf = new U32Buffer();
    const pairStart = new Uint32Array(N + 1);
    const df: number[] = [];
    const ids = new U32Buffer();
    let totalLen = 0;
    for (let d = 0; d < N; d++) {
      const tokens = analyzer(passages[d].text);
      docLen[d] = tokens.length;
      totalLen += tokens.length;
      ids.length = 0;
      for (const t of tokens) {
        let id = vocab.get(t);
        if (id === undefined) {
          id = vocab.size;
          vocab.set(t, id);
          df.push(0);
        }
        ids.push(id);
      }
      const sorted = ids.data.subarray(0, ids.length).sort();
      for (let i = 0; i < sorted.length; ) {
        let j = i + 1;
        while (j < sorted.length && sorted[j] === sorted[i]) j++;
        pairTerm.push(sorted[i]);
        pairTf.push(j - i);
        df[sorted[i]]++;
        i = j;
      }
      pairStart[d + 1] = pairTerm.length;
    }
    if (totalLen === 0) throw new Error('the corpus has no indexable words (only stop words, punctuation or empty passages).');
    // Pass 2: invert into per-term postings (CSR); passages visited in order keep each run sorted.
    const V = vocab.size;
    const termStart = new Uint32Array(V + 1);
    for (let t = 0; t < V; t++) termStart[t + 1] = termStart[t] + df[t];
    const fill = termStart.slice(0, V);
    const postDoc = new Uint32Array(pairTerm.length);
    const postTf = new Float32Array(pairTerm.length);
    for (let d = 0; d < N; d++) {
      for (let p = pairStart[d]; p < pairStart[d + 1]; p++) {
        const at = fill[pairTerm.data[p]]++;
        postDoc[at] = d;
        postTf[at] = pairTf.data[p];
      }
    }
    const avgdl = totalLen / N;
    const docNorm = new Float64Array(N);
    for (let d = 0; d < N; d++) docNorm[d] = o.k1 * (1 - o.b + (o.b * docLen[d]) / avgdl);
    return new Bm25Index(passages, vocab, termStart, postDoc, postTf, docNorm, docLen, o, avgdl);
  }

  get size(): number {
    return this.passages.length;
  }

  get vocabularySize(): number {
    return this.vocab.size;
  }

  /** Bytes held by the index arrays (not the passage texts nor the vocabulary map). */
  get indexBytes(): number {
    return this.termStart.byteLength + this.postDoc.byteLength + this.postTf.byteLength + this.docNorm.byteLength + this.docLen.byteLength + this.scores.byteLength + this.touched.byteLength;
  }

  /** Number of passages containing an analysed term (0 when unknown). */
  df(term: string): number {
    const t = this.vocab.get(term);
    return t === undefined ? 0 : this.termStart[t + 1] - this.termStart[t];
  }

  idf(term: string): number {
    const n = this.df(term);
    const N = this.passages.length;
    return Math.log(1 + (N - n + 0.5) / (n + 0.5));
  }

  /** Top k passages, best first. */
  search(query: string, k: number): Bm25Hit[] {
    return this.query(query, k).hits;
  }

  /** Top k passages, best first, with a note when fewer than k come back. */
  query(query: string, k: number): Bm25Result {
    if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
    const terms = [...new Set(this.analyzer(query))];
    const known = terms.map((t) => this.vocab.get(t)).filter((t): t is number => t !== undefined);
    if (known.length === 0) {
      const what = terms.length === 0 ? 'the query has no words after analysis (empty, punctuation or stop words only)' : `no query word occurs in the corpus (analysed: ${terms.join(', ')})`;
      return { hits: [], note: what };
    }
    const N = this.passages.length;
    const { scores, touched, postDoc, postTf, docNorm, termStart } = this;
    const k1p1 = this.k1 + 1;
    let nTouched = 0;
    for (const t of known) {
      const s = termStart[t];
      const e = termStart[t + 1];
      const idf = Math.log(1 + (N - (e - s) + 0.5) / (e - s + 0.5));
      for (let p = s; p < e; p++) {
        const d = postDoc[p];
        const tf = postTf[p];
        if (scores[d] === 0) touched[nTouched++] = d;
        scores[d] += (idf * tf * k1p1) / (tf + docNorm[d]);
      }
    }
    const hits = topK(scores, touched, nTouched, k).map((d) => ({ id: this.passages[d].id, score: scores[d], text: this.passages[d].text, index: d }));
    for (let i = 0; i < nTouched; i++) scores[touched[i]] = 0;
    const note = hits.length < k ? `only ${hits.length} of the ${N} passages contain a query word (k = ${k}); returned them all` : undefined;
    return note ? { hits, note } : { hits };
  }
}

/**
 * The k best of the touched passages by (score desc, index asc), through a size-k heap whose root is
 * the worst kept; O(touched · log k).
 */
function topK(scores: Float64Array, touched: Uint32Array, n: number, k: number): number[] {
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const heap: number[] = [];
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    const d = touched[i];
    if (heap.length < k) {
      heap.push(d);
      for (let j = heap.length - 1; j > 0; ) {
        const p = (j - 1) >> 1;
        if (!worse(heap[j], heap[p])) break;
        [heap[j], heap[p]] = [heap[p], heap[j]];
        j = p;
      }
    } else if (worse(heap[0], d)) {
      heap[0] = d;
      down(0);
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}
