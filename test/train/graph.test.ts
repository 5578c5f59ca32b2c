/**
 * End-to-end gradients of the training graph against central finite differences of the float64 CPU
 * reference forward: tag rows, LoRA adapters and a regression head, on a tiny random model (several
 * weight types) and on the real stories260K model.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { readF32 } from '../../src/gpu/memory';
import { loadModel, type Engine } from '../../src/model/model';
import { randomGguf } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import type { ByteSource } from '../../src/model/source';
import { GgmlType } from '../../src/model/types';
import { IGNORE, loraDropoutSeed, STAT, TrainGraph, type GraphOptions, type TrainBatch } from '../../src/train/graph';
import { randn, relErr, rng } from '../helpers/gpu';
import { refForward, refModel, refNll, type RefModel } from '../reference/forward';

const TAG = -1; // marks a tag position in the sequences below

interface Case {
  seqs: number[][]; // token ids, TAG where a tag row goes (rows taken in order)
  lossFrom: number; // positions ≥ this have a next-token target
  start?: number[][];
}

function buildBatch(c: Case): { batch: TrainBatch; tagPos: Array<Map<number, number>>; targets: Array<Array<number | null>> } {
  const ids: number[] = [];
  const slot: number[] = [];
  const pos: number[] = [];
  const inject: number[] = [];
  const tg: number[] = [];
  const start: number[] = [];
  const tagPos: Array<Map<number, number>> = [];
  const targets: Array<Array<number | null>> = [];
  c.seqs.forEach((seq, s) => {
    let row = 0;
    const m = new Map<number, number>();
    const tt: Array<number | null> = [];
    seq.forEach((id, j) => {
      ids.push(id === TAG ? 0 : id);
      slot.push(s);
      pos.push(j);
      inject.push(id === TAG ? row : IGNORE);
      if (id === TAG) m.set(j, row++);
      const next = seq[j + 1];
      const y = j >= c.lossFrom && next !== undefined && next !== TAG ? next : null;
      tt.push(y);
      tg.push(y ?? IGNORE);
      start.push(c.start?.[s][j] ?? 0);
    });
    tagPos.push(m);
    targets.push(tt);
  });
  return {
    batch: {
      ids: Uint32Array.from(ids),
      slot: Uint32Array.from(slot),
      pos: Uint32Array.from(pos),
      inject: Uint32Array.from(inject),
      targets: Uint32Array.from(tg),
      start: Uint32Array.from(start),
      lmScale: 1,
    },
    tagPos,
    targets,
  };
}

/** `software: false` forces the GPU kernels (tiled matmuls and weight gradients above 8 tokens). */
async function setup(src: ByteSource, tokenizer?: ByteSource, software?: boolean) {
  const gpu = await acquireNodeGpu({ software });
  const e = await loadModel(gpu, src, { slots: 1, maxContext: 32, tokenizer });
  return { e, ref: await refModel(e.desc, src) };
}

function cpuLoss(ref: RefModel, c: Case, tags: Float64Array, bb: ReturnType<typeof buildBatch>, lora?: Parameters<typeof refForward>[1]['lora']): number {
  const d = ref.cfg.dModel;
  let total = 0;
  c.seqs.forEach((seq, s) => {
    const injected = new Map<number, Float64Array>();
    for (const [p, row] of bb.tagPos[s]) injected.set(p, tags.subarray(row * d, (row + 1) * d));
    const out = refForward(ref, { ids: seq.map((id) => (id === TAG ? 0 : id)), injected, start: c.start?.[s], lora });
    total += refNll(out.logits, ref.cfg.vocabSize, bb.targets[s]);
  });
  return total;
}

async function gpuTagGrad(e: Engine, c: Case, tags: Float64Array, opts: Partial<GraphOptions> = {}) {
  const d = e.config.dModel;
  const graph = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, {
    maxTokens: 64,
    maxSeqs: 4,
    maxSeqLen: 16,
    injectedRows: tags.length / d,
    ...opts,
  });
  e.gpu.device.queue.writeBuffer(graph.injected, 0, Float32Array.from(tags));
  const bb = buildBatch(c);
  graph.resetStats();
  graph.setBatch(bb.batch);
  graph.step(true);
  const stats = await graph.readStats();
  const grad = await readF32(e.gpu, graph.dInjected, 0, tags.length);
  return { graph, loss: stats[STAT.lmLoss], grad, bb };
}

function fdGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-3): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h;
    const a = f(x);
    x[i] = old - h;
    const b = f(x);
    x[i] = old;
    g[i] = (a - b) / (2 * h);
  }
  return g;
}

const CASE: Case = {
  seqs: [
    [1, TAG, TAG, 5, 9, 13, 21, 2],
    [1, 7, TAG, TAG, 4, 8, 30],
  ],
  lossFrom: 1,
};

describe('training graph gradients vs finite differences', () => {
  // The last two: GPU kernels forced (15 tokens: tile_fwd and tile_bwd, shapes from the adapter's limits).
  const TYPED = [[GgmlType.F32], [GgmlType.Q8_0], [GgmlType.Q4_0], [GgmlType.Q4_0, false], [GgmlType.Q4_K, false]] as const;
  for (const [type, software] of TYPED) {
    it(`tag rows through a ${GgmlType[type]} model${software === false ? ', GPU kernels' : ''}`, async () => {
      const src = new BytesSource(randomGguf({ arch: 'llama', type, seed: 2, nLayers: 2, includeTokenizer: true }), 'm.gguf');
      const { e, ref } = await setup(src, undefined, software);
      const d = e.config.dModel;
      const tags = randn(rng(5), 2 * d, 0.5);
      const { loss, grad, bb } = await gpuTagGrad(e, CASE, tags);
      const f = (x: Float64Array) => cpuLoss(ref, CASE, x, bb);
      expect(Math.abs(loss - f(tags)) / f(tags)).toBeLessThan(1e-4);
      expect(relErr(grad, fdGrad(f, tags))).toBeLessThan(1e-2);
      e.dispose();
    });
  }

  it('tag rows when the batch crosses an LM-loss chunk boundary (64-token chunks, 80 tokens)', async () => {
    const src = new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.Q8_0, seed: 7, nLayers: 1, includeTokenizer: true }), 'c.gguf');
    const { e, ref } = await setup(src);
    const d = e.config.dModel;
    // Five sequences of 16: tokens 0–63 in chunk 0, 64–79 in chunk 1. Tag rows sit in the first
    // sequence and in the last one (wholly in chunk 1), and sequence 3 straddles the boundary.
    const seq = (k: number) => Array.from({ length: 16 }, (_, j) => 1 + ((k * 7 + j * 5) % 29));
    const c: Case = { seqs: [[1, TAG, ...seq(0).slice(2)], seq(1), seq(2), seq(3), [1, 9, TAG, ...seq(4).slice(3)]], lossFrom: 1 };
    const tags = randn(rng(11), 2 * d, 0.5);
    const g = await gpuTagGrad(e, c, tags, { maxTokens: 80, maxSeqs: 5, lmChunk: 64 });
    expect(g.graph.lmChunkSize).toBe(64);
    expect(g.bb.batch.ids.length).toBe(80);
    const f = (x: Float64Array) => cpuLoss(ref, c, x, g.bb);
    expect(Math.abs(g.loss - f(tags)) / f(tags)).toBeLessThan(1e-4);
    const fd = fdGrad(f, tags);
    expect(relErr(g.grad, fd)).toBeLessThan(1e-2);
    // The second tag (in chunk 1) gets its gradient only through the second chunk's logits.
    expect(relErr(g.grad.subarray(d), fd.subarray(d))).toBeLessThan(1e-2);
    e.dispose();
  });

  it('tag rows with the isolation mask and recomputation, through qwen2 (biases, neox rope)', async () => {
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.F16, seed: 3, nLayers: 2, includeTokenizer: true }), 'q.gguf');
    const { e, ref } = await setup(src);
    const d = e.config.dModel;
    const c: Case = { ...CASE, start: [[0, 1, 1, 1, 1, 1, 0, 0], [0, 0, 2, 2, 2, 2, 0]] };
    const tags = randn(rng(6), 2 * d, 0.5);
    const plain = await gpuTagGrad(e, c, tags);
    const re = await gpuTagGrad(e, c, tags, { recompute: true });
    const f = (x: Float64Array) => cpuLoss(ref, c, x, plain.bb);
    expect(relErr(plain.grad, fdGrad(f, tags))).toBeLessThan(1e-2);
    expect(relErr(re.grad, plain.grad)).toBeLessThan(1e-5);
    e.dispose();
  });

  // Without dropout on two packed sequences; with it on one sequence, because the mask's flat index
  // runs over the packed [tokens, K] input, which the CPU reference (one sequence per call)
  // reproduces only for a batch of one.
  // The last: GPU kernels forced (11 tokens: tiled matmuls and wg_tile for A and B).
  for (const [dropout, software] of [[0], [0.25], [0, false]] as const) {
  it(`LoRA A and B on every projection, every element${dropout ? ', with dropout on the adapter inputs' : ''}${software === false ? ', GPU kernels' : ''}`, async () => {
    // Small tensors (d 64, ff 64, rank 4: the smallest the kernels take) so finite differences cover every element.
    const src = new BytesSource(randomGguf({ arch: 'mistral', type: GgmlType.Q8_0, seed: 4, nLayers: 1, dFF: 64, includeTokenizer: true }), 'l.gguf');
    const { e, ref } = await setup(src, undefined, software);
    const rank = 4;
    const targets = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
    const graph = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, {
      maxTokens: 64,
      maxSeqs: 4,
      maxSeqLen: 16,
      injectedRows: 0,
      lora: { rank, alpha: 4, targets, dropout },
    });
    const r = rng(8);
    const values = new Map<string, Float64Array>();
    for (const p of graph.params()) {
      const v = randn(r, p.n, 0.1);
      values.set(p.name, v);
      e.gpu.device.queue.writeBuffer(p.param, 0, Float32Array.from(v));
    }
    const c: Case = dropout ? { seqs: [[1, 5, 9, 13, 21, 2, 7, 4, 8, 30]], lossFrom: 0 } : { seqs: [[1, 5, 9, 13, 21, 2], [1, 7, 4, 8, 30]], lossFrom: 0 };
    const bb = buildBatch(c);
    graph.resetStats();
    graph.setBatch({ ...bb.batch, dropoutSeed: 77 });
    graph.step(true);
    const loraRef = () => [
      Object.fromEntries(
        targets.map((p) => [p, { A: values.get(`lora.0.${p}.A`)!, B: values.get(`lora.0.${p}.B`)!, rank, scale: 1, dropout: dropout ? { p: dropout, seed: loraDropoutSeed(77, 0, p) } : undefined }]),
      ),
    ];
    const f = () => cpuLoss(ref, c, new Float64Array(0), bb, loraRef());
    expect(Math.abs((await graph.readStats())[STAT.lmLoss] - f()) / f()).toBeLessThan(1e-4);
    expect(graph.params().map((p) => p.name).sort()).toEqual(targets.flatMap((t) => [`lora.0.${t}.A`, `lora.0.${t}.B`]).sort());
    for (const p of graph.params()) {
      const name = p.name;
      const gpuGrad = await readF32(e.gpu, p.grad, 0, p.n);
      const v = values.get(name)!;
      const idx = Array.from({ length: p.n }, (_, i) => i);
      const fd = idx.map((i) => {
        const old = v[i];
        v[i] = old + 1e-3;
        const a = f();
        v[i] = old - 1e-3;
        const b = f();
        v[i] = old;
        return (a - b) / 2e-3;
      });
      expect(relErr(idx.map((i) => gpuGrad[i]), fd), name).toBeLessThan(1e-2);
    }
    e.dispose();
  });
  }

  it('a regression head and the tag rows under it (MSE through the final norm)', async () => {
    const src = new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.Q6_K, seed: 6, nLayers: 1, includeTokenizer: true }), 'h.gguf');
    const { e, ref } = await setup(src);
    const d = e.config.dModel;
    const graph = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, {
      maxTokens: 64,
      maxSeqs: 4,
      maxSeqLen: 16,
      injectedRows: 2,
      headOutputs: 1,
      headKind: 'regression',
    });
    const r = rng(12);
    const tags = randn(r, 2 * d, 0.5);
    const W = randn(r, d, 0.3);
    const bias = 0.1;
    const q = e.gpu.device.queue;
    q.writeBuffer(graph.injected, 0, Float32Array.from(tags));
    q.writeBuffer(graph.head!.W.param, 0, Float32Array.from(W));
    q.writeBuffer(graph.head!.b.param, 0, Float32Array.from([bias]));
    const c: Case = { seqs: [[1, 5, 9, TAG, TAG], [1, 7, 4, TAG, TAG]], lossFrom: 99 };
    const bb = buildBatch(c);
    const labels = [0.7, -1.3];
    graph.resetStats();
    graph.setBatch({ ...bb.batch, targets: undefined, headRows: Uint32Array.from([4, 9]), headTargets: Float32Array.from(labels), headScale: 1 });
    graph.step(true);
    const f = (tg: Float64Array, w: Float64Array) =>
      c.seqs.reduce((sum, seq, s) => {
        const injected = new Map([...bb.tagPos[s]].map(([p, row]) => [p, tg.subarray(row * d, (row + 1) * d)]));
        const h = refForward(ref, { ids: seq.map((id) => (id === TAG ? 0 : id)), injected }).hidden.subarray(4 * d, 5 * d);
        let pred = bias;
        for (let i = 0; i < d; i++) pred += h[i] * w[i];
        return sum + (pred - labels[s]) ** 2;
      }, 0);
    expect(Math.abs((await graph.readStats())[STAT.headLoss] - f(tags, W)) / f(tags, W)).toBeLessThan(1e-4);
    const dW = await readF32(e.gpu, graph.head!.W.grad, 0, d);
    expect(relErr(dW, fdGrad((w) => f(tags, w), W))).toBeLessThan(1e-2);
    const dTags = await readF32(e.gpu, graph.dInjected, 0, 2 * d);
    expect(relErr(dTags, fdGrad((tg) => f(tg, W), tags))).toBeLessThan(1e-2);
    e.dispose();
  });

  it('the summed gradient does not depend on how the batch is split into micro-batches', async () => {
    const src = new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.Q4_K, seed: 5, nLayers: 1, includeTokenizer: true }), 'k.gguf');
    const { e } = await setup(src);
    const d = e.config.dModel;
    const tags = randn(rng(9), 2 * d, 0.5);
    const whole = await gpuTagGrad(e, CASE, tags);
    const graph = whole.graph;
    e.gpu.device.queue.writeBuffer(graph.dInjected, 0, new Float32Array(2 * d));
    graph.resetStats();
    for (const seq of CASE.seqs) {
      graph.setBatch(buildBatch({ ...CASE, seqs: [seq] }).batch);
      graph.step(true);
    }
    const split = await readF32(e.gpu, graph.dInjected, 0, 2 * d);
    expect(relErr(split, whole.grad)).toBeLessThan(1e-5);
    expect(Math.abs((await graph.readStats())[STAT.lmLoss] - whole.loss) / whole.loss).toBeLessThan(1e-5);
    e.dispose();
  });

  it('tag rows through the real stories260K model', async () => {
    const src = new NodeFileSource('public/models/stories260K/stories260K.bin');
    const { e, ref } = await setup(src, new NodeFileSource('public/models/stories260K/tok512.bin'));
    const d = e.config.dModel;
    const c: Case = { seqs: [[1, TAG, TAG, 403, 407, 261, 378, 432]], lossFrom: 2 };
    const tags = randn(rng(10), 2 * d, 0.3);
    const { loss, grad, bb } = await gpuTagGrad(e, c, tags);
    const f = (x: Float64Array) => cpuLoss(ref, c, x, bb);
    expect(Math.abs(loss - f(tags)) / f(tags)).toBeLessThan(1e-4);
    expect(relErr(grad, fdGrad(f, tags))).toBeLessThan(1e-2);
    e.dispose();
  });
});

describe('training memory accounting', () => {
  it('trainGraphBytes equals what a TrainGraph allocates (plain, recompute, LoRA + head)', async () => {
    const { trainGraphBytes } = await import('../../src/train/memory');
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.Q8_0, seed: 7, nLayers: 2, includeTokenizer: true }), 'm.gguf');
    const e = await loadModel(await acquireNodeGpu(), src, { slots: 1, maxContext: 32 });
    const cases: GraphOptions[] = [
      { maxTokens: 40, maxSeqs: 3, maxSeqLen: 16, injectedRows: 5 },
      { maxTokens: 100, maxSeqs: 4, maxSeqLen: 25, injectedRows: 3, recompute: true, headOutputs: 2, headKind: 'classification' },
      { maxTokens: 64, maxSeqs: 2, maxSeqLen: 32, injectedRows: 0, lora: { rank: 8, alpha: 16, targets: ['q', 'v', 'down'], dropout: 0.05 }, headOutputs: 1 },
    ];
    for (const o of cases) {
      const before = e.mem.bytes().train;
      const g = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, o);
      expect(e.mem.bytes().train - before).toBe(trainGraphBytes(e.config, o));
      void g;
    }
    e.dispose();
  });
});
