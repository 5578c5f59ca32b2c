import code from './elementwise.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';

const WG = 256;

export class Elementwise {
  private constructor(
    private readonly addK: Kernel,
    private readonly copyK: Kernel,
    private readonly fillK: Kernel,
    private readonly dummy: GPUBuffer,
  ) {}

  static async create(kc: KernelCache): Promise<Elementwise> {
    const spec = { code, params: ['u32', 'f32'], bindings: ['read', 'rw'], constants: { WG } } as const;
    const [a, c, f] = await Promise.all([
      kc.get({ ...spec, label: 'add_scaled', entry: 'add_scaled' }),
      kc.get({ ...spec, label: 'copy_scaled', entry: 'copy_scaled' }),
      kc.get({ ...spec, label: 'fill', entry: 'fill' }),
    ]);
    const dummy = kc.gpu.device.createBuffer({ label: 'fill-src', size: 16, usage: GPUBufferUsage.STORAGE });
    return new Elementwise(a, c, f, dummy);
  }

  /** dst[0..n) += alpha · src[0..n) */
  add(rec: Recorder, dst: Binding, src: Binding, n: number, alpha = 1): void {
    rec.dispatch(this.addK, [src, dst], [n, alpha], grid(Math.ceil(n / WG)));
  }

  /** dst[0..n) = value */
  fill(rec: Recorder, dst: Binding, n: number, value = 0): void {
    rec.dispatch(this.fillK, [this.dummy, dst], [n, value], grid(Math.ceil(n / WG)));
  }

  /** dst[0..n) = alpha · src[0..n) */
  copy(rec: Recorder, dst: Binding, src: Binding, n: number, alpha = 1): void {
    rec.dispatch(this.copyK, [src, dst], [n, alpha], grid(Math.ceil(n / WG)));
  }
}
