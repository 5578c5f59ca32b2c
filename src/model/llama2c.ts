/**
 * llama2.c "v0" checkpoints (.bin): a 7 × int32 header, then every weight as f32 in a fixed order
 * with no directory. The file has no magic number, so its size must match the header exactly.
 */
import type { ByteSource } from './source';
import { GgmlType, ModelFormatError, TensorNames, type ModelConfig, type ModelDescription, type TensorInfo } from './types';

export const LLAMA2C_HEADER_BYTES = 28;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Absolute value; the file stores it negated when the classifier is not shared. */
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/** Parses the 28-byte header; returns null when the numbers can't describe a model (for sniffing). */
export function parseLlama2cHeader(bytes: Uint8Array): Llama2cHeader | null {
  if (bytes.length < LLAMA2C_HEADER_BYTES) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = Array.from({ length: 7 }, (_, i) =>
    v.getInt32(i * 4, true),
  ) as [number, number, number, number, number, number, number];
  const vocabSize = Math.abs(vocab);
  const positive = [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen].every((x) => x > 0);
  if (!positive || dim % nHeads !== 0 || nHeads % nKvHeads !== 0 || (dim / nHeads) % 2 !== 0) return null;
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier: vocab > 0 };
}

/** Each array in file order: [canonical name or null when skipped, outer-first shape]. */
function layout(h: Llama2cHeader): Array<{ name: string | null; shape: number[] }> {
  const { dim, hiddenDim: hid, nLayers: L, vocabSize: V, seqLen } = h;
  const hs = dim / h.nHeads;
  const kvDim = h.nKvHeads * hs;
  const out: Array<{ name: string | null; shape: number[] }> = [];
  // Per-layer arrays are stored as one [L, ...] block each; we split them into per-layer tensors.
  const perLayer = (name: (l: number) => string, shape: number[]) => {
    for (let l = 0; l < L; l++) out.push({ name: name(l), shape });
  };
  out.push({ name: TensorNames.tokEmbd, shape: [V, dim] });
  perLayer(TensorNames.attnNorm, [dim]);
  perLayer(TensorNames.wq, [dim, dim]);
  perLayer(TensorNames.wk, [kvDim, dim]);
  perLayer(TensorNames.wv, [kvDim, dim]);
  perLayer(TensorNames.wo, [dim, dim]);
  perLayer(TensorNames.ffnNorm, [dim]);
  perLayer(TensorNames.wGate, [hid, dim]); // w1
  perLayer(TensorNames.wDown, [dim, hid]); // w2
  perLayer(TensorNames.wUp, [hid, dim]); // w3
  out.push({ name: TensorNames.outNorm, shape: [dim] });
  // Precomputed RoPE tables from old exports; the engine computes its own.
  out.push({ name: null, shape: [seqLen, hs / 2] }); // freq_cis_real
  out.push({ name: null, shape: [seqLen, hs / 2] }); // freq_cis_imag
  if (!h.sharedClassifier) out.push({ name: TensorNames.output, shape: [V, dim] });
  return out;
}

/**
 * Total file size the header implies, by arithmetic: a corrupt header may claim 2^31 layers, and
 * building the per-layer layout first would run out of memory before the size check could refuse it.
 * (Doubles: above 2^53 the sum is inexact, but then it is still far from any real file size.)
 */
export function llama2cExpectedSize(h: Llama2cHeader): number {
  const { dim, hiddenDim: hid, nLayers: L, vocabSize: V, seqLen } = h;
  const hs = dim / h.nHeads;
  const kvDim = h.nKvHeads * hs;
  const perLayer = dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hid * dim;
  const floats = V * dim + L * perLayer + dim + 2 * seqLen * (hs / 2) + (h.sharedClassifier ? 0 : V * dim);
  return LLAMA2C_HEADER_BYTES + 4 * floats;
}

export async function describeLlama2c(src: ByteSource, signal?: AbortSignal): Promise<ModelDescription> {
  const fileSize = await src.size();
  const head = await src.read(0, LLAMA2C_HEADER_BYTES, signal);
  const h = parseLlama2cHeader(head);
  if (!h) {
    throw new ModelFormatError(
      `"${src.name}" is not a llama2.c checkpoint: its ${LLAMA2C_HEADER_BYTES}-byte header does not describe a ` +
        'model (dimensions must be positive and divisible by the head counts).',
    );
  }
  const expected = llama2cExpectedSize(h);
  if (fileSize !== expected) {
    const dims = `dim ${h.dim}, hidden ${h.hiddenDim}, ${h.nLayers} layers, ${h.nHeads} heads, ${h.nKvHeads} kv heads, vocab ${h.vocabSize}, seq ${h.seqLen}`;
    throw new ModelFormatError(
      fileSize < expected
        ? `"${src.name}" is truncated: a llama2.c model with ${dims} needs ${expected} bytes but the file has ` +
            `${fileSize}; the download may be incomplete.`
        : `"${src.name}" has ${fileSize - expected} bytes more than a llama2.c v0 model with ${dims} ` +
            `(${expected} bytes); it may be a different format or version.`,
    );
  }

  const tensors = new Map<string, TensorInfo>();
  let offset = LLAMA2C_HEADER_BYTES;
  for (const t of layout(h)) {
    const bytes = 4 * t.shape.reduce((a, b) => a * b, 1);
    if (t.name) tensors.set(t.name, { name: t.name, type: GgmlType.F32, shape: t.shape, offset, bytes });
    offset += bytes;
  }

  const config: ModelConfig = {
    arch: 'llama',
    name: src.name.replace(/^.*[\\/]/, '').replace(/\.bin$/i, ''),
    dModel: h.dim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.dim / h.nHeads,
    dFF: h.hiddenDim,
    vocabSize: h.vocabSize,
    maxSeqLen: h.seqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'normal',
    ropeScale: 1,
    qkvBias: false,
    tiedEmbeddings: h.sharedClassifier,
  };
  return {
    format: 'llama2c',
    config,
    tensors,
    tokenizer: { kind: 'none' },
    bosId: 1,
    eosId: 2,
    metadata: {
      dim: h.dim,
      hidden_dim: h.hiddenDim,
      n_layers: h.nLayers,
      n_heads: h.nHeads,
      n_kv_heads: h.nKvHeads,
      vocab_size: h.sharedClassifier ? h.vocabSize : -h.vocabSize,
      seq_len: h.seqLen,
    },
  };
}
