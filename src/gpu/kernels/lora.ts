import code from './lora.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** lora_down_sw: invocations per workgroup (SWG in lora.wgsl). */
const SWG = 16;
const PARAMS = ['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'f32'] as const;

/** Adapter slot meaning "no adapter" for a token. */
export const NO_ADAPTER = 0xffffffff;

export interface LoraUpArgs {
  /** f32 [T, uStride]: x·A_allᵀ, the stacked down projections of every resident adapter */
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
  /** u holds the down projections of several matrices (one input group): this matrix's first column (default 0) */
  uOff?: number;
  /** columns of u (default R) */
  uStride?: number;
}

export interface LoraDownArgs {
  /** f32 [T, K]: the projections' input (the residual stream when `norm` is given) */
  x: Binding;
  /** f32 [R, K]: A rows of every resident adapter for every adapted projection sharing this input */
  a: Binding;
  /** u32 [R, 2]: per A row its adapter slot and scale α/r (f32 bits) */
  owner: Binding;
  /** u32 [T]: adapter slot per token, or NO_ADAPTER */
  adapter: Binding;
  /** f32 [T, R] out: scale·rmsnorm(x)·Aᵀ on the token's own adapter's rows, 0 elsewhere */
  u: Binding;
  T: number;
  R: number;
  K: number;
  /** RMSNorm the input first (the fused q|k|v and gate|up kernels norm inside, so A·x needs it too) */
  norm?: { weight: Binding; eps: number };
}

/** The per-token up projection of multi-adapter LoRA inference (see lora.wgsl). */
export class LoraUp {
  private constructor(private readonly k: Kernel, readonly wg: number) {}

  static async create(kc: KernelCache): Promise<LoraUp> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    return new LoraUp(await kc.get({ label: 'lora_up', code, entry: 'lora_up', params: [...PARAMS], bindings: ['read', 'read', 'read', 'read', 'rw'], constants: { WG: wg } }), wg);
  }

  forward(rec: Recorder, a: LoraUpArgs): void {
    if (a.T === 0 || a.N === 0 || a.R === 0) return;
    const params = [a.T, a.N, a.R, a.uOff ?? 0, a.uStride ?? a.R, 0, 0, 0];
    rec.dispatch(this.k, [a.u, a.b, a.adapter, a.table, a.y], params, grid(Math.ceil((a.T * a.N) / this.wg), rec.gpu.limits.maxComputeWorkgroupsPerDimension));
  }
}

/**
 * The down projection of a decode chunk's LoRA (lora.wgsl `lora_down`): norm + A·x for every adapted
 * projection sharing one input, masked to each token's adapter and scaled, for the fused projections
 * (matvec.wgsl `*_lora`) to add B·u. Software adapters: one invocation per output; GPUs: a workgroup
 * per A row reducing over K.
 */
export class LoraDown {
  private constructor(
    private readonly k: Kernel,
    private readonly software: boolean,
    private readonly dummy: GPUBuffer,
  ) {}

  static async create(kc: KernelCache): Promise<LoraDown> {
    const software = kc.gpu.software === true;
    const k = await kc.get({
      label: software ? 'lora_down_sw' : 'lora_down',
      code,
      entry: software ? 'lora_down_sw' : 'lora_down',
      params: [...PARAMS],
      bindings: ['read', 'read', 'read', 'read', 'read', 'rw'],
      // GPUs: a tree over DWG invocations of one vec2 each (the workgroup-size policy, src/gpu/workgroup.ts).
      constants: software ? { SWG } : { DWG: workgroupSize(kc.gpu.limits, { preferred: 64, bytesPerInvocation: 8 }) },
    });
    return new LoraDown(k, software, kc.gpu.device.createBuffer({ label: 'lora-down-dummy', size: 16, usage: GPUBufferUsage.STORAGE }));
  }

  forward(rec: Recorder, a: LoraDownArgs): void {
    if (a.T === 0 || a.R === 0) return;
    const params = [a.T, 0, a.R, 0, 0, a.K, a.norm ? 1 : 0, a.norm?.eps ?? 0];
    const b = [a.x, a.a, a.norm?.weight ?? this.dummy, a.adapter, a.owner, a.u];
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (this.software) {
      rec.dispatch(this.k, b, params, grid(Math.ceil((a.T * a.R) / SWG), maxG));
    } else {
      const [gx, gy] = grid(a.R, maxG);
      rec.dispatch(this.k, b, params, [gx, gy, a.T]);
    }
  }
}
