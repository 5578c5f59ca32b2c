/**
 * Kernel micro-benchmark: milliseconds per dispatch of each kernel family on the shapes of the tiny test
 * model (stories260K: d=64, 8 heads of 8 dims over 4 kv heads, ff=172, vocab 512; a training batch of
 * T=320 tokens = 8 sequences × 40, and single-token decode) and on a realistic ~100M Llama shape
 * (d=768, 12 heads of 64, ff=2048, vocab 32000; T=64 prefill and decode). Printed as one JSON object
 * {kernel: ms} so runs can be compared. Each measurement records one dispatch (or the kernel's group of
 * dispatches), submits and awaits queue.onSubmittedWorkDone(); the best of --reps runs is reported
 * after one warm-up (the pipelines are compiled before): on a shared machine the minimum is the stable
 * statistic, the median moves with the other load.
 *
 *   npx vite-node bench/kernels.ts -- [--only a,b] [--profile auto|software|gpu] [--reps 5] [--no-real] [--full] [--cpu]
 *
 * --full adds the vocabulary-sized tiled matmuls and weight gradient of the realistic shape (tens of
 * seconds each with the GPU kernels on SwiftShader).
 * --profile forces Gpu.software (default: detected), to compare the two kernel variants on one device.
 * --cpu reports this process's CPU time per dispatch instead of wall time: on a software adapter the
 * "GPU" is this process's threads, and CPU time is far less disturbed by other load on a shared machine.
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { KernelCache } from '../src/gpu/kernel';
import { Recorder } from '../src/gpu/recorder';
import { GpuMemory } from '../src/gpu/memory';
import { Matmul } from '../src/gpu/kernels/matmul';
import { Attention } from '../src/gpu/kernels/attention';
import { RmsNorm } from '../src/gpu/kernels/rmsnorm';
import { CrossEntropy } from '../src/gpu/kernels/loss';
import { Argmax } from '../src/gpu/kernels/logits';
import { Swiglu } from '../src/gpu/kernels/swiglu';
import { Rope } from '../src/gpu/kernels/rope';
import { Embedding } from '../src/gpu/kernels/embedding';
import { Reduce } from '../src/gpu/kernels/reduce';
import { WeightGrad } from '../src/gpu/kernels/weightgrad';
import { Rows } from '../src/gpu/kernels/rows';
import { Elementwise } from '../src/gpu/kernels/elementwise';
import { GgmlType, TYPE_LAYOUT, tensorBytes, type GpuTensor } from '../src/model/types';
import { measureCeilings, round } from './roofline';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    profile: { type: 'string', default: 'auto' },
    reps: { type: 'string', default: '5' },
    'no-real': { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    cpu: { type: 'boolean', default: false },
  },
});
const only = args.only?.split(',');
const reps = Number(args.reps);
const profile = args.profile === 'software' ? true : args.profile === 'gpu' ? false : undefined;

const gpu = await acquireNodeGpu({ software: profile });
const kc = new KernelCache(gpu);
const rec = new Recorder(gpu);
const mem = new GpuMemory(gpu);
const zeros = (n: number) => mem.create('bench', Math.max(1, n) * 4, 'scratch');
const u32 = (a: number[]) => mem.upload('bench', Uint32Array.from(a), 'scratch');
const weight = (type: GgmlType, N: number, K: number): GpuTensor => {
  const l = TYPE_LAYOUT[type];
  return { name: `w${N}x${K}`, type, shape: [N, K], buffer: mem.create('w', (N * K / l.blockElems) * l.blockBytes, 'weights') };
};

const [mm, attn, norm, ce, argmax, swiglu, rope, emb, reduce, wg, rows, ew] = await Promise.all([
  Matmul.create(kc, [GgmlType.F32, GgmlType.Q4_0, GgmlType.Q8_0]),
  Attention.create(kc, { backward: true }),
  RmsNorm.create(kc),
  CrossEntropy.create(kc),
  Argmax.create(kc),
  Swiglu.create(kc),
  Rope.create(kc),
  Embedding.create(kc, [GgmlType.F32, GgmlType.Q4_0]),
  Reduce.create(kc),
  WeightGrad.create(kc),
  Rows.create(kc),
  Elementwise.create(kc),
]);

const results: Record<string, number> = {};
/** Per kernel: achieved GB/s and GFLOP/s and their fractions of the adapter's ceilings (bench/roofline.ts). */
const roofline: Record<string, { gbps: number; bw_fraction: number; gflops: number; fma_fraction: number }> = {};
const ceilings = await measureCeilings(gpu, { minMs: 50 });
process.stderr.write(`ceilings: ${JSON.stringify(ceilings)}\n`);

/** Bytes a matmul moves (the matrix in its type, x and y in f32) and its FLOPs. */
function mmCost(w: GpuTensor, M: number): { bytes: number; flops: number } {
  const [N, K] = w.shape;
  return { bytes: tensorBytes(w.type, N * K) + 4 * M * (N + K), flops: 2 * M * N * K };
}

/** One measurement: `n` dispatches in one submit, awaited; ms per dispatch. */
async function measure(fn: () => void, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  rec.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  if (!args.cpu) return (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}

/**
 * Best ms per dispatch. Fast kernels are batched (up to 64 dispatches per submit, aiming at ~20 ms per
 * measurement): completion is only observed every few ms, which would otherwise swamp them.
 */
async function time(name: string, fn: () => void, cost?: { bytes: number; flops: number }): Promise<void> {
  if (only && !only.some((o) => name.includes(o))) return;
  const first = await measure(fn, 1); // compiles nothing (create() did), but warms caches and bind groups
  const n = Math.max(1, Math.min(64, Math.ceil(20 / Math.max(first, 0.05))));
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) ts.push(await measure(fn, n));
  results[name] = Number(Math.min(...ts).toFixed(3));
  if (cost) {
    const s = Math.min(...ts) / 1000;
    roofline[name] = {
      gbps: round(cost.bytes / s / 1e9, 3),
      bw_fraction: round(cost.bytes / s / (ceilings.copy_gbps * 1e9), 4),
      gflops: round(cost.flops / s / 1e9, 3),
      fma_fraction: round(cost.flops / s / (ceilings.fma_gflops * 1e9), 4),
    };
  }
  process.stderr.write(`${name}: ${results[name]} ms (×${n})\n`);
}

interface Shape {
  tag: string;
  d: number;
  nH: number;
  nKv: number;
  hd: number;
  ff: number;
  V: number;
  /** Sequences × positions of the prefill/training batch. */
  B: number;
  S: number;
  /** Rows of the loss (R ≤ T) and context length of the decode step. */
  R: number;
  ctx: number;
  types: GgmlType[];
}

const shapes: Shape[] = [
  { tag: 's260k', d: 64, nH: 8, nKv: 4, hd: 8, ff: 172, V: 512, B: 8, S: 40, R: 256, ctx: 128, types: [GgmlType.F32] },
];
if (!args['no-real']) {
  shapes.push({ tag: 'real', d: 768, nH: 12, nKv: 12, hd: 64, ff: 2048, V: 32000, B: 1, S: 64, R: 64, ctx: 512, types: [GgmlType.F32, GgmlType.Q4_0] });
}

for (const s of shapes) {
  const { d, nH, nKv, hd, ff, V, B, S, R } = s;
  const T = B * S;
  const p = (n: string) => `${s.tag}/${n}`;
  const x = zeros(T * Math.max(d, ff));
  const y = zeros(T * Math.max(d, ff));
  const dx = zeros(T * Math.max(d, ff));
  const wv = zeros(Math.max(d, ff));
  const logits = zeros(R * V);
  const targets = u32(Array.from({ length: R }, (_, i) => (i * 7) % V));
  const loss = zeros(R);

  // ---- norms, elementwise
  await time(p(`rmsnorm T=${T}`), () => norm.forward(rec, { x, weight: wv, out: y, T, d, eps: 1e-5 }));
  await time(p(`rmsnorm_bwd T=${T}`), () => norm.backward(rec, { x, weight: wv, dy: y, dx, T, d, eps: 1e-5 }));
  await time(p('rmsnorm T=1'), () => norm.forward(rec, { x, weight: wv, out: y, T: 1, d, eps: 1e-5 }));
  await time(p(`swiglu n=${T}x${ff}`), () => swiglu.forward(rec, { gate: x, up: y, out: dx, n: T * ff }));
  const g1 = zeros(T * ff);
  const g2 = zeros(T * ff);
  await time(p(`swiglu_bwd n=${T}x${ff}`), () => swiglu.backward(rec, { gate: x, up: y, dout: dx, dgate: g1, dup: g2, n: T * ff }));
  const posT = u32(Array.from({ length: T }, (_, t) => t % S));
  await time(p(`rope T=${T}`), () => rope.forward(rec, { x, pos: posT, T, nHeads: nH, headDim: hd, theta: 10000, style: 'normal', scale: 1 }));
  await time(p(`add n=${T}x${d}`), () => ew.add(rec, x, y, T * d));
  const ids = u32(Array.from({ length: T }, (_, i) => (i * 13) % V));
  const noInject = u32(Array.from({ length: T }, () => 0xffffffff));
  const table = weight(GgmlType.F32, V, d);
  await time(p(`embedding T=${T}`), () => emb.gather(rec, { ids, inject: noInject, injected: wv, table, out: y, T }));

  // ---- matmul
  for (const type of s.types) {
    const tn = TYPE_LAYOUT[type].name;
    const Wq = weight(type, d, d);
    const Wup = weight(type, ff, d);
    const Wdown = weight(type, d, ff);
    const Wout = weight(type, V, d);
    await time(p(`mv ${tn} 1x${d}x${d}`), () => mm.forward(rec, { x, w: Wq, y, M: 1 }), mmCost(Wq, 1));
    await time(p(`mv ${tn} 1x${ff}x${d}`), () => mm.forward(rec, { x, w: Wup, y, M: 1 }), mmCost(Wup, 1));
    await time(p(`mv ${tn} 1x${d}x${ff}`), () => mm.forward(rec, { x, w: Wdown, y, M: 1 }), mmCost(Wdown, 1));
    await time(p(`mv ${tn} 1x${V}x${d}`), () => mm.forward(rec, { x, w: Wout, y: logits, M: 1 }), mmCost(Wout, 1));
    await time(p(`mv ${tn} 8x${ff}x${d}`), () => mm.forward(rec, { x, w: Wup, y, M: 8 }), mmCost(Wup, 8));
    if (type !== GgmlType.F32 && s.tag === 'real') continue;
    await time(p(`tile ${tn} ${T}x${d}x${d}`), () => mm.forward(rec, { x, w: Wq, y, M: T }), mmCost(Wq, T));
    await time(p(`tile ${tn} ${T}x${ff}x${d}`), () => mm.forward(rec, { x, w: Wup, y, M: T }), mmCost(Wup, T));
    await time(p(`tile ${tn} ${T}x${d}x${ff}`), () => mm.forward(rec, { x, w: Wdown, y, M: T }), mmCost(Wdown, T));
    const lmHead = s.tag !== 'real' || args.full;
    if (lmHead) await time(p(`tile ${tn} ${R}x${V}x${d}`), () => mm.forward(rec, { x, w: Wout, y: logits, M: R }), mmCost(Wout, R));
    await time(p(`bwdIn ${tn} ${T}x${d}<-${d}`), () => mm.backwardInput(rec, { dy: y, w: Wq, dx, M: T }), mmCost(Wq, T));
    await time(p(`bwdIn ${tn} ${T}x${d}<-${ff}`), () => mm.backwardInput(rec, { dy: y, w: Wup, dx, M: T }), mmCost(Wup, T));
    if (lmHead) await time(p(`bwdIn ${tn} ${R}x${d}<-${V}`), () => mm.backwardInput(rec, { dy: logits, w: Wout, dx, M: R }), mmCost(Wout, R));
    await time(p(`bwdIn_mv ${tn} 1x${d}<-${V}`), () => mm.backwardInput(rec, { dy: logits, w: Wout, dx, M: 1 }), mmCost(Wout, 1));
  }

  // ---- weight gradients
  await time(p(`wgrad ${d}x${d} M=${T}`), () => wg.accumulate(rec, { dy: y, x, dw: dx, M: T, N: d, K: d, scale: 1, accumulate: true }));
  await time(p(`wgrad ${ff}x${d} M=${T}`), () => wg.accumulate(rec, { dy: y, x, dw: dx, M: T, N: ff, K: d, scale: 1, accumulate: true }));
  const dwOut = zeros(V * d);
  if (s.tag !== 'real' || args.full) await time(p(`wgrad ${V}x${d} M=${R}`), () => wg.accumulate(rec, { dy: logits, x, dw: dwOut, M: R, N: V, K: d, scale: 1, accumulate: true }));
  await time(p(`biasgrad ${ff} M=${T}`), () => wg.biasGrad(rec, { dy: y, db: wv, M: T, N: ff, scale: 1, accumulate: true }));

  // ---- attention: B sequences of S tokens (training / prefill), and one decode query over ctx keys
  const maxSeq = Math.max(S, s.ctx);
  const slotT = u32(Array.from({ length: T }, (_, t) => Math.floor(t / S)));
  const startT = u32(Array.from({ length: T }, () => 0));
  const kC = zeros(B * maxSeq * nKv * hd);
  const vC = zeros(B * maxSeq * nKv * hd);
  const q = zeros(T * nH * hd);
  const out = zeros(T * nH * hd);
  const lse = zeros(T * nH);
  const a = { q, kCache: kC, vCache: vC, slot: slotT, pos: posT, start: startT, out, T, nHeads: nH, nKv, hd, maxSeq, scale: 1 / Math.sqrt(hd) };
  await time(p(`attn_fwd T=${T}`), () => attn.forward(rec, a));
  await time(p(`attn_fwd_lse T=${T}`), () => attn.forward(rec, { ...a, lse }));
  const dOut = zeros(T * nH * hd);
  const stats = zeros(T * nH * 2);
  const dq = zeros(T * nH * hd);
  const dk = zeros(B * maxSeq * nKv * hd);
  const dvb = zeros(B * maxSeq * nKv * hd);
  await time(p(`attn_bwd T=${T}`), () => attn.backward(rec, { ...a, lse, dOut, stats, dq, dk, dv: dvb, slots: B, nKeys: S }));
  const one = u32([0]);
  const posD = u32([s.ctx - 1]);
  const zero1 = u32([0]);
  await time(p(`attn_decode ctx=${s.ctx}`), () => attn.forward(rec, { ...a, slot: one, pos: posD, start: zero1, T: 1 }));
  await time(p(`kv_write T=${T}`), () => attn.kvWrite(rec, { k: x, v: y, kCache: kC, vCache: vC, slot: slotT, pos: posT, T, nKv, hd, maxSeq }));

  // ---- heads
  await time(p(`ce ${R}x${V}`), () => ce.forwardBackward(rec, { logits, targets, loss, R, V, scale: 1 / R }));
  await time(p(`argmax 1x${V}`), () => argmax.forward(rec, { logits, out: loss, B: 1, V }));
  await time(p(`argmax 8x${V}`), () => argmax.forward(rec, { logits, out: loss, B: 8, V }));
  await time(p(`reduce n=${R}`), () => reduce.sum(rec, { x: loss, n: R, out: wv }));
  await time(p(`sumsq n=${V}x${d}`), () => reduce.sumSquares(rec, { x: logits, n: V * d, out: wv }));
  await time(p(`segsum T=${T}`), () => rows.segmentSum(rec, { src: x, rows: slotT, out: y, T, nOut: B, d }));
  const rowIds = u32(Array.from({ length: T }, (_, i) => (i * 7) % T));
  await time(p(`gather R=${T} d=${nKv * hd}`), () => rows.gather(rec, { src: x, rows: rowIds, out: y, R: T, d: nKv * hd }));
}
const tiny = zeros(1);
await time('floor: fill n=1', () => ew.fill(rec, tiny, 1));

// One line: tools read the last line of output as the result.
console.log(JSON.stringify({ device: `${gpu.adapterInfo.vendor} ${gpu.adapterInfo.architecture}`, software: gpu.software, unit: args.cpu ? 'cpu-ms' : 'ms', ceilings, roofline, ...results }));
process.exit(0);
