/**
 * CPU float64 references for swiglu.wgsl. Flat arrays of equal length n (e.g. [T, ff]).
 *   out[i] = silu(gate[i]) · up[i],  silu(g) = g·σ(g),  σ(g) = 1/(1+e^−g)
 */
export function sigmoidRef(g: number): number {
  return g >= 0 ? 1 / (1 + Math.exp(-g)) : Math.exp(g) / (1 + Math.exp(g));
}

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from(gate, (g, i) => g * sigmoidRef(g) * up[i]);
}

/**
 * Vector-Jacobian product of swigluRef: dout [n] → { dgate [n], dup [n] }
 *   dgate = dout · up · σ(g)·(1 + g·(1 − σ(g))),  dup = dout · silu(g)
 */
export function swigluBackwardRef(
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
  dout: ArrayLike<number>,
): { dgate: Float64Array; dup: Float64Array } {
  const n = gate.length;
  const dgate = new Float64Array(n);
  const dup = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoidRef(g);
    dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dout[i] * g * s;
  }
  return { dgate, dup };
}
