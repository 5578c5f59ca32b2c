/** CPU references for rows.wgsl; all arrays row-major with row width d. */
export function gatherRef(src: ArrayLike<number>, rows: number[], d: number): number[] {
  return rows.flatMap((r) => Array.from({ length: d }, (_, i) => src[r * d + i]));
}

export function scatterAddRef(out: ArrayLike<number>, src: ArrayLike<number>, rows: number[], d: number): Float64Array {
  const y = Float64Array.from(out);
  rows.forEach((r, k) => {
    for (let i = 0; i < d; i++) y[r * d + i] += src[k * d + i];
  });
  return y;
}

export function segmentSumRef(out: ArrayLike<number>, src: ArrayLike<number>, rows: number[], nOut: number, d: number): Float64Array {
  const y = Float64Array.from(out);
  rows.forEach((j, t) => {
    if (j >= nOut) return;
    for (let i = 0; i < d; i++) y[j * d + i] += src[t * d + i];
  });
  return y;
}
