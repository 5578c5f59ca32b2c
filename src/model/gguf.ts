/**
 * GGUF v2/v3 reader: the header (metadata and tensor directory) read incrementally from a
 * ByteSource, and the mapping of llama-family metadata onto ModelConfig with validation.
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 kv count, key/values, tensor infos,
 * padding to `general.alignment`, tensor data. All little-endian.
 */
import type { ByteSource } from './source';
import {
  ModelFormatError,
  TensorNames,
  isSupportedType,
  type Arch,
  type GgmlType,
  type ModelConfig,
  type ModelDescription,
  type TensorInfo,
} from './types';
import { checkSpecialIds, checkTensorShapes, expectedTensorShapes } from './tensor-check';
import { ggmlTensorBytes, ggmlTypeInfo, ggmlTypeLabel, supportedTypeList } from './ggml-types';
import { ggufPlain, ggufTypeFromCode, type GgufArray, type GgufPlainScalar, type GgufScalarType, type GgufValue } from './gguf-values';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;
/** Longest metadata key or tensor name accepted (ggml's names are ≤ 64 bytes): longer is a corrupt length. */
const MAX_NAME = 256;
const FIRST_CHUNK = 1 << 20;

/** A tensor directory entry. `type` is only a valid GgmlType when `isSupportedType(rawType)`. */
export interface GgufTensorInfo extends TensorInfo {
  /** The type number as stored, kept so unsupported types can be named. */
  rawType: number;
  /** Offset relative to the start of the data section, as stored. */
  relOffset: number;
}

export interface GgufHeader {
  version: number;
  /** Plain values: numbers, bigints (64-bit values beyond 2^53), booleans, strings, arrays. */
  metadata: Record<string, unknown>;
  /** The same values with their stored GGUF types (for round trips and display). */
  typedMetadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  alignment: number;
}

/** Thrown by the parser when the bytes read so far end mid-header; the caller reads more and restarts. */
class NeedMore {}

/** Sequential little-endian reads over the bytes of the header read so far. */
class Cursor {
  private readonly view: DataView;
  pos = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly buf: Uint8Array,
    private readonly fileSize: number,
    private readonly name: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.buf.length < this.fileSize) throw new NeedMore();
    throw new ModelFormatError(
      `"${this.name}" is truncated: the GGUF header ends inside ${what} at byte ${this.pos} ` +
        `(file size ${this.fileSize} bytes); the download may be incomplete.`,
    );
  }

  /** Bytes left in the whole file after the cursor: bounds element counts before looping over them. */
  remainingInFile(): number {
    return this.fileSize - this.pos;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  i8(what: string): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(what: string): number | bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(what: string): number | bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 that must be a usable count/offset. */
  size(what: string): number {
    const v = this.u64(what);
    if (typeof v === 'bigint') {
      throw new ModelFormatError(`"${this.name}": ${what} is ${v}, which is not a plausible size (corrupt file?).`);
    }
    return v;
  }
  string(what: string): string {
    const len = this.size(`the length of ${what}`);
    if (len > this.remainingInFile()) {
      throw new ModelFormatError(
        `"${this.name}" is truncated or corrupt: ${what} claims ${len} bytes at offset ${this.pos} but the file ` +
          `has only ${this.remainingInFile()} bytes left; the download may be incomplete.`,
      );
    }
    this.need(len, what);
    const s = this.decoder.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

/** Smallest encoded size of one element of each value type, to reject absurd array counts early. */
const MIN_ELEM_BYTES: Record<string, number> = {
  u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8, string: 8, array: 12,
};

function readScalar(c: Cursor, type: GgufScalarType, what: string): GgufPlainScalar {
  switch (type) {
    case 'u8': return c.u8(what);
    case 'i8': return c.i8(what);
    case 'u16': return c.u16(what);
    case 'i16': return c.i16(what);
    case 'u32': return c.u32(what);
    case 'i32': return c.i32(what);
    case 'f32': return c.f32(what);
    case 'f64': return c.f64(what);
    case 'u64': return c.u64(what);
    case 'i64': return c.i64(what);
    case 'bool': return c.u8(what) !== 0;
    case 'string': return c.string(what);
  }
}

function readTypeCode(c: Cursor, name: string, what: string): ReturnType<typeof ggufTypeFromCode> & string {
  const code = c.u32(`the type of ${what}`);
  const t = ggufTypeFromCode(code);
  if (!t) throw new ModelFormatError(`"${name}": ${what} has unknown GGUF value type ${code} (corrupt file?).`);
  return t;
}

function readArray(c: Cursor, name: string, what: string, depth: number): GgufArray {
  if (depth > 8) throw new ModelFormatError(`"${name}": ${what} nests arrays more than 8 deep (corrupt file?).`);
  const elemType = readTypeCode(c, name, `the elements of ${what}`);
  const count = c.size(`the length of ${what}`);
  if (count * MIN_ELEM_BYTES[elemType]! > c.remainingInFile()) {
    throw new ModelFormatError(
      `"${name}" is truncated or corrupt: ${what} claims ${count} elements but the file has only ` +
        `${c.remainingInFile()} bytes left; the download may be incomplete.`,
    );
  }
  if (elemType === 'array') {
    const items: GgufArray[] = [];
    for (let i = 0; i < count; i++) items.push(readArray(c, name, `${what}[${i}]`, depth + 1));
    return { type: 'array', elemType, value: items };
  }
  const items: GgufPlainScalar[] = new Array(count);
  for (let i = 0; i < count; i++) items[i] = readScalar(c, elemType, what);
  return { type: 'array', elemType, value: items };
}

function readValue(c: Cursor, name: string, key: string): GgufValue {
  const t = readTypeCode(c, name, `metadata "${key}"`);
  if (t === 'array') return readArray(c, name, `metadata "${key}"`, 0);
  return { type: t, value: readScalar(c, t, `metadata "${key}"`) } as GgufValue;
}

/** Keys come from the file: a key like "__proto__" must become a property, not a prototype. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseHeader(buf: Uint8Array, fileSize: number, name: string): GgufHeader {
  const c = new Cursor(buf, fileSize, name);
  if (fileSize < 4) throw new ModelFormatError(`"${name}" is not a GGUF file: it is only ${fileSize} bytes long.`);
  const magic = c.u32('the magic number');
  if (magic !== GGUF_MAGIC) {
    throw new ModelFormatError(`"${name}" is not a GGUF file (its first bytes are not "GGUF").`);
  }
  const version = c.u32('the version');
  if (version !== 2 && version !== 3) {
    const hint =
      version === 1
        ? ' Version 1 files predate August 2023; convert them again with a current llama.cpp.'
        : version > 0xffff
          ? ' The file looks big-endian, which is not supported.'
          : '';
    throw new ModelFormatError(`"${name}" is GGUF version ${version}; only versions 2 and 3 are supported.${hint}`);
  }
  const nTensors = c.size('the tensor count');
  const nKv = c.size('the metadata count');
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 4 + 8.
  if (nKv * 13 + nTensors * 24 > c.remainingInFile()) {
    throw new ModelFormatError(
      `"${name}" is truncated or corrupt: the header claims ${nKv} metadata entries and ${nTensors} tensors, ` +
        `more than a file of ${fileSize} bytes can hold; the download may be incomplete.`,
    );
  }

  const metadata: Record<string, unknown> = {};
  const typedMetadata: Record<string, GgufValue> = {};
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key #${i}`);
    if (key.length > MAX_NAME) throw new ModelFormatError(`"${name}": metadata key #${i} is ${key.length} characters long (corrupt file?).`);
    if (Object.hasOwn(typedMetadata, key)) {
      throw new ModelFormatError(`"${name}": metadata key "${key}" appears twice (corrupt file?).`);
    }
    const v = readValue(c, name, key);
    setOwn(typedMetadata, key, v);
    setOwn(metadata, key, ggufPlain(v));
  }

  let alignment = DEFAULT_ALIGNMENT;
  if (Object.hasOwn(metadata, 'general.alignment')) {
    const a = metadata['general.alignment'];
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw new ModelFormatError(`"${name}": general.alignment is ${String(a)}; it must be a power of two.`);
    }
    alignment = a;
  }

  const raw: Array<{ name: string; rawType: number; shape: number[]; relOffset: number }> = [];
  for (let i = 0; i < nTensors; i++) {
    const tname = c.string(`the name of tensor #${i}`);
    if (tname.length > MAX_NAME) throw new ModelFormatError(`"${name}": the name of tensor #${i} is ${tname.length} characters long (corrupt file?).`);
    const nDims = c.u32(`the dimension count of tensor "${tname}"`);
    if (nDims > 8) throw new ModelFormatError(`"${name}": tensor "${tname}" claims ${nDims} dimensions (corrupt file?).`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.size(`dimension ${d} of tensor "${tname}"`));
    const rawType = c.u32(`the type of tensor "${tname}"`);
    const relOffset = c.size(`the offset of tensor "${tname}"`);
    // ggml's ne[0] is the innermost (contiguous) dimension; our shapes are outer-first.
    raw.push({ name: tname, rawType, shape: ne.reverse(), relOffset });
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors = raw.map((t): GgufTensorInfo => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count)) {
      throw new ModelFormatError(`"${name}": tensor "${t.name}" claims shape [${t.shape.join(', ')}] (corrupt file?).`);
    }
    return {
      name: t.name,
      type: t.rawType as GgmlType,
      rawType: t.rawType,
      shape: t.shape,
      relOffset: t.relOffset,
      offset: dataOffset + t.relOffset,
      // Unknown types get 0 here; describeGguf rejects them before anyone uses the size.
      bytes: ggmlTensorBytes(t.rawType, count) ?? 0,
    };
  });
  return { version, metadata, typedMetadata, tensors, dataOffset, alignment };
}

/**
 * Reads the header only, in growing chunks (vocabularies can make it many MB), restarting the
 * parse over the larger buffer whenever it runs out: total work stays within twice the header.
 */
export async function readGgufHeader(src: ByteSource, signal?: AbortSignal): Promise<GgufHeader> {
  let fileSize = await src.size();
  let buf = new Uint8Array(0);
  let want = Math.min(FIRST_CHUNK, fileSize);
  for (;;) {
    if (want > buf.length) {
      const more = await src.read(buf.length, want - buf.length, signal);
      const next = new Uint8Array(buf.length + more.length);
      next.set(buf);
      next.set(more, buf.length);
      buf = next;
      // A source that ends early (file shrank, short response) is as good as a truncated file.
      if (buf.length < want) fileSize = buf.length;
    }
    try {
      return parseHeader(buf, fileSize, src.name);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      want = Math.min(fileSize, buf.length * 2);
    }
  }
}

/** Metadata only (tokenizer construction, display). */
export async function readGgufMetadata(src: ByteSource, signal?: AbortSignal): Promise<Record<string, unknown>> {
  return (await readGgufHeader(src, signal)).metadata;
}

const MAX_COUNT = 0x7fffffff;

const SUPPORTED_ARCHS: readonly Arch[] = ['llama', 'mistral', 'qwen2'];

/** Typed access to metadata keys with messages that name the key and the file. */
class Meta {
  constructor(
    private readonly md: Record<string, unknown>,
    private readonly name: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.md, key);
  }

  num(key: string, fallback?: number): number {
    const v = this.md[key];
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new ModelFormatError(`"${this.name}" lacks the metadata key "${key}", which a model needs.`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ModelFormatError(`"${this.name}": metadata "${key}" should be a number but is ${describeValue(v)}.`);
    }
    return v;
  }

  /** A positive count; above 2^31 − 1 no WebGPU buffer, index or shader constant could hold it. */
  posInt(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isInteger(v) || v <= 0) {
      throw new ModelFormatError(`"${this.name}": metadata "${key}" is ${v}; it should be a positive integer.`);
    }
    if (v > MAX_COUNT) {
      throw new ModelFormatError(`"${this.name}": metadata "${key}" is ${v}, more than this engine supports (${MAX_COUNT}); the file is corrupt or the model is out of reach.`);
    }
    return v;
  }

  str(key: string): string | undefined {
    const v = this.md[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      throw new ModelFormatError(`"${this.name}": metadata "${key}" should be a string but is ${describeValue(v)}.`);
    }
    return v;
  }

  optId(key: string): number | null {
    const v = this.md[key];
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
  }
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return `${typeof v} ${String(v)}`;
}

function configFromMetadata(md: Record<string, unknown>, tensors: Map<string, GgufTensorInfo>, name: string): ModelConfig {
  const m = new Meta(md, name);
  const archName = m.str('general.architecture');
  if (archName === undefined) {
    throw new ModelFormatError(
      `"${name}" has no "general.architecture" key: it is not a model file (a vocab-only GGUF?).`,
    );
  }
  if (!(SUPPORTED_ARCHS as readonly string[]).includes(archName)) {
    throw new ModelFormatError(
      `"${name}" is a "${archName}" model; supported architectures: ${SUPPORTED_ARCHS.join(', ')}.`,
    );
  }
  const arch = archName as Arch;
  const k = (s: string) => `${arch}.${s}`;

  const dModel = m.posInt(k('embedding_length'));
  const nLayers = m.posInt(k('block_count'));
  const nHeads = m.posInt(k('attention.head_count'));
  const nKvHeads = m.posInt(k('attention.head_count_kv'), nHeads);
  const dFF = m.posInt(k('feed_forward_length'));
  const maxSeqLen = m.posInt(k('context_length'));
  const normEps = m.num(k('attention.layer_norm_rms_epsilon'));
  const ropeTheta = m.num(k('rope.freq_base'), 10000);

  if (nHeads % nKvHeads !== 0) {
    throw new ModelFormatError(`"${name}": ${nHeads} attention heads are not a multiple of ${nKvHeads} KV heads.`);
  }
  // key_length lets a model decouple head size from dModel (some Mistral variants); default is the usual split.
  const headDim = m.posInt(k('attention.key_length'), dModel / nHeads);
  if (!Number.isInteger(headDim)) {
    throw new ModelFormatError(`"${name}": embedding length ${dModel} is not divisible by ${nHeads} heads.`);
  }
  if (m.has(k('attention.value_length')) && m.posInt(k('attention.value_length')) !== headDim) {
    throw new ModelFormatError(`"${name}": key and value head sizes differ, which is not supported.`);
  }
  if (m.has(k('rope.dimension_count'))) {
    const rd = m.posInt(k('rope.dimension_count'));
    if (rd !== headDim) {
      throw new ModelFormatError(
        `"${name}": RoPE covers ${rd} of ${headDim} head dimensions (partial rotary), which is not supported.`,
      );
    }
  }

  let ropeScale = 1;
  const scalingType = m.str(k('rope.scaling.type'));
  if (scalingType === 'linear') {
    ropeScale = m.num(k('rope.scaling.factor'), 1);
  } else if (scalingType !== undefined && scalingType !== 'none') {
    throw new ModelFormatError(
      `"${name}": RoPE scaling "${scalingType}" is not supported (supported: none, linear).`,
    );
  } else if (m.has(k('rope.scale_linear'))) {
    // The key older converters wrote before rope.scaling.*.
    ropeScale = m.num(k('rope.scale_linear'));
  }
  if (!(ropeScale > 0)) throw new ModelFormatError(`"${name}": RoPE scaling factor ${ropeScale} must be positive.`);

  // The embedding table decides how many logits the model produces; the tokenizer may list fewer (padding).
  const embd = tensors.get(TensorNames.tokEmbd);
  const tokens = md['tokenizer.ggml.tokens'];
  const nTokens = Array.isArray(tokens) ? tokens.length : null;
  const vocabSize = embd && embd.shape.length === 2 ? embd.shape[0]! : (nTokens ?? 0);
  if (nTokens !== null && nTokens > vocabSize) {
    throw new ModelFormatError(
      `"${name}": the tokenizer has ${nTokens} tokens but the embedding table has only ${vocabSize} rows.`,
    );
  }

  return {
    arch,
    name: m.str('general.name') ?? name,
    dModel,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    dFF,
    vocabSize,
    maxSeqLen,
    normEps,
    ropeTheta,
    ropeStyle: arch === 'qwen2' ? 'neox' : 'normal',
    ropeScale,
    qkvBias: tensors.has(TensorNames.bq(0)),
    tiedEmbeddings: !tensors.has(TensorNames.output),
  };
}

function checkTensorTypesAndBounds(tensors: GgufTensorInfo[], fileSize: number, name: string, alignment: number): void {
  let end = 0;
  for (const t of tensors) {
    if (t.relOffset % alignment !== 0) {
      throw new ModelFormatError(`"${name}": tensor "${t.name}" starts at data offset ${t.relOffset}, not a multiple of the alignment ${alignment} (corrupt file?).`);
    }
    if (!isSupportedType(t.rawType)) {
      throw new ModelFormatError(
        `"${name}": tensor "${t.name}" has type ${ggmlTypeLabel(t.rawType)}, which is not supported; ` +
          `supported: ${supportedTypeList()}.`,
      );
    }
    const info = ggmlTypeInfo(t.rawType)!;
    const inner = t.shape.length > 0 ? t.shape[t.shape.length - 1]! : 1;
    if (inner % info.blockElems !== 0) {
      throw new ModelFormatError(
        `"${name}": tensor "${t.name}" of type ${info.name} has rows of ${inner} elements, not a multiple of ` +
          `its block size ${info.blockElems}.`,
      );
    }
    end = Math.max(end, t.offset + t.bytes);
  }
  if (end > fileSize) {
    throw new ModelFormatError(
      `"${name}" is truncated: its tensors need ${end} bytes but the file has ${fileSize} bytes ` +
        `(${end - fileSize} missing); the download may be incomplete.`,
    );
  }
  // Tensors are laid out back to back, each padded to the alignment. Overlaps mean a corrupt
  // directory; a gap of at least a whole tensor means the data is not the size its type implies
  // (e.g. F32 data under an F16 type), which would load as garbage.
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    const next = sorted[i + 1];
    const tEnd = t.offset + t.bytes;
    if (next && tEnd > next.offset) {
      throw new ModelFormatError(`"${name}": tensors "${t.name}" and "${next.name}" overlap (bytes ${next.offset}–${tEnd}); the file is corrupt.`);
    }
    const gap = (next ? next.offset : fileSize) - tEnd;
    if (gap >= alignment && gap >= t.bytes && t.bytes > 0) {
      throw new ModelFormatError(
        `"${name}": tensor "${t.name}" (${ggmlTypeLabel(t.rawType)}, ${t.bytes} bytes) is followed by ${gap} unused bytes; ` +
          'its data is not the size its type implies (corrupt or mislabelled file?).',
      );
    }
  }
}

/** Tensors of layers at or past block_count: the metadata undercounts the layers the file holds. */
function checkLayerCount(tensors: GgufTensorInfo[], nLayers: number, name: string): void {
  let top = -1;
  for (const t of tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) top = Math.max(top, Number(m[1]));
  }
  if (top >= nLayers) {
    throw new ModelFormatError(`"${name}": block_count says ${nLayers} layers but the file holds tensors of layer ${top}; the metadata is corrupt.`);
  }
}

/** Parses and validates a GGUF model: config, tensor directory (canonical names) and tokenizer metadata. */
export async function describeGguf(src: ByteSource, signal?: AbortSignal): Promise<ModelDescription> {
  const header = await readGgufHeader(src, signal);
  const fileSize = await src.size();
  const byName = new Map<string, GgufTensorInfo>();
  for (const t of header.tensors) {
    if (byName.has(t.name)) throw new ModelFormatError(`"${src.name}": tensor "${t.name}" appears twice.`);
    byName.set(t.name, t);
  }
  const config = configFromMetadata(header.metadata, byName, src.name);
  checkTensorTypesAndBounds(header.tensors, fileSize, src.name, header.alignment);
  checkLayerCount(header.tensors, config.nLayers, src.name);
  checkTensorShapes(config, byName, src.name);

  // Only the tensors the engine uses: extras (e.g. rope_freqs.weight) would skew upload progress and memory estimates.
  const tensors = new Map<string, TensorInfo>();
  for (const tname of expectedTensorShapes(config).keys()) {
    const t = byName.get(tname)!;
    tensors.set(t.name, { name: t.name, type: t.rawType as GgmlType, shape: t.shape, offset: t.offset, bytes: t.bytes });
  }
  const m = new Meta(header.metadata, src.name);
  const out: ModelDescription = {
    format: 'gguf',
    config,
    tensors,
    tokenizer: Array.isArray(header.metadata['tokenizer.ggml.tokens'])
      ? { kind: 'gguf', metadata: header.metadata }
      : { kind: 'none' },
    bosId: m.optId('tokenizer.ggml.bos_token_id'),
    eosId: m.optId('tokenizer.ggml.eos_token_id'),
    metadata: header.metadata,
  };
  checkSpecialIds(out, src.name);
  return out;
}
