import code from './weightgrad.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';
import { tilePlan, type TilePlan } from '../tiles';
import { workgroupSize } from '../workgroup';

const PARAMS = ['u32', 'u32', 'u32', 'f32', 'u32'] as const;
/** Software adapters: invocations per workgroup of wg_tile_sw (4×4 blocks) and wg_bias_sw (columns). */
const SWG = 16;

export interface WeightGradArgs {
  /** f32 [M, N], gradient of the layer output. */
  dy: Binding;
  /** f32 [M, K], the layer input. */
  x: Binding;
  /** f32 [N, K]; a different buffer from dy and x. */
  dw: Binding;
  M: number;
  N: number;
  K: number;
  scale: number;
  /** dw += … instead of dw = … (gradient accumulation across micro-batches). */
  accumulate: boolean;
}

export interface BiasGradArgs {
  /** f32 [M, N] */
  dy: Binding;
  /** f32 [N] */
  db: Binding;
  M: number;
  N: number;
  scale: number;
  accumulate: boolean;
}

/**
 * Weight gradients of y = x·Wᵀ + b: dW = scale·dyᵀ·x (head weights [k, d]; LoRA A [r, K] with dy the
 * gradient of the r-dim bottleneck, B [N, r] with x the bottleneck) and db = scale·Σ_m dy.
 * Memory is read as f32; M (tokens) is the reduction loop, N and K are tiled.
 */
export class WeightGrad {
  private constructor(
    private readonly tileK: Kernel,
    private readonly biasK: Kernel,
    /** The barrier-free *_sw kernels of software adapters (Gpu.software). */
    private readonly software: boolean,
    /** Tile shape of wg_tile (GPU profile): dw tile edge and M rows staged per step. */
    readonly plan: TilePlan,
    /** Shape of wg_bias (GPU profile): `cols` columns per workgroup × `lanes` invocations over M each. */
    readonly bias: { readonly cols: number; readonly lanes: number },
  ) {}

  /** `plan` overrides the tile shape chosen from the adapter's limits (tests of the small-limit fallback). */
  static async create(kc: KernelCache, opts: { plan?: TilePlan } = {}): Promise<WeightGrad> {
    const sw = kc.gpu.software === true;
    const plan = opts.plan ?? tilePlan(kc.gpu.limits, 4);
    const tileConsts = { TT: plan.tile, TMC: plan.chunk, TWG: plan.threads };
    // wg_bias: one f32 of shared memory per invocation; columns first (coalesced reads of dy).
    const bwg = workgroupSize(kc.gpu.limits, { preferred: 256, bytesPerInvocation: 4 });
    const bias = { cols: Math.min(64, bwg), lanes: bwg / Math.min(64, bwg) };
    const spec = (entry: string, bindings: readonly ('read' | 'rw')[], constants?: Record<string, number>) =>
      sw
        ? kc.get({ label: `${entry}_sw`, entry: `${entry}_sw`, code, params: PARAMS, bindings, constants: { SWG } })
        : kc.get({ label: entry, entry, code, params: PARAMS, bindings, constants });
    const [t, b] = await Promise.all([spec('wg_tile', ['read', 'rw', 'read'], tileConsts), spec('wg_bias', ['read', 'rw'], { BC: bias.cols, BL: bias.lanes })]);
    return new WeightGrad(t, b, sw, plan, bias);
  }

  /** dw[N, K] (+)= scale · dy[M, N]ᵀ · x[M, K]. With M = 0 it writes zeros (or leaves dw as is). */
  accumulate(rec: Recorder, a: WeightGradArgs): void {
    if (a.N === 0 || a.K === 0) return;
    if (a.M === 0 && a.accumulate) return;
    const tiles = this.software
      ? Math.ceil((Math.ceil(a.N / 4) * Math.ceil(a.K / 4)) / SWG)
      : Math.ceil(a.N / this.plan.tile) * Math.ceil(a.K / this.plan.tile);
    rec.dispatch(
      this.tileK,
      [a.dy, a.dw, a.x],
      [a.M, a.N, a.K, a.scale, a.accumulate ? 1 : 0],
      grid(tiles, rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    );
  }

  /** db[N] (+)= scale · Σ_m dy[m, n]. */
  biasGrad(rec: Recorder, a: BiasGradArgs): void {
    if (a.N === 0) return;
    if (a.M === 0 && a.accumulate) return;
    rec.dispatch(
      this.biasK,
      [a.dy, a.db],
      [a.M, a.N, 0, a.scale, a.accumulate ? 1 : 0],
      grid(Math.ceil(a.N / (this.software ? SWG : this.bias.cols)), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    );
  }
}
