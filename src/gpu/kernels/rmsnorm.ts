import code from './rmsnorm.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/**
 * GPUs: preferred invocations per row (one workgroup per row; rows up to SMALL_D wide prefer SMALL_WG),
 * capped by the adapter's limits (src/gpu/workgroup.ts; shared memory: one vec2<f32> per invocation).
 */
const WG = 256;
const SMALL_WG = 64;
const SMALL_D = 512;
/** Software adapters: rows per workgroup, one invocation per row (rmsnorm_*_row in rmsnorm.wgsl). */
const ROW_WG = 16;

export interface RmsNormForwardArgs {
  /** f32 [T, d] */
  x: Binding;
  /** f32 [d] */
  weight: Binding;
  /** f32 [T, d]; must be a different buffer from x. */
  out: Binding;
  T: number;
  d: number;
  eps: number;
}

export interface RmsNormBackwardArgs {
  /** f32 [T, d], the forward input. */
  x: Binding;
  /** f32 [d] (frozen: no weight gradient is produced). */
  weight: Binding;
  /** f32 [T, d], gradient of the forward output. */
  dy: Binding;
  /** f32 [T, d], gradient of x; a different buffer from x and dy. */
  dx: Binding;
  T: number;
  d: number;
  eps: number;
  /** Add into dx instead of overwriting it (residual branches). */
  accumulate?: boolean;
}

interface Variant {
  fwd: Kernel;
  bwd: Kernel;
  /** Rows per workgroup: 1 (workgroup per row) or ROW_WG (invocation per row). */
  rowsPerGroup: number;
  /** Invocations per workgroup. */
  wg: number;
}

/**
 * y = x · rsqrt(mean(x²) + eps) · w per row (Llama/Mistral/Qwen2 RMSNorm). On GPUs one workgroup per
 * row (64 invocations for rows up to 512 wide, else 256); on software adapters one invocation per row.
 */
export class RmsNorm {
  private constructor(
    readonly small: Readonly<Variant>,
    readonly large: Readonly<Variant>,
  ) {}

  static async create(kc: KernelCache): Promise<RmsNorm> {
    const params = ['u32', 'u32', 'f32', 'u32'] as const;
    const variant = async (suffix: string, wg: number, rowsPerGroup: number): Promise<Variant> => {
      const [fwd, bwd] = await Promise.all([
        kc.get({ label: `rmsnorm_fwd${suffix}`, entry: `rmsnorm_fwd${suffix}`, code, params, bindings: ['read', 'read', 'rw'], constants: { WG: wg } }),
        kc.get({ label: `rmsnorm_bwd${suffix}`, entry: `rmsnorm_bwd${suffix}`, code, params, bindings: ['read', 'read', 'rw', 'read'], constants: { WG: wg } }),
      ]);
      return { fwd, bwd, rowsPerGroup, wg };
    };
    if (kc.gpu.software) {
      const v = await variant('_row', ROW_WG, ROW_WG);
      return new RmsNorm(v, v);
    }
    const size = (preferred: number) => workgroupSize(kc.gpu.limits, { preferred, bytesPerInvocation: 8 });
    const [small, large] = await Promise.all([variant('', size(SMALL_WG), 1), variant('', size(WG), 1)]);
    return new RmsNorm(small, large);
  }

  forward(rec: Recorder, a: RmsNormForwardArgs): void {
    const v = this.pick(a.d);
    rec.dispatch(v.fwd, [a.x, a.weight, a.out], [a.T, a.d, a.eps, 0], this.groups(rec, v, a.T));
  }

  /** dx (=|+=) ∂L/∂x given dy = ∂L/∂y. */
  backward(rec: Recorder, a: RmsNormBackwardArgs): void {
    const v = this.pick(a.d);
    rec.dispatch(v.bwd, [a.x, a.weight, a.dx, a.dy], [a.T, a.d, a.eps, a.accumulate ? 1 : 0], this.groups(rec, v, a.T));
  }

  private pick(d: number): Variant {
    return d <= SMALL_D ? this.small : this.large;
  }

  private groups(rec: Recorder, v: Variant, T: number): [number, number] {
    return grid(Math.ceil(T / v.rowsPerGroup), rec.gpu.limits.maxComputeWorkgroupsPerDimension);
  }
}
