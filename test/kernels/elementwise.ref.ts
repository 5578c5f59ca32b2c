/** CPU float64 references for elementwise.wgsl. */
export function addScaledRef(dst: ArrayLike<number>, src: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(dst, (d, i) => d + alpha * src[i]);
}

function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Whether element i survives dropout with this seed: the kernel's mask, recomputed on the CPU. */
export function dropoutKeepRef(seed: number, i: number, threshold: number): boolean {
  return pcgHash((i ^ pcgHash(seed >>> 0)) >>> 0) >= threshold;
}

export function dropoutRef(src: ArrayLike<number>, p: number, seed: number, threshold: number): Float64Array {
  return Float64Array.from(src, (x, i) => (dropoutKeepRef(seed, i, threshold) ? x / (1 - p) : 0));
}
