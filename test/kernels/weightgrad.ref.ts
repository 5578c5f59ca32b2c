/**
 * CPU float64 references for weightgrad.wgsl (gradients of y = x·Wᵀ + b).
 *   weightGradRef: dy [M, N], x [M, K] → dw [N, K] = scale · dyᵀ·x  (+ prior when given)
 *   biasGradRef:   dy [M, N] → db [N] = scale · Σ_m dy[m, :]      (+ prior when given)
 */
export function weightGradRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  scale: number,
  prior?: ArrayLike<number>,
): Float64Array {
  const dw = prior ? Float64Array.from(prior) : new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dy[m * N + n] * x[m * K + k];
      dw[n * K + k] += scale * s;
    }
  }
  return dw;
}

export function biasGradRef(dy: ArrayLike<number>, M: number, N: number, scale: number, prior?: ArrayLike<number>): Float64Array {
  const db = prior ? Float64Array.from(prior) : new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += dy[m * N + n];
    db[n] += scale * s;
  }
  return db;
}

/** y = x·Wᵀ + b, the forward whose parameter gradients the references give (for finite differences). */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b[n];
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}
