/**
 * CPU float64 reference for adamw.wgsl: one AdamW step (PyTorch order) on flat arrays, in place.
 *   g = grad·gradScale·c,  c = min(1, maxNorm / (|gradScale|·sqrt(sumSq) + 1e-6)) when clipping
 *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)
 * A non-finite sumSq skips the step.
 */
export interface AdamWRefOpts {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  gradScale: number;
  clip?: { sumSquares: number; maxNorm: number };
}

export function adamwStepRef(p: Float64Array, m: Float64Array, v: Float64Array, grad: ArrayLike<number>, o: AdamWRefOpts): void {
  let scale = o.gradScale;
  if (o.clip) {
    if (!Number.isFinite(o.clip.sumSquares)) return;
    scale *= Math.min(1, o.clip.maxNorm / (Math.sqrt(o.clip.sumSquares) * Math.abs(o.gradScale) + 1e-6));
  }
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    const g = grad[i] * scale;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    p[i] *= 1 - o.lr * o.weightDecay;
    p[i] -= ((o.lr / bc1) * m[i]) / (Math.sqrt(v[i] / bc2) + o.eps);
  }
}

const F32_MAX = 3.4028234663852886e38;

/**
 * The guarded step (probe over every tensor, then update): when any new p, m or v would not be a
 * finite f32, nothing changes anywhere and the step reports skipped.
 */
export function adamwGuardedStepRef(
  tensors: Array<{ p: Float64Array; m: Float64Array; v: Float64Array; grad: ArrayLike<number> }>,
  o: AdamWRefOpts,
): boolean {
  const trial = tensors.map((x) => ({ p: Float64Array.from(x.p), m: Float64Array.from(x.m), v: Float64Array.from(x.v) }));
  trial.forEach((x, i) => adamwStepRef(x.p, x.m, x.v, tensors[i].grad, o));
  const ok = trial.every((x) => [x.p, x.m, x.v].every((a) => a.every((y) => Number.isFinite(y) && Math.abs(y) <= F32_MAX)));
  if (!ok) return true;
  trial.forEach((x, i) => {
    tensors[i].p.set(x.p);
    tensors[i].m.set(x.m);
    tensors[i].v.set(x.v);
  });
  return false;
}
