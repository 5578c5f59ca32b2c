import code from './logits.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** Software adapters: rows per workgroup of argmax_row (one invocation per row). */
const ROW_WG = 8;

export interface ArgmaxArgs {
  /** f32 [B, V] */
  logits: Binding;
  /** u32 [B]: index of the largest logit of each row (lowest index on ties; NaNs ignored). */
  out: Binding;
  B: number;
  V: number;
}

/** Greedy token choice on the GPU, so decoding reads back B ids instead of B·V logits. */
export class Argmax {
  private constructor(
    private readonly k: Kernel,
    private readonly rowsPerGroup: number,
    /** Invocations per workgroup (GPUs: src/gpu/workgroup.ts). */
    readonly wg: number,
  ) {}

  /** One workgroup per row; on software adapters (Gpu.software) one invocation per row. */
  static async create(kc: KernelCache): Promise<Argmax> {
    const sw = kc.gpu.software === true;
    const entry = sw ? 'argmax_row' : 'argmax';
    // Shared memory: one f32 and one u32 per invocation.
    const wg = sw ? ROW_WG : workgroupSize(kc.gpu.limits, { preferred: 256, bytesPerInvocation: 8 });
    const k = await kc.get({ label: entry, entry, code, params: ['u32', 'u32'], bindings: ['read', 'rw'], constants: { WG: wg } });
    return new Argmax(k, sw ? ROW_WG : 1, wg);
  }

  forward(rec: Recorder, a: ArgmaxArgs): void {
    rec.dispatch(this.k, [a.logits, a.out], [a.B, a.V], grid(Math.ceil(a.B / this.rowsPerGroup), rec.gpu.limits.maxComputeWorkgroupsPerDimension));
  }
}
