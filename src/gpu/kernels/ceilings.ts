import source from './ceilings.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import type { Binding, Recorder } from '../recorder';

// One source for both precisions: the FMA chains' arithmetic type FT is declared up front.
const code = `alias FT = f32;\n${source}`;
const codeF16 = `enable f16;\nalias FT = f16;\n${source}`;

const params = ['u32', 'u32', 'f32', 'f32'] as const;
const bindings = ['read', 'rw'] as const;

/** FMA chains per invocation (4 × vec4 in ceilings.wgsl): FLOPs per invocation = 2 · FMA_CHAINS · iters. */
export const FMA_CHAINS = 16;

/** The adapter's ceilings: a streaming copy and FMA throughput in f32 and, where shader-f16 exists, f16. */
export class Ceilings {
  private constructor(
    private readonly copyK: Kernel,
    private readonly fma32: Kernel,
    private readonly fma16: Kernel | null,
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<Ceilings> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const constants = { WG: wg };
    const [c, f, h] = await Promise.all([
      kc.get({ label: 'ceil_copy', code, entry: 'copy', params, bindings, constants }),
      kc.get({ label: 'ceil_fma_f32', code, entry: 'fma_chains', params, bindings, constants }),
      kc.gpu.features.shaderF16 ? kc.get({ label: 'ceil_fma_f16', code: codeF16, entry: 'fma_chains', params, bindings, constants }) : null,
    ]);
    return new Ceilings(c, f, h, wg);
  }

  get hasF16(): boolean {
    return this.fma16 !== null;
  }

  /**
   * dst = src over n4 vec4 words (16·n4 bytes read, 16·n4 written). `groups` caps the grid; each
   * invocation then strides over the rest, as a streaming kernel on a real GPU would.
   */
  copy(rec: Recorder, a: { src: Binding; dst: Binding; n4: number; groups?: number }): void {
    const need = Math.ceil(a.n4 / this.wg);
    const groups = Math.max(1, Math.min(need, a.groups ?? need, rec.gpu.limits.maxComputeWorkgroupsPerDimension));
    rec.dispatch(this.copyK, [a.src, a.dst], [a.n4, 0, 0, 0], [groups]);
  }

  /**
   * n invocations, each reading one vec4 of src, running FMA_CHAINS chains of `iters` rounds of
   * acc = acc·a + b, and writing their sum to dst (vec4). src, dst: f32 [n, 4].
   */
  fma(rec: Recorder, a: { src: Binding; dst: Binding; n: number; iters: number; mul: number; add: number; precision?: 'f32' | 'f16' }): void {
    const k = a.precision === 'f16' ? this.fma16 : this.fma32;
    if (!k) throw new Error('This adapter has no shader-f16: the f16 FMA ceiling cannot be measured here.');
    rec.dispatch(k, [a.src, a.dst], [a.n, a.iters, a.mul, a.add], [Math.ceil(a.n / this.wg)]);
  }
}
