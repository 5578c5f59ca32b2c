/**
 * Exports a model to an ONNX graph of standard operators (opset 17: Gather, Gemm, MatMul, Softmax,
 * ReduceMean, …) with every weight dequantized to f32: an independent implementation of the same
 * forward, for onnxruntime-web as an oracle (logits against ours) and as a speed peer. The graph is
 * for one sequence of exactly T tokens at positions 0..T−1 (no KV cache): input `ids` int64 [T],
 * output `logits` f32 [T, vocab].
 */
import { dequantize } from '../quant';
import type { ByteSource } from '../source';
import { TensorNames, type ModelDescription } from '../types';
import { DT, encodeModel, type OnnxNode, type OnnxTensor } from './proto';

export async function exportOnnx(desc: ModelDescription, src: ByteSource, T: number): Promise<Uint8Array> {
  const cfg = desc.config;
  const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, vocabSize: V } = cfg;
  if (!Number.isInteger(T) || T < 1) throw new Error(`ONNX export: T must be a positive integer, got ${T}.`);
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
  const i64 = (name: string, v: number[]) => {
    inits.push({ name, dims: [v.length], dataType: DT.INT64, raw: new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer) });
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

  // RoPE tables: angle = (pos / scale) · theta^(−2i/hd), as src/gpu/kernels/rope.wgsl.
  const half = hd / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = (t / cfg.ropeScale) * Math.pow(cfg.ropeTheta, (-2 * i) / hd);
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  const neox = cfg.ropeStyle === 'neox';
  // 'normal' pairs (2i, 2i+1): view [T, n, half, 2]; 'neox' pairs (i, i+half): view [T, n, 2, half].
  const pairAxis = neox ? 2 : 3;
  const tableDims = neox ? [T, 1, 1, half] : [T, 1, half, 1];
  const cosN = f32('rope_cos', tableDims, cos);
  const sinN = f32('rope_sin', tableDims, sin);
  const zero = i64('c_0', [0]);
  const one = i64('c_1', [1]);
  const two = i64('c_2', [2]);
  const pairAx = i64('c_pair_axis', [pairAxis]);
  const rope = (x: string, n: number) => {
    const v = op('Reshape', [x, i64(tmp('shape'), neox ? [T, n, 2, half] : [T, n, half, 2])]);
    const x0 = op('Slice', [v, zero, one, pairAx]);
    const x1 = op('Slice', [v, one, two, pairAx]);
    const r0 = op('Sub', [op('Mul', [x0, cosN]), op('Mul', [x1, sinN])]);
    const r1 = op('Add', [op('Mul', [x0, sinN]), op('Mul', [x1, cosN])]);
    return op('Reshape', [op('Concat', [r0, r1], { axis: pairAxis }), i64(tmp('shape'), [T, n * hd])]);
  };
  // Causal mask added to the scores: 0 on and below the diagonal, a large negative number above.
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e30;
  const maskN = f32('causal_mask', [T, T], mask);
  const scale = f32('attn_scale', [], Float32Array.of(1 / Math.sqrt(hd)));
  const kvOfHead = i64('kv_of_head', Array.from({ length: H }, (_, h) => Math.floor(h / (H / KV))));
  const heads = (x: string, n: number) => op('Reshape', [x, i64(tmp('shape'), [T, n, hd])]);

  let x = op('Gather', [await weight(TensorNames.tokEmbd), 'ids'], { axis: 0 });
  const has = (n: string) => desc.tensors.has(n);
  for (let l = 0; l < cfg.nLayers; l++) {
    const xn = rms(x, await weight(TensorNames.attnNorm(l)));
    const bias = async (n: string) => (has(n) ? weight(n) : undefined);
    const q = rope(linear(xn, await weight(TensorNames.wq(l)), await bias(TensorNames.bq(l))), H);
    const k = rope(linear(xn, await weight(TensorNames.wk(l)), await bias(TensorNames.bk(l))), KV);
    const v = linear(xn, await weight(TensorNames.wv(l)), await bias(TensorNames.bv(l)));
    // [T, n, hd] → per head [H, T, hd]; GQA: each query head gathers its KV head.
    const qh = op('Transpose', [heads(q, H)], { perm: [1, 0, 2] });
    const kh = op('Transpose', [op('Gather', [heads(k, KV), kvOfHead], { axis: 1 })], { perm: [1, 2, 0] });
    const vh = op('Transpose', [op('Gather', [heads(v, KV), kvOfHead], { axis: 1 })], { perm: [1, 0, 2] });
    const p = op('Softmax', [op('Add', [op('Mul', [op('MatMul', [qh, kh]), scale]), maskN])], { axis: -1 });
    const att = op('Reshape', [op('Transpose', [op('MatMul', [p, vh])], { perm: [1, 0, 2] }), i64(tmp('shape'), [T, H * hd])]);
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
    inputs: [{ name: 'ids', dataType: DT.INT64, shape: [T] }],
    outputs: [{ name: 'logits', dataType: DT.FLOAT, shape: [T, V] }],
  });
}
