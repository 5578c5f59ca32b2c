/**
 * GGUF writer (v2/v3, little-endian): random test models, round-trip tests, exporting adapted
 * weights. Metadata values are tagged with their GGUF type so the reader gets back exactly what
 * was written.
 */
import { ModelFormatError, type HostTensor } from './types';
import { GGUF_MAGIC } from './gguf';
import { ggmlTensorBytes, ggmlTypeLabel } from './ggml-types';
import { GGUF_TYPE_CODE, type GgufArray, type GgufPlainScalar, type GgufScalarType, type GgufValue } from './gguf-values';

export interface GgufWriteOptions {
  version?: 2 | 3;
  /** Data alignment; written as general.alignment when not the default 32. */
  alignment?: number;
}

/** Growable little-endian byte sink for the header. */
class Sink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  len = 0;
  private readonly encoder = new TextEncoder();

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.view.setInt8(this.len, v);
    this.len += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.len, v, true);
    this.len += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.len, v, true);
    this.len += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.len, BigInt(v), true);
    this.len += 8;
  }
  i64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.len, BigInt(v), true);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.len % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeScalar(s: Sink, type: GgufScalarType, v: GgufPlainScalar, key: string): void {
  const bad = () => new ModelFormatError(`GGUF writer: metadata "${key}" value ${String(v)} is not a valid ${type}.`);
  if (type === 'string') {
    if (typeof v !== 'string') throw bad();
    s.string(v);
    return;
  }
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw bad();
    s.u8(v ? 1 : 0);
    return;
  }
  if (type === 'u64' || type === 'i64') {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw bad();
    if (typeof v === 'number' && !Number.isInteger(v)) throw bad();
    if (type === 'u64') s.u64(v);
    else s.i64(v);
    return;
  }
  if (typeof v !== 'number') throw bad();
  switch (type) {
    case 'f32': s.f32(v); return;
    case 'f64': s.f64(v); return;
  }
  const ranges: Record<string, [number, number]> = {
    u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff],
    u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
  };
  const [lo, hi] = ranges[type]!;
  if (!Number.isInteger(v) || v < lo || v > hi) throw bad();
  switch (type) {
    case 'u8': s.u8(v); return;
    case 'i8': s.i8(v); return;
    case 'u16': s.u16(v); return;
    case 'i16': s.i16(v); return;
    case 'u32': s.u32(v); return;
    case 'i32': s.i32(v); return;
  }
}

function writeArray(s: Sink, a: GgufArray, key: string): void {
  s.u32(GGUF_TYPE_CODE[a.elemType]);
  s.u64(a.value.length);
  if (a.elemType === 'array') {
    for (const item of a.value as GgufArray[]) writeArray(s, item, key);
  } else {
    const t = a.elemType;
    for (const item of a.value as GgufPlainScalar[]) writeScalar(s, t, item, key);
  }
}

function writeValue(s: Sink, v: GgufValue, key: string): void {
  s.u32(GGUF_TYPE_CODE[v.type]);
  if (v.type === 'array') writeArray(s, v, key);
  else writeScalar(s, v.type, v.value, key);
}

/** A tensor as the header declares it: name, type and outer-first shape, without its data. */
export interface GgufTensorDecl {
  name: string;
  type: number;
  shape: number[];
}

/** A serialised header and where each tensor's data goes (relative to the data section). */
export interface GgufHeaderBytes {
  header: Uint8Array;
  /** Data offsets relative to the end of the header, one per tensor. */
  offsets: number[];
  /** Bytes of the data section (the whole file is header.length + dataBytes). */
  dataBytes: number;
}

/**
 * Serialises the header only (metadata, tensor directory, padding). With no data behind it, this is
 * what a reader sees of a file it has not downloaded yet: tests describe real-sized models (7B
 * shapes) from a few kilobytes.
 */
export function writeGgufHeader(metadata: Record<string, GgufValue>, tensors: readonly GgufTensorDecl[], opts: GgufWriteOptions = {}): GgufHeaderBytes {
  const version = opts.version ?? 3;
  const alignment = opts.alignment ?? 32;
  const md: Record<string, GgufValue> = { ...metadata };
  if (alignment !== 32 && !('general.alignment' in md)) md['general.alignment'] = { type: 'u32', value: alignment };

  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bytes = ggmlTensorBytes(t.type, count);
    if (bytes === null) {
      throw new ModelFormatError(
        `GGUF writer: tensor "${t.name}" of ${count} elements can't be stored as ${ggmlTypeLabel(t.type)}.`,
      );
    }
    at = Math.ceil(at / alignment) * alignment;
    offsets.push(at);
    at += bytes;
  }

  const s = new Sink();
  s.u32(GGUF_MAGIC);
  s.u32(version);
  s.u64(tensors.length);
  s.u64(Object.keys(md).length);
  for (const [key, v] of Object.entries(md)) {
    s.string(key);
    writeValue(s, v, key);
  }
  tensors.forEach((t, i) => {
    s.string(t.name);
    s.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) s.u64(t.shape[d]!);
    s.u32(t.type);
    s.u64(offsets[i]!);
  });
  s.padTo(alignment);
  return { header: s.result(), offsets, dataBytes: at };
}

/**
 * Serialises metadata and tensors. Shapes are outer-first (written reversed as ggml's ne), and each
 * tensor's data starts on an `alignment` boundary.
 */
export function writeGguf(
  metadata: Record<string, GgufValue>,
  tensors: HostTensor[],
  opts: GgufWriteOptions = {},
): Uint8Array {
  // Sizes first, so a bad tensor fails before any bytes are laid out.
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bytes = ggmlTensorBytes(t.type, count);
    if (bytes !== null && bytes !== t.data.length) {
      throw new ModelFormatError(
        `GGUF writer: tensor "${t.name}" [${t.shape.join(', ')}] as ${ggmlTypeLabel(t.type)} needs ${bytes} bytes ` +
          `but has ${t.data.length}.`,
      );
    }
  }
  const { header, offsets, dataBytes } = writeGgufHeader(metadata, tensors, opts);
  // Tensor data goes straight into an exactly-sized buffer: models can be hundreds of MB.
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.length + offsets[i]!));
  return out;
}
