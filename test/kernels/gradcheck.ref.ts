/**
 * Finite-difference helpers for checking the float64 backward references: for a scalar loss
 * L(x) = Σ f(x)·dy, central differences give ∂L/∂x, which a correct vector-Jacobian product matches.
 */

/** Σ a[i]·b[i] in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Central-difference gradient of the scalar function `loss` at `x` (which is not modified):
 * g[i] = (loss(x + h·e_i) − loss(x − h·e_i)) / 2h. `indices` limits the coordinates probed (others are NaN).
 */
export function numericGrad(
  loss: (x: Float64Array) => number,
  x: ArrayLike<number>,
  h = 1e-5,
  indices?: Iterable<number>,
): Float64Array {
  const p = Float64Array.from(x);
  const g = new Float64Array(p.length).fill(indices ? NaN : 0);
  const idx = indices ?? p.keys();
  for (const i of idx) {
    const v = p[i];
    p[i] = v + h;
    const lp = loss(p);
    p[i] = v - h;
    const lm = loss(p);
    p[i] = v;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** Max |a−b| / max(|b|_inf, floor) over the entries where b is not NaN. */
export function relErrDefined(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  let num = 0;
  let den = floor;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(b[i])) continue;
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}
