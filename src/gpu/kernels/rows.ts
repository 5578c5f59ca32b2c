import code from './rows.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import type { Binding, Recorder } from '../recorder';

const spec = { code, params: ['u32', 'u32', 'u32', 'u32'], bindings: ['read', 'read', 'rw'] } as const;

/** Moving rows between token-major buffers by index (see rows.wgsl). */
export class Rows {
  private constructor(
    private readonly gatherK: Kernel,
    private readonly scatterK: Kernel,
    private readonly segmentK: Kernel,
    /** Invocations per row (src/gpu/workgroup.ts). */
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<Rows> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 64 });
    const [g, s, m] = await Promise.all(
      (['gather', 'scatter_add', 'segment_sum'] as const).map((entry) => kc.get({ ...spec, label: `rows_${entry}`, entry, constants: { WG: wg } })),
    );
    return new Rows(g, s, m, wg);
  }

  /** out[outRow + r] = src[rows[r]] for r < R; src: f32 [*, d]; rows: u32 [R]; out: f32 [outRow + R, d]. */
  gather(rec: Recorder, a: { src: Binding; rows: Binding; out: Binding; R: number; d: number; outRow?: number }): void {
    rec.dispatch(this.gatherK, [a.src, a.rows, a.out], [a.R, a.d, a.outRow ?? 0, 0], [a.R]);
  }

  /** out[rows[r]] += src[r] for r < R; rows must be distinct. src: f32 [R, d]. */
  scatterAdd(rec: Recorder, a: { src: Binding; rows: Binding; out: Binding; R: number; d: number }): void {
    rec.dispatch(this.scatterK, [a.src, a.rows, a.out], [a.R, a.d, 0, 0], [a.R]);
  }

  /** out[j] += Σ_{t<T, rows[t]=j} src[t] for j < nOut; rows[t] ≥ nOut (e.g. 0xFFFFFFFF) are skipped. */
  segmentSum(rec: Recorder, a: { src: Binding; rows: Binding; out: Binding; T: number; nOut: number; d: number }): void {
    rec.dispatch(this.segmentK, [a.src, a.rows, a.out], [a.T, a.d, 0, a.nOut], [a.nOut]);
  }
}
