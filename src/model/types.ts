/**
 * Shared vocabulary of the model layer. Shapes are written outer-first (PyTorch order): a weight
 * matrix used as y = x·Wᵀ has shape [outFeatures, inFeatures] = [N, K]; GGUF's `ne` is the reverse.
 */

/** GGML tensor types the engine keeps on the GPU as they are stored. Values are GGUF's. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30,
}

/** Elements per block and bytes per block of each type. */
export const TYPE_LAYOUT: Record<GgmlType, { blockElems: number; blockBytes: number; name: string }> = {
  [GgmlType.F32]: { blockElems: 1, blockBytes: 4, name: 'F32' },
  [GgmlType.F16]: { blockElems: 1, blockBytes: 2, name: 'F16' },
  [GgmlType.BF16]: { blockElems: 1, blockBytes: 2, name: 'BF16' },
  [GgmlType.Q8_0]: { blockElems: 32, blockBytes: 34, name: 'Q8_0' },
  [GgmlType.Q4_0]: { blockElems: 32, blockBytes: 18, name: 'Q4_0' },
  [GgmlType.Q4_K]: { blockElems: 256, blockBytes: 144, name: 'Q4_K' },
  [GgmlType.Q6_K]: { blockElems: 256, blockBytes: 210, name: 'Q6_K' },
};

export function isSupportedType(t: number): t is GgmlType {
  return t in TYPE_LAYOUT;
}

/** Bytes of a tensor of `count` elements (count must be a multiple of the block size). */
export function tensorBytes(type: GgmlType, count: number): number {
  const l = TYPE_LAYOUT[type];
  return (count / l.blockElems) * l.blockBytes;
}

export type Arch = 'llama' | 'mistral' | 'qwen2';

/** 'normal' rotates adjacent pairs (2i, 2i+1) as llama.cpp's GGUF llama and llama2.c do; 'neox' rotates (i, i+d/2) as HF and Qwen2 do. */
export type RopeStyle = 'normal' | 'neox';

export interface ModelConfig {
  arch: Arch;
  name: string;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dFF: number;
  vocabSize: number;
  /** Longest context the model was trained for; the KV cache may be allocated shorter. */
  maxSeqLen: number;
  normEps: number;
  ropeTheta: number;
  ropeStyle: RopeStyle;
  /** Linear position interpolation: positions are divided by this (1 = none). */
  ropeScale: number;
  /** q/k/v projections carry biases (Qwen2). */
  qkvBias: boolean;
  /** The LM head is the token embedding table (no separate output.weight). */
  tiedEmbeddings: boolean;
}

/** Canonical tensor names (GGUF's). Every reader maps its own names onto these. */
export const TensorNames = {
  tokEmbd: 'token_embd.weight',
  outNorm: 'output_norm.weight',
  output: 'output.weight',
  attnNorm: (l: number) => `blk.${l}.attn_norm.weight`,
  wq: (l: number) => `blk.${l}.attn_q.weight`,
  wk: (l: number) => `blk.${l}.attn_k.weight`,
  wv: (l: number) => `blk.${l}.attn_v.weight`,
  bq: (l: number) => `blk.${l}.attn_q.bias`,
  bk: (l: number) => `blk.${l}.attn_k.bias`,
  bv: (l: number) => `blk.${l}.attn_v.bias`,
  wo: (l: number) => `blk.${l}.attn_output.weight`,
  ffnNorm: (l: number) => `blk.${l}.ffn_norm.weight`,
  wGate: (l: number) => `blk.${l}.ffn_gate.weight`,
  wUp: (l: number) => `blk.${l}.ffn_up.weight`,
  wDown: (l: number) => `blk.${l}.ffn_down.weight`,
} as const;

/** Where a tensor's bytes live in its source, before loading. */
export interface TensorInfo {
  name: string;
  type: GgmlType;
  shape: number[];
  /** Absolute byte offset in the source and byte length. */
  offset: number;
  bytes: number;
}

/** A tensor in CPU memory, in its stored type. */
export interface HostTensor {
  name: string;
  type: GgmlType;
  shape: number[];
  data: Uint8Array;
}

/** A tensor on the GPU, in its stored type (raw blocks, padded to 4 bytes). */
export interface GpuTensor {
  name: string;
  type: GgmlType;
  shape: number[];
  buffer: GPUBuffer;
  /** Byte offset in `buffer` when matrices share one (stacked q|k|v, gate|up); a multiple of 256. */
  offset?: number;
}

/** How to build the tokenizer for a model (see src/model/tokenizer). */
export type TokenizerSource =
  | { kind: 'gguf'; metadata: Record<string, unknown> }
  | { kind: 'llama2c'; data: Uint8Array; vocabSize: number }
  | { kind: 'hf-json'; json: unknown; config?: unknown }
  | { kind: 'none' };

/** A parsed model file: configuration, where each tensor is, and its tokenizer. */
export interface ModelDescription {
  format: 'gguf' | 'llama2c' | 'safetensors';
  config: ModelConfig;
  tensors: Map<string, TensorInfo>;
  tokenizer: TokenizerSource;
  /** Special token ids known from metadata. */
  bosId: number | null;
  eosId: number | null;
  /** Raw metadata for display (GGUF key/values, safetensors config.json…). */
  metadata: Record<string, unknown>;
}

/** Model files are untrusted input: any problem becomes this, naming what and where. */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}
