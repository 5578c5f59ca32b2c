import code from './rows.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import type { Binding, Recorder } from '../recorder';

export class Rows {
  private constructor(private readonly k: Kernel) {}

  static async create(kc: KernelCache): Promise<Rows> {
    return new Rows(await kc.get({ label: 'gather_rows', code, params: ['u32', 'u32', 'u32'], bindings: ['read', 'read', 'rw'] }));
  }

  /** out[outRow + r] = src[rows[r]] for r < R; src: f32 [*, d]; rows: u32 [R]; out: f32 [outRow + R, d]. */
  gather(rec: Recorder, a: { src: Binding; rows: Binding; out: Binding; R: number; d: number; outRow?: number }): void {
    rec.dispatch(this.k, [a.src, a.rows, a.out], [a.R, a.d, a.outRow ?? 0], [a.R]);
  }
}
