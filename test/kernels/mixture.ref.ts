/**
 * CPU float64 reference for mixture.wgsl: the same token choice (mixture / contrastive weights, top-k
 * and top-p as value thresholds, inverse CDF in token-index order) computed plainly.
 */
import type { PlanGroup } from '../../src/gpu/kernels/mixture';

export interface ChoiceRef {
  id: number;
  /** Per member: p_e(id) (1 for a lone greedy sequence and for contrastive pairs; contrastive mixtures report it). */
  p: number[];
  /** The group's final weights over the vocabulary before top-k/top-p (tests use it for margins). */
  q: Float64Array;
}

function rowStats(l: ArrayLike<number>, invT: number): { m: number; z: number; logp: (t: number) => number } {
  let m = -Infinity;
  for (let t = 0; t < l.length; t++) m = Math.max(m, l[t]);
  let z = 0;
  for (let t = 0; t < l.length; t++) z += Math.exp((l[t] - m) * invT);
  return { m, z, logp: (t) => (l[t] - m) * invT - Math.log(z) };
}

export function chooseRef(logits: ArrayLike<number>, V: number, g: PlanGroup): ChoiceRef {
  const row = (r: number) => Array.from({ length: V }, (_, t) => logits[r * V + t]);
  const rows = g.members.map((m) => row(m.row));
  const st = g.members.map((m, i) => rowStats(rows[i], m.invT));
  let q = new Float64Array(V);
  const mixtureContrast = g.kind === 1 && g.members.length > 2;
  if (mixtureContrast) {
    // Expert = mixture of the first half, amateur = mixture of the second, each softmax at T = 1.
    const h = g.members.length / 2;
    const mixOf = (from: number, t: number) => {
      let s = 0;
      for (let i = from; i < from + h; i++) s += g.members[i].weight * Math.exp(st[i].logp(t));
      return s;
    };
    let top = 0;
    for (let t = 0; t < V; t++) top = Math.max(top, mixOf(0, t));
    for (let t = 0; t < V; t++) q[t] = Math.log(mixOf(0, t)) < Math.log(top) + g.logAlpha ? -Infinity : Math.log(mixOf(0, t)) - Math.log(mixOf(h, t));
  } else if (g.kind === 1) {
    const [e, a] = [rowStats(rows[0], 1), rowStats(rows[1], 1)];
    for (let t = 0; t < V; t++) q[t] = e.logp(t) + Math.log(e.z) < g.logAlpha ? -Infinity : e.logp(t) - a.logp(t);
  } else if (g.greedy && g.members.length === 1) {
    q = Float64Array.from(rows[0]);
  } else {
    for (let t = 0; t < V; t++) for (const [i, m] of g.members.entries()) q[t] += m.weight * Math.exp(st[i].logp(t));
  }
  const pOf = (id: number) => g.members.map((m, i) => ((g.kind === 0 && !(g.greedy && g.members.length === 1)) || mixtureContrast ? Math.exp(st[i].logp(id)) : 1));
  if (g.greedy) {
    let best = 0;
    for (let t = 1; t < V; t++) if (q[t] > q[best]) best = t;
    return { id: best, p: pOf(best), q };
  }
  let w = q;
  if (g.kind === 1) {
    const mx = Math.max(...q);
    w = q.map((x) => (x === -Infinity ? 0 : Math.exp((x - mx) * g.invT)));
  }
  const sorted = Array.from(w).sort((a, b) => b - a);
  let tau = 0;
  if (g.topK > 0 && g.topK < V) tau = sorted[g.topK - 1];
  if (g.topP < 1) {
    const kept = sorted.filter((x) => x >= tau);
    const target = g.topP * kept.reduce((a, b) => a + b, 0);
    let acc = 0;
    for (const x of kept) {
      acc += x;
      if (acc >= target) {
        tau = x;
        break;
      }
    }
  }
  let Z = 0;
  for (let t = 0; t < V; t++) if (w[t] >= tau) Z += w[t];
  const goal = g.u * Z;
  let cum = 0;
  let last = -1;
  for (let t = 0; t < V; t++) {
    if (!(w[t] >= tau && w[t] > 0)) continue;
    cum += w[t];
    last = t;
    if (cum > goal) return { id: t, p: pOf(t), q: w };
  }
  return { id: last, p: pOf(last), q: w };
}
