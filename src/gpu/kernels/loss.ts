import code from './loss.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';

/** Target id of a row that takes no part in the loss (padding, prompt tokens). */
export const IGNORE_TARGET = 0xffffffff;

const CE_WG = 256;
const MSE_WG = 64;
const PARAMS = ['u32', 'u32', 'f32', 'u32'] as const;

export interface CrossEntropyArgs {
  /** f32 [R, V]; overwritten in place by dLoss/dlogits = (softmax − onehot)·scale. */
  logits: Binding;
  /** u32 [R]; IGNORE_TARGET (or any id ≥ V) marks an ignored row: loss 0, gradient 0. */
  targets: Binding;
  /** f32 [R], per-row negative log-likelihood (unscaled). */
  loss: Binding;
  R: number;
  V: number;
  /** Gradient multiplier, e.g. 1 / (number of non-ignored rows) for a mean loss. */
  scale: number;
}

export type CrossEntropyLossArgs = Omit<CrossEntropyArgs, 'scale'>;

/**
 * Softmax cross-entropy over rows of logits, one workgroup per row: one pass for the running max and
 * Σ exp (merged in shared memory), one pass writing the gradient. Stable for any V (152k vocabularies).
 */
export class CrossEntropy {
  private constructor(private readonly k: Kernel) {}

  static async create(kc: KernelCache): Promise<CrossEntropy> {
    return new CrossEntropy(
      await kc.get({ label: 'ce_fwd_bwd', entry: 'ce_fwd_bwd', code, params: PARAMS, bindings: ['rw', 'read', 'rw'], constants: { WG: CE_WG } }),
    );
  }

  /** loss[r] = logsumexp(logits[r]) − logits[r, t_r]; logits[r] ← (softmax(logits[r]) − onehot(t_r))·scale. */
  forwardBackward(rec: Recorder, a: CrossEntropyArgs): void {
    rec.dispatch(this.k, [a.logits, a.targets, a.loss], [a.R, a.V, a.scale, 1], grid(a.R, rec.gpu.limits.maxComputeWorkgroupsPerDimension));
  }

  /** Per-row NLL only (evaluation): the logits are left untouched. */
  forward(rec: Recorder, a: CrossEntropyLossArgs): void {
    rec.dispatch(this.k, [a.logits, a.targets, a.loss], [a.R, a.V, 0, 0], grid(a.R, rec.gpu.limits.maxComputeWorkgroupsPerDimension));
  }
}

export interface SoftmaxCeArgs {
  /** f32 [B, k] class scores; kept intact when `dlogits` is given, else overwritten by the gradient. */
  logits: GPUBuffer;
  /** u32 [B] class ids; IGNORE_TARGET for unlabeled rows. */
  labels: Binding;
  /** f32 [B, k], receives the gradient; a different buffer from logits (copied, then updated in place). */
  dlogits?: GPUBuffer;
  /** f32 [B], per-row NLL. */
  loss: Binding;
  B: number;
  k: number;
  scale: number;
}

/** Cross-entropy for classification heads over k classes: the same kernel, with an optional copy so the scores survive. */
export class SoftmaxCe {
  private constructor(private readonly ce: CrossEntropy) {}

  static async create(kc: KernelCache): Promise<SoftmaxCe> {
    return new SoftmaxCe(await CrossEntropy.create(kc));
  }

  forwardBackward(rec: Recorder, a: SoftmaxCeArgs): void {
    let g = a.logits;
    if (a.dlogits && a.dlogits !== a.logits) {
      rec.copy(a.logits, 0, a.dlogits, 0, a.B * a.k * 4);
      g = a.dlogits;
    }
    this.ce.forwardBackward(rec, { logits: g, targets: a.labels, loss: a.loss, R: a.B, V: a.k, scale: a.scale });
  }

  forward(rec: Recorder, a: Omit<SoftmaxCeArgs, 'dlogits' | 'scale'>): void {
    this.ce.forward(rec, { logits: a.logits, targets: a.labels, loss: a.loss, R: a.B, V: a.k });
  }
}

export interface MseArgs {
  /** f32 [B, k] */
  pred: Binding;
  /** f32 [B, k] */
  target: Binding;
  /** f32 [B, k] per-element weights (0 = missing label); all ones when absent. */
  mask?: Binding;
  /** f32 [B, k], receives ∂(scale·Σ_b loss_b)/∂pred = 2·mask·(pred − target)·scale; a different buffer from pred. */
  dpred: Binding;
  /** f32 [B]: loss[b] = Σ_j mask·(pred − target)² (a sum, not a mean: put 1/count in `scale`). */
  loss: Binding;
  B: number;
  k: number;
  scale: number;
}

/** Squared error per row with its gradient, one workgroup per row. */
export class Mse {
  private constructor(private readonly k: Kernel, private readonly dummy: GPUBuffer) {}

  static async create(kc: KernelCache): Promise<Mse> {
    const k = await kc.get({
      label: 'mse_fwd_bwd',
      entry: 'mse_fwd_bwd',
      code,
      params: PARAMS,
      bindings: ['rw', 'read', 'rw', 'read', 'read'],
      constants: { WG: MSE_WG },
    });
    const dummy = kc.gpu.device.createBuffer({ label: 'mse-dummy', size: 16, usage: GPUBufferUsage.STORAGE });
    return new Mse(k, dummy);
  }

  forwardBackward(rec: Recorder, a: MseArgs): void {
    this.run(rec, a, a.dpred, 1);
  }

  /** Per-row loss only. */
  forward(rec: Recorder, a: Omit<MseArgs, 'dpred' | 'scale'>): void {
    this.run(rec, { ...a, scale: 0 }, this.dummyOut(rec), 0);
  }

  private dummyOutBuf: GPUBuffer | null = null;

  /** A writable stand-in for dpred when no gradient is written (never touched by the kernel). */
  private dummyOut(rec: Recorder): GPUBuffer {
    this.dummyOutBuf ??= rec.gpu.device.createBuffer({ label: 'mse-dummy-out', size: 16, usage: GPUBufferUsage.STORAGE });
    return this.dummyOutBuf;
  }

  private run(rec: Recorder, a: Omit<MseArgs, 'dpred'>, dpred: Binding, grad: 0 | 1): void {
    const flags = grad | (a.mask ? 2 : 0);
    rec.dispatch(
      this.k,
      [dpred, a.target, a.loss, a.pred, a.mask ?? this.dummy],
      [a.B, a.k, a.scale, flags],
      grid(a.B, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    );
  }
}
