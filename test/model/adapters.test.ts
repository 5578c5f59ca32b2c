/** Generation with LoRA adapters resident on the GPU, several at once, chosen per slot. */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { describeModel } from '../../src/model/describe';
import { loadModel, type Engine } from '../../src/model/model';
import { randomGguf } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';
import { LORA_PROJS } from '../../src/model/adapters';
import { randomAdapter, refLora } from '../helpers/lora';
import { relErr } from '../helpers/gpu';
import { refForward, refModel, type RefInput, type RefModel } from '../reference/forward';

const STORIES = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';

/** GPU logits at every position of one sequence with one adapter slot on every token. */
async function gpuLogits(e: Engine, ids: number[], slot: number) {
  const T = ids.length;
  await e.transformer.prepareAdapters();
  e.transformer.run({
    ids: Uint32Array.from(ids),
    slot: new Uint32Array(T),
    pos: Uint32Array.from(ids, (_, i) => i),
    adapter: new Uint32Array(T).fill(slot),
    logitRows: Uint32Array.from(ids, (_, i) => i),
  });
  return e.transformer.logits(T);
}

/** Greedy continuation by the float64 reference (full forward per step). */
function refGreedy(m: RefModel, prompt: number[], n: number, lora?: RefInput['lora']): number[] {
  const ids = [...prompt];
  const V = m.cfg.vocabSize;
  for (let i = 0; i < n; i++) {
    const { logits } = refForward(m, { ids, lora });
    const row = logits.subarray((ids.length - 1) * V);
    let best = 0;
    for (let t = 1; t < V; t++) if (row[t] > row[best]) best = t;
    ids.push(best);
  }
  return ids.slice(prompt.length);
}

describe('LoRA logits vs the CPU reference on fixture models', () => {
  const ids = [1, 7, 42, 3, 99, 5, 17, 250];
  const TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
  for (const type of TYPES) {
    const arch = type === GgmlType.Q8_0 ? 'qwen2' : 'llama';
    it(`${arch} ${GgmlType[type]}`, async () => {
      const gpu = await acquireNodeGpu();
      const src = new BytesSource(randomGguf({ arch, type, seed: 3, nLayers: 2, nHeads: 4, nKvHeads: arch === 'llama' ? 4 : 2, includeTokenizer: true }), 'm.gguf');
      const desc = await describeModel(src);
      const e = await loadModel(gpu, src, { slots: 8, maxContext: 64 });
      const a = randomAdapter(e.config, 11);
      // A second resident adapter of another rank and targets: packing must keep them apart.
      e.setAdapter('other', randomAdapter(e.config, 12, ['q', 'down'], 4, 4));
      e.setAdapter('a', a);
      await e.generate({ prompts: [[1]], maxTokens: 1 }); // waits for the queued adapter changes
      const ref = await refModel(desc, src);
      const want = refForward(ref, { ids, lora: refLora(a) });
      const got = await gpuLogits(e, ids, 1);
      expect(relErr(got, want.logits)).toBeLessThan(1e-3);
      expect(relErr(refForward(ref, { ids }).logits, want.logits)).toBeGreaterThan(1e-2);
      e.dispose();
    });
  }
});

describe('stories260K with adapters', () => {
  const load = async () => {
    const src = new NodeFileSource(STORIES);
    const e = await loadModel(await acquireNodeGpu(), src, { tokenizer: new NodeFileSource(TOK), slots: 4, maxContext: 128 });
    return { e, src };
  };

  it('greedy ids equal the reference forward with the adapter, and differ from the base model', async () => {
    const { e, src } = await load();
    const a = randomAdapter(e.config, 21, LORA_PROJS, 8, 16, 0.12);
    e.setAdapter('story', a);
    expect(e.adapterNames()).toEqual(['story']);
    const prompt = e.tokenizer.encode('Once upon a time', { bos: true });
    const n = 16;
    const res = await e.generate({ prompts: [prompt], adapters: ['story'], maxTokens: n, stopTokens: [] });
    const ref = await refModel(e.desc, src);
    expect(res.outputs[0].ids).toEqual(refGreedy(ref, prompt, n, refLora(a)));
    const base = await e.generate({ prompts: [prompt], maxTokens: n, stopTokens: [] });
    expect(base.outputs[0].ids).not.toEqual(res.outputs[0].ids);
    e.dispose();
  });

  it('a mixed batch (adapter A, none, adapter B) gives each slot what it gets alone; removing an adapter frees its name', async () => {
    const { e } = await load();
    e.setAdapter('A', randomAdapter(e.config, 31));
    e.setAdapter('B', randomAdapter(e.config, 32, ['q', 'v', 'up'], 4, 8, 0.3));
    const prompts = ['Once upon a time', 'The cat sat', 'Lily and Ben'];
    const adapters = ['A', null, 'B'];
    const batch = await e.generate({ prompts, adapters, maxTokens: 12, stopTokens: [] });
    for (const [i, p] of prompts.entries()) {
      const solo = await e.generate({ prompts: [p], adapters: [adapters[i]], maxTokens: 12, stopTokens: [] });
      expect(batch.outputs[i].ids, `slot ${i}`).toEqual(solo.outputs[0].ids);
    }
    const baseA = await e.generate({ prompts: [prompts[0]], maxTokens: 12, stopTokens: [] });
    expect(baseA.outputs[0].ids).not.toEqual(batch.outputs[0].ids);
    e.removeAdapter('A');
    expect(e.adapterNames()).toEqual(['B']);
    await expect(e.generate({ prompts: ['x'], adapters: ['A'] })).rejects.toThrow(/adapter "A", which is not loaded/);
    // B keeps working after A's removal repacked the buffers.
    const again = await e.generate({ prompts: [prompts[2]], adapters: ['B'], maxTokens: 12, stopTokens: [] });
    expect(again.outputs[0].ids).toEqual(batch.outputs[2].ids);
    e.dispose();
  });

  it('bad adapters are refused with a message that says why', async () => {
    const { e } = await load();
    const a = randomAdapter(e.config, 1);
    expect(() => e.setAdapter('x', { ...a, layers: a.layers.slice(1) })).toThrow(/layers but the model has/);
    expect(() => e.setAdapter('x', { ...a, rank: 0 })).toThrow(/rank must be a positive integer/);
    expect(() => e.setAdapter('x', { ...a, targets: ['q', 'zz'] })).toThrow(/unknown target "zz"/);
    const wrong = { ...a, layers: a.layers.map((L) => ({ ...L, q: { A: L.q.A.subarray(1), B: L.q.B } })) };
    expect(() => e.setAdapter('x', wrong)).toThrow(/trained for another model/);
    expect(e.adapterNames()).toEqual([]);
    e.dispose();
  });
});
