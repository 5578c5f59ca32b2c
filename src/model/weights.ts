import type { GpuMemory } from '../gpu/memory';
import { fmtBytes, writeAligned } from '../gpu/memory';
import type { LoadProgress } from './api';
import { nonFiniteAt } from './finite-scan';
import { dequantize } from './quant';
import type { ByteSource } from './source';
import { GgmlType, ModelFormatError, TensorNames, type GpuTensor, type ModelConfig, type ModelDescription, type TensorInfo } from './types';

/** One decoder block's weights on the GPU. Norm weights and biases are f32 buffers; matrices stay in their file type. */
export interface LayerWeights {
  attnNorm: GPUBuffer; // f32 [d]
  wq: GpuTensor; // [nHeads·hd, d]
  wk: GpuTensor; // [nKv·hd, d]
  wv: GpuTensor; // [nKv·hd, d]
  bq: GPUBuffer | null; // f32 [nHeads·hd]
  bk: GPUBuffer | null;
  bv: GPUBuffer | null;
  wo: GpuTensor; // [d, nHeads·hd]
  ffnNorm: GPUBuffer; // f32 [d]
  wGate: GpuTensor; // [ff, d]
  wUp: GpuTensor; // [ff, d]
  wDown: GpuTensor; // [d, ff]
}

export interface ModelWeights {
  tokEmbd: GpuTensor; // [vocab, d]
  layers: LayerWeights[];
  outNorm: GPUBuffer; // f32 [d]
  /** The LM head; the same object as tokEmbd when embeddings are tied. */
  output: GpuTensor; // [vocab, d]
}

const CHUNK = 16 << 20;

/**
 * Streams every tensor from its source to the GPU in chunks: peak CPU memory is one chunk, and
 * quantized matrices land on the GPU byte for byte as they are in the file.
 */
export async function uploadWeights(
  mem: GpuMemory,
  desc: ModelDescription,
  src: ByteSource,
  opts: { signal?: AbortSignal; onProgress?: (p: LoadProgress) => void } = {},
): Promise<ModelWeights> {
  const cfg = desc.config;
  const total = [...desc.tensors.values()].reduce((s, t) => s + t.bytes, 0);
  let loaded = 0;
  const report = () => opts.onProgress?.({ phase: 'upload', loaded, total, message: `${fmtBytes(loaded)} / ${fmtBytes(total)}` });

  const info = (name: string): TensorInfo => {
    const t = desc.tensors.get(name);
    if (!t) throw new ModelFormatError(`${src.name}: tensor "${name}" is missing.`);
    return t;
  };

  const matrix = async (name: string): Promise<GpuTensor> => {
    const t = info(name);
    const buffer = mem.create(name, t.bytes, 'weights');
    await fill(name, t, buffer, 0);
    return { name, type: t.type, shape: t.shape, buffer };
  };

  const fill = async (name: string, t: TensorInfo, buffer: GPUBuffer, at: number): Promise<void> => {
    for (let off = 0; off < t.bytes; off += CHUNK) {
      opts.signal?.throwIfAborted();
      const n = Math.min(CHUNK, t.bytes - off);
      const bytes = await src.read(t.offset + off, n, opts.signal);
      if (bytes.byteLength !== n) {
        throw new ModelFormatError(`${src.name}: tensor "${name}" is cut short (the file is truncated; download it again).`);
      }
      // The chunk is in CPU memory now: a NaN/Inf weight or block scale is cheap to find here and
      // would otherwise turn every generated token into garbage without a word.
      const bad = nonFiniteAt(t.type, bytes, off);
      if (bad) throw new ModelFormatError(`${src.name}: tensor "${name}" holds a non-finite ${bad.what} (${bad.value}) at element ${bad.element}; the file is corrupt.`);
      writeAligned(mem.gpu.device, buffer, at + off, bytes);
      loaded += n;
      report();
    }
  };

  // Matrices that read the same input (q|k|v, gate|up) share one buffer, each part aligned for its own
  // binding, so the forward projects them in one dispatch (Matmul.forwardStacked). Separate buffers when
  // types or K differ or the stack would exceed a binding.
  const stack = async (names: string[]): Promise<GpuTensor[]> => {
    const ts = names.map(info);
    const align = mem.gpu.limits.minStorageBufferOffsetAlignment;
    const offsets: number[] = [];
    let size = 0;
    for (const t of ts) {
      offsets.push(size);
      size = Math.ceil((size + t.bytes) / align) * align;
    }
    const lim = Math.min(mem.gpu.limits.maxStorageBufferBindingSize, mem.gpu.limits.maxBufferSize);
    const same = ts.every((t) => t.type === ts[0].type && t.shape.length === 2 && t.shape[1] === ts[0].shape[1]);
    if (!same || size > lim) {
      const out: GpuTensor[] = [];
      for (const n of names) out.push(await matrix(n));
      return out;
    }
    const buffer = mem.create(names.join('|'), size, 'weights');
    for (let i = 0; i < ts.length; i++) await fill(names[i], ts[i], buffer, offsets[i]);
    return ts.map((t, i) => ({ name: names[i], type: t.type, shape: t.shape, buffer, offset: offsets[i] }));
  };

  // Vectors are tiny: convert them to f32 once so no kernel needs a per-type path for them.
  const vector = async (name: string): Promise<GPUBuffer> => {
    const t = info(name);
    const bytes = await src.read(t.offset, t.bytes, opts.signal);
    if (bytes.byteLength !== t.bytes) throw new ModelFormatError(`${src.name}: tensor "${name}" is cut short (the file is truncated).`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const f32 = t.type === GgmlType.F32 ? new Float32Array(bytes.slice().buffer, 0, count) : dequantize(t.type, bytes, count);
    for (let i = 0; i < f32.length; i++) {
      if (!Number.isFinite(f32[i])) throw new ModelFormatError(`${src.name}: tensor "${name}" holds a non-finite value (${f32[i]}) at element ${i}; the file is corrupt.`);
    }
    loaded += t.bytes;
    report();
    return mem.upload(name, f32, 'weights');
  };
  const optionalVector = (name: string) => (desc.tensors.has(name) ? vector(name) : Promise.resolve(null));

  const tokEmbd = await matrix(TensorNames.tokEmbd);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const attnNorm = await vector(TensorNames.attnNorm(l));
    const [wq, wk, wv] = await stack([TensorNames.wq(l), TensorNames.wk(l), TensorNames.wv(l)]);
    layers.push({
      attnNorm,
      wq,
      wk,
      wv,
      bq: await optionalVector(TensorNames.bq(l)),
      bk: await optionalVector(TensorNames.bk(l)),
      bv: await optionalVector(TensorNames.bv(l)),
      wo: await matrix(TensorNames.wo(l)),
      ffnNorm: await vector(TensorNames.ffnNorm(l)),
      ...(await stack([TensorNames.wGate(l), TensorNames.wUp(l)]).then(([wGate, wUp]) => ({ wGate, wUp }))),
      wDown: await matrix(TensorNames.wDown(l)),
    });
  }
  const outNorm = await vector(TensorNames.outNorm);
  const output = cfg.tiedEmbeddings || !desc.tensors.has(TensorNames.output) ? tokEmbd : await matrix(TensorNames.output);
  return { tokEmbd, layers, outNorm, output };
}

/** The defaults loadModel applies: 4 slots, 256-token forward chunks, the model's context capped so the KV cache stays ≤ 1 GiB. */
export const DEFAULT_SLOTS = 4;
export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_KV_CAP_BYTES = 1 << 30;

export interface LoadShape {
  /** KV-cache positions per sequence. */
  maxContext: number;
  /** Sequences decodable in parallel (KV-cache slots). */
  slots: number;
  /** Tokens per forward chunk. */
  maxTokens: number;
}

/**
 * The KV-cache and activation sizes a load will allocate for these options: loadModel and the
 * pre-load inspection both call this, so the estimate shown before loading is what the load allocates.
 */
export function loadShape(cfg: ModelConfig, opts: { maxContext?: number; slots?: number; maxTokens?: number } = {}): LoadShape {
  const slots = opts.slots ?? DEFAULT_SLOTS;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  let maxContext = Math.max(16, Math.min(opts.maxContext ?? cfg.maxSeqLen, cfg.maxSeqLen || Infinity));
  // Halve with division, not >>=: a context of 2^31 or more would turn negative in 32-bit shifts.
  if (opts.maxContext === undefined) while (maxContext > 256 && kvBytes(cfg, maxContext, slots) > DEFAULT_KV_CAP_BYTES) maxContext = Math.floor(maxContext / 2);
  return { maxContext, slots, maxTokens };
}

/** The tensor with the most bytes (one GPU buffer each): it must fit maxStorageBufferBindingSize and maxBufferSize. */
export function largestTensor(desc: ModelDescription): TensorInfo | null {
  let best: TensorInfo | null = null;
  for (const t of desc.tensors.values()) if (!best || t.bytes > best.bytes) best = t;
  return best;
}

/** Bytes the model will need on the GPU (weights + KV cache + scratch), for the "will it fit" check before loading. */
export function estimateMemory(desc: ModelDescription, maxContext: number, slots: number, maxTokens: number): { weights: number; kv: number; scratch: number; total: number } {
  const cfg = desc.config;
  const weights = [...desc.tensors.values()].reduce((s, t) => s + (t.shape.length === 1 && t.type !== GgmlType.F32 ? t.bytes * 2 : t.bytes), 0);
  const kv = kvBytes(cfg, maxContext, slots);
  const scratch = scratchFloats(cfg, maxTokens, slots) * 4;
  return { weights, kv, scratch, total: weights + kv + scratch };
}

export function kvBytes(cfg: ModelConfig, maxContext: number, slots: number): number {
  return 2 * cfg.nLayers * slots * maxContext * cfg.nKvHeads * cfg.headDim * 4;
}

/** f32 words of the forward pass's activation buffers for `T` tokens and `R` logit rows. */
export function scratchFloats(cfg: ModelConfig, T: number, R: number): number {
  const qd = cfg.nHeads * cfg.headDim;
  const kvd = cfg.nKvHeads * cfg.headDim;
  // Per logit row also the token choice's weights over the vocabulary and its small plan/stats/out words.
  return T * (2 * cfg.dModel + 2 * qd + 2 * kvd + 3 * cfg.dFF) + R * (2 * cfg.dModel + 2 * cfg.vocabSize + 18);
}
