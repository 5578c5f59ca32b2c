/**
 * Batched decode (M x rows, MV_M = 8 per chunk) on a software adapter: the fused decode projections of
 * one ~100M-shape layer (rope q|k|v, o, glu gate|up, down) and the LM head (norm, vocab 32000), with the
 * batched software path's two loops side by side in one process: `units` (accumulate(): dq_pair 8
 * elements at a time, dequantized once per x row) and `blocks` (acc_swm: whole blocks dequantized once,
 * then dotted with each x row). Reps interleave the two (the machine's load moves); best of each, as
 * wall ms and this process's CPU ms. Prints one JSON object; nothing is asserted.
 *   npx vite-node bench/decode-batched-sw.ts -- [--M 8] [--type Q4_0] [--reps 3]
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { KernelCache } from '../src/gpu/kernel';
import { Recorder } from '../src/gpu/recorder';
import { GpuMemory } from '../src/gpu/memory';
import { DecodeMatvec, type MatvecMode } from '../src/gpu/kernels/matvec';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../src/model/types';
import { round } from './roofline';

const { values: args } = parseArgs({
  options: {
    M: { type: 'string', default: '8' },
    type: { type: 'string', default: 'Q4_0' },
    reps: { type: 'string', default: '3' },
  },
});
const M = Number(args.M);
const reps = Number(args.reps);
const type = GgmlType[args.type as keyof typeof GgmlType] as GgmlType;
const d = 768, ff = 2048, hd = 64, nH = 12, vocab = 32000, maxSeq = 64;
const gpu = await acquireNodeGpu();
if (!gpu.software) console.error('note: not a software adapter; the *_sw kernels are not the ones measured');
const kc = new KernelCache(gpu);
const rec = new Recorder(gpu);
const mem = new GpuMemory(gpu);
const zeros = (n: number) => mem.create('bench', Math.max(1, n) * 4, 'scratch');
const u32 = (a: number[]) => mem.upload('bench', Uint32Array.from(a), 'scratch');
const l = TYPE_LAYOUT[type];
const bytes = (N: number, K: number) => ((N * K) / l.blockElems) * l.blockBytes;
/** Matrices [rows_i, K] stacked in one buffer (as the model loader stacks q|k|v and gate|up). */
function stacked(rows: number[], K: number): GpuTensor[] {
  const buf = mem.create('w', rows.reduce((s, n) => s + bytes(n, K), 0), 'weights');
  let off = 0;
  return rows.map((n, i) => {
    const t: GpuTensor = { name: `w${i}_${n}x${K}`, type, shape: [n, K], buffer: buf, offset: off };
    off += bytes(n, K);
    return t;
  });
}
const needs = (['plain', 'norm', 'glu', 'rope'] as MatvecMode[]).map((m) => [type, m] as const);
const variants: Record<string, DecodeMatvec> = { units: await DecodeMatvec.create(kc, needs, { swUnits: true }), blocks: await DecodeMatvec.create(kc, needs) };
const x = zeros(M * ff), y = zeros(M * vocab), g = zeros(ff), q = zeros(M * d);
const kCache = zeros(M * maxSeq * d), vCache = zeros(M * maxSeq * d);
const slotPos = u32([...Array.from({ length: M }, (_, m) => m), ...Array.from({ length: M }, () => 5)]);
const qkv = stacked([d, d, d], d), gu = stacked([ff, ff], d), o = stacked([d], d)[0], down = stacked([d], ff)[0], head = stacked([vocab], d)[0];
const calls: Record<string, (mv: DecodeMatvec) => void> = {
  qkv_rope: (mv) => mv.rope(rec, { x, ws: [qkv[0], qkv[1], qkv[2]], q, M, weight: g, eps: 1e-5, kCache, vCache, slotPos, posOffset: M, headDim: hd, theta: 10000, style: 'normal', scale: 1, maxSeq }),
  o: (mv) => mv.plain(rec, { x, w: o, y, M, accumulate: true }),
  gate_up_glu: (mv) => mv.glu(rec, { x, gate: gu[0], up: gu[1], y, M, weight: g, eps: 1e-5 }),
  down: (mv) => mv.plain(rec, { x, w: down, y, M, accumulate: true }),
  lm_head: (mv) => mv.norm(rec, { x, w: head, y, M, weight: g, eps: 1e-5 }),
};
void nH;

async function ms(fn: () => void): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  rec.submit();
  await gpu.device.queue.onSubmittedWorkDone();
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
}

const best: Record<string, [number, number]> = {};
for (let r = -1; r < reps; r++) {
  for (const [name, call] of Object.entries(calls)) {
    for (const [v, mv] of Object.entries(variants)) {
      const t = await ms(() => call(mv));
      if (r < 0) continue;
      const k = `${name}@${v}`;
      best[k] = [Math.min(best[k]?.[0] ?? Infinity, t[0]), Math.min(best[k]?.[1] ?? Infinity, t[1])];
    }
  }
  process.stderr.write(`rep ${r}: ${JSON.stringify(best)}\n`);
}
const out: Record<string, unknown> = { M, type: args.type, shape: { d, ff, vocab } };
const tot = { units: [0, 0], blocks: [0, 0] } as Record<string, number[]>;
for (const name of Object.keys(calls)) {
  const [u, b] = [best[`${name}@units`], best[`${name}@blocks`]];
  out[name] = { units_ms: round(u[0], 2), blocks_ms: round(b[0], 2), units_cpu_ms: round(u[1], 2), blocks_cpu_ms: round(b[1], 2), speedup: round(u[0] / b[0], 2), speedup_cpu: round(u[1] / b[1], 2) };
  for (const v of ['units', 'blocks']) { tot[v][0] += best[`${name}@${v}`][0]; tot[v][1] += best[`${name}@${v}`][1]; }
}
out.total = { units_ms: round(tot.units[0], 1), blocks_ms: round(tot.blocks[0], 1), speedup: round(tot.units[0] / tot.blocks[0], 2), speedup_cpu: round(tot.units[1] / tot.blocks[1], 2) };
console.log(JSON.stringify(out));
process.exit(0);
