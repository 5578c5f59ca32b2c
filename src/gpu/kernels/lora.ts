import code from './lora.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** Adapter slot meaning "no adapter" for a token. */
export const NO_ADAPTER = 0xffffffff;

export interface LoraUpArgs {
  /** f32 [T, R]: x·A_allᵀ, the stacked down projections of every resident adapter */
  u: Binding;
  /** f32 [N, R]: the adapters' B matrices side by side (columns off_a … off_a + r_a − 1 belong to adapter a) */
  b: Binding;
  /** u32 [T]: adapter slot per token, or NO_ADAPTER */
  adapter: Binding;
  /** u32 [slots, 4]: per adapter slot (column offset, rank for this matrix — 0 if not adapted, scale α/r as f32 bits, unused) */
  table: Binding;
  /** f32 [T, N], accumulated into */
  y: Binding;
  T: number;
  N: number;
  R: number;
}

/** The per-token up projection of multi-adapter LoRA inference (see lora.wgsl). */
export class LoraUp {
  private constructor(private readonly k: Kernel, readonly wg: number) {}

  static async create(kc: KernelCache): Promise<LoraUp> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    return new LoraUp(await kc.get({ label: 'lora_up', code, entry: 'lora_up', params: ['u32', 'u32', 'u32', 'u32'], bindings: ['read', 'read', 'read', 'read', 'rw'], constants: { WG: wg } }), wg);
  }

  forward(rec: Recorder, a: LoraUpArgs): void {
    if (a.T === 0 || a.N === 0 || a.R === 0) return;
    rec.dispatch(this.k, [a.u, a.b, a.adapter, a.table, a.y], [a.T, a.N, a.R, 0], grid(Math.ceil((a.T * a.N) / this.wg), rec.gpu.limits.maxComputeWorkgroupsPerDimension));
  }
}
