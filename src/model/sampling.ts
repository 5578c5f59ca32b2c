/** Seedable token sampling: greedy, temperature, top-k, top-p. */

/** mulberry32: tiny, fast, and its whole state is one number, so checkpoints can store it. */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export interface SampleOptions {
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
}

/** Index of the largest value (first one on ties, as greedy decoding in the references does). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Draws one token id from a row of logits. temperature ≤ 0 means greedy. */
export function sampleToken(logits: Float32Array, o: SampleOptions, rng: Rng): number {
  if (!(o.temperature > 0)) return argmax(logits);
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  // Candidates: everything within ~exp(-30) of the best; the rest cannot matter in float64.
  const floor = max - 30 * o.temperature;
  let cand: number[] = [];
  for (let i = 0; i < V; i++) if (logits[i] >= floor) cand.push(i);
  cand.sort((a, b) => logits[b] - logits[a] || a - b);
  if (o.topK > 0 && cand.length > o.topK) cand = cand.slice(0, o.topK);
  const p = cand.map((i) => Math.exp((logits[i] - max) / o.temperature));
  let z = p.reduce((a, b) => a + b, 0);
  if (o.topP < 1) {
    let acc = 0;
    let keep = cand.length;
    for (let j = 0; j < cand.length; j++) {
      acc += p[j] / z;
      if (acc >= o.topP) {
        keep = j + 1;
        break;
      }
    }
    cand = cand.slice(0, keep);
    p.length = keep;
    z = p.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * z;
  for (let j = 0; j < cand.length; j++) {
    u -= p[j];
    if (u <= 0) return cand[j];
  }
  return cand[cand.length - 1];
}
