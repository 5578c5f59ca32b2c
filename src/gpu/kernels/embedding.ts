import dequantCode from './dequant.wgsl?raw';
import embeddingCode from './embedding.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../../model/types';

const code = dequantCode + '\n' + embeddingCode;

/** `inject` value meaning "take the vocabulary row". */
export const NO_INJECT = 0xffffffff;

export const EMBEDDING_TYPES: readonly GgmlType[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_K,
  GgmlType.Q6_K,
];

export interface EmbeddingGatherArgs {
  /** u32 [T] token ids (ignored where injected; ids ≥ vocab give zero rows) */
  ids: Binding;
  /** u32 [T]: NO_INJECT = take the vocabulary row, else the index of a row of `injected` */
  inject: Binding;
  /** f32 [nInjected, d] caller-provided rows (tags); bind any non-empty buffer when nothing is injected */
  injected: Binding;
  /** [vocab, d], any supported type */
  table: GpuTensor;
  /** f32 [T, d] */
  out: Binding;
  T: number;
  /** Multiplies every output row, vocabulary and injected alike (default 1). */
  scale?: number;
}

/** out[t] = scale · (inject[t] == NO_INJECT ? table[ids[t]] : injected[inject[t]]), table dequantized on the fly. */
export class Embedding {
  private constructor(private readonly kernels: Map<GgmlType, Kernel>, readonly wg: number) {}

  static async create(kc: KernelCache, types: readonly GgmlType[] = EMBEDDING_TYPES): Promise<Embedding> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const kernels = new Map<GgmlType, Kernel>();
    await Promise.all(
      types.map(async (type) => {
        const k = await kc.get({
          label: `embedding_${TYPE_LAYOUT[type].name}`,
          code,
          entry: 'gather',
          params: ['u32', 'u32', 'u32', 'f32'],
          bindings: ['read', 'read', 'read', 'read', 'rw'],
          constants: { WTYPE: type, WG: wg },
        });
        kernels.set(type, k);
      }),
    );
    return new Embedding(kernels, wg);
  }

  gather(rec: Recorder, a: EmbeddingGatherArgs): void {
    const { table } = a;
    if (table.shape.length !== 2) throw new Error(`Embedding: table "${table.name}" must be 2-D, got [${table.shape}]`);
    const [vocab, d] = table.shape;
    const be = TYPE_LAYOUT[table.type]?.blockElems;
    if (be === undefined || d % be !== 0 || d % 4 !== 0) {
      throw new Error(`Embedding: table "${table.name}" [${vocab}, ${d}]: width must be a multiple of ${Math.max(be ?? 1, 4)}`);
    }
    const k = this.kernels.get(table.type);
    if (!k) throw new Error(`Embedding: table type ${TYPE_LAYOUT[table.type]?.name ?? table.type} was not compiled`);
    if (a.T <= 0) return;
    rec.dispatch(
      k,
      [a.ids, a.inject, a.injected, table.buffer, a.out],
      [a.T, d, vocab, a.scale ?? 1],
      grid(Math.ceil((a.T * d) / 4 / this.wg), rec.gpu.limits.maxComputeWorkgroupsPerDimension),
    );
  }
}
