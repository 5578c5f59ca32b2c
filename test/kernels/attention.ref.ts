/**
 * CPU float64 references for attention.wgsl. Pure functions (inputs are never modified).
 *
 * Shapes: q, out, dOut, dq: [T, nHeads, hd]; kCache, vCache, dk, dv: [slots, maxSeq, nKv, hd]
 * (slots = kCache.length / (maxSeq·nKv·hd)); slot, pos, start: [T]; lse: [T, nHeads].
 * Query t, head h attends to the keys of slot[t] at positions j ∈ [start[t], min(pos[t], maxSeq−1)]
 * through kv head h / (nHeads/nKv), with scores s_j = scale · q·k_j:
 *   out = Σ_j softmax(s)_j · v_j,  lse = log Σ_j exp(s_j)   (empty range: out = 0, lse = −∞)
 */
export interface AttnDims {
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  maxSeq: number;
  scale: number;
}

/** Returns copies of the caches with row (slot[t], pos[t]) set to k[t] / v[t] (k, v: [T, nKv, hd]). */
export function kvWriteRef(
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  slot: ArrayLike<number>,
  pos: ArrayLike<number>,
  T: number,
  nKv: number,
  hd: number,
  maxSeq: number,
): { kCache: Float64Array; vCache: Float64Array } {
  const kc = Float64Array.from(kCache);
  const vc = Float64Array.from(vCache);
  const row = nKv * hd;
  for (let t = 0; t < T; t++) {
    if (pos[t] >= maxSeq) continue;
    const dst = (slot[t] * maxSeq + pos[t]) * row;
    for (let i = 0; i < row; i++) {
      kc[dst + i] = k[t * row + i];
      vc[dst + i] = v[t * row + i];
    }
  }
  return { kCache: kc, vCache: vc };
}

/**
 * Vector-Jacobian product of kvWriteRef with respect to k and v: rows (slot[t], pos[t]) of the cache
 * gradients dkCache, dvCache [slots, maxSeq, nKv, hd] → dk, dv [T, nKv, hd] (0 where pos ≥ maxSeq).
 * Assumes no two tokens write the same row.
 */
export function kvGatherRef(
  dkCache: ArrayLike<number>,
  dvCache: ArrayLike<number>,
  slot: ArrayLike<number>,
  pos: ArrayLike<number>,
  T: number,
  nKv: number,
  hd: number,
  maxSeq: number,
): { dk: Float64Array; dv: Float64Array } {
  const row = nKv * hd;
  const dk = new Float64Array(T * row);
  const dv = new Float64Array(T * row);
  for (let t = 0; t < T; t++) {
    if (pos[t] >= maxSeq) continue;
    const src = (slot[t] * maxSeq + pos[t]) * row;
    for (let i = 0; i < row; i++) {
      dk[t * row + i] = dkCache[src + i];
      dv[t * row + i] = dvCache[src + i];
    }
  }
  return { dk, dv };
}

/** The visible key positions of query t: [lo, hi] inclusive (empty when lo > hi). */
function keyRange(t: number, slot: ArrayLike<number>, pos: ArrayLike<number>, start: ArrayLike<number>, maxSeq: number) {
  return { sl: slot[t], lo: start[t], hi: Math.min(pos[t], maxSeq - 1) };
}

export function attentionRef(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  slot: ArrayLike<number>,
  pos: ArrayLike<number>,
  start: ArrayLike<number>,
  dims: AttnDims,
): { out: Float64Array; lse: Float64Array } {
  const { T, nHeads, nKv, hd, maxSeq, scale } = dims;
  const g = nHeads / nKv;
  const out = new Float64Array(T * nHeads * hd);
  const lse = new Float64Array(T * nHeads);
  for (let t = 0; t < T; t++) {
    const { sl, lo, hi } = keyRange(t, slot, pos, start, maxSeq);
    for (let h = 0; h < nHeads; h++) {
      const qb = (t * nHeads + h) * hd;
      const kvh = Math.floor(h / g);
      const n = Math.max(0, hi - lo + 1);
      const s = new Float64Array(n);
      let m = -Infinity;
      for (let j = lo; j <= hi; j++) {
        const kb = ((sl * maxSeq + j) * nKv + kvh) * hd;
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[qb + i] * kCache[kb + i];
        s[j - lo] = scale * d;
        m = Math.max(m, s[j - lo]);
      }
      let l = 0;
      for (let j = 0; j < n; j++) l += Math.exp(s[j] - m);
      lse[t * nHeads + h] = n > 0 ? m + Math.log(l) : -Infinity;
      for (let j = lo; j <= hi; j++) {
        const p = Math.exp(s[j - lo] - m) / l;
        const vb = ((sl * maxSeq + j) * nKv + kvh) * hd;
        for (let i = 0; i < hd; i++) out[qb + i] += p * vCache[vb + i];
      }
    }
  }
  return { out, lse };
}

/**
 * Vector-Jacobian product of attentionRef's `out` with respect to q, kCache and vCache:
 * dOut [T, nHeads, hd] → dq [T, nHeads, hd], dk, dv [slots, maxSeq, nKv, hd] (zero where no query looks).
 *   P_j = softmax(s)_j, dS_j = P_j·(dOut·v_j − dOut·out), dq = scale·Σ_j dS_j k_j,
 *   dk_j = scale·Σ_(t,h) dS_j q,  dv_j = Σ_(t,h) P_j dOut
 */
export function attentionBackwardRef(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  slot: ArrayLike<number>,
  pos: ArrayLike<number>,
  start: ArrayLike<number>,
  dOut: ArrayLike<number>,
  dims: AttnDims,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { T, nHeads, nKv, hd, maxSeq, scale } = dims;
  const g = nHeads / nKv;
  const { out, lse } = attentionRef(q, kCache, vCache, slot, pos, start, dims);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(kCache.length);
  const dv = new Float64Array(vCache.length);
  for (let t = 0; t < T; t++) {
    const { sl, lo, hi } = keyRange(t, slot, pos, start, maxSeq);
    for (let h = 0; h < nHeads; h++) {
      const qb = (t * nHeads + h) * hd;
      const kvh = Math.floor(h / g);
      let D = 0;
      for (let i = 0; i < hd; i++) D += dOut[qb + i] * out[qb + i];
      for (let j = lo; j <= hi; j++) {
        const kb = ((sl * maxSeq + j) * nKv + kvh) * hd;
        let s = 0;
        let dp = 0;
        for (let i = 0; i < hd; i++) {
          s += q[qb + i] * kCache[kb + i];
          dp += dOut[qb + i] * vCache[kb + i];
        }
        const p = Math.exp(scale * s - lse[t * nHeads + h]);
        const ds = p * (dp - D);
        for (let i = 0; i < hd; i++) {
          dq[qb + i] += scale * ds * kCache[kb + i];
          dk[kb + i] += scale * ds * q[qb + i];
          dv[kb + i] += p * dOut[qb + i];
        }
      }
    }
  }
  return { dq, dk, dv };
}
