/**
 * CPU float64 references for rmsnorm.wgsl. Pure functions; shapes are outer-first, row-major.
 *   x: [T, d], w: [d] → y: [T, d],  y[t,i] = x[t,i] · w[i] / sqrt(mean_i(x[t,i]²) + eps)
 */
export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, T: number, d: number, eps: number): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const b = t * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[b + i] * x[b + i];
    const r = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[b + i] = x[b + i] * r * w[i];
  }
  return y;
}

/**
 * Vector-Jacobian product of rmsnormRef with respect to x (w is treated as a constant).
 *   dy: [T, d] → dx: [T, d],  dx[j] = r·w[j]·dy[j] − r³·x[j]·Σ_i(w[i]·dy[i]·x[i]) / d,  r = (mean(x²)+eps)^(-1/2)
 */
export function rmsnormBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
  T: number,
  d: number,
  eps: number,
): Float64Array {
  const dx = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const b = t * d;
    let ss = 0;
    let gx = 0;
    for (let i = 0; i < d; i++) {
      ss += x[b + i] * x[b + i];
      gx += w[i] * dy[b + i] * x[b + i];
    }
    const r = 1 / Math.sqrt(ss / d + eps);
    const c = (r * r * r * gx) / d;
    for (let j = 0; j < d; j++) dx[b + j] = r * w[j] * dy[b + j] - c * x[b + j];
  }
  return dx;
}
