/**
 * Exports a model to an ONNX graph of standard operators (opset 17: Gather, Gemm, MatMul, Softmax,
 * ReduceMean, Range, Where, …) with every weight dequantized to f32: an independent implementation of
 * the same forward, for onnxruntime-web as an oracle (logits against ours) and as a speed peer.
 *
 * Input `ids` int64 [T] (T symbolic), output `logits` f32 [T, vocab]. Without a cache the tokens sit at
 * positions 0..T−1. With `past`, inputs `past_key_values.{l}.key|value` f32 [nKvHeads, P, headDim]
 * hold the keys (after RoPE) and values of positions 0..P−1 and the new tokens sit at P..P+T−1; with
 * `present`, outputs `present.{l}.key|value` f32 [nKvHeads, P+T, headDim] are the cache to feed back.
 * A prefill graph is `{ present: true }`, a decode step `{ past: true, present: true }` (two graphs
 * rather than one fed an empty past: zero-length tensors are not handled alike by every execution
 * provider).
 */
import { dequantize } from '../quant';
import type { ByteSource } from '../source';
import { TensorNames, type ModelDescription } from '../types';
import { DT, encodeModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './proto';

export interface OnnxExportOptions {
  /** Longest sequence (past + new tokens) the graph serves: the length of its RoPE tables. */
  maxContext: number;
  /** Inputs `past_key_values.{l}.key|value` (see the file comment). */
  past?: boolean;
  /** Outputs `present.{l}.key|value`. */
  present?: boolean;
}

/** Names of the cache inputs and outputs of layer `l`. */
export const onnxCacheNames = (l: number) => ({
  pastKey: `past_key_values.${l}.key`,
  pastValue: `past_key_values.${l}.value`,
  presentKey: `present.${l}.key`,
  presentValue: `present.${l}.value`,
});

/** `opts` as a number: a graph without cache for sequences of up to that many tokens. */
export async function exportOnnx(desc: ModelDescription, src: ByteSource, opts: number | OnnxExportOptions): Promise<Uint8Array> {
  const { maxContext, past = false, present = false } = typeof opts === 'number' ? { maxContext: opts } : opts;
  const cfg = desc.config;
  const { nHeads: H, nKvHeads: KV, headDim: hd, vocabSize: V } = cfg;
  if (!Number.isInteger(maxContext) || maxContext < 1) throw new Error(`ONNX export: maxContext must be a positive integer, got ${maxContext}.`);
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  let uid = 0;
  const tmp = (p: string) => `${p}_${uid++}`;
  const op = (op: string, inputs: string[], attrs?: OnnxNode['attrs'], out = tmp(op)) => {
    nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  };
  const f32 = (name: string, dims: number[], v: Float32Array) => {
    inits.push({ name, dims, dataType: DT.FLOAT, raw: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    return name;
  };
  const i64 = (name: string, v: number[], dims = [v.length]) => {
    inits.push({ name, dims, dataType: DT.INT64, raw: new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer) });
    return name;
  };
  const weight = async (name: string): Promise<string> => {
    const t = desc.tensors.get(name);
    if (!t) throw new Error(`ONNX export: tensor ${name} is missing.`);
    const bytes = await src.read(t.offset, t.bytes);
    const count = t.shape.reduce((a, b) => a * b, 1);
    return f32(name, t.shape.length === 2 ? [t.shape[0]!, t.shape[1]!] : [count], dequantize(t.type, bytes, count));
  };
  const eps = f32('eps', [], Float32Array.of(cfg.normEps));
  const rms = (x: string, w: string) => {
    const ms = op('ReduceMean', [op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    return op('Mul', [op('Div', [x, op('Sqrt', [op('Add', [ms, eps])])]), w]);
  };
  // y = x·Wᵀ (+ b): W stays [N, K] as in the file.
  const linear = (x: string, w: string, b?: string) => op('Gemm', b ? [x, w, b] : [x, w], { transB: 1 });

  // Scalars (dims []) for Range and Gather-to-scalar; 1-D constants for Slice and Unsqueeze.
  const s0 = i64('s_0', [0], []);
  const s1 = i64('s_1', [1], []);
  const zero = i64('c_0', [0]);
  const one = i64('c_1', [1]);
  const two = i64('c_2', [2]);

  // Positions: the new tokens sit at P..P+T−1 (P = the past's length, 0 without one), keys at 0..P+T−1.
  const T = op('Gather', [op('Shape', ['ids']), s0], { axis: 0 }); // int64 scalar
  const P = past ? op('Gather', [op('Shape', [onnxCacheNames(0).pastKey]), s1], { axis: 0 }) : s0;
  const end = op('Add', [P, T]);
  const qPos = op('Range', [P, end, s1]); // int64 [T]
  const kPos = op('Range', [s0, end, s1]); // int64 [S = P+T]
  // Causal mask added to the scores: 0 where key position ≤ query position, a large negative number after.
  const maskN = op('Where', [
    op('Greater', [op('Unsqueeze', [kPos, zero]), op('Unsqueeze', [qPos, one])]),
    f32('mask_neg', [], Float32Array.of(-1e30)),
    f32('mask_zero', [], Float32Array.of(0)),
  ]); // f32 [T, S]

  // RoPE tables over the whole context, gathered at the query positions: angle = (pos / scale) ·
  // theta^(−2i/hd), as src/gpu/kernels/rope.wgsl.
  const half = hd / 2;
  const cos = new Float32Array(maxContext * half);
  const sin = new Float32Array(maxContext * half);
  for (let t = 0; t < maxContext; t++) {
    for (let i = 0; i < half; i++) {
      const a = (t / cfg.ropeScale) * Math.pow(cfg.ropeTheta, (-2 * i) / hd);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  const neox = cfg.ropeStyle === 'neox';
  // 'normal' pairs (2i, 2i+1): view [T, n, half, 2]; 'neox' pairs (i, i+half): view [T, n, 2, half].
  const pairAxis = neox ? 2 : 3;
  const tableShape = i64('rope_table_shape', neox ? [-1, 1, 1, half] : [-1, 1, half, 1]);
  const cosN = op('Reshape', [op('Gather', [f32('rope_cos', [maxContext, half], cos), qPos], { axis: 0 }), tableShape]);
  const sinN = op('Reshape', [op('Gather', [f32('rope_sin', [maxContext, half], sin), qPos], { axis: 0 }), tableShape]);
  const pairAx = i64('c_pair_axis', [pairAxis]);
  const rope = (x: string, n: number) => {
    const v = op('Reshape', [x, i64(tmp('shape'), neox ? [-1, n, 2, half] : [-1, n, half, 2])]);
    const x0 = op('Slice', [v, zero, one, pairAx]);
    const x1 = op('Slice', [v, one, two, pairAx]);
    const r0 = op('Sub', [op('Mul', [x0, cosN]), op('Mul', [x1, sinN])]);
    const r1 = op('Add', [op('Mul', [x0, sinN]), op('Mul', [x1, cosN])]);
    return op('Reshape', [op('Concat', [r0, r1], { axis: pairAxis }), i64(tmp('shape'), [-1, n * hd])]);
  };
  const scale = f32('attn_scale', [], Float32Array.of(1 / Math.sqrt(hd)));
  const kvOfHead = i64('kv_of_head', Array.from({ length: H }, (_, h) => Math.floor(h / (H / KV))));
  // [T, n·hd] → [n, T, hd]: the cache's layout, one row of positions per head.
  const byHead = (x: string, n: number) => op('Transpose', [op('Reshape', [x, i64(tmp('shape'), [-1, n, hd])])], { perm: [1, 0, 2] });
  const cacheInputs: OnnxValueInfo[] = [];
  const cacheOutputs: OnnxValueInfo[] = [];
  // The new rows [KV, T, hd] after the past ones → [KV, S, hd]; named as an output when `present`.
  const cache = (x: string, pastName: string, presentName: string) => {
    if (past) cacheInputs.push({ name: pastName, dataType: DT.FLOAT, shape: [KV, 'P', hd] });
    const all = past ? op('Concat', [pastName, x], { axis: 1 }) : x;
    if (!present) return all;
    cacheOutputs.push({ name: presentName, dataType: DT.FLOAT, shape: [KV, 'S', hd] });
    return op('Identity', [all], undefined, presentName);
  };

  let x = op('Gather', [await weight(TensorNames.tokEmbd), 'ids'], { axis: 0 });
  const has = (n: string) => desc.tensors.has(n);
  for (let l = 0; l < cfg.nLayers; l++) {
    const names = onnxCacheNames(l);
    const xn = rms(x, await weight(TensorNames.attnNorm(l)));
    const bias = async (n: string) => (has(n) ? weight(n) : undefined);
    const q = rope(linear(xn, await weight(TensorNames.wq(l)), await bias(TensorNames.bq(l))), H);
    const k = rope(linear(xn, await weight(TensorNames.wk(l)), await bias(TensorNames.bk(l))), KV);
    const v = linear(xn, await weight(TensorNames.wv(l)), await bias(TensorNames.bv(l)));
    const kAll = cache(byHead(k, KV), names.pastKey, names.presentKey); // f32 [KV, S, hd]
    const vAll = cache(byHead(v, KV), names.pastValue, names.presentValue);
    // GQA: each query head gathers its KV head. qh [H, T, hd], kh [H, hd, S], vh [H, S, hd].
    const qh = byHead(q, H);
    const kh = op('Transpose', [op('Gather', [kAll, kvOfHead], { axis: 0 })], { perm: [0, 2, 1] });
    const vh = op('Gather', [vAll, kvOfHead], { axis: 0 });
    const p = op('Softmax', [op('Add', [op('Mul', [op('MatMul', [qh, kh]), scale]), maskN])], { axis: -1 }); // [H, T, S]
    const att = op('Reshape', [op('Transpose', [op('MatMul', [p, vh])], { perm: [1, 0, 2] }), i64(tmp('shape'), [-1, H * hd])]);
    x = op('Add', [x, linear(att, await weight(TensorNames.wo(l)))]);
    const fn = rms(x, await weight(TensorNames.ffnNorm(l)));
    const g = linear(fn, await weight(TensorNames.wGate(l)));
    const u = linear(fn, await weight(TensorNames.wUp(l)));
    const h = op('Mul', [op('Mul', [g, op('Sigmoid', [g])]), u]);
    x = op('Add', [x, linear(h, await weight(TensorNames.wDown(l)))]);
  }
  const out = has(TensorNames.output) && !cfg.tiedEmbeddings ? await weight(TensorNames.output) : TensorNames.tokEmbd;
  op('Gemm', [rms(x, await weight(TensorNames.outNorm)), out], { transB: 1 }, 'logits');
  return encodeModel({
    name: cfg.name || 'model',
    nodes,
    initializers: inits,
    inputs: [{ name: 'ids', dataType: DT.INT64, shape: ['T'] }, ...cacheInputs],
    outputs: [{ name: 'logits', dataType: DT.FLOAT, shape: ['T', V] }, ...cacheOutputs],
  });
}
