import code from './adamw.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

export interface AdamWClip {
  /** f32 buffer holding Σ grad² of the raw grads over every clipped parameter (SumSquares.accumulate), at [slot]. */
  sumSquares: Binding;
  slot?: number;
  /** Bound on the global norm of the scaled grads, |gradScale|·sqrt(sumSquares[slot]). */
  maxNorm: number;
}

export interface AdamWArgs {
  /** f32 [n] each; four distinct buffers. */
  param: Binding;
  grad: Binding;
  m: Binding;
  v: Binding;
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before the Adam step. */
  weightDecay: number;
  /** 1-based step count, for the bias corrections 1 − β^step. */
  step: number;
  /** Grads are multiplied by this first (1/accumulation steps, a CPU-side clipping factor…). */
  gradScale: number;
  /** Clear grad after the update (ready for the next accumulation). */
  zeroGrad: boolean;
  /**
   * GPU-side global-norm clipping, no readback: the scaled grads are further multiplied by
   * min(1, maxNorm / (|gradScale|·sqrt(S) + 1e-6)) with S = sumSquares[slot]; a non-finite S (overflow,
   * NaN grads) skips the update (p, m, v unchanged; grad still zeroed with zeroGrad).
   */
  clip?: AdamWClip;
  /**
   * The update-finiteness guard (needs clip; the flag lives in clip.sumSquares at [flagSlot], zeroed
   * before the step): run probe() over every parameter, then update() skips the whole step when any
   * element's new p, m or v would be non-finite.
   */
  guard?: { flagSlot: number };
}

/** AdamW (Loshchilov & Hutter; PyTorch's update order) on a flat f32 parameter buffer. */
export class AdamW {
  private constructor(private readonly k: Kernel, private readonly dummy: GPUBuffer, readonly wg: number) {}

  static async create(kc: KernelCache): Promise<AdamW> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const k = await kc.get({
      label: 'adamw',
      entry: 'adamw',
      code,
      params: ['u32', 'u32', 'u32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'u32'],
      bindings: ['rw', 'rw', 'rw', 'rw', 'rw'],
      constants: { WG: wg },
    });
    const dummy = kc.gpu.device.createBuffer({ label: 'adamw-dummy', size: 16, usage: GPUBufferUsage.STORAGE });
    return new AdamW(k, dummy, wg);
  }

  update(rec: Recorder, a: AdamWArgs): void {
    this.dispatch(rec, a, (a.zeroGrad ? 1 : 0) | (a.clip ? 2 : 0) | (a.guard ? 8 : 0));
  }

  /** Flags (no writes to p, m, v or grad) when this update would make any element non-finite. */
  probe(rec: Recorder, a: AdamWArgs): void {
    if (!a.guard || !a.clip) throw new Error('AdamW.probe needs clip and guard (the flag lives in the clip buffer).');
    this.dispatch(rec, a, 2 | 4);
  }

  private dispatch(rec: Recorder, a: AdamWArgs, flags: number): void {
    if (a.n <= 0) return;
    if (!(a.step >= 1)) throw new Error(`AdamW: step must be ≥ 1 (1-based), got ${a.step}`);
    if (a.guard && !a.clip) throw new Error('AdamW: guard needs clip (the flag lives in the clip buffer).');
    const bc1 = 1 - Math.pow(a.beta1, a.step);
    const bc2 = 1 - Math.pow(a.beta2, a.step);
    const params = [
      a.n,
      flags,
      a.clip?.slot ?? 0,
      a.beta1,
      a.beta2,
      1 - a.beta1,
      1 - a.beta2,
      a.eps,
      1 - a.lr * a.weightDecay,
      a.lr / bc1,
      1 / Math.sqrt(bc2),
      a.gradScale,
      a.clip?.maxNorm ?? 0,
      a.guard?.flagSlot ?? 0,
    ];
    rec.dispatch(
      this.k,
      [a.param, a.grad, a.m, a.v, a.clip?.sumSquares ?? this.dummy],
      params,
      grid(Math.ceil(a.n / this.wg), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    );
  }
}
