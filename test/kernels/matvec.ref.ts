/**
 * CPU float64 references for matvec.wgsl (the fused decode projections), composed from the plain
 * references of the kernels they replace: rmsnorm, matmul, swiglu, rope and the KV-cache write.
 * W is given dequantized (quant.ts), row-major [N, K].
 */
import { matmulRef } from './matmul.ref';
import { ropeRef } from './rope.ref';

/** rmsnorm(x)[m, k] = x · (mean_k(x²) + eps)^(−1/2) · g[k] over rows of x [M, K]. */
export function rmsnormRows(x: ArrayLike<number>, g: ArrayLike<number>, M: number, K: number, eps: number): Float64Array {
  const out = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    let ss = 0;
    for (let k = 0; k < K; k++) ss += x[m * K + k] ** 2;
    const r = 1 / Math.sqrt(ss / K + eps);
    for (let k = 0; k < K; k++) out[m * K + k] = x[m * K + k] * r * g[k];
  }
  return out;
}

/** mv_norm: y [M, N] = rmsnorm(x)·Wᵀ + bias, and the normed x [M, K]. */
export function matvecNormRef(x: ArrayLike<number>, g: ArrayLike<number>, eps: number, w: ArrayLike<number>, M: number, N: number, K: number, bias?: ArrayLike<number>) {
  const xn = rmsnormRows(x, g, M, K, eps);
  return { y: matmulRef(xn, w, M, N, K, bias), xn };
}

/** mv_glu: y [M, F] = silu(rmsnorm(x)·gateᵀ + addGate) · (rmsnorm(x)·upᵀ + addUp); the adds f32 [M, F] (LoRA terms). */
export function matvecGluRef(x: ArrayLike<number>, g: ArrayLike<number>, eps: number, gate: ArrayLike<number>, up: ArrayLike<number>, M: number, F: number, K: number, addGate?: ArrayLike<number>, addUp?: ArrayLike<number>): Float64Array {
  const xn = rmsnormRows(x, g, M, K, eps);
  const a = matmulRef(xn, gate, M, F, K, undefined, addGate);
  const b = matmulRef(xn, up, M, F, K, undefined, addUp);
  return a.map((v, i) => (v / (1 + Math.exp(-v))) * b[i]);
}

export interface RopeRefArgs {
  x: ArrayLike<number>;
  g: ArrayLike<number>;
  eps: number;
  wq: ArrayLike<number>;
  wk: ArrayLike<number>;
  wv: ArrayLike<number>;
  /** bq|bk|bv */
  bias?: ArrayLike<number>;
  M: number;
  K: number;
  nHeads: number;
  nKv: number;
  hd: number;
  theta: number;
  style: 'normal' | 'neox';
  scale: number;
  slot: ArrayLike<number>;
  pos: ArrayLike<number>;
  /** The caches before the call, f32 [slots, maxSeq, nKv·hd]; updated copies are returned. */
  kCache: ArrayLike<number>;
  vCache: ArrayLike<number>;
  maxSeq: number;
  /** f32 [M, nHeads·hd + 2·nKv·hd] added to q|k|v before RoPE (a LoRA term). */
  add?: ArrayLike<number>;
}

/** mv_rope: q = rope(rmsnorm(x)·Wqᵀ + bq); k = rope(… Wk + bk), v = … Wv + bv written at (slot, pos). */
export function matvecRopeRef(a: RopeRefArgs): { q: Float64Array; kCache: Float64Array; vCache: Float64Array } {
  const { M, K, hd } = a;
  const qd = a.nHeads * hd;
  const kvd = a.nKv * hd;
  const xn = rmsnormRows(a.x, a.g, M, K, a.eps);
  const part = (from: number, n: number) => (a.bias ? Array.from(a.bias).slice(from, from + n) : undefined);
  const N = qd + 2 * kvd;
  const add = (y: Float64Array, from: number, n: number) => (a.add ? y.map((v, i) => v + a.add![Math.floor(i / n) * N + from + (i % n)]) : y);
  const q = ropeRef(add(matmulRef(xn, a.wq, M, qd, K, part(0, qd)), 0, qd), a.pos, M, a.nHeads, hd, a.theta, a.style, a.scale);
  const k = ropeRef(add(matmulRef(xn, a.wk, M, kvd, K, part(qd, kvd)), qd, kvd), a.pos, M, a.nKv, hd, a.theta, a.style, a.scale);
  const v = add(matmulRef(xn, a.wv, M, kvd, K, part(qd + kvd, kvd)), qd + kvd, kvd);
  const kCache = Float64Array.from(a.kCache);
  const vCache = Float64Array.from(a.vCache);
  for (let m = 0; m < M; m++) {
    if (a.pos[m] >= a.maxSeq) continue;
    const base = (a.slot[m] * a.maxSeq + a.pos[m]) * kvd;
    for (let i = 0; i < kvd; i++) {
      kCache[base + i] = k[m * kvd + i];
      vCache[base + i] = v[m * kvd + i];
    }
  }
  return { q, kCache, vCache };
}
