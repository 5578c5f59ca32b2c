/**
 * Decode chunks (≤ 8 tokens) with LoRA adapters take the fused projections plus one lora_down per adapted
 * input: logits equal the unfused path (the same tokens in one long chunk) and the float64 reference
 * forward with each sequence's adapter, on batched slots mixing adapters, GQA and qwen2 (q/k/v biases)
 * shapes and stories260K, with the software and the forced GPU kernel profiles.
 */
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { AdapterWeights } from '../../src/model/api';
import { describeModel } from '../../src/model/describe';
import { loadModel, type Engine } from '../../src/model/model';
import { randomGguf } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { NO_ADAPTER } from '../../src/model/transformer';
import { GgmlType } from '../../src/model/types';
import type { ByteSource } from '../../src/model/source';
import { relErr } from '../helpers/gpu';
import { randomAdapter, refLora } from '../helpers/lora';
import { refForward, refModel, type RefModel } from '../reference/forward';
import { PROFILES } from '../kernels/profiles';

const STORIES = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';

const profileGpu = async (software: boolean, storageBuffers?: number): Promise<Gpu> => {
  const gpu = await acquireNodeGpu();
  const limits = storageBuffers ? { ...gpu.limits, maxStorageBuffersPerShaderStage: storageBuffers } : gpu.limits;
  return { ...gpu, software, limits };
};

interface Model {
  e: Engine;
  ref: RefModel;
}

async function open(src: ByteSource, gpu: Gpu, tokenizer?: ByteSource): Promise<Model> {
  const e = await loadModel(gpu, src, { tokenizer, slots: 4, maxContext: 64, maxTokens: 64 });
  return { e, ref: await refModel(await describeModel(src), src) };
}

const randomModel = (arch: 'llama' | 'qwen2', type: GgmlType) =>
  new BytesSource(randomGguf({ arch, type, seed: 7, nLayers: 2, nHeads: 4, nKvHeads: 2, includeTokenizer: true }), `${arch}.gguf`);

/** Adapter slot → weights, resident in the transformer. */
async function resident(e: Engine, adapters: Array<AdapterWeights | null>): Promise<void> {
  adapters.forEach((a, i) => e.transformer.adapters.set(i, a));
  await e.transformer.prepareAdapters();
}

/**
 * Three sequences (slot s uses adapter slot `use[s]`, NO_ADAPTER for none): prefill, then a fused decode
 * step of one token each (M = 3, every row's logits: the fused LM head), then a fused chunk of 8 tokens
 * (4 + 2 + 2). Each step's logits are checked against the unfused path and the reference.
 */
async function checkDecode(m: Model, adapters: Array<AdapterWeights | null>, use: number[], extra = 0) {
  const { e, ref } = m;
  const tr = e.transformer;
  const V = e.config.vocabSize;
  const L = e.config.nLayers;
  const seqs = [
    [1, 7, 42, 3, 99, 5, 17, 250, 11],
    [2, 8, 40, 6, 90, 4],
    [3, 9, 44, 1, 77, 12, 19],
  ];
  const S = seqs.length;
  const lora = use.map((a) => (a === NO_ADAPTER ? undefined : refLora(adapters[a]!)));
  const adapted = new Set(adapters.flatMap((a) => a?.targets ?? []));
  const groups = [['q', 'k', 'v'], ['o'], ['gate', 'up'], ['down']].filter((g) => g.some((p) => adapted.has(p as never))).length;
  /** One forward of `steps` new tokens per sequence, appended; logits of each sequence's last token. */
  const forward = (steps: number[][], fusedDispatches?: number) => {
    const ids: number[] = [];
    const slot: number[] = [];
    const pos: number[] = [];
    const ad: number[] = [];
    const rows: number[] = [];
    steps.forEach((toks, s) => {
      toks.forEach((id) => {
        ids.push(id);
        slot.push(s);
        pos.push(seqs[s].length);
        ad.push(use[s]);
        seqs[s].push(id);
      });
      rows.push(ids.length - 1);
    });
    const d0 = tr.rec.dispatches;
    tr.record({ ids: Uint32Array.from(ids), slot: Uint32Array.from(slot), pos: Uint32Array.from(pos), adapter: Uint32Array.from(ad), logitRows: Uint32Array.from(rows) });
    if (fusedDispatches !== undefined) expect(tr.rec.dispatches - d0, 'dispatches of a fused decode chunk').toBe(fusedDispatches);
    tr.rec.submit();
    return tr.logits(S);
  };
  /** The same sequences again from position 0 in one chunk of > 8 tokens: the unfused path. */
  const unfused = () => {
    const all = seqs.map((q) => q.slice());
    seqs.forEach((q) => (q.length = 0));
    return forward(all);
  };
  const want = () => {
    const out = new Float64Array(S * V);
    seqs.forEach((q, s) => out.set(refForward(ref, { ids: q, lora: lora[s] }).logits.subarray((q.length - 1) * V), s * V));
    return out;
  };
  await forward(seqs.map((q) => q.splice(0)));
  for (const [step, rowsAll] of [[[[5], [9], [12]], true], [[[6, 2, 8, 31], [14, 3], [21, 4]], false]] as const) {
    const got = await forward(step.map((t) => [...t]), rowsAll ? 2 + (5 + groups) * L + extra : undefined);
    const slow = await unfused();
    const w = want();
    expect(relErr(got, w), 'fused vs reference').toBeLessThan(1e-3);
    expect(relErr(got, slow), 'fused vs unfused').toBeLessThan(1e-3);
    // The adapters matter: the base model's logits are far off (sequences with an adapter).
    for (let s = 0; s < S; s++) {
      if (use[s] === NO_ADAPTER) continue;
      const base = refForward(ref, { ids: seqs[s] }).logits.subarray((seqs[s].length - 1) * V);
      expect(relErr(got.subarray(s * V, (s + 1) * V), base)).toBeGreaterThan(1e-2);
    }
  }
}

for (const prof of PROFILES) {
  describe(`fused decode with LoRA (${prof.name} kernels)`, () => {
    it('llama GQA Q4_0: two adapters on different subsets of projections and a slot without, batched', async () => {
      const m = await open(randomModel('llama', GgmlType.Q4_0), await profileGpu(prof.software));
      const cfg = m.e.config;
      const A = randomAdapter(cfg, 51, ['q', 'v', 'down'], 4, 8, 0.3);
      const B = randomAdapter(cfg, 52, ['k', 'o', 'gate', 'up'], 8, 8, 0.3);
      await resident(m.e, [A, B]);
      await checkDecode(m, [A, B], [0, NO_ADAPTER, 1]);
      m.e.dispose();
    });

    it('qwen2 GQA Q8_0 (q/k/v biases): one adapter on every projection, and one on q, v only', async () => {
      const m = await open(randomModel('qwen2', GgmlType.Q8_0), await profileGpu(prof.software));
      const cfg = m.e.config;
      const A = randomAdapter(cfg, 61, undefined, 8, 16, 0.3);
      const B = randomAdapter(cfg, 62, ['q', 'v'], 4, 8, 0.3);
      await resident(m.e, [A, B]);
      await checkDecode(m, [A, B], [1, 0, 0]);
      m.e.dispose();
    });

    it('stories260K: adapters on o, up and on k, gate, down', async () => {
      const m = await open(new NodeFileSource(STORIES), await profileGpu(prof.software), new NodeFileSource(TOK));
      const cfg = m.e.config;
      const A = randomAdapter(cfg, 71, ['o', 'up'], 8, 16, 0.15);
      const B = randomAdapter(cfg, 72, ['k', 'gate', 'down'], 4, 8, 0.15);
      await resident(m.e, [A, B]);
      await checkDecode(m, [A, B], [0, 1, NO_ADAPTER]);
      m.e.dispose();
    });
  });
}

describe('fused decode with LoRA: dispatches and fallbacks', () => {
  it('a decode step costs 2 + 5·L dispatches plus one per layer and adapted input (≤ 2 + 9·L); none without adapter tokens', async () => {
    const { e } = await open(new NodeFileSource(STORIES), await profileGpu(true), new NodeFileSource(TOK));
    const tr = e.transformer;
    const L = e.config.nLayers;
    const count = (adapter: number[]) => {
      const T = adapter.length;
      const d0 = tr.rec.dispatches;
      const s0 = tr.rec.submits;
      tr.record({ ids: Uint32Array.from(adapter, (_, i) => 1 + i), slot: Uint32Array.from(adapter, (_, i) => i), pos: new Uint32Array(T), adapter: Uint32Array.from(adapter), logitRows: Uint32Array.from(adapter, (_, i) => i) });
      const d = tr.rec.dispatches - d0;
      expect(tr.rec.submits - s0, 'everything of a step in the one submit the caller makes').toBe(0);
      tr.rec.submit();
      return d;
    };
    // q and v share the attention input (one lora_down), down has its own: o and gate|up cost nothing.
    await resident(e, [randomAdapter(e.config, 81, ['q', 'v', 'down'], 4, 8)]);
    expect(count([0])).toBe(2 + 7 * L);
    expect(count([0, NO_ADAPTER])).toBe(2 + 7 * L);
    expect(count([NO_ADAPTER, NO_ADAPTER])).toBe(2 + 5 * L);
    // A second adapter on o, gate, up: every input adapted.
    e.transformer.adapters.set(1, randomAdapter(e.config, 82, ['o', 'gate', 'up'], 8, 8));
    expect(count([0, 1])).toBe(2 + 9 * L);
    e.dispose();
  });

  it('with too few storage buffers for the fused q|k|v LoRA variant, q|k|v take the separate kernels; logits still match', async () => {
    const m = await open(randomModel('llama', GgmlType.F16), await profileGpu(true, 8));
    const cfg = m.e.config;
    const A = randomAdapter(cfg, 91, ['q', 'k', 'up'], 4, 8, 0.3);
    await resident(m.e, [A]);
    // q|k|v: norm, stacked projection, lora matmul + 2 ups (q, k), rope, kv write = 7 instead of lora_down + rope.
    await checkDecode(m, [A], [0, 0, NO_ADAPTER], 5 * cfg.nLayers);
    m.e.dispose();
  });
});
