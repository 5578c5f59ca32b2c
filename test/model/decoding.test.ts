/** Mixture and contrastive decoding through generate(), against the float64 reference forward. */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { PlanGroup } from '../../src/gpu/kernels/mixture';
import { loadModel } from '../../src/model/model';
import { describeModel } from '../../src/model/describe';
import { randomGguf } from '../../src/model/random-model';
import { BytesSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';
import { relErr } from '../helpers/gpu';
import { Rng } from '../../src/model/sampling';
import { NodeFileSource } from '../../src/model/source-node';
import { refForward, refModel, type RefInput, type RefModel } from '../reference/forward';
import { chooseRef } from '../kernels/mixture.ref';
import { randomAdapter, refLora } from '../helpers/lora';

const STORIES = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';

const load = async (slots = 6) => {
  const src = new NodeFileSource(STORIES);
  const e = await loadModel(await acquireNodeGpu(), src, { tokenizer: new NodeFileSource(TOK), slots, maxContext: 128 });
  return { e, ref: await refModel(e.desc, src) };
};

/** Last-position logits of each member sequence (prompt + shared continuation), float64. */
function memberLogits(m: RefModel, prompts: number[][], cont: number[], lora?: Array<RefInput['lora']>): Float64Array {
  const V = m.cfg.vocabSize;
  const out = new Float64Array(prompts.length * V);
  prompts.forEach((p, j) => {
    const ids = [...p, ...cont];
    out.set(refForward(m, { ids, lora: lora?.[j] }).logits.subarray((ids.length - 1) * V), j * V);
  });
  return out;
}

/** Decodes one group with the reference: the same plan and the same random stream as generate(). */
function refDecode(m: RefModel, prompts: number[][], n: number, plan: Omit<PlanGroup, 'u' | 'members'> & { weights: number[]; invT: number }, seedIndex: number, seed: number, lora?: Array<RefInput['lora']>) {
  const rngs = new Rng(seed * 1000003 + seedIndex);
  const cont: number[] = [];
  const posterior: number[][] = prompts.map(() => []);
  for (let i = 0; i < n; i++) {
    const logits = memberLogits(m, prompts, cont, lora);
    const members = prompts.map((_, j) => ({ row: j, weight: plan.weights[j], invT: plan.kind === 1 ? 1 : plan.invT }));
    const c = chooseRef(logits, m.cfg.vocabSize, { ...plan, members, u: plan.greedy ? 0 : rngs.next() });
    // Shares within the group; a contrastive mixture's within each half (expert, amateur).
    const h = plan.kind === 1 && prompts.length > 2 ? prompts.length / 2 : prompts.length;
    for (let a = 0; a < prompts.length; a += h) {
      const z = c.p.slice(a, a + h).reduce((acc, p, j) => acc + plan.weights[a + j] * p, 0);
      for (let j = a; j < a + h; j++) posterior[j].push((plan.weights[j] * c.p[j]) / z);
    }
    cont.push(c.id);
  }
  return { ids: cont, posterior };
}

describe('mixture decoding', () => {
  it('a group of one equals plain decoding token for token, greedy and sampled', async () => {
    const { e } = await load();
    const prompts = ['Once upon a time', 'The dog'];
    for (const o of [{ temperature: 0 }, { temperature: 1, topP: 0.9, seed: 5 }, { temperature: 0.8, topK: 20, seed: 9 }]) {
      const plain = await e.generate({ prompts, maxTokens: 16, stopTokens: [], ...o });
      const mix = await e.generate({ prompts, maxTokens: 16, stopTokens: [], mixture: { group: [0, 1], weights: [1, 1] }, ...o });
      expect(mix.outputs.map((x) => x.ids)).toEqual(plain.outputs.map((x) => x.ids));
      expect(mix.outputs[0].posterior).toEqual(new Array(mix.outputs[0].ids.length).fill(1));
    }
    e.dispose();
  });

  it('k = 3 greedy and sampled, two groups in one batch, match the reference with its posterior', async () => {
    const { e, ref } = await load();
    const texts = ['Once upon a time', 'The little dog', 'Lily went to', 'Tom had a', 'One day the sun'];
    const prompts = texts.map((t) => e.tokenizer.encode(t, { bos: true }));
    const group = [0, 0, 0, 1, 1];
    const weights = [0.5, 0.3, 0.2, 2, 1];
    const n = 10;
    for (const o of [{ temperature: 0 }, { temperature: 1, topP: 0.95, seed: 3 }]) {
      const streamed: Array<Array<number | undefined>> = prompts.map(() => []);
      const res = await e.generate({ prompts, maxTokens: n, stopTokens: [], mixture: { group, weights }, ...o }, (ev) => streamed[ev.seq].push(ev.posterior));
      // The live shares are exactly the final posterior, token by token.
      for (let j = 0; j < prompts.length; j++) expect(streamed[j]).toEqual(res.outputs[j].posterior);
      const greedy = !(o.temperature > 0);
      const common = { kind: 0 as const, greedy, topK: 0, topP: o.topP ?? 1, invT: greedy ? 1 : 1 / o.temperature, logAlpha: 0 };
      const g0 = refDecode(ref, prompts.slice(0, 3), n, { ...common, weights: [0.5, 0.3, 0.2] }, 0, o.seed ?? 0);
      const g1 = refDecode(ref, prompts.slice(3), n, { ...common, weights: [2 / 3, 1 / 3] }, 3, o.seed ?? 0);
      for (const j of [0, 1, 2]) expect(res.outputs[j].ids).toEqual(g0.ids);
      for (const j of [3, 4]) expect(res.outputs[j].ids).toEqual(g1.ids);
      for (const j of [0, 1, 2]) res.outputs[j].posterior!.forEach((p, t) => expect(Math.abs(p - g0.posterior[j][t])).toBeLessThan(1e-3));
      for (const j of [3, 4]) res.outputs[j].posterior!.forEach((p, t) => expect(Math.abs(p - g1.posterior[j - 3][t])).toBeLessThan(1e-3));
      // Shares of one token sum to 1 over the group.
      res.outputs[0].posterior!.forEach((_, t) => expect(res.outputs[0].posterior![t] + res.outputs[1].posterior![t] + res.outputs[2].posterior![t]).toBeCloseTo(1, 5));
    }
    e.dispose();
  });

  it('members may use different adapters', async () => {
    const { e, ref } = await load();
    const a = randomAdapter(e.config, 41, ['q', 'v', 'down'], 8, 16, 0.15);
    e.setAdapter('a', a);
    const prompts = ['Once upon a time', 'Once upon a time'].map((t) => e.tokenizer.encode(t, { bos: true }));
    const res = await e.generate({ prompts, adapters: ['a', null], maxTokens: 8, stopTokens: [], mixture: { group: [0, 0], weights: [1, 1] } });
    const want = refDecode(ref, prompts, 8, { kind: 0, greedy: true, topK: 0, topP: 1, invT: 1, logAlpha: 0, weights: [0.5, 0.5] }, 0, 0, [refLora(a), undefined]);
    expect(res.outputs[0].ids).toEqual(want.ids);
    e.dispose();
  });

  it('bad mixture or contrastive requests say what is wrong', async () => {
    const { e } = await load();
    const p = ['a', 'b'];
    await expect(e.generate({ prompts: p, mixture: { group: [0], weights: [1, 1] } })).rejects.toThrow(/one group and one weight per prompt/);
    await expect(e.generate({ prompts: p, mixture: { group: [0, 0], weights: [0, 0] } })).rejects.toThrow(/weights sum to 0/);
    await expect(e.generate({ prompts: p, mixture: { group: [0, 0], weights: [1, 1] }, contrastive: { expert: [0], amateur: [1] } })).rejects.toThrow(/names mixture group 1, which no prompt is in/);
    await expect(e.generate({ prompts: [...p, 'x'], mixture: { group: [0, 0, 1], weights: [1, 1, 1] }, contrastive: { expert: [0], amateur: [1] } })).rejects.toThrow(/expert group 0 has 2 prompts, amateur group 1 has 1/);
    await expect(e.generate({ prompts: p, contrastive: { expert: [0], amateur: [0] } })).rejects.toThrow(/more than one role/);
    await expect(e.generate({ prompts: p, contrastive: { expert: [0], amateur: [5] } })).rejects.toThrow(/names prompt 5/);
    await expect(e.generate({ prompts: p, contrastive: { expert: [0], amateur: [1], alpha: 2 } })).rejects.toThrow(/alpha must be in/);
    await expect(e.generate({ prompts: p, topP: 0 })).rejects.toThrow(/topP must be in/);
    e.dispose();
  });
});

describe('decode steps', () => {
  it('a decode step records 2 + 5·layers dispatches: norm, q|k|v, RoPE and the KV write are one, SwiGLU rides in gate|up', async () => {
    const { e } = await load(2);
    const tr = e.transformer;
    const L = e.config.nLayers;
    // Embedding, then per layer norm+q|k|v+rope+kv-write, attention, o (+= x), norm+gate|up+SwiGLU,
    // down (+= x); then final norm + LM head (no row gather: every token wants its logits).
    for (const T of [1, 2]) {
      const d0 = tr.rec.dispatches;
      const ids = Uint32Array.from({ length: T }, (_, i) => 1 + i);
      tr.record({ ids, slot: Uint32Array.from({ length: T }, (_, i) => i), pos: new Uint32Array(T), logitRows: Uint32Array.from({ length: T }, (_, i) => i) });
      expect(tr.rec.dispatches - d0, `${T} token(s)`).toBe(2 + 5 * L);
      tr.rec.submit();
    }
    // A short chunk with only some rows' logits (a prompt) keeps the row gather, final norm and head.
    const d0 = tr.rec.dispatches;
    tr.record({ ids: Uint32Array.of(1, 2), slot: Uint32Array.of(0, 0), pos: Uint32Array.of(0, 1), logitRows: Uint32Array.of(1) });
    expect(tr.rec.dispatches - d0).toBe(4 + 5 * L);
    tr.rec.submit();
    e.dispose();
  });

  it('a layer whose q|k|v or gate|up mix types (Q4_K_M-style) keeps the separate kernels for that part; logits match the reference', async () => {
    // Layer 0: attn_v and ffn_up in Q8_0 beside Q4_0 (not stackable); layer 1 uniform (fused).
    const typeOf = (name: string) => (name === 'blk.0.attn_v.weight' || name === 'blk.0.ffn_up.weight' ? GgmlType.Q8_0 : undefined);
    const bytes = randomGguf({ arch: 'qwen2', type: GgmlType.Q4_0, typeOf, seed: 9, nLayers: 2, nHeads: 4, nKvHeads: 2, includeTokenizer: true });
    const src = new BytesSource(bytes, 'mixed.gguf');
    const e = await loadModel(await acquireNodeGpu(), src, { slots: 8, maxContext: 64 });
    const ids = [1, 7, 42, 3, 99];
    const T = ids.length;
    const tr = e.transformer;
    const d0 = tr.rec.dispatches;
    tr.run({ ids: Uint32Array.from(ids), slot: new Uint32Array(T), pos: Uint32Array.from(ids, (_, i) => i), logitRows: Uint32Array.from(ids, (_, i) => i) });
    // Fused: 2 + 5·2; layer 0 adds norm, 3 projections, rope, kv write (q|k|v) and norm, 2 projections, SwiGLU (gate|up) for 2 fused.
    expect(tr.rec.dispatches - d0).toBe(2 + 5 * 2 + (6 - 1) + (4 - 1));
    const ref = refForward(await refModel(await describeModel(src), src), { ids });
    expect(relErr(await tr.logits(T), ref.logits)).toBeLessThan(1e-3);
    e.dispose();
  });

  it('a decode step, token choice included, costs at most 2 + 6·layers dispatches in one submit (single and batched)', async () => {
    const { e } = await load(2);
    const rec = e.transformer.rec;
    const L = e.config.nLayers;
    for (const prompts of [['Once upon a time'], ['Once upon a time', 'The cat']]) {
      await e.generate({ prompts, maxTokens: 2, stopTokens: [] }); // warm-up
      const count = async (n: number) => {
        const d0 = rec.dispatches;
        const s0 = rec.submits;
        const r = await e.generate({ prompts, maxTokens: n, stopTokens: [], temperature: 0 });
        return { d: rec.dispatches - d0, s: rec.submits - s0, steps: r.timings.decodeTokens };
      };
      const a = await count(2);
      const b = await count(6);
      const steps = (b.steps - a.steps) / prompts.length; // decode steps: one token per sequence each
      expect(steps).toBeGreaterThan(0);
      expect((b.d - a.d) / steps, `${prompts.length} prompt(s)`).toBeLessThanOrEqual(2 + 6 * L);
      expect((b.s - a.s) / steps).toBe(1);
    }
    e.dispose();
  });

  it('each decode step is one submit and allocates no GPU buffer, in every mode', async () => {
    const { e } = await load();
    e.setAdapter('a', randomAdapter(e.config, 61, ['q', 'up'], 4, 8));
    const reqs = [
      { prompts: ['Once', 'The cat'], temperature: 0 },
      { prompts: ['Once', 'The cat', 'A dog'], temperature: 1, topP: 0.9, adapters: ['a', null, 'a'], mixture: { group: [0, 0, 1], weights: [1, 2, 1] } },
      { prompts: ['Once', 'Once'], temperature: 0.7, adapters: ['a', null], contrastive: { expert: [0], amateur: [1] } },
    ];
    for (const r of reqs) {
      await e.generate({ ...r, maxTokens: 2, stopTokens: [] }); // warm-up: pipelines, bind groups
      const tr = e.transformer;
      const [s0, a0] = [tr.rec.submits, e.mem.allocations];
      const res = await e.generate({ ...r, maxTokens: 9, stopTokens: [] });
      // Prefill (one chunk) + 8 decode steps, each one submit; the 9th token needs no forward.
      expect(tr.rec.submits - s0).toBe(9);
      expect(e.mem.allocations - a0).toBe(0);
      expect(res.outputs.every((o) => o.ids.length === 9)).toBe(true);
    }
    e.dispose();
  });
});

describe('contrastive decoding', () => {
  it('expert (adapter) vs amateur (base), greedy and sampled, matches the reference; a plain prompt rides along', async () => {
    const { e, ref } = await load();
    const a = randomAdapter(e.config, 51, ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], 8, 16, 0.12);
    e.setAdapter('expert', a);
    const text = 'Once upon a time';
    const p = e.tokenizer.encode(text, { bos: true });
    const n = 10;
    for (const o of [{ temperature: 0 }, { temperature: 1, seed: 4 }]) {
      const res = await e.generate({ prompts: [text, text, 'The cat'], adapters: ['expert', null, null], maxTokens: n, stopTokens: [], contrastive: { expert: [0], amateur: [1] }, ...o });
      const greedy = !(o.temperature > 0);
      const want = refDecode(ref, [p, p], n, { kind: 1, greedy, topK: 0, topP: 1, invT: greedy ? 1 : 1 / o.temperature, logAlpha: Math.log(0.1), weights: [1, 0] }, 0, o.seed ?? 0, [refLora(a), undefined]);
      expect(res.outputs[0].ids).toEqual(want.ids);
      expect(res.outputs[1].ids).toEqual(want.ids);
      const plain = await e.generate({ prompts: ['The cat'], maxTokens: n, stopTokens: [], ...o });
      if (greedy) expect(res.outputs[2].ids).toEqual(plain.outputs[0].ids);
      // Contrastive is not the expert's own greedy continuation.
      if (greedy) {
        const expertOnly = await e.generate({ prompts: [text], adapters: ['expert'], maxTokens: n, stopTokens: [] });
        expect(expertOnly.outputs[0].ids).not.toEqual(res.outputs[0].ids);
      }
    }
    e.dispose();
  });

  it('contrastive over mixtures: expert = k prompts with the adapter, amateur = the same k with the base, matches the reference', async () => {
    const { e, ref } = await load();
    const a = randomAdapter(e.config, 61, ['q', 'v', 'down'], 8, 16, 0.15);
    e.setAdapter('expert', a);
    const texts = ['Once upon a time', 'The little dog'];
    const ps = texts.map((t) => e.tokenizer.encode(t, { bos: true }));
    const w = [0.7, 0.3];
    const n = 8;
    for (const o of [{ temperature: 0 }, { temperature: 1, seed: 5 }]) {
      const streamed: Array<Array<number | undefined>> = [[], [], [], [], []];
      const res = await e.generate(
        {
          prompts: [...texts, ...texts, 'The cat'],
          adapters: ['expert', 'expert', null, null, null],
          maxTokens: n,
          stopTokens: [],
          mixture: { group: [3, 3, 4, 4, 9], weights: [...w, ...w, 1] },
          contrastive: { expert: [3], amateur: [4], alpha: 0.05 },
          ...o,
        },
        (ev) => streamed[ev.seq].push(ev.posterior),
      );
      const greedy = !(o.temperature > 0);
      const want = refDecode(ref, [...ps, ...ps], n, { kind: 1, greedy, topK: 0, topP: 1, invT: greedy ? 1 : 1 / o.temperature, logAlpha: Math.log(0.05), weights: [...w, ...w] }, 0, o.seed ?? 0, [refLora(a), refLora(a), undefined, undefined]);
      for (const j of [0, 1, 2, 3]) expect(res.outputs[j].ids).toEqual(want.ids);
      for (const j of [0, 1, 2, 3]) res.outputs[j].posterior!.forEach((p, t) => expect(Math.abs(p - want.posterior[j][t])).toBeLessThan(1e-3));
      for (const j of [0, 1, 2, 3]) expect(streamed[j]).toEqual(res.outputs[j].posterior);
      // The group outside the pair decodes as a plain mixture of one.
      const plain = await e.generate({ prompts: ['The cat'], maxTokens: n, stopTokens: [], ...o });
      if (greedy) expect(res.outputs[4].ids).toEqual(plain.outputs[0].ids);
      // It is not the expert mixture's own continuation.
      if (greedy) {
        const expertMix = await e.generate({ prompts: texts, adapters: ['expert', 'expert'], maxTokens: n, stopTokens: [], mixture: { group: [0, 0], weights: w } });
        expect(expertMix.outputs[0].ids).not.toEqual(res.outputs[0].ids);
      }
    }
    e.dispose();
  });
});
