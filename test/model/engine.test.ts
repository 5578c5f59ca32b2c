import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { describeModel } from '../../src/model/describe';
import { NO_INJECT } from '../../src/model/transformer';
import { GgmlType, type Arch } from '../../src/model/types';
import { relErr, rng, randn } from '../helpers/gpu';
import { refForward, refModel } from '../reference/forward';
import { publicPath } from '../helpers/fixtures';
import { SMALL_LIMITS } from '../helpers/limits';

const STORIES = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';
const golden = JSON.parse(readFileSync(publicPath('models/stories260K/golden_greedy.json'), 'utf8')) as {
  prompt: string;
  prompt_ids: number[];
  greedy_ids_after_bos: number[];
  text: string;
};

/** GPU logits for every position of one sequence, f32 [T, vocab]. */
async function gpuLogits(e: Engine, ids: number[], extra: { inject?: Uint32Array; injected?: GPUBuffer; start?: number[] } = {}) {
  const T = ids.length;
  const tr = e.transformer;
  tr.run({
    ids: Uint32Array.from(ids),
    slot: new Uint32Array(T),
    pos: Uint32Array.from(ids, (_, i) => i),
    start: extra.start ? Uint32Array.from(extra.start) : undefined,
    inject: extra.inject,
    injected: extra.injected,
    logitRows: Uint32Array.from(ids, (_, i) => i),
  });
  return tr.logits(T);
}

describe('stories260K (real model)', () => {
  it('greedy generation equals the golden output token for token', async () => {
    const gpu = await acquireNodeGpu();
    const e = await loadModel(gpu, new NodeFileSource(STORIES), { tokenizer: new NodeFileSource(TOK) });
    expect(e.tokenizer.encode(golden.prompt, { bos: true })).toEqual(golden.prompt_ids);
    const gen = golden.greedy_ids_after_bos.length - (golden.prompt_ids.length - 1);
    const res = await e.generate({ prompts: [golden.prompt], maxTokens: gen, temperature: 0 });
    expect([...golden.prompt_ids.slice(1), ...res.outputs[0].ids]).toEqual(golden.greedy_ids_after_bos);
    expect(golden.prompt + res.outputs[0].text).toBe(golden.text);
    e.dispose();
  });

  it('logits match the float64 CPU reference', async () => {
    const gpu = await acquireNodeGpu();
    const src = new NodeFileSource(STORIES);
    const e = await loadModel(gpu, src, { tokenizer: new NodeFileSource(TOK), slots: 8 });
    const ref = refForward(await refModel(e.desc, src), { ids: golden.prompt_ids });
    const got = await gpuLogits(e, golden.prompt_ids);
    expect(relErr(got, ref.logits)).toBeLessThan(1e-3);
    e.dispose();
  });
});

const TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
const ARCHS: Arch[] = ['llama', 'mistral', 'qwen2'];

describe('random fixture models vs the CPU reference', () => {
  const ids = [1, 7, 42, 3, 99, 5, 17, 250];
  for (const type of TYPES) {
    for (const arch of ARCHS) {
      it(`${arch} ${GgmlType[type]}`, async () => {
        const gpu = await acquireNodeGpu();
        const bytes = randomGguf({ arch, type, seed: 3, nLayers: 2, nHeads: 4, nKvHeads: arch === 'llama' ? 4 : 2, tied: arch === 'llama', includeTokenizer: true });
        const src = new BytesSource(bytes, `${arch}.gguf`);
        const desc = await describeModel(src);
        const e = await loadModel(gpu, src, { slots: 8, maxContext: 64 });
        const ref = refForward(await refModel(desc, src), { ids });
        expect(relErr(await gpuLogits(e, ids), ref.logits)).toBeLessThan(1e-3);
        // Weights stay in their file type: GPU weight bytes ≈ file tensor bytes (vectors converted to f32).
        const fileBytes = [...desc.tensors.values()].reduce((s, t) => s + t.bytes, 0);
        expect(e.memory().weights).toBeLessThan(fileBytes * 1.05 + 65536);
        e.dispose();
      });
    }
  }

  // Prefill of more than 8 rows runs the tiled matmul; with the GPU profile forced that is tile_fwd
  // (shared-memory tiles, tile shape from the adapter's limits), on every weight type a model mixes.
  for (const type of [GgmlType.F16, GgmlType.Q4_0, GgmlType.Q4_K]) {
    it(`llama ${GgmlType[type]}, GPU kernels (tiled prefill of 20 tokens)`, async () => {
      const gpu = { ...(await acquireNodeGpu()), software: false };
      const bytes = randomGguf({ arch: 'llama', type, seed: 5, nLayers: 2, nHeads: 4, nKvHeads: 2, tied: false, includeTokenizer: true });
      const src = new BytesSource(bytes, 'llama.gguf');
      const desc = await describeModel(src);
      const e = await loadModel(gpu, src, { slots: 20, maxContext: 64 }); // a logit row per token: one per slot
      const ids20 = Array.from({ length: 20 }, (_, i) => 1 + ((i * 37) % 200));
      const ref = refForward(await refModel(desc, src), { ids: ids20 });
      expect(relErr(await gpuLogits(e, ids20), ref.logits)).toBeLessThan(1e-3);
      e.dispose();
    });
  }

  // Every kernel sizes its workgroups from the adapter's limits (src/gpu/workgroup.ts): with the GPU
  // profile forced and limits below WebGPU's minimums, 256-wide kernels run at 64 and still agree.
  it('qwen2 Q4_0, GPU kernels under small workgroup limits (64 invocations, 8 KiB)', async () => {
    const own = await acquireNodeGpu();
    const gpu = { ...own, software: false, limits: { ...own.limits, ...SMALL_LIMITS } };
    const bytes = randomGguf({ arch: 'qwen2', type: GgmlType.Q4_0, seed: 7, nLayers: 2, nHeads: 4, nKvHeads: 2, tied: false, includeTokenizer: true });
    const src = new BytesSource(bytes, 'qwen2.gguf');
    const desc = await describeModel(src);
    const e = await loadModel(gpu, src, { slots: 20, maxContext: 64 });
    const model = await refModel(desc, src);
    for (const n of [6, 20]) {
      // 6 rows: matrix-vector kernels; 20: tiled.
      const idsN = Array.from({ length: n }, (_, i) => 1 + ((i * 53) % 200));
      expect(relErr(await gpuLogits(e, idsN), refForward(model, { ids: idsN }).logits), `${n} tokens`).toBeLessThan(1e-3);
    }
    e.dispose();
  });

  it('a safetensors checkpoint gives the same logits as the same weights in GGUF', async () => {
    const gpu = await acquireNodeGpu();
    const opts = { arch: 'llama' as const, seed: 5, nLayers: 2, includeTokenizer: true };
    const g = await loadModel(gpu, new BytesSource(randomGguf({ ...opts, type: GgmlType.F32 }), 'm.gguf'), { slots: 8, maxContext: 64 });
    const st = randomSafetensors(opts);
    const s = await loadModel(gpu, new BytesSource(st.bytes, 'model.safetensors'), {
      configJson: st.config,
      tokenizer: new BytesSource(new TextEncoder().encode(JSON.stringify(g.tokenizer.json)), 'tokenizer.json'),
      slots: 8,
      maxContext: 64,
    });
    expect(relErr(await gpuLogits(s, ids), await gpuLogits(g, ids))).toBeLessThan(1e-4);
    g.dispose();
    s.dispose();
  });

  it('injected rows and a custom attention start match the reference', async () => {
    const gpu = await acquireNodeGpu();
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.Q8_0, seed: 9, nLayers: 2, includeTokenizer: true }), 'q.gguf');
    const e = await loadModel(gpu, src, { slots: 8, maxContext: 64 });
    const d = e.config.dModel;
    const r = rng(4);
    const rows = [randn(r, d, 0.05), randn(r, d, 0.05)];
    const injectedAt = new Map([
      [2, rows[0]],
      [3, rows[1]],
    ]);
    const start = [0, 0, 2, 2, 2, 2, 0, 0]; // positions 2..5 isolated from the text before the tag
    const ref = refForward(await refModel(e.desc, src), { ids, injected: injectedAt, start });
    const inject = new Uint32Array(ids.length).fill(NO_INJECT);
    inject[2] = 0;
    inject[3] = 1;
    const buf = e.mem.upload('tag', Float32Array.from([...rows[0], ...rows[1]]), 'train');
    const got = await gpuLogits(e, ids, { inject, injected: buf, start });
    expect(relErr(got, ref.logits)).toBeLessThan(1e-3);
    // And the injection really changed something.
    const plain = refForward(await refModel(e.desc, src), { ids });
    expect(relErr(plain.logits, ref.logits)).toBeGreaterThan(1e-3);
    e.dispose();
  });
});

describe('generation mechanics', () => {
  const load = async (o: { maxTokens?: number } = {}) =>
    loadModel(await acquireNodeGpu(), new NodeFileSource(STORIES), { tokenizer: new NodeFileSource(TOK), slots: 4, ...o });

  it('batched decoding gives each prompt the same tokens as decoding it alone', async () => {
    const e = await load();
    const prompts = ['Once upon a time', 'The cat', 'Lily and Ben went'];
    const batch = await e.generate({ prompts, maxTokens: 12 });
    for (const [i, p] of prompts.entries()) {
      const solo = await e.generate({ prompts: [p], maxTokens: 12 });
      expect(batch.outputs[i].ids).toEqual(solo.outputs[0].ids);
    }
    e.dispose();
  });

  it('chunked prefill equals one-shot prefill', async () => {
    const small = await load({ maxTokens: 3 });
    const big = await load();
    const a = await small.generate({ prompts: [golden.prompt], maxTokens: 10 });
    const b = await big.generate({ prompts: [golden.prompt], maxTokens: 10 });
    expect(a.outputs[0].ids).toEqual(b.outputs[0].ids);
    small.dispose();
    big.dispose();
  });

  it('sampling is reproducible with a seed and stops on stop strings; cancellation ends early', async () => {
    const e = await load();
    const o = { prompts: [golden.prompt], maxTokens: 20, temperature: 0.9, topP: 0.9, topK: 40, seed: 7 };
    const a = await e.generate(o);
    const b = await e.generate(o);
    expect(a.outputs[0].ids).toEqual(b.outputs[0].ids);
    const c = await e.generate({ ...o, seed: 8 });
    expect(c.outputs[0].ids).not.toEqual(a.outputs[0].ids);
    const stopped = await e.generate({ prompts: [golden.prompt], maxTokens: 60, stopStrings: ['Lily'] });
    expect(stopped.outputs[0].finish).toBe('stop');
    expect(stopped.outputs[0].text).toBe(', there was a little girl named ');
    const ac = new AbortController();
    let n = 0;
    const cancelled = await e.generate({ prompts: [golden.prompt], maxTokens: 60, signal: ac.signal }, () => {
      if (++n === 3) ac.abort();
    });
    expect(cancelled.outputs[0].finish).toBe('cancelled');
    expect(cancelled.outputs[0].ids.length).toBe(3);
    e.dispose();
  });
});
