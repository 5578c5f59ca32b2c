import code from './elementwise.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

export class Elementwise {
  private constructor(
    private readonly addK: Kernel,
    private readonly copyK: Kernel,
    private readonly fillK: Kernel,
    private readonly dropoutK: Kernel,
    private readonly dummy: GPUBuffer,
    /** Invocations per workgroup (src/gpu/workgroup.ts). */
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<Elementwise> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const spec = { code, params: ['u32', 'f32', 'u32', 'u32'], bindings: ['read', 'rw'], constants: { WG: wg } } as const;
    const [a, c, f, dr] = await Promise.all([
      kc.get({ ...spec, label: 'add_scaled', entry: 'add_scaled' }),
      kc.get({ ...spec, label: 'copy_scaled', entry: 'copy_scaled' }),
      kc.get({ ...spec, label: 'fill', entry: 'fill' }),
      kc.get({ ...spec, label: 'dropout', entry: 'dropout' }),
    ]);
    const dummy = kc.gpu.device.createBuffer({ label: 'fill-src', size: 16, usage: GPUBufferUsage.STORAGE });
    return new Elementwise(a, c, f, dr, dummy, wg);
  }

  /** dst[0..n) += alpha · src[0..n) */
  add(rec: Recorder, dst: Binding, src: Binding, n: number, alpha = 1): void {
    rec.dispatch(this.addK, [src, dst], [n, alpha, 0, 0], grid(Math.ceil(n / this.wg)));
  }

  /** dst[0..n) = value */
  fill(rec: Recorder, dst: Binding, n: number, value = 0): void {
    rec.dispatch(this.fillK, [this.dummy, dst], [n, value, 0, 0], grid(Math.ceil(n / this.wg)));
  }

  /** dst[0..n) = alpha · src[0..n) */
  copy(rec: Recorder, dst: Binding, src: Binding, n: number, alpha = 1): void {
    rec.dispatch(this.copyK, [src, dst], [n, alpha, 0, 0], grid(Math.ceil(n / this.wg)));
  }

  /**
   * dst[i] = src[i]·keep_i/(1 − p) with keep_i a pure function of (seed, i) (see dropoutKeep): the
   * same call in the backward pass applies the same mask.
   */
  dropout(rec: Recorder, dst: Binding, src: Binding, n: number, p: number, seed: number): void {
    rec.dispatch(this.dropoutK, [src, dst], [n, 1 / (1 - p), seed >>> 0, dropoutThreshold(p)], grid(Math.ceil(n / this.wg)));
  }
}

/** p as the u32 threshold the kernel compares hashes against. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`Dropout probability must be in [0, 1), got ${p}.`);
  return Math.min(0xffffffff, Math.floor(p * 2 ** 32));
}

