/**
 * CPU float64 references for loss.wgsl. Shapes are outer-first, row-major.
 *   crossEntropyRef: logits [R, V], targets [R] → loss [R] (NLL per row), grad [R, V] = ∂(scale·Σ loss)/∂logits
 *   mseRef:          pred, target, mask? [B, k] → loss [B] = Σ_j m·(p − t)², grad = ∂(scale·Σ loss)/∂pred
 */

/** Rows whose target is ≥ V (IGNORE_TARGET = 0xFFFFFFFF) contribute nothing. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  R: number,
  V: number,
  scale: number,
): { loss: Float64Array; grad: Float64Array } {
  const loss = new Float64Array(R);
  const grad = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    const t = targets[r];
    if (!(t >= 0 && t < V)) continue;
    const b = r * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[b + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[b + v] - max);
    const lse = max + Math.log(z);
    loss[r] = lse - logits[b + t];
    for (let v = 0; v < V; v++) grad[b + v] = (Math.exp(logits[b + v] - lse) - (v === t ? 1 : 0)) * scale;
  }
  return { loss, grad };
}

export function mseRef(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  mask: ArrayLike<number> | undefined,
  B: number,
  k: number,
  scale: number,
): { loss: Float64Array; grad: Float64Array } {
  const loss = new Float64Array(B);
  const grad = new Float64Array(B * k);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < k; j++) {
      const i = b * k + j;
      const w = mask ? mask[i] : 1;
      const e = pred[i] - target[i];
      loss[b] += w * e * e;
      grad[i] = 2 * w * e * scale;
    }
  }
  return { loss, grad };
}

/** scale · Σ_r loss[r]: the scalar whose gradient the kernels write. */
export function scaledTotal(loss: ArrayLike<number>, scale: number): number {
  let s = 0;
  for (let i = 0; i < loss.length; i++) s += loss[i];
  return s * scale;
}
