import code from './reduce.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import type { Binding, Recorder } from '../recorder';

/** Most level-1 workgroups (partials) of one reduction. */
const MAX_PARTIALS = 512;
/** Elements per invocation below which fewer level-1 workgroups are used. */
const PER_THREAD = 16;
/** Software adapters: invocations per workgroup, and elements per level-1 invocation (reduce_sum_sw). */
const SWG = 16;
const SW_PER_INVOCATION = 2048;

export interface ReduceArgs {
  /** f32 [n] */
  x: Binding;
  n: number;
  /** f32 [slot + 1] or more; receives the total at out[slot]. */
  out: Binding;
  /** Index in `out` (default 0), so several sums can share one buffer and one readback. */
  slot?: number;
  /** Add into out[slot] instead of overwriting it. */
  accumulate?: boolean;
}

const SQUARE = 1;
const ACCUMULATE = 2;

/**
 * Two-level sum: per-workgroup partials into a private scratch buffer, then one workgroup that folds
 * them into out[slot]. Dispatches in one pass run in order, so the scratch is reused across calls.
 */
abstract class TwoLevel {
  protected constructor(
    private readonly k: Kernel,
    private readonly partials: GPUBuffer,
    /** reduce_sum_sw (software adapters): `parts` invocations, each summing a chunk serially. */
    private readonly software: boolean,
    /** Invocations per workgroup of reduce_sum (GPUs: src/gpu/workgroup.ts). */
    readonly wg: number,
  ) {}

  protected static async kernel(kc: KernelCache): Promise<{ k: Kernel; partials: GPUBuffer; software: boolean; wg: number }> {
    const software = kc.gpu.software === true;
    const entry = software ? 'reduce_sum_sw' : 'reduce_sum';
    // Shared memory: one f32 per invocation.
    const wg = software ? SWG : workgroupSize(kc.gpu.limits, { preferred: 256, bytesPerInvocation: 4 });
    const k = await kc.get({ label: entry, entry, code, params: ['u32', 'u32', 'u32', 'u32'], bindings: ['read', 'rw'], constants: { WG: wg } });
    const partials = kc.gpu.device.createBuffer({ label: 'reduce-partials', size: MAX_PARTIALS * 4, usage: GPUBufferUsage.STORAGE });
    return { k, partials, software, wg };
  }

  protected run(rec: Recorder, a: ReduceArgs, square: boolean, accumulate: boolean): void {
    const slot = a.slot ?? 0;
    const acc = accumulate ? ACCUMULATE : 0;
    const sq = square ? SQUARE : 0;
    // [params, workgroups] of a pass summing n values into `parts` outputs.
    const pass = (n: number, parts: number, flags: number): [number[], [number]] =>
      this.software ? [[n, slot, flags, parts], [Math.ceil(parts / SWG)]] : [[n, slot, flags, 0], [parts]];
    if (a.n <= 0) {
      // Σ over nothing: 0 (the kernel handles n = 0: every invocation contributes 0).
      if (accumulate) return;
      rec.dispatch(this.k, [a.x, a.out], ...pass(0, 1, 0));
      return;
    }
    const G = this.software
      ? Math.min(MAX_PARTIALS, Math.ceil(a.n / SW_PER_INVOCATION))
      : Math.min(MAX_PARTIALS, Math.ceil(a.n / (this.wg * PER_THREAD)));
    if (G === 1) {
      rec.dispatch(this.k, [a.x, a.out], ...pass(a.n, 1, sq | acc));
      return;
    }
    const [p1, g1] = pass(a.n, G, sq);
    p1[1] = 0; // level 1 writes partials[0..G)
    rec.dispatch(this.k, [a.x, this.partials], p1, g1);
    rec.dispatch(this.k, [this.partials, a.out], ...pass(G, 1, acc));
  }
}

/** Global Σ x² of a buffer, added into out[slot]: gradient norms for clipping, over several parameter buffers. */
export class SumSquares extends TwoLevel {
  static async create(kc: KernelCache): Promise<SumSquares> {
    const { k, partials, software, wg } = await TwoLevel.kernel(kc);
    return new SumSquares(k, partials, software, wg);
  }

  /** out[slot] += Σ_i x[i]² (out[slot] = … with `accumulate: false`; default true). */
  accumulate(rec: Recorder, a: ReduceArgs): void {
    this.run(rec, a, true, a.accumulate ?? true);
  }
}

/** Global Σ x of a buffer: per-row losses to one float, so the trainer reads back 4 bytes. */
export class Reduce extends TwoLevel {
  static async create(kc: KernelCache): Promise<Reduce> {
    const { k, partials, software, wg } = await TwoLevel.kernel(kc);
    return new Reduce(k, partials, software, wg);
  }

  /** out[slot] = Σ_i x[i] (out[slot] += … with `accumulate: true`; default false). */
  sum(rec: Recorder, a: ReduceArgs): void {
    this.run(rec, a, false, a.accumulate ?? false);
  }

  /** out[slot] = Σ_i x[i]² (+= with `accumulate: true`). */
  sumSquares(rec: Recorder, a: ReduceArgs): void {
    this.run(rec, a, true, a.accumulate ?? false);
  }
}
