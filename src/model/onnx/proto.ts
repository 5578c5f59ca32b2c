/**
 * The subset of ONNX's protobuf messages an exported decoder needs (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto), written as protobuf wire format by hand: a few dozen
 * lines instead of a protobuf runtime and a generated schema. Field numbers are onnx.proto3's.
 */

/** Growable byte sink with protobuf's wire primitives. */
class Writer {
  private buf = new Uint8Array(1024);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  tag(field: number, wire: 0 | 2 | 5): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  int(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  message(field: number, build: (w: Writer) => void): void {
    const w = new Writer();
    build(w);
    this.bytes(field, w.result());
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** onnx.TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT64: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian raw bytes (raw_data). */
  raw: Uint8Array;
}

export type OnnxAttr = number | number[] | string | { ints: number[] } | { f: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: Record<string, OnnxAttr>;
}

export interface OnnxValueInfo {
  name: string;
  dataType: number;
  /** Numbers are fixed sizes, strings symbolic dimensions. */
  shape: Array<number | string>;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

function tensor(w: Writer, t: OnnxTensor): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function attribute(w: Writer, name: string, a: OnnxAttr): void {
  w.string(1, name);
  // AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7.
  if (typeof a === 'number') {
    w.int(3, a);
    w.int(20, 2);
  } else if (typeof a === 'string') {
    w.bytes(4, new TextEncoder().encode(a));
    w.int(20, 3);
  } else if (Array.isArray(a) || 'ints' in a) {
    for (const v of Array.isArray(a) ? a : a.ints) w.int(8, v);
    w.int(20, 7);
  } else {
    w.float(2, a.f);
    w.int(20, 1);
  }
}

function valueInfo(w: Writer, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int(1, v.dataType);
      tt.message(2, (sh) => {
        for (const d of v.shape) sh.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

/** A serialized onnx.ModelProto (IR version 8, default-domain opset `opset`). */
export function encodeModel(g: OnnxGraph, opset = 17): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version
  w.string(2, 'tag-workbench');
  w.message(7, (gw) => {
    g.nodes.forEach((n, i) =>
      gw.message(1, (nw) => {
        for (const x of n.inputs) nw.string(1, x);
        for (const x of n.outputs) nw.string(2, x);
        nw.string(3, n.name ?? `${n.op}_${i}`);
        nw.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (aw) => attribute(aw, k, v));
      }),
    );
    gw.string(2, g.name);
    for (const t of g.initializers) gw.message(5, (tw) => tensor(tw, t));
    for (const v of g.inputs) gw.message(11, (vw) => valueInfo(vw, v));
    for (const v of g.outputs) gw.message(12, (vw) => valueInfo(vw, v));
  });
  w.message(8, (ow) => {
    ow.string(1, '');
    ow.int(2, opset);
  });
  return w.result();
}
