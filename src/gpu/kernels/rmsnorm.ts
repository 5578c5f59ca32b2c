import code from './rmsnorm.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';

const WG = 256;

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

/** y = x · rsqrt(mean(x²) + eps) · w per row (Llama/Mistral/Qwen2 RMSNorm). One workgroup per row. */
export class RmsNorm {
  private constructor(private readonly fwdK: Kernel, private readonly bwdK: Kernel) {}

  static async create(kc: KernelCache): Promise<RmsNorm> {
    const [f, b] = await Promise.all([
      kc.get({ label: 'rmsnorm_fwd', entry: 'rmsnorm_fwd', code, params: ['u32', 'u32', 'f32', 'u32'], bindings: ['read', 'read', 'rw'], constants: { WG } }),
      kc.get({ label: 'rmsnorm_bwd', entry: 'rmsnorm_bwd', code, params: ['u32', 'u32', 'f32', 'u32'], bindings: ['read', 'read', 'rw', 'read'], constants: { WG } }),
    ]);
    return new RmsNorm(f, b);
  }

  forward(rec: Recorder, a: RmsNormForwardArgs): void {
    rec.dispatch(this.fwdK, [a.x, a.weight, a.out], [a.T, a.d, a.eps, 0], grid(a.T));
  }

  /** dx (=|+=) ∂L/∂x given dy = ∂L/∂y. */
  backward(rec: Recorder, a: RmsNormBackwardArgs): void {
    rec.dispatch(this.bwdK, [a.x, a.weight, a.dx, a.dy], [a.T, a.d, a.eps, a.accumulate ? 1 : 0], grid(a.T));
  }
}
