/**
 * Deterministic tiny random models for tests and benchmarks, as GGUF bytes (any supported type)
 * or as a safetensors checkpoint + config.json. Both formats built from the same options hold the
 * same f32 weights (q/k rows permuted to HF's rotate-half order where GGUF uses interleaved RoPE),
 * so an engine must produce the same logits from either.
 */
import { quantize } from './quant';
import { interleavedToHalfRows } from './rope-layout';
import { writeGguf } from './gguf-writer';
import { gv, type GgufValue } from './gguf-values';
import { hfName, writeSafetensors } from './safetensors';
import { GgmlType, TYPE_LAYOUT, TensorNames, type Arch, type HostTensor } from './types';

export interface RandomModelOptions {
  arch: Arch;
  dModel?: number;
  nLayers?: number;
  nHeads?: number;
  nKvHeads?: number;
  dFF?: number;
  /** With includeTokenizer, defaults to (and must equal) the generated vocabulary's size. */
  vocabSize?: number;
  contextLength?: number;
  seed?: number;
  /** No output.weight: the LM head is the embedding table. */
  tied?: boolean;
  /** Embed a small llama-style SentencePiece vocabulary so the model runs end to end. */
  includeTokenizer?: boolean;
}

export interface RandomGgufOptions extends RandomModelOptions {
  type: GgmlType;
  /** Per-matrix type (canonical GGUF name → type), for llama.cpp-style mixes such as Q4_K_M; default `type`. */
  typeOf?: (name: string) => GgmlType | undefined;
  /**
   * Fill each matrix with quantized blocks copied from a small pool quantized once per (type, scale),
   * instead of drawing and quantizing every value: multi-GB shapes (7B layers, 152k vocabularies) in
   * seconds. Values keep their distribution, rows repeat blocks; for speed and shape tests only.
   */
  fastFill?: boolean;
}

interface Dims {
  arch: Arch;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dFF: number;
  vocabSize: number;
  contextLength: number;
  tied: boolean;
  seed: number;
  normEps: number;
  ropeTheta: number;
}

/** A weight in canonical name and GGUF row order, before encoding. */
interface F32Tensor {
  name: string;
  shape: number[];
  /** Generated on demand so a large model never holds all its f32 weights at once. */
  values: () => Float32Array;
  /** Matrices take the requested type; vectors (norms, biases) stay F32. */
  matrix: boolean;
  /** Standard deviation of the values (matrices: gain/√K). */
  std: number;
}

// ── deterministic randomness ───────────────────────────────────────────────

/** FNV-1a of seed and name: each tensor gets its own stream, so options that add tensors don't shift the others. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: tiny, fast, good enough for test weights. */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n draws of N(mean, std²) by Box–Muller. */
function normal(seed: number, n: number, std: number, mean = 0): Float32Array {
  const u = uniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())) * std;
    const a = 2 * Math.PI * u();
    out[i] = mean + r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = mean + r * Math.sin(a);
  }
  return out;
}

// ── vocabulary ─────────────────────────────────────────────────────────────

/** Story words: their ▁-prefixed prefixes form merge chains ("▁t" → "▁th" → "▁the") that SPM can reach. */
const WORDS = (
  'the and a was once upon time there little girl boy she he they it to of in day big happy play with her his ' +
  'friend said saw tree dog cat sun went park mom dad like loved named lily tim ben ball red blue fun home ' +
  'wanted very had one go look see is you i we not but so up out Once The Lily Tim Ben She He One They It'
).split(' ');

export interface RandomVocab {
  tokens: string[];
  scores: number[];
  types: number[];
}

/** <unk>, <s>, </s>, 256 byte tokens, single characters, then word-prefix pieces; padded with unreachable pieces to `size`. */
export function randomVocab(size?: number): RandomVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  const pieces = new Set<string>(['▁', ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?\'"'.split('')]);
  for (const w of WORDS) for (let k = 2; k <= w.length + 1; k++) pieces.add(('▁' + w).slice(0, k));
  const list = [...pieces];
  const target = size ?? tokens.length + list.length;
  if (target < tokens.length + 1) throw new Error(`randomVocab: a vocabulary needs at least ${tokens.length + 1} tokens, asked for ${target}.`);
  for (let i = 0; list.length < target - tokens.length; i++) list.push(`▁x${i}q`);
  list.length = target - tokens.length;
  const scores = tokens.map(() => 0);
  list.forEach((p, i) => {
    tokens.push(p);
    types.push(1); // normal
    scores.push(-i); // SPM merges the highest score first: earlier pieces win
  });
  return { tokens, scores, types };
}

// ── weights ────────────────────────────────────────────────────────────────

function resolveDims(o: RandomModelOptions, kQuant: boolean, vocabDefault: number): Dims {
  const dModel = o.dModel ?? (kQuant ? 256 : 64);
  const nHeads = o.nHeads ?? 4;
  const qwen = o.arch === 'qwen2';
  return {
    arch: o.arch,
    dModel,
    nLayers: o.nLayers ?? 2,
    nHeads,
    nKvHeads: o.nKvHeads ?? Math.max(1, nHeads / 2),
    headDim: dModel / nHeads,
    dFF: o.dFF ?? (kQuant ? 512 : 96),
    vocabSize: o.vocabSize ?? vocabDefault,
    contextLength: o.contextLength ?? 512,
    tied: o.tied ?? false,
    seed: o.seed ?? 1,
    normEps: qwen ? 1e-6 : 1e-5,
    ropeTheta: qwen ? 1e6 : 10000,
  };
}

/**
 * Matrices are N(0, 1/K) so each projection keeps unit-scale activations; the two that write into
 * the residual stream are further scaled by 1/√(2L) so the stream doesn't grow with depth. The
 * embedding is N(0, 1/d) so tied logits stay O(1). Norm weights scatter around 1 so a missing norm shows.
 */
function randomWeights(d: Dims): F32Tensor[] {
  const q = d.nHeads * d.headDim;
  const kv = d.nKvHeads * d.headDim;
  const resid = 1 / Math.sqrt(2 * d.nLayers);
  const out: F32Tensor[] = [];
  const mat = (name: string, shape: [number, number], gain = 1) =>
    out.push({ name, shape, matrix: true, std: gain / Math.sqrt(shape[1]), values: () => normal(tensorSeed(d.seed, name), shape[0] * shape[1], gain / Math.sqrt(shape[1])) });
  const vec = (name: string, n: number, std: number, mean: number) =>
    out.push({ name, shape: [n], matrix: false, std, values: () => normal(tensorSeed(d.seed, name), n, std, mean) });

  mat(TensorNames.tokEmbd, [d.vocabSize, d.dModel]);
  for (let l = 0; l < d.nLayers; l++) {
    vec(TensorNames.attnNorm(l), d.dModel, 0.1, 1);
    mat(TensorNames.wq(l), [q, d.dModel]);
    mat(TensorNames.wk(l), [kv, d.dModel]);
    mat(TensorNames.wv(l), [kv, d.dModel]);
    if (d.arch === 'qwen2') {
      vec(TensorNames.bq(l), q, 0.1, 0);
      vec(TensorNames.bk(l), kv, 0.1, 0);
      vec(TensorNames.bv(l), kv, 0.1, 0);
    }
    mat(TensorNames.wo(l), [d.dModel, q], resid);
    vec(TensorNames.ffnNorm(l), d.dModel, 0.1, 1);
    mat(TensorNames.wGate(l), [d.dFF, d.dModel]);
    mat(TensorNames.wUp(l), [d.dFF, d.dModel]);
    mat(TensorNames.wDown(l), [d.dModel, d.dFF], resid);
  }
  vec(TensorNames.outNorm, d.dModel, 0.1, 1);
  if (!d.tied) mat(TensorNames.output, [d.vocabSize, d.dModel]);
  return out;
}

function checkDims(d: Dims, type: GgmlType): void {
  const block = TYPE_LAYOUT[type].blockElems;
  if (!Number.isInteger(d.headDim) || d.headDim % 2 !== 0) {
    throw new Error(`random model: dModel ${d.dModel} / ${d.nHeads} heads must be an even integer head size.`);
  }
  if (d.nHeads % d.nKvHeads !== 0) throw new Error(`random model: ${d.nHeads} heads are not a multiple of ${d.nKvHeads} KV heads.`);
  // Every matrix's inner dimension (K) is dModel or dFF; quantized rows must be whole blocks.
  for (const [what, k] of [['dModel', d.dModel], ['dFF', d.dFF]] as const) {
    if (k % block !== 0) {
      throw new Error(`random model: ${what} ${k} must be a multiple of ${block} for ${TYPE_LAYOUT[type].name}.`);
    }
  }
}

function ggufMetadata(d: Dims, type: GgmlType, vocab: RandomVocab | null): Record<string, GgufValue> {
  const a = d.arch;
  const md: Record<string, GgufValue> = {
    'general.architecture': gv.str(a),
    'general.name': gv.str(`random-${a}-${TYPE_LAYOUT[type].name.toLowerCase()}-${d.seed}`),
    [`${a}.context_length`]: gv.u32(d.contextLength),
    [`${a}.embedding_length`]: gv.u32(d.dModel),
    [`${a}.block_count`]: gv.u32(d.nLayers),
    [`${a}.feed_forward_length`]: gv.u32(d.dFF),
    [`${a}.attention.head_count`]: gv.u32(d.nHeads),
    [`${a}.attention.head_count_kv`]: gv.u32(d.nKvHeads),
    [`${a}.attention.layer_norm_rms_epsilon`]: gv.f32(d.normEps),
    [`${a}.rope.freq_base`]: gv.f32(d.ropeTheta),
    [`${a}.rope.dimension_count`]: gv.u32(d.headDim),
  };
  if (vocab) {
    Object.assign(md, {
      'tokenizer.ggml.model': gv.str('llama'),
      'tokenizer.ggml.pre': gv.str('default'),
      'tokenizer.ggml.tokens': gv.arr('string', vocab.tokens),
      'tokenizer.ggml.scores': gv.arr('f32', vocab.scores),
      'tokenizer.ggml.token_type': gv.arr('i32', vocab.types),
      'tokenizer.ggml.bos_token_id': gv.u32(1),
      'tokenizer.ggml.eos_token_id': gv.u32(2),
      'tokenizer.ggml.unknown_token_id': gv.u32(0),
      'tokenizer.ggml.add_bos_token': gv.bool(true),
      'tokenizer.ggml.add_eos_token': gv.bool(false),
    });
  }
  return md;
}

function vocabFor(o: RandomModelOptions): RandomVocab | null {
  return o.includeTokenizer ? randomVocab(o.vocabSize) : null;
}

/** A random model as GGUF bytes; matrices in `type` (or `typeOf` their name), norms and biases F32. */
export function randomGguf(opts: RandomGgufOptions): Uint8Array {
  const vocab = vocabFor(opts);
  const kQuant = TYPE_LAYOUT[opts.type].blockElems === 256;
  const d = resolveDims(opts, kQuant, vocab ? vocab.tokens.length : 256);
  const weights = randomWeights(d);
  const typeOf = (t: F32Tensor) => (t.matrix ? (opts.typeOf?.(t.name) ?? opts.type) : GgmlType.F32);
  for (const type of new Set(weights.filter((t) => t.matrix).map(typeOf))) checkDims(d, type);
  const pools = new Map<string, Uint8Array>();
  const tensors: HostTensor[] = weights.map((t) => {
    const type = typeOf(t);
    const data = opts.fastFill && t.matrix ? tiledBlocks(type, t.shape[0]! * t.shape[1]!, t.std, tensorSeed(d.seed, t.name), pools) : quantize(type, t.values());
    return { name: t.name, type, shape: t.shape, data };
  });
  return writeGguf(ggufMetadata(d, opts.type, vocab), tensors);
}

/** Elements of the block pool fastFill copies from (a multiple of every block size). */
const POOL_ELEMS = 1 << 18;
/**
 * Elements copied per draw (whole blocks): long enough that filling costs memcpy, not the generator;
 * short enough that a row of K elements is one of ~(pool blocks)^(K/256) combinations, so rows are
 * not copies of one another.
 */
const RUN_ELEMS = 256;

/** `count` elements of `type` made of runs of blocks drawn from a pool of N(0, std²) values quantized once. */
function tiledBlocks(type: GgmlType, count: number, std: number, seed: number, pools: Map<string, Uint8Array>): Uint8Array {
  const l = TYPE_LAYOUT[type];
  const key = `${type}:${std}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = quantize(type, normal(tensorSeed(seed, key), POOL_ELEMS, std));
    pools.set(key, pool);
  }
  const blocks = count / l.blockElems;
  const poolBlocks = POOL_ELEMS / l.blockElems;
  const out = new Uint8Array(blocks * l.blockBytes);
  const u = uniform(seed);
  const run = Math.max(1, RUN_ELEMS / l.blockElems);
  for (let b = 0; b < blocks; b += run) {
    const n = Math.min(run, blocks - b);
    const from = Math.floor(u() * (poolBlocks - n + 1));
    out.set(pool.subarray(from * l.blockBytes, (from + n) * l.blockBytes), b * l.blockBytes);
  }
  return out;
}

export type SafetensorsDtype = GgmlType.F32 | GgmlType.F16 | GgmlType.BF16;

/** The same model as randomGguf (F32 weights identical) as a safetensors checkpoint with HF names, plus its config.json. */
export function randomSafetensors(
  opts: RandomModelOptions & { dtype?: SafetensorsDtype },
): { bytes: Uint8Array; config: Record<string, unknown> } {
  const dtype = opts.dtype ?? GgmlType.F32;
  const vocab = vocabFor(opts);
  const d = resolveDims(opts, false, vocab ? vocab.tokens.length : 256);
  checkDims(d, dtype);
  const interleaved = d.arch !== 'qwen2';
  const tensors: HostTensor[] = randomWeights(d).map((t) => {
    let values = t.values();
    const isQK = /\.attn_[qk]\.weight$/.test(t.name);
    if (interleaved && isQK) values = interleavedToHalfRows(values, t.shape[0]!, t.shape[1]!, d.headDim);
    const type = t.matrix ? dtype : GgmlType.F32;
    return { name: hfName(t.name), type, shape: t.shape, data: quantize(type, values) };
  });
  const config: Record<string, unknown> = {
    architectures: [{ llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' }[d.arch]],
    model_type: d.arch,
    hidden_size: d.dModel,
    num_hidden_layers: d.nLayers,
    num_attention_heads: d.nHeads,
    num_key_value_heads: d.nKvHeads,
    intermediate_size: d.dFF,
    vocab_size: d.vocabSize,
    max_position_embeddings: d.contextLength,
    rms_norm_eps: d.normEps,
    rope_theta: d.ropeTheta,
    tie_word_embeddings: d.tied,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: { [GgmlType.F32]: 'float32', [GgmlType.F16]: 'float16', [GgmlType.BF16]: 'bfloat16' }[dtype],
  };
  return { bytes: writeSafetensors(tensors, { format: 'pt' }), config };
}
