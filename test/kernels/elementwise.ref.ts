/** CPU float64 references for elementwise.wgsl. */
export function addScaledRef(dst: ArrayLike<number>, src: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(dst, (d, i) => d + alpha * src[i]);
}
