/** float64 references of the ceiling kernels (src/gpu/kernels/ceilings.wgsl). */

/** fma_chains (f32) for one vec4 lane group: four chains seeded s, s+1, s+2, s+3, each iters rounds of x = x·a + b, summed. */
export function fmaRef(src: ArrayLike<number>, iters: number, a: number, b: number): Float64Array {
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) {
    let sum = 0;
    for (let c = 0; c < 4; c++) {
      let x = src[i] + c;
      for (let k = 0; k < iters; k++) x = x * a + b;
      sum += x;
    }
    out[i] = sum;
  }
  return out;
}
