/** CPU float64 references for lora.wgsl (lora_up, lora_down). */
import { rmsnormRows } from './matvec.ref';

/**
 * y[t, n] + scale_a · Σ_{j<r_a} u[t, uOff + off_a + j] · B[n, off_a + j], a = adapter[t] (0xffffffff = none);
 * u has uStride columns (default R).
 */
export function loraUpRef(
  y: ArrayLike<number>,
  u: ArrayLike<number>,
  b: ArrayLike<number>,
  adapter: ArrayLike<number>,
  table: Array<{ off: number; r: number; scale: number }>,
  T: number,
  N: number,
  R: number,
  uOff = 0,
  uStride = R,
): Float64Array {
  const out = Float64Array.from(y);
  for (let t = 0; t < T; t++) {
    const e = adapter[t] === 0xffffffff ? undefined : table[adapter[t]];
    if (!e) continue;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < e.r; j++) s += u[t * uStride + uOff + e.off + j] * b[n * R + e.off + j];
      out[t * N + n] += e.scale * s;
    }
  }
  return out;
}

/**
 * u [T, R]: u[t, j] = scale_j · (x_in[t]·A[j]) where row j's owner is token t's adapter, else 0;
 * x_in = rmsnorm(x) with `norm`, else x.
 */
export function loraDownRef(
  x: ArrayLike<number>,
  a: ArrayLike<number>,
  owner: Array<{ slot: number; scale: number }>,
  adapter: ArrayLike<number>,
  T: number,
  R: number,
  K: number,
  norm?: { g: ArrayLike<number>; eps: number },
): Float64Array {
  const xin = norm ? rmsnormRows(x, norm.g, T, K, norm.eps) : Float64Array.from(x);
  const out = new Float64Array(T * R);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < R; j++) {
      if (owner[j].slot !== adapter[t]) continue;
      let s = 0;
      for (let k = 0; k < K; k++) s += xin[t * K + k] * a[j * K + k];
      out[t * R + j] = owner[j].scale * s;
    }
  }
  return out;
}
