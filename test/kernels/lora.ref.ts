/** CPU float64 reference for lora.wgsl (lora_up). */

/** y[t, n] + scale_a · Σ_{j<r_a} u[t, off_a + j] · B[n, off_a + j], a = adapter[t] (0xffffffff = none). */
export function loraUpRef(
  y: ArrayLike<number>,
  u: ArrayLike<number>,
  b: ArrayLike<number>,
  adapter: ArrayLike<number>,
  table: Array<{ off: number; r: number; scale: number }>,
  T: number,
  N: number,
  R: number,
): Float64Array {
  const out = Float64Array.from(y);
  for (let t = 0; t < T; t++) {
    const e = adapter[t] === 0xffffffff ? undefined : table[adapter[t]];
    if (!e) continue;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < e.r; j++) s += u[t * R + e.off + j] * b[n * R + e.off + j];
      out[t * N + n] += e.scale * s;
    }
  }
  return out;
}
