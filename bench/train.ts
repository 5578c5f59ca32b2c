/**
 * Training benchmark: forward ms, forward+backward ms, the backward/forward and step/forward ratios,
 * tokens/s, achieved FLOP/s as a fraction of the adapter's FMA ceiling (bench/roofline.ts), dispatches
 * and submits per training step and GPU bytes per configuration; one tag training step on the 2-layer
 * 7B shapes (bench/shapes7b.ts); and the memory accounting of a 7B Q4_0 model training one tag pair at
 * batch 4 × 256 tokens. The last line printed is one JSON object; nothing is asserted.
 *   npm run -s bench:train -- [--quick] [--shapes7b] [--write-docs] [--profile] [--only name,name] [--len n]
 * --profile adds `profile` per case: CPU ms per kernel of the forward layers and of the loss + backward
 * (every dispatch replayed and timed alone; see profileStep). --only runs the cases whose name contains
 * one of the words (and skips the tile variants); --len sets the tokens per sequence of the 100M cases.
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { loadModel, type Engine } from '../src/model/model';
import { randomGguf } from '../src/model/random-model';
import { NodeFileSource } from '../src/model/source-node';
import { BytesSource } from '../src/model/sources';
import { GgmlType, tensorBytes, type ModelConfig } from '../src/model/types';
import { kvBytes, scratchFloats } from '../src/model/weights';
import type { Recorder } from '../src/gpu/recorder';
import { IGNORE, TrainGraph, type GraphOptions } from '../src/train/graph';
import { trainGraphBytes } from '../src/train/memory';
import { alignedRows } from '../src/train/trainer';
import { adapterName, mdTable, writePerfSection, measureCeilings, round, trainStepFlops, traced, type CeilingResult } from './roofline';
import { SHAPES_7B, shape7bGguf } from './shapes7b';
import { measureTileVariants } from './tiles';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    shapes7b: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    // Per-kernel time of the forward and of the whole step (isolated: one submit per dispatch).
    profile: { type: 'boolean', default: false },
    // Only the cases whose name contains one of these (comma-separated), e.g. --only 100M-Q4_0.
    only: { type: 'string', default: '' },
    // Tokens per sequence of the 100M cases (default 64, --quick 16).
    len: { type: 'string', default: '' },
  },
});
const only = args.only ? args.only.split(',') : [];
const wanted = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
let ceilings: CeilingResult;

/** Wall and process-CPU ms per step (on a software adapter the "GPU" is this process's threads). */
async function timeStep(e: Engine, g: TrainGraph, backward: boolean, reps: number): Promise<{ wall: number; cpu: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  for (let i = 0; i < reps; i++) g.step(backward);
  await e.gpu.device.queue.onSubmittedWorkDone();
  const cu = process.cpuUsage(c);
  return { wall: (performance.now() - t) / reps, cpu: (cu.user + cu.system) / 1000 / reps };
}

/**
 * Where a step's time goes, in process-CPU milliseconds per kernel label: the step's dispatches are
 * recorded, then replayed one at a time, each submitted alone and awaited (best of 2), and the CPU time
 * this process spent on it is charged to its kernel (on a software adapter the "GPU" is this process's
 * threads, and CPU time is far less disturbed by other load than wall time). Needs no timestamp-query
 * (not every adapter has it); includes each dispatch's submit overhead, which is what a dispatch costs
 * there. `forward` is the layers' forward (the dispatches before the gradient buffer is cleared);
 * `backward` is the rest: the loss (its logits and CE included) and the backward.
 */
async function profileStep(e: Engine, g: TrainGraph) {
  const q = e.gpu.device.queue;
  const rec = g.rec;
  const calls: Array<Parameters<Recorder['dispatch']>> = [];
  const dispatch = rec.dispatch;
  rec.dispatch = (...a) => void calls.push(a);
  try {
    g.step(true);
  } finally {
    rec.dispatch = dispatch;
  }
  await q.onSubmittedWorkDone();
  const ms = calls.map(() => Infinity);
  for (let rep = 0; rep < 2; rep++) {
    for (let i = 0; i < calls.length; i++) {
      const t = process.cpuUsage();
      rec.dispatch(...calls[i]);
      rec.submit();
      await q.onSubmittedWorkDone();
      const u = process.cpuUsage(t);
      ms[i] = Math.min(ms[i], (u.user + u.system) / 1000);
    }
  }
  const split = calls.findIndex((c) => c[0].spec.label === 'fill');
  const sum = (from: number, to: number) => {
    const out: Record<string, number> = {};
    for (let i = from; i < to; i++) out[calls[i][0].spec.label] = (out[calls[i][0].spec.label] ?? 0) + ms[i];
    const total = Object.values(out).reduce((x, y) => x + y, 0);
    return {
      total_ms: +total.toFixed(1),
      kernels: Object.entries(out)
        .sort((x, y) => y[1] - x[1])
        .map(([kernel, v]) => ({ kernel, ms: +v.toFixed(1), fraction: round(v / total, 3) })),
    };
  };
  return { forward: sum(0, split), backward: sum(split, calls.length) };
}

async function measure(name: string, e: Engine, seqs: number, len: number, recompute: boolean) {
  const d = e.config.dModel;
  const rows = 2 * alignedRows(10, d);
  const opts: GraphOptions = { maxTokens: seqs * len, maxSeqs: seqs, maxSeqLen: len, injectedRows: rows, recompute };
  const before = e.mem.bytes().total;
  const g = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, opts);
  const T = seqs * len;
  const ids = Uint32Array.from({ length: T }, (_, i) => 1 + ((i * 7919) % (e.config.vocabSize - 1)));
  const inject = new Uint32Array(T).fill(IGNORE);
  for (let s = 0; s < seqs; s++) for (let j = 0; j < 10; j++) inject[s * len + 1 + j] = j;
  g.setBatch({
    ids,
    slot: Uint32Array.from({ length: T }, (_, i) => Math.floor(i / len)),
    pos: Uint32Array.from({ length: T }, (_, i) => i % len),
    inject,
    targets: Uint32Array.from({ length: T }, (_, i) => ((i + 1) % len === 0 ? IGNORE : ids[i + 1])),
    lmScale: 1 / T,
  });
  const reps = args.quick || e.config.dModel >= 768 ? 1 : 2;
  // Warm-up, then forward and step interleaved so that other load on the machine hits both alike.
  g.step(true);
  await e.gpu.device.queue.onSubmittedWorkDone();
  // Best of two rounds (one with --quick on the 100M models, to finish in a few minutes).
  const rounds = args.quick && e.config.dModel >= 768 ? 1 : 2;
  const f: Array<{ wall: number; cpu: number }> = [];
  const st: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < rounds; i++) {
    f.push(await timeStep(e, g, false, reps));
    st.push(await timeStep(e, g, true, reps));
  }
  const best = (xs: Array<{ wall: number; cpu: number }>, k: 'wall' | 'cpu') => Math.min(...xs.map((x) => x[k]));
  const fwd = best(f, 'wall');
  const fb = best(st, 'wall');
  const fwdCpu = best(f, 'cpu');
  const fbCpu = best(st, 'cpu');
  const profile = args.profile ? await profileStep(e, g) : undefined;
  const { counts } = await traced(g.rec, e.mem, async () => g.step(true));
  await e.gpu.device.queue.onSubmittedWorkDone();
  const peak = e.mem.bytes().total;
  g.dispose();
  const flops = trainStepFlops(e.config, seqs, len);
  const fma = ceilings.fma_gflops * 1e9;
  return {
    name,
    tokens: T,
    recompute,
    forward_ms: +fwd.toFixed(1),
    forward_backward_ms: +fb.toFixed(1),
    backward_ms: +(fb - fwd).toFixed(1),
    backward_over_forward: +((fb - fwd) / fwd).toFixed(2),
    // The target: a tag training step ≤ 2.3× its forward.
    step_over_forward: +(fb / fwd).toFixed(2),
    // The same ratio in process CPU time: on a software adapter far less disturbed by other load.
    step_over_forward_cpu: +(fbCpu / fwdCpu).toFixed(2),
    tokens_per_s: +(T / (fb / 1000)).toFixed(1),
    forward_fma_fraction: round(flops.forward / (fwd / 1000) / fma, 4),
    step_fma_fraction: round((flops.forward + flops.backward) / (fb / 1000) / fma, 4),
    dispatches_per_step: counts.dispatches,
    submits_per_step: counts.submits,
    train_bytes: peak - before,
    peak_gpu_bytes: peak,
    ...(profile ? { profile } : {}),
  };
}

/** Llama-2-7B in Q4_0 (llama.cpp's usual mix: Q4_0 matrices, Q6_K output, F32 norms). */
function sevenB(): { cfg: ModelConfig; weights: number } {
  const cfg: ModelConfig = {
    arch: 'llama', name: 'Llama-2-7B Q4_0', dModel: 4096, nLayers: 32, nHeads: 32, nKvHeads: 32, headDim: 128, dFF: 11008,
    vocabSize: 32000, maxSeqLen: 4096, normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'normal', ropeScale: 1, qkvBias: false, tiedEmbeddings: false,
  };
  const d = cfg.dModel;
  const perLayer = 4 * tensorBytes(GgmlType.Q4_0, d * d) + 3 * tensorBytes(GgmlType.Q4_0, d * cfg.dFF) + 2 * d * 4;
  const weights = cfg.nLayers * perLayer + tensorBytes(GgmlType.Q4_0, cfg.vocabSize * d) + tensorBytes(GgmlType.Q6_K, cfg.vocabSize * d) + d * 4;
  return { cfg, weights };
}

function sevenBAccounting(recompute: boolean) {
  const { cfg, weights } = sevenB();
  const seqs = 4;
  const len = 256;
  const opts: GraphOptions = { maxTokens: seqs * len, maxSeqs: seqs, maxSeqLen: len, injectedRows: 2 * alignedRows(10, cfg.dModel), recompute };
  // The inference side loaded for training: one slot of 256 positions, 256-token chunks.
  const inference = kvBytes(cfg, len, 1) + scratchFloats(cfg, 256, 1) * 4;
  const train = trainGraphBytes(cfg, opts, 2);
  const total = weights + inference + train;
  return { model: cfg.name, batch: `${seqs}x${len}`, recompute, weights_bytes: weights, inference_bytes: inference, train_bytes: train, total_bytes: total, total_gib: +(total / 2 ** 30).toFixed(2), fits_6gb: total <= 6 * 2 ** 30 };
}

async function main() {
  const gpu = await acquireNodeGpu();
  ceilings = await measureCeilings(gpu);
  process.stderr.write(`ceilings: ${JSON.stringify(ceilings)}\n`);
  // Each tiled-kernel variant on one layer, with its backward (dx + dW) ÷ forward (bench/tiles.ts).
  const tile_variants = only.length ? null : await measureTileVariants(gpu, ceilings);
  process.stderr.write(`tile_variants: ${JSON.stringify(tile_variants)}\n`);
  const results = [];
  if (wanted('stories260K')) {
    const stories = await loadModel(gpu, new NodeFileSource('public/models/stories260K/stories260K.bin'), {
      tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
      slots: 1,
      maxContext: 64,
    });
    for (const recompute of [false, true]) results.push(await measure('stories260K', stories, 4, 32, recompute));
    stories.dispose();
  }
  // A mid-size random Llama shape: big enough for matmuls to matter, small enough for SwiftShader.
  const shape = args.quick ? { dModel: 256, nLayers: 2, dFF: 512 } : { dModel: 512, nLayers: 4, dFF: 1536 };
  const midName = `llama-${shape.dModel}x${shape.nLayers}-Q4_0`;
  if (wanted(midName)) {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.Q4_0, nHeads: 8, nKvHeads: 8, seed: 1, includeTokenizer: true, ...shape });
    const mid = await loadModel(gpu, new BytesSource(bytes, 'mid.gguf'), { slots: 1, maxContext: 64 });
    for (const recompute of [false, true]) results.push(await measure(midName, mid, 2, 32, recompute));
    mid.dispose();
  }
  // The ~100M random models of the inference bench (bench/bench.ts `realistic`): the target
  // (step ≤ 2.3× forward) is stated on these. --quick: Q4_0 only, 2 sequences of 16 tokens.
  const len100 = args.len ? Number(args.len) : args.quick ? 16 : 64;
  for (const type of args.quick ? [GgmlType.Q4_0] : [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K]) {
    const name = `llama-100M-${GgmlType[type]}`;
    if (!wanted(name)) continue;
    const bytes = randomGguf({ arch: 'llama', type, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 2048, vocabSize: 32000, seed: 1, tied: true, includeTokenizer: true });
    const e = await loadModel(gpu, new BytesSource(bytes, `${name}.gguf`), { slots: 1, maxContext: len100 });
    try {
      const r = await measure(name, e, 2, len100, false);
      process.stderr.write(`${name}: ${JSON.stringify(r)}\n`);
      results.push(r);
    } finally {
      e.dispose();
    }
  }
  if ((!args.quick || args.shapes7b) && (only.length === 0 || args.shapes7b)) {
    // One tag training step on each 7B shape: 2 sequences of 16 tokens, the loss over the full vocabulary.
    for (const s of SHAPES_7B) {
      const e = await loadModel(gpu, new BytesSource(shape7bGguf(s), `${s.name}.gguf`), { slots: 1, maxContext: 64, maxTokens: 64 });
      try {
        const r = await measure(s.name, e, 2, 16, false);
        process.stderr.write(`${s.name}: ${JSON.stringify(r)}\n`);
        results.push(r);
      } finally {
        e.dispose();
      }
    }
  }
  const out = { bench: 'training', date: new Date().toISOString(), adapter: gpu.adapterInfo, software: gpu.software, quick: args.quick, ceilings, tile_variants, results, memory_7b: [sevenBAccounting(false), sevenBAccounting(true)] };
  if (args['write-docs']) {
    writePerfSection(
      'bench:train',
      `## Training (${out.date.slice(0, 10)}, ${adapterName(gpu)}${gpu.software ? ', software adapter' : ''}${args.quick ? ', --quick' : ''})\n\n` +
        `FMA ceiling ${ceilings.fma_gflops} GFLOP/s. Target: step_over_forward ≤ 2.3.\n\n` +
        mdTable(results, ['name', 'tokens', 'recompute', 'forward_ms', 'forward_backward_ms', 'step_over_forward', 'backward_over_forward', 'step_fma_fraction', 'dispatches_per_step', 'submits_per_step']),
    );
  }
  // One line: tools read the last line of output as the result.
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
