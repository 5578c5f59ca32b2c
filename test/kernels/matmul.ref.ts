/** CPU float64 references for matmul.wgsl; W is given dequantized (quant.ts), row-major [N, K]. */

/** y[M, N] = (init ?? 0) + x[M, K]·Wᵀ + bias */
export function matmulRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  bias?: ArrayLike<number>,
  init?: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = init ? init[m * N + n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s + (bias ? bias[n] : 0);
    }
  }
  return y;
}

/** dx[M, K] = (init ?? 0) + dy[M, N]·W */
export function matmulBackwardInputRef(
  dy: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  init?: ArrayLike<number>,
): Float64Array {
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let s = init ? init[m * K + k] : 0;
      for (let n = 0; n < N; n++) s += dy[m * N + n] * w[n * K + k];
      dx[m * K + k] = s;
    }
  }
  return dx;
}
