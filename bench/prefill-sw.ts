/**
 * Where a 100M-shape prefill chunk's time goes, kernel by kernel, on the kernels one layer dispatches
 * (fused q|k|v, attention, o, fused gate|up, SwiGLU, down, norms, rope, kv write) at T tokens, each as
 * ms and as a fraction of the FMA ceiling, whose kernel runs in every rep beside them (wall time, and this
 * process's CPU time: on a software adapter the "GPU" is our threads, and CPU time moves least with
 * other load on a shared machine). tile_fwd_sw block shapes (x rows × W rows per invocation) are
 * measured interleaved, several reps, best of each. Prints one JSON object; nothing is asserted.
 *   npx vite-node bench/prefill-sw.ts -- [--T 512] [--type Q4_0] [--reps 3] [--variants 8x8,8x4,4x4] [--no-other]
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { KernelCache } from '../src/gpu/kernel';
import { Recorder } from '../src/gpu/recorder';
import { GpuMemory } from '../src/gpu/memory';
import { Matmul, type SwBlock } from '../src/gpu/kernels/matmul';
import { Attention } from '../src/gpu/kernels/attention';
import { RmsNorm } from '../src/gpu/kernels/rmsnorm';
import { Swiglu } from '../src/gpu/kernels/swiglu';
import { Rope } from '../src/gpu/kernels/rope';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../src/model/types';
import { Ceilings, FMA_CHAINS } from '../src/gpu/kernels/ceilings';
import { round } from './roofline';

const { values: args } = parseArgs({
  options: {
    T: { type: 'string', default: '512' },
    type: { type: 'string', default: 'Q4_0' },
    reps: { type: 'string', default: '3' },
    variants: { type: 'string', default: '8x8,8x4,4x4' },
    'no-other': { type: 'boolean', default: false },
  },
});
const T = Number(args.T);
const reps = Number(args.reps);
const type = GgmlType[args.type as keyof typeof GgmlType] as GgmlType;
const d = 768, ff = 2048, nH = 12, hd = 64;
const gpu = await acquireNodeGpu();
const kc = new KernelCache(gpu);
const rec = new Recorder(gpu);
const mem = new GpuMemory(gpu);
const zeros = (n: number) => mem.create('bench', Math.max(1, n) * 4, 'scratch');
const u32 = (a: number[]) => mem.upload('bench', Uint32Array.from(a), 'scratch');
const weight = (N: number, K: number): GpuTensor => {
  const l = TYPE_LAYOUT[type];
  return { name: `w${N}x${K}`, type, shape: [N, K], buffer: mem.create('w', ((N * K) / l.blockElems) * l.blockBytes, 'weights') };
};
const variants = args.variants.split(",");
const mms = await Promise.all(variants.map((v) => Matmul.create(kc, [type], { swRows: Number(v.split('x')[0]) as SwBlock, swCols: Number(v.split('x')[1] ?? 4) as SwBlock })));
const [attn, norm, swiglu, rope] = await Promise.all([Attention.create(kc), RmsNorm.create(kc), Swiglu.create(kc), Rope.create(kc)]);
const ceilK = await Ceilings.create(kc);
// The FMA ceiling's kernel as bench/roofline.ts runs it, timed in every rep beside the kernels: on a
// shared machine the load moves during a run, so fractions are of the ceiling measured alongside.
const fmaN = 16 * ceilK.wg, fmaIters = 512;
const fsrc = zeros(fmaN * 4), fdst = zeros(fmaN * 4);
const fmaFlops = 2 * FMA_CHAINS * fmaIters * fmaN;
const fmaRun = () => { for (let i = 0; i < 8; i++) ceilK.fma(rec, { src: fsrc, dst: fdst, n: fmaN, iters: fmaIters, mul: 0.999, add: 0.001 }); };

/** Wall ms, and this process's CPU ms (SwiftShader's threads are ours: CPU time moves less with the load). */
async function ms(fn: () => void): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  rec.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}

const x = zeros(T * ff), y = zeros(T * 3 * d), g = zeros(T * 2 * ff), h = zeros(T * ff);
const mats = [
  { name: 'qkv', w: weight(3 * d, d), M: T },
  { name: 'o', w: weight(d, d), M: T },
  { name: 'gate_up', w: weight(2 * ff, d), M: T },
  { name: 'down', w: weight(d, ff), M: T },
];
const pos = u32(Array.from({ length: T }, (_, t) => t));
const zero = u32(Array.from({ length: T }, () => 0));
const kC = zeros(T * d), vC = zeros(T * d), q = zeros(T * d), att = zeros(T * d), wv = zeros(ff);
const a = { q, kCache: kC, vCache: vC, slot: zero, pos, start: zero, out: att, T, nHeads: nH, nKv: nH, hd, maxSeq: T, scale: 0.125 };
const others: Array<{ name: string; flops: number; fn: () => void }> = [
  { name: 'attention', flops: 4 * nH * hd * ((T * (T + 1)) / 2), fn: () => attn.forward(rec, a) },
  { name: 'rmsnorm x2', flops: 0, fn: () => { norm.forward(rec, { x, weight: wv, out: y, T, d, eps: 1e-5 }); norm.forward(rec, { x, weight: wv, out: y, T, d, eps: 1e-5 }); } },
  { name: 'rope', flops: 0, fn: () => rope.forward(rec, { x: y, pos, T, nHeads: nH, headDim: hd, theta: 10000, style: 'normal', scale: 1, second: { nHeads: nH, offset: T * d * 4 } }) },
  { name: 'kv_write', flops: 0, fn: () => attn.kvWrite(rec, { k: x, v: y, kCache: kC, vCache: vC, slot: zero, pos, T, nKv: nH, hd, maxSeq: T }) },
  { name: 'swiglu', flops: 0, fn: () => swiglu.forward(rec, { gate: g, up: h, out: x, n: T * ff }) },
];
const best: Record<string, number> = {};
const put = (k: string, [w, c]: [number, number]) => {
  best[k] = Math.min(best[k] ?? Infinity, w);
  best[`${k}:cpu`] = Math.min(best[`${k}:cpu`] ?? Infinity, c);
};
for (let r = -1; r < reps; r++) {
  { const t = await ms(fmaRun); if (r >= 0) put('fma', [t[0] / 8, t[1] / 8]); }
  for (const m of mats) {
    for (let i = 0; i < mms.length; i++) {
      const t = await ms(() => mms[i].forward(rec, { x, w: m.w, y: m.name === 'gate_up' ? g : y, M: m.M }));
      if (r >= 0) put(`${m.name}@${variants[i]}`, t);
    }
  }
  if (!args['no-other']) for (const o of others) { const t = await ms(o.fn); if (r >= 0) put(o.name, t); }
  process.stderr.write(`rep ${r}: ${JSON.stringify(best)}\n`);
}
const fma = fmaFlops / best.fma; // FLOP per ms
const fmaCpu = fmaFlops / best['fma:cpu'];
const out: Record<string, unknown> = { T, type: args.type, fma_gflops: round(fma / 1e6, 3), fma_gflops_cpu: round(fmaCpu / 1e6, 3) };
for (const [i, v] of variants.entries()) {
  let tot = 0, totC = 0, fl = 0;
  for (const m of mats) {
    const t = best[`${m.name}@${v}`];
    const tc = best[`${m.name}@${v}:cpu`];
    const f = 2 * m.M * m.w.shape[0] * m.w.shape[1];
    tot += t; totC += tc; fl += f;
    out[`${m.name}@${v}`] = { ms: round(t, 2), fma_fraction: round(f / t / fma, 4), fma_fraction_cpu: round(f / tc / fmaCpu, 4) };
  }
  out[`matmuls@${v}`] = { ms: round(tot, 1), fma_fraction: round(fl / tot / fma, 4), fma_fraction_cpu: round(fl / totC / fmaCpu, 4) };
  void i;
}
for (const o of args['no-other'] ? [] : others) out[o.name] = { ms: round(best[o.name], 2), fma_fraction: o.flops ? round(o.flops / best[o.name] / fma, 4) : undefined, fma_fraction_cpu: o.flops ? round(o.flops / best[`${o.name}:cpu`] / fmaCpu, 4) : undefined };
console.log(JSON.stringify(out));
process.exit(0);
