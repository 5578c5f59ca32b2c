/**
 * CPU float64 reference for rope.wgsl. Pure: returns a new array.
 *   x: [T, nHeads, headDim] (row stride nHeads·headDim), pos: [T] → y: same shape.
 * Pair i (0 ≤ i < headDim/2) of each head is rotated by angle = (pos[t]/scale)·theta^(−2i/headDim):
 *   'normal': elements (2i, 2i+1);  'neox': elements (i, i + headDim/2)
 *   y0 = x0·cos − x1·sin,  y1 = x0·sin + x1·cos
 * `inverse` rotates by −angle, which is both the inverse and the vector-Jacobian product (Rᵀ·dy).
 * `f32Angles` rounds the frequency and angle to f32 the way the GPU does, then takes float64 sin/cos:
 * use it to test large positions, where the f32 angle itself differs from the exact one.
 */
export function ropeRef(
  x: ArrayLike<number>,
  pos: ArrayLike<number>,
  T: number,
  nHeads: number,
  headDim: number,
  theta: number,
  style: 'normal' | 'neox',
  scale = 1,
  opts: { inverse?: boolean; f32Angles?: boolean } = {},
): Float64Array {
  const y = Float64Array.from(x);
  const half = headDim / 2;
  const f = opts.f32Angles ? Math.fround : (v: number) => v;
  for (let t = 0; t < T; t++) {
    const p = f(pos[t] / scale);
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = f(p * f(Math.pow(theta, (-2 * i) / headDim)));
        const c = Math.cos(angle);
        const s = opts.inverse ? -Math.sin(angle) : Math.sin(angle);
        const i0 = style === 'neox' ? base + i : base + 2 * i;
        const i1 = style === 'neox' ? i0 + half : i0 + 1;
        const x0 = x[i0];
        const x1 = x[i1];
        y[i0] = x0 * c - x1 * s;
        y[i1] = x0 * s + x1 * c;
      }
    }
  }
  return y;
}
