/**
 * Header-only GGUF files of real-sized models (7B shapes, real vocabulary sizes) for tests of the
 * pre-load inspection: the header declares every tensor, the "file" behind it is the header plus
 * zeros (a sparse source), so a 4 GB model costs a few hundred KB of memory.
 */
import { gv, type GgufValue } from './gguf-values';
import { writeGgufHeader, type GgufTensorDecl } from './gguf-writer';
import type { ByteSource } from './source';
import { GgmlType, TensorNames, type Arch } from './types';

export interface HeaderOnlyOptions {
  arch: Arch;
  name?: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  dFF: number;
  vocabSize: number;
  contextLength: number;
  /** Type of the attention and FFN matrices. */
  matrixType: GgmlType;
  /** Token embedding type (default matrixType). */
  embdType?: GgmlType;
  /** LM head type; null = tied embeddings (no output.weight). Default matrixType. */
  outputType?: GgmlType | null;
  /** Overrides per tensor name (e.g. Q6_K for some ffn_down, as Q4_K_M files have). */
  typeOf?: (name: string) => GgmlType | undefined;
  /** q/k/v biases (qwen2). Default: arch === 'qwen2'. */
  qkvBias?: boolean;
  /** Embedded vocabulary: 'llama' (SentencePiece) or 'gpt2' (byte-level BPE); none when omitted. */
  tokenizer?: 'llama' | 'gpt2';
  ropeTheta?: number;
}

/** The tensor directory a llama-family model of these dimensions has (GGUF names, outer-first shapes). */
export function headerOnlyTensors(o: HeaderOnlyOptions): GgufTensorDecl[] {
  const d = o.dModel;
  const hd = d / o.nHeads;
  const q = o.nHeads * hd;
  const kv = o.nKvHeads * hd;
  const mat = (name: string, shape: number[], fallback: GgmlType): GgufTensorDecl => ({ name, shape, type: o.typeOf?.(name) ?? fallback });
  const vec = (name: string, n: number): GgufTensorDecl => ({ name, shape: [n], type: GgmlType.F32 });
  const out: GgufTensorDecl[] = [mat(TensorNames.tokEmbd, [o.vocabSize, d], o.embdType ?? o.matrixType)];
  const bias = o.qkvBias ?? o.arch === 'qwen2';
  for (let l = 0; l < o.nLayers; l++) {
    out.push(vec(TensorNames.attnNorm(l), d));
    out.push(mat(TensorNames.wq(l), [q, d], o.matrixType));
    out.push(mat(TensorNames.wk(l), [kv, d], o.matrixType));
    out.push(mat(TensorNames.wv(l), [kv, d], o.matrixType));
    if (bias) {
      out.push(vec(TensorNames.bq(l), q));
      out.push(vec(TensorNames.bk(l), kv));
      out.push(vec(TensorNames.bv(l), kv));
    }
    out.push(mat(TensorNames.wo(l), [d, q], o.matrixType));
    out.push(vec(TensorNames.ffnNorm(l), d));
    out.push(mat(TensorNames.wGate(l), [o.dFF, d], o.matrixType));
    out.push(mat(TensorNames.wUp(l), [o.dFF, d], o.matrixType));
    out.push(mat(TensorNames.wDown(l), [d, o.dFF], o.matrixType));
  }
  out.push(vec(TensorNames.outNorm, d));
  const outputType = o.outputType === undefined ? o.matrixType : o.outputType;
  if (outputType !== null) out.push(mat(TensorNames.output, [o.vocabSize, d], outputType));
  return out;
}

function metadataOf(o: HeaderOnlyOptions): Record<string, GgufValue> {
  const a = o.arch;
  const md: Record<string, GgufValue> = {
    'general.architecture': gv.str(a),
    'general.name': gv.str(o.name ?? `header-only-${a}`),
    [`${a}.context_length`]: gv.u32(o.contextLength),
    [`${a}.embedding_length`]: gv.u32(o.dModel),
    [`${a}.block_count`]: gv.u32(o.nLayers),
    [`${a}.feed_forward_length`]: gv.u32(o.dFF),
    [`${a}.attention.head_count`]: gv.u32(o.nHeads),
    [`${a}.attention.head_count_kv`]: gv.u32(o.nKvHeads),
    [`${a}.attention.layer_norm_rms_epsilon`]: gv.f32(1e-5),
    [`${a}.rope.freq_base`]: gv.f32(o.ropeTheta ?? 10000),
  };
  if (o.tokenizer) {
    const tokens = Array.from({ length: o.vocabSize }, (_, i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : i === 2 ? '</s>' : `t${i}`));
    Object.assign(md, {
      'tokenizer.ggml.model': gv.str(o.tokenizer),
      'tokenizer.ggml.tokens': gv.arr('string', tokens),
      'tokenizer.ggml.bos_token_id': gv.u32(1),
      'tokenizer.ggml.eos_token_id': gv.u32(2),
    });
  }
  return md;
}

/** The header bytes and the size the whole file would have. */
export function headerOnlyGguf(o: HeaderOnlyOptions): { header: Uint8Array; fileSize: number } {
  const { header, dataBytes } = writeGgufHeader(metadataOf(o), headerOnlyTensors(o));
  return { header, fileSize: header.length + dataBytes };
}

/** `header` followed by zeros up to `size` bytes: a file of any size that costs only its header. */
export class SparseSource implements ByteSource {
  constructor(
    private readonly header: Uint8Array,
    private readonly total: number,
    readonly name: string = 'sparse.gguf',
  ) {}

  async size(): Promise<number> {
    return this.total;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    return sparseSlice(this.header, this.total, offset, length);
  }
}

/** Bytes [offset, offset + length) of a sparse file (header, then zeros), clipped to its size. */
export function sparseSlice(header: Uint8Array, total: number, offset: number, length: number): Uint8Array {
  const end = Math.min(total, offset + length);
  const out = new Uint8Array(Math.max(0, end - offset));
  if (offset < header.length) out.set(header.subarray(offset, Math.min(header.length, end)));
  return out;
}

/** Real models' shapes (from their config.json), for tests and the e2e fixtures. */
export const REAL_SHAPES = {
  /** TheBloke/Mistral-7B-v0.1-GGUF mistral-7b-v0.1.Q4_0.gguf (converted with the llama architecture). */
  mistral7bQ4_0: {
    arch: 'llama',
    name: 'mistralai_mistral-7b-v0.1',
    dModel: 4096,
    nLayers: 32,
    nHeads: 32,
    nKvHeads: 8,
    dFF: 14336,
    vocabSize: 32000,
    contextLength: 32768,
    matrixType: GgmlType.Q4_0,
    outputType: GgmlType.Q6_K,
    tokenizer: 'llama',
  },
  /** bartowski/Qwen2.5-7B-Instruct-GGUF Qwen2.5-7B-Instruct-Q4_K_M.gguf. */
  qwen25_7bQ4_K_M: {
    arch: 'qwen2',
    name: 'Qwen2.5 7B Instruct',
    dModel: 3584,
    nLayers: 28,
    nHeads: 28,
    nKvHeads: 4,
    dFF: 18944,
    vocabSize: 152064,
    contextLength: 32768,
    matrixType: GgmlType.Q4_K,
    outputType: GgmlType.Q6_K,
    ropeTheta: 1e6,
    tokenizer: 'gpt2',
  },
} satisfies Record<string, HeaderOnlyOptions>;
