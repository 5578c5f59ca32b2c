/**
 * Hugging Face safetensors checkpoints (one file) with their config.json: u64 LE header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}} relative to the data that
 * follows it. HF names are mapped onto the canonical (GGUF) ones.
 */
import { dequantize } from './quant';
import type { ByteSource } from './source';
import { checkTensorShapes, checkSpecialIds } from './tensor-check';
import {
  GgmlType,
  ModelFormatError,
  TensorNames,
  type Arch,
  type HostTensor,
  type ModelConfig,
  type ModelDescription,
  type TensorInfo,
} from './types';

/** A header longer than this is not a real checkpoint header (guards against reading garbage as a length). */
const MAX_HEADER_BYTES = 100 << 20;

const DTYPES: Record<string, { type: GgmlType; bytes: number }> = {
  F32: { type: GgmlType.F32, bytes: 4 },
  F16: { type: GgmlType.F16, bytes: 2 },
  BF16: { type: GgmlType.BF16, bytes: 2 },
};
const DTYPE_BY_TYPE = new Map<GgmlType, string>(Object.entries(DTYPES).map(([k, v]) => [v.type, k]));

const SUPPORTED_MODEL_TYPES: readonly Arch[] = ['llama', 'mistral', 'qwen2'];

interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Map<string, RawEntry>;
  /** The optional "__metadata__" string map. */
  metadata: Record<string, string>;
  dataOffset: number;
}

/** Reads and structurally checks the JSON header. */
export async function readSafetensorsHeader(src: ByteSource, signal?: AbortSignal): Promise<SafetensorsHeader> {
  const fileSize = await src.size();
  if (fileSize < 8) throw new ModelFormatError(`"${src.name}" is too short (${fileSize} bytes) to be a safetensors file.`);
  const lenBytes = await src.read(0, 8, signal);
  const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw new ModelFormatError(
      `"${src.name}" is not a valid safetensors file: its header length ${len} exceeds the file size ${fileSize}` +
        (fileSize - 8 < MAX_HEADER_BYTES ? '; the download may be incomplete.' : '.'),
    );
  }
  const n = Number(len);
  const text = new TextDecoder().decode(await src.read(8, n, signal));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`"${src.name}": the safetensors header is not valid JSON (${(e as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFormatError(`"${src.name}": the safetensors header is not a JSON object.`);
  }
  const entries = new Map<string, RawEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const e = v as Partial<RawEntry> | null;
    const okShape = Array.isArray(e?.shape) && e.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    const okOffsets =
      Array.isArray(e?.data_offsets) &&
      e.data_offsets.length === 2 &&
      e.data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0) &&
      e.data_offsets[0] <= e.data_offsets[1];
    if (!e || typeof e.dtype !== 'string' || !okShape || !okOffsets) {
      throw new ModelFormatError(`"${src.name}": safetensors entry "${name}" lacks a valid dtype, shape or data_offsets.`);
    }
    entries.set(name, e as RawEntry);
  }
  return { entries, metadata, dataOffset: 8 + n };
}

/** HF parameter name → canonical name, or null for names the engine doesn't use (rotary caches…). */
export function canonicalName(hf: string): string | null {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': TensorNames.tokEmbd,
    'model.norm.weight': TensorNames.outNorm,
    'lm_head.weight': TensorNames.output,
  };
  if (Object.hasOwn(fixed, hf)) return fixed[hf]!;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (!m) return null;
  const l = Number(m[1]);
  const perLayer: Record<string, string> = {
    'input_layernorm.weight': TensorNames.attnNorm(l),
    'post_attention_layernorm.weight': TensorNames.ffnNorm(l),
    'self_attn.q_proj.weight': TensorNames.wq(l),
    'self_attn.k_proj.weight': TensorNames.wk(l),
    'self_attn.v_proj.weight': TensorNames.wv(l),
    'self_attn.q_proj.bias': TensorNames.bq(l),
    'self_attn.k_proj.bias': TensorNames.bk(l),
    'self_attn.v_proj.bias': TensorNames.bv(l),
    'self_attn.o_proj.weight': TensorNames.wo(l),
    'mlp.gate_proj.weight': TensorNames.wGate(l),
    'mlp.up_proj.weight': TensorNames.wUp(l),
    'mlp.down_proj.weight': TensorNames.wDown(l),
  };
  return Object.hasOwn(perLayer, m[2]!) ? perLayer[m[2]!]! : null;
}

/** The HF name of a canonical tensor name (inverse of canonicalName), for writers and messages. */
export function hfName(canonical: string): string {
  const fixed: Record<string, string> = {
    [TensorNames.tokEmbd]: 'model.embed_tokens.weight',
    [TensorNames.outNorm]: 'model.norm.weight',
    [TensorNames.output]: 'lm_head.weight',
  };
  if (Object.hasOwn(fixed, canonical)) return fixed[canonical]!;
  const m = /^blk\.(\d+)\.(.+)$/.exec(canonical);
  if (!m) return canonical;
  const parts: Record<string, string> = {
    'attn_norm.weight': 'input_layernorm.weight',
    'ffn_norm.weight': 'post_attention_layernorm.weight',
    'attn_q.weight': 'self_attn.q_proj.weight',
    'attn_k.weight': 'self_attn.k_proj.weight',
    'attn_v.weight': 'self_attn.v_proj.weight',
    'attn_q.bias': 'self_attn.q_proj.bias',
    'attn_k.bias': 'self_attn.k_proj.bias',
    'attn_v.bias': 'self_attn.v_proj.bias',
    'attn_output.weight': 'self_attn.o_proj.weight',
    'ffn_gate.weight': 'mlp.gate_proj.weight',
    'ffn_up.weight': 'mlp.up_proj.weight',
    'ffn_down.weight': 'mlp.down_proj.weight',
  };
  return Object.hasOwn(parts, m[2]!) ? `model.layers.${m[1]}.${parts[m[2]!]}` : canonical;
}

/** config.json accessors with messages naming the field. */
function configReader(json: unknown, name: string) {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFormatError(
      `"${name}" is a safetensors checkpoint, which needs its config.json (an object) to be loaded alongside it.`,
    );
  }
  const c = json as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const v = c[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelFormatError(`config.json for "${name}" lacks "${key}".`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ModelFormatError(`config.json for "${name}": "${key}" should be a number but is ${JSON.stringify(v)}.`);
    }
    return v;
  };
  const posInt = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v) || v <= 0) {
      throw new ModelFormatError(`config.json for "${name}": "${key}" is ${v}; it should be a positive integer.`);
    }
    // Above 2^31 − 1 no GPU buffer, index or shader constant could hold it (and halving loops break).
    if (v > 0x7fffffff) throw new ModelFormatError(`config.json for "${name}": "${key}" is ${v}, more than this engine supports (2147483647).`);
    return v;
  };
  /** bos/eos may be a number or a list (several stop ids); the first one is the one we use. */
  const id = (key: string): number | null => {
    const v = c[key];
    const first = Array.isArray(v) ? v[0] : v;
    return typeof first === 'number' && Number.isInteger(first) && first >= 0 ? first : null;
  };
  return { c, num, posInt, id };
}

function configFromJson(json: unknown, tensors: Map<string, TensorInfo>, name: string): ModelConfig {
  const { c, num, posInt } = configReader(json, name);
  const modelType = c['model_type'];
  if (typeof modelType !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ModelFormatError(
      `config.json for "${name}" has model_type ${JSON.stringify(modelType ?? null)}; supported: ` +
        `${SUPPORTED_MODEL_TYPES.join(', ')}.`,
    );
  }
  const dModel = posInt('hidden_size');
  const nHeads = posInt('num_attention_heads');
  const nKvHeads = posInt('num_key_value_heads', nHeads);
  const headDim = posInt('head_dim', dModel / nHeads);
  if (nHeads % nKvHeads !== 0) {
    throw new ModelFormatError(`config.json for "${name}": ${nHeads} attention heads are not a multiple of ${nKvHeads} KV heads.`);
  }

  let ropeScale = 1;
  const rs = c['rope_scaling'] as Record<string, unknown> | null | undefined;
  if (rs && typeof rs === 'object') {
    const kind = rs['type'] ?? rs['rope_type'];
    if (kind === 'linear') {
      const f = rs['factor'];
      if (typeof f !== 'number' || !(f > 0)) {
        throw new ModelFormatError(`config.json for "${name}": linear rope_scaling needs a positive "factor".`);
      }
      ropeScale = f;
    } else if (kind !== 'default' && kind !== undefined) {
      throw new ModelFormatError(
        `config.json for "${name}": rope_scaling type ${JSON.stringify(kind)} is not supported (supported: linear).`,
      );
    }
  }

  const embd = tensors.get(TensorNames.tokEmbd);
  const vocabSize = posInt('vocab_size', embd?.shape[0]);
  // tie_word_embeddings is only a hint: what matters is whether the checkpoint stores lm_head.
  const hasHead = tensors.has(TensorNames.output);
  if (!hasHead && c['tie_word_embeddings'] === false) {
    throw new ModelFormatError(
      `"${name}" has no "lm_head.weight" although config.json says tie_word_embeddings is false.`,
    );
  }
  return {
    arch: modelType as Arch,
    name: typeof c['_name_or_path'] === 'string' && c['_name_or_path'] ? (c['_name_or_path'] as string) : name,
    dModel,
    nLayers: posInt('num_hidden_layers'),
    nHeads,
    nKvHeads,
    headDim,
    dFF: posInt('intermediate_size'),
    vocabSize,
    maxSeqLen: posInt('max_position_embeddings', 2048),
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    // HF checkpoints keep q/k in rotate-half order (the conversion from Meta's weights permuted them).
    ropeStyle: 'neox',
    ropeScale,
    qkvBias: tensors.has(TensorNames.bq(0)),
    tiedEmbeddings: !hasHead,
  };
}

export async function describeSafetensors(
  src: ByteSource,
  configJson: unknown,
  signal?: AbortSignal,
): Promise<ModelDescription> {
  const header = await readSafetensorsHeader(src, signal);
  const fileSize = await src.size();
  const tensors = new Map<string, TensorInfo>();
  let end = header.dataOffset;
  for (const [hf, e] of header.entries) {
    const canonical = canonicalName(hf);
    if (canonical === null) continue;
    const dt = Object.hasOwn(DTYPES, e.dtype) ? DTYPES[e.dtype] : undefined;
    if (!dt) {
      throw new ModelFormatError(
        `"${src.name}": tensor "${hf}" has dtype ${e.dtype}, which is not supported; supported: ` +
          `${Object.keys(DTYPES).join(', ')}.`,
      );
    }
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, stop] = e.data_offsets;
    if (stop - begin !== count * dt.bytes) {
      throw new ModelFormatError(
        `"${src.name}": tensor "${hf}" [${e.shape.join(', ')}] ${e.dtype} needs ${count * dt.bytes} bytes but its ` +
          `data_offsets span ${stop - begin}.`,
      );
    }
    end = Math.max(end, header.dataOffset + stop);
    tensors.set(canonical, {
      name: canonical,
      type: dt.type,
      shape: e.shape,
      offset: header.dataOffset + begin,
      bytes: stop - begin,
    });
  }
  if (end > fileSize) {
    throw new ModelFormatError(
      `"${src.name}" is truncated: its tensors need ${end} bytes but the file has ${fileSize} bytes ` +
        `(${end - fileSize} missing); the download may be incomplete.`,
    );
  }
  // Two tensors sharing bytes would each load the other's data as their own.
  const spans = [...header.entries].map(([n, e]) => ({ n, b: e.data_offsets[0], e: e.data_offsets[1] })).filter((x) => x.e > x.b).sort((x, y) => x.b - y.b);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].b < spans[i - 1].e) {
      throw new ModelFormatError(`"${src.name}": tensors "${spans[i - 1].n}" and "${spans[i].n}" overlap (data_offsets ${spans[i].b}–${spans[i - 1].e}); the file is corrupt.`);
    }
  }
  const config = configFromJson(configJson, tensors, src.name);
  checkTensorShapes(config, tensors, src.name);
  const { id } = configReader(configJson, src.name);
  const out: ModelDescription = {
    format: 'safetensors',
    config,
    tensors,
    tokenizer: { kind: 'none' },
    bosId: id('bos_token_id'),
    eosId: id('eos_token_id'),
    metadata: { ...(configJson as Record<string, unknown>), __metadata__: header.metadata },
  };
  checkSpecialIds(out, src.name);
  return out;
}

/**
 * Serialises tensors (F32/F16/BF16) as safetensors. Names are written as given; pass HF names
 * (see hfName) for a loadable checkpoint.
 */
export function writeSafetensors(tensors: HostTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let at = 0;
  for (const t of tensors) {
    const dtype = DTYPE_BY_TYPE.get(t.type);
    if (!dtype) throw new ModelFormatError(`safetensors writer: tensor "${t.name}" has a type safetensors can't hold here.`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPES[dtype]!.bytes;
    if (bytes !== t.data.length) {
      throw new ModelFormatError(`safetensors writer: tensor "${t.name}" needs ${bytes} bytes but has ${t.data.length}.`);
    }
    header[t.name] = { dtype, shape: t.shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so tensor data starts 8-byte aligned (the format allows trailing spaces).
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let off = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, off);
    off += t.data.length;
  }
  return out;
}

/** A tensor of a safetensors file decoded to f32. */
export interface SafetensorsTensor {
  name: string;
  /** The stored dtype (F32, F16 or BF16). */
  dtype: string;
  shape: number[];
  data: Float32Array<ArrayBuffer>;
}

/**
 * Every tensor of a (small) safetensors file — an adapter, a tag file — decoded to f32, in the
 * header's order. F32, F16 and BF16 only; anything else, or data outside the file, is refused.
 */
export async function readSafetensorsTensors(src: ByteSource, signal?: AbortSignal): Promise<SafetensorsTensor[]> {
  const header = await readSafetensorsHeader(src, signal);
  const fileSize = await src.size();
  const out: SafetensorsTensor[] = [];
  for (const [name, e] of header.entries) {
    const dt = Object.hasOwn(DTYPES, e.dtype) ? DTYPES[e.dtype] : undefined;
    if (!dt) {
      throw new ModelFormatError(
        `"${src.name}": tensor "${name}" has dtype ${e.dtype}; supported: ${Object.keys(DTYPES).join(', ')}.`,
      );
    }
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, stop] = e.data_offsets;
    if (stop - begin !== count * dt.bytes) {
      throw new ModelFormatError(
        `"${src.name}": tensor "${name}" [${e.shape.join(', ')}] ${e.dtype} needs ${count * dt.bytes} bytes but its data_offsets span ${stop - begin}.`,
      );
    }
    if (header.dataOffset + stop > fileSize) {
      throw new ModelFormatError(`"${src.name}" is truncated: tensor "${name}" ends at byte ${header.dataOffset + stop} of ${fileSize}.`);
    }
    const bytes = await src.read(header.dataOffset + begin, stop - begin, signal);
    out.push({ name, dtype: e.dtype, shape: [...e.shape], data: new Float32Array(dequantize(dt.type, bytes, count)) });
  }
  return out;
}
