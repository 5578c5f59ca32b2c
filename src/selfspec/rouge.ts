/**
 * ROUGE-L as Google's `rouge_score` computes it with RougeScorer(["rougeL"], use_stemmer=False) —
 * the setting self-instruct filters with: lower case, every run of characters outside [a-z0-9]
 * becomes a space (so non-ASCII letters are dropped, as there), split on whitespace; LCS over the
 * tokens; P = lcs/|prediction|, R = lcs/|target|, F = 2PR/(P + R); 0 when either side has no token.
 *
 * DedupPool answers "is this instruction a near-duplicate of one already kept?" (ROUGE-L F ≥ 0.7)
 * without an LCS against every pooled text: an inverted index gives each pooled text its token
 * multiset overlap with the candidate, an upper bound on the LCS, so F ≤ 2·overlap/(|a| + |b|);
 * only texts whose bound reaches the threshold get the O(|a|·|b|) LCS, best bound first.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

const NON_ALNUM = /[^a-z0-9]+/g;

/** rouge_score's tokenize(text, stemmer=None). */
export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(NON_ALNUM, ' ')
    .split(/\s+/)
    .filter((t) => t !== '');
}

/** Length of the longest common subsequence; `row` is optional scratch of length ≥ |b| + 1. */
export function lcsLength<T>(a: ArrayLike<T>, b: ArrayLike<T>, row?: Int32Array): number {
  const n = b.length;
  const dp = row && row.length > n ? row : new Int32Array(n + 1);
  dp.fill(0, 0, n + 1);
  for (let i = 0; i < a.length; i++) {
    let diag = 0; // dp[i-1][j-1]
    const ai = a[i];
    for (let j = 1; j <= n; j++) {
      const up = dp[j];
      dp[j] = ai === b[j - 1] ? diag + 1 : up > dp[j - 1] ? up : dp[j - 1];
      diag = up;
    }
  }
  return dp[n];
}

function scoreFromLcs(lcs: number, targetLen: number, predictionLen: number): RougeScore {
  if (targetLen === 0 || predictionLen === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const precision = lcs / predictionLen;
  const recall = lcs / targetLen;
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

/** rouge_score's scorer.score(target, prediction)['rougeL']. */
export function rougeL(target: string, prediction: string): RougeScore {
  const t = rougeTokens(target);
  const p = rougeTokens(prediction);
  return scoreFromLcs(t.length && p.length ? lcsLength(t, p) : 0, t.length, p.length);
}

export interface NearestMatch {
  /** Index of the pooled text (order of add()). */
  index: number;
  /** ROUGE-L F-measure between the candidate and that text. */
  score: number;
}

export class DedupPool {
  private readonly vocab = new Map<string, number>();
  private readonly texts: string[] = [];
  private readonly tokens: Uint32Array[] = []; // per pooled text: token ids in order
  private readonly postings: number[][] = []; // per token id: [text, count, text, count, …]
  private overlap = new Int32Array(64); // [pool] scratch
  private readonly lcsRow = new Int32Array(1024);

  get size(): number {
    return this.texts.length;
  }

  text(index: number): string {
    return this.texts[index];
  }

  /** Adds a text to the pool; returns its index. */
  add(text: string): number {
    const index = this.texts.length;
    const ids = Uint32Array.from(rougeTokens(text), (t) => {
      let id = this.vocab.get(t);
      if (id === undefined) {
        id = this.vocab.size;
        this.vocab.set(t, id);
        this.postings.push([]);
      }
      return id;
    });
    this.texts.push(text);
    this.tokens.push(ids);
    for (const [id, count] of counts(ids)) this.postings[id].push(index, count);
    if (this.overlap.length < this.texts.length) {
      const next = new Int32Array(this.overlap.length * 2);
      next.set(this.overlap);
      this.overlap = next;
    }
    return index;
  }

  /**
   * The pooled text most similar to `text` by ROUGE-L F with F ≥ threshold (the lowest index among
   * equals), or null. threshold in (0, 1].
   */
  nearest(text: string, threshold = 0.7): NearestMatch | null {
    if (!(threshold > 0 && threshold <= 1)) throw new Error(`threshold must be in (0, 1], got ${threshold}`);
    const cand: number[] = [];
    for (const t of rougeTokens(text)) {
      const id = this.vocab.get(t);
      cand.push(id === undefined ? -1 : id); // -1: a word no pooled text has; it still counts in |a|
    }
    const m = cand.length;
    if (m === 0) return null;
    const { overlap, postings, tokens } = this;
    const hit: number[] = [];
    for (const [id, c] of counts(cand)) {
      if (id < 0) continue;
      const p = postings[id];
      for (let i = 0; i < p.length; i += 2) {
        const j = p[i];
        if (overlap[j] === 0) hit.push(j);
        overlap[j] += Math.min(c, p[i + 1]);
      }
    }
    // Upper bounds; a little slack so float rounding in F never prunes a true match.
    const bound = new Map<number, number>();
    const keep: number[] = [];
    for (const j of hit) {
      const b = (2 * overlap[j]) / (m + tokens[j].length);
      overlap[j] = 0;
      if (b >= threshold - 1e-12) {
        bound.set(j, b);
        keep.push(j);
      }
    }
    keep.sort((x, y) => bound.get(y)! - bound.get(x)! || x - y);
    const a = Int32Array.from(cand);
    let best: NearestMatch | null = null;
    for (const j of keep) {
      if (best && bound.get(j)! < best.score - 1e-12) break;
      const b = tokens[j];
      const row = b.length < this.lcsRow.length ? this.lcsRow : undefined;
      const f = scoreFromLcs(lcsLength(a, b, row), b.length, m).fmeasure;
      if (f >= threshold && (!best || f > best.score || (f === best.score && j < best.index))) best = { index: j, score: f };
    }
    return best;
  }
}

function counts(ids: ArrayLike<number>): Map<number, number> {
  const c = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) c.set(ids[i], (c.get(ids[i]) ?? 0) + 1);
  return c;
}
