import code from './loss.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** Target id of a row that takes no part in the loss (padding, prompt tokens). */
export const IGNORE_TARGET = 0xffffffff;

/** GPUs: preferred invocations per row (src/gpu/workgroup.ts; shared memory: one vec2<f32> each). */
const CE_WG = 256;
const MSE_WG = 64;
/** Software adapters: rows per workgroup of the *_row kernels (one invocation per row). */
const ROW_WG = 8;
const PARAMS = ['u32', 'u32', 'f32', 'u32'] as const;

/** The workgroup grid for R rows: one workgroup per row, or ROW_WG rows per workgroup. */
function rowGroups(rec: Recorder, R: number, rowsPerGroup: number): [number, number] {
  return grid(Math.ceil(R / rowsPerGroup), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
}

export interface CrossEntropyArgs {
  /** f32 [R, V]; overwritten in place by dLoss/dlogits = (softmax − onehot)·scale, unless `dlogits` is given. */
  logits: Binding;
  /** u32 [R]; IGNORE_TARGET (or any id ≥ V) marks an ignored row: loss 0, gradient 0. */
  targets: Binding;
  /** f32 [R], per-row negative log-likelihood (unscaled). */
  loss: Binding;
  R: number;
  V: number;
  /** Gradient multiplier, e.g. 1 / (number of non-ignored rows) for a mean loss. */
  scale: number;
  /**
   * f32 [R, V]: write the gradient here and keep the logits (a buffer copy, then the in-place kernel;
   * the copy closes the compute pass, so prefer in place for big vocabularies). Must not overlap logits.
   */
  dlogits?: Binding;
  /** Targets are class ids stored as f32 (a negative or NaN value = ignored row). */
  floatTargets?: boolean;
}

export type CrossEntropyLossArgs = Omit<CrossEntropyArgs, 'scale' | 'dlogits'>;

const GRAD = 1;
const MASKED = 2;
const FLOAT_TARGETS = 4;

/**
 * Softmax cross-entropy over rows of logits, one workgroup per row: one pass for the running max and
 * Σ exp (merged in shared memory), one pass writing the gradient. Stable for any V (152k vocabularies).
 * On software adapters (Gpu.software): one invocation per row (ce_fwd_bwd_row), no barriers.
 */
export class CrossEntropy {
  private constructor(
    private readonly k: Kernel,
    private readonly rowsPerGroup: number,
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<CrossEntropy> {
    const sw = kc.gpu.software === true;
    const entry = sw ? 'ce_fwd_bwd_row' : 'ce_fwd_bwd';
    const wg = sw ? ROW_WG : workgroupSize(kc.gpu.limits, { preferred: CE_WG, bytesPerInvocation: 8 });
    const k = await kc.get({ label: entry, entry, code, params: PARAMS, bindings: ['rw', 'read', 'rw'], constants: { WG: wg } });
    return new CrossEntropy(k, sw ? ROW_WG : 1, wg);
  }

  /** loss[r] = logsumexp(logits[r]) − logits[r, t_r]; grad[r] = (softmax(logits[r]) − onehot(t_r))·scale. */
  forwardBackward(rec: Recorder, a: CrossEntropyArgs): void {
    let g = a.logits;
    if (a.dlogits) {
      const src = range(a.logits);
      const dst = range(a.dlogits);
      if (src.buffer !== dst.buffer || src.offset !== dst.offset) {
        rec.copy(src.buffer, src.offset, dst.buffer, dst.offset, a.R * a.V * 4);
        g = a.dlogits;
      }
    }
    const flags = GRAD | (a.floatTargets ? FLOAT_TARGETS : 0);
    rec.dispatch(this.k, [g, a.targets, a.loss], [a.R, a.V, a.scale, flags], rowGroups(rec, a.R, this.rowsPerGroup));
  }

  /** Classification heads whose class ids sit in an f32 target buffer: gradient into `dlogits`, scores kept. */
  forwardBackwardFloatTargets(rec: Recorder, a: Omit<CrossEntropyArgs, 'floatTargets'>): void {
    this.forwardBackward(rec, { ...a, floatTargets: true });
  }

  /** Per-row NLL only (evaluation): the logits are left untouched. */
  forward(rec: Recorder, a: CrossEntropyLossArgs): void {
    const flags = a.floatTargets ? FLOAT_TARGETS : 0;
    rec.dispatch(this.k, [a.logits, a.targets, a.loss], [a.R, a.V, 0, flags], rowGroups(rec, a.R, this.rowsPerGroup));
  }
}

function range(b: Binding): { buffer: GPUBuffer; offset: number } {
  return 'mapAsync' in b ? { buffer: b, offset: 0 } : { buffer: b.buffer, offset: b.offset ?? 0 };
}

export interface SoftmaxCeArgs {
  /** f32 [B, k] class scores; kept intact when `dlogits` is given, else overwritten by the gradient. */
  logits: Binding;
  /** u32 [B] class ids (IGNORE_TARGET for unlabeled rows), or f32 ids with `floatTargets`. */
  labels: Binding;
  /** f32 [B, k], receives the gradient (see CrossEntropyArgs.dlogits). */
  dlogits?: Binding;
  /** f32 [B], per-row NLL. */
  loss: Binding;
  B: number;
  k: number;
  scale: number;
  floatTargets?: boolean;
}

/** Cross-entropy for classification heads over k classes: the CrossEntropy kernel under head-shaped names. */
export class SoftmaxCe {
  private constructor(private readonly ce: CrossEntropy) {}

  static async create(kc: KernelCache): Promise<SoftmaxCe> {
    return new SoftmaxCe(await CrossEntropy.create(kc));
  }

  forwardBackward(rec: Recorder, a: SoftmaxCeArgs): void {
    this.ce.forwardBackward(rec, {
      logits: a.logits,
      targets: a.labels,
      dlogits: a.dlogits,
      loss: a.loss,
      R: a.B,
      V: a.k,
      scale: a.scale,
      floatTargets: a.floatTargets,
    });
  }

  forward(rec: Recorder, a: Omit<SoftmaxCeArgs, 'dlogits' | 'scale'>): void {
    this.ce.forward(rec, { logits: a.logits, targets: a.labels, loss: a.loss, R: a.B, V: a.k, floatTargets: a.floatTargets });
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

/** Squared error per row with its gradient, one workgroup per row (software adapters: one invocation). */
export class Mse {
  private constructor(
    private readonly k: Kernel,
    private readonly rowsPerGroup: number,
    /** Stand-ins for an absent mask (read) and, in forward(), the unwritten dpred (read_write). */
    private readonly dummyIn: GPUBuffer,
    private readonly dummyOut: GPUBuffer,
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<Mse> {
    const sw = kc.gpu.software === true;
    const entry = sw ? 'mse_fwd_bwd_row' : 'mse_fwd_bwd';
    const wg = sw ? ROW_WG : workgroupSize(kc.gpu.limits, { preferred: MSE_WG, bytesPerInvocation: 8 });
    const k = await kc.get({
      label: entry,
      entry,
      code,
      params: PARAMS,
      bindings: ['rw', 'read', 'rw', 'read', 'read'],
      constants: { WG: wg },
    });
    const dev = kc.gpu.device;
    return new Mse(
      k,
      sw ? ROW_WG : 1,
      dev.createBuffer({ label: 'mse-dummy-in', size: 16, usage: GPUBufferUsage.STORAGE }),
      dev.createBuffer({ label: 'mse-dummy-out', size: 16, usage: GPUBufferUsage.STORAGE }),
      wg,
    );
  }

  /** loss[b] = Σ_j mask·(pred − target)²; dpred = 2·mask·(pred − target)·scale. */
  forwardBackward(rec: Recorder, a: MseArgs): void {
    this.run(rec, a, a.dpred, GRAD);
  }

  /** Per-row loss only (evaluation). */
  forward(rec: Recorder, a: Omit<MseArgs, 'dpred' | 'scale'>): void {
    this.run(rec, { ...a, scale: 0 }, this.dummyOut, 0);
  }

  private run(rec: Recorder, a: Omit<MseArgs, 'dpred'>, dpred: Binding, grad: number): void {
    const flags = grad | (a.mask ? MASKED : 0);
    rec.dispatch(
      this.k,
      [dpred, a.target, a.loss, a.pred, a.mask ?? this.dummyIn],
      [a.B, a.k, a.scale, flags],
      rowGroups(rec, a.B, this.rowsPerGroup),
    );
  }
}
