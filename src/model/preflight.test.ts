import { describe, expect, it } from 'vitest';
import { headerOnlyGguf, REAL_SHAPES, SparseSource } from './header-only';
import { assessFit, inspectModelSource } from './preflight';
import { randomGguf } from './random-model';
import { BytesSource } from './sources';
import { GgmlType } from './types';
import { estimateMemory, loadShape } from './weights';
import { describeModel } from './describe';
import { loadModel } from './model';
import type { Gpu } from '../gpu/device';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** WebGPU's default limits (what a device gets without requesting the adapter's). */
const DEFAULT_LIMITS = { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB };
const BIG_LIMITS = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };

describe('inspectModelSource', () => {
  it('describes a tiny GGUF and matches the load estimate', async () => {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, includeTokenizer: true });
    const ins = await inspectModelSource(new BytesSource(bytes, 'tiny.gguf'));
    const desc = await describeModel(new BytesSource(bytes, 'tiny.gguf'));
    const shape = loadShape(desc.config);
    expect(ins.shape).toEqual(shape);
    expect(ins.estimate).toEqual(estimateMemory(desc, shape.maxContext, shape.slots, shape.maxTokens));
    expect(ins).toMatchObject({ format: 'gguf', fileBytes: bytes.length, tokenizer: { kind: 'embedded' } });
    expect(ins.tokenizer.detail).toMatch(/SentencePiece/);
    expect(ins.types.map((t) => t.type).sort()).toEqual(['F32', 'Q8_0']);
    expect(ins.largestTensor.bytes).toBe(Math.max(...[...desc.tensors.values()].map((t) => t.bytes)));
    expect(ins.estimate.total).toBe(ins.estimate.weights + ins.estimate.kv + ins.estimate.scratch);
  });

  it('reads only the header of a 4 GB Mistral-7B-shaped file', async () => {
    const { header, fileSize } = headerOnlyGguf(REAL_SHAPES.mistral7bQ4_0);
    expect(fileSize).toBeGreaterThan(4.0e9);
    expect(fileSize).toBeLessThan(4.2e9); // the hub file is 4.11 GB
    const ins = await inspectModelSource(new SparseSource(header, fileSize, 'mistral-7b-v0.1.Q4_0.gguf'));
    expect(ins.bytesRead).toBeLessThan(4 * MiB);
    expect(ins.config).toMatchObject({ arch: 'llama', nLayers: 32, dModel: 4096, nKvHeads: 8, vocabSize: 32000 });
    // loadModel's default: the context halves until the KV cache is ≤ 1 GiB (4 slots).
    expect(ins.shape).toEqual({ maxContext: 1024, slots: 4, maxTokens: 256 });
    expect(ins.estimate.kv).toBe(GiB);
    expect(ins.estimate.weights).toBeGreaterThan(4.0e9);
    expect(ins.estimate.total).toBeGreaterThan(5.1e9);
    expect(ins.estimate.total).toBeLessThan(5.4e9);
    expect(ins.largestTensor).toMatchObject({ name: 'output.weight', type: 'Q6_K', shape: [32000, 4096] });
    expect(ins.tokenizer.detail).toMatch(/32,000 tokens/);
    // Fits a real GPU's limits, and the default WebGPU limits too (107.5 MB ≤ 128 MiB).
    expect(assessFit(ins, BIG_LIMITS, { budgetBytes: 8 * GiB }).ok).toBe(true);
    expect(assessFit(ins, DEFAULT_LIMITS).ok).toBe(true);
    // But not a 4 GiB budget.
    const v = assessFit(ins, BIG_LIMITS, { budgetBytes: 4 * GiB });
    expect(v.ok).toBe(false);
    expect(v.problems).toHaveLength(1);
    expect(v.problems[0]).toMatch(/needs ≈ 4\.\d+ GiB.*budget of 4\.00 GiB/);
  });

  it('refuses a Qwen2.5-7B whose output matrix exceeds a small maxStorageBufferBindingSize', async () => {
    const { header, fileSize } = headerOnlyGguf(REAL_SHAPES.qwen25_7bQ4_K_M);
    const ins = await inspectModelSource(new SparseSource(header, fileSize, 'Qwen2.5-7B-Instruct-Q4_K_M.gguf'));
    expect(ins.config).toMatchObject({ arch: 'qwen2', qkvBias: true, ropeStyle: 'neox', vocabSize: 152064 });
    expect(ins.tokenizer.detail).toMatch(/byte-level BPE/);
    // The 152K-token vocabulary makes a multi-MB header, read in growing chunks; still only the header.
    expect(ins.bytesRead).toBeLessThan(16 * MiB);
    expect(ins.largestTensor.name).toBe('output.weight');
    expect(ins.largestTensor.bytes).toBe((152064 * 3584 * 210) / 256); // Q6_K: ≈ 447 MB

    const v = assessFit(ins, DEFAULT_LIMITS, { budgetBytes: 16 * GiB });
    expect(v.ok).toBe(false);
    const failed = v.checks.filter((c) => !c.ok).map((c) => c.id);
    expect(failed).toEqual(['binding', 'buffer']);
    expect(v.problems[0]).toMatch(/largest tensor "output\.weight" \(Q6_K\) needs 426\.\d MiB.*128\.0 MiB per storage buffer \(maxStorageBufferBindingSize\)/);
    expect(v.problems[1]).toMatch(/maxBufferSize/);

    // Binding allowed but not buffer: only that check fails.
    const v2 = assessFit(ins, { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 2 * GiB });
    expect(v2.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['buffer']);
    expect(assessFit(ins, BIG_LIMITS, { budgetBytes: 8 * GiB }).ok).toBe(true);
  });

  it('without adapter limits only the budget is checked; no budget means none', async () => {
    const { header, fileSize } = headerOnlyGguf(REAL_SHAPES.qwen25_7bQ4_K_M);
    const ins = await inspectModelSource(new SparseSource(header, fileSize));
    const v = assessFit(ins, null, { budgetBytes: 0 });
    expect(v).toMatchObject({ ok: true, checks: [], limitsKnown: false });
    expect(assessFit(ins, null, { budgetBytes: 1 * GiB }).ok).toBe(false);
  });

  it('honours the load options it will be loaded with', async () => {
    const { header, fileSize } = headerOnlyGguf(REAL_SHAPES.mistral7bQ4_0);
    const ins = await inspectModelSource(new SparseSource(header, fileSize), { maxContext: 4096, slots: 1 });
    expect(ins.shape).toEqual({ maxContext: 4096, slots: 1, maxTokens: 256 });
    expect(ins.estimate.kv).toBe(2 * 32 * 1 * 4096 * 8 * 128 * 4);
  });

  it('flags a model without a tokenizer, unless one is given beside it', async () => {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.F32 });
    const ins = await inspectModelSource(new BytesSource(bytes, 'notok.gguf'));
    expect(ins.tokenizer.kind).toBe('missing');
    const v = assessFit(ins, BIG_LIMITS);
    expect(v.ok).toBe(false);
    expect(v.checks.find((c) => !c.ok)?.id).toBe('tokenizer');
    const withTok = await inspectModelSource(new BytesSource(bytes, 'notok.gguf'), { tokenizerName: 'tokenizer.json' });
    expect(withTok.tokenizer).toEqual({ kind: 'file', detail: 'tokenizer.json' });
    expect(assessFit(withTok, BIG_LIMITS).ok).toBe(true);
  });

  it('rejects a truncated file (the header promises more than the file has)', async () => {
    const { header, fileSize } = headerOnlyGguf(REAL_SHAPES.mistral7bQ4_0);
    await expect(inspectModelSource(new SparseSource(header, fileSize - 1000, 'cut.gguf'))).rejects.toMatchObject({
      name: 'ModelFormatError',
      message: expect.stringMatching(/truncated/),
    });
  });
});

describe('loadModel agrees with the verdict', () => {
  it('refuses, before allocating anything, a model whose largest tensor exceeds maxBufferSize or the binding limit', async () => {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.F32, includeTokenizer: true });
    const ins = await inspectModelSource(new BytesSource(bytes, 'm.gguf'));
    const small = ins.largestTensor.bytes - 4;
    for (const limits of [
      { maxBufferSize: small, maxStorageBufferBindingSize: GiB },
      { maxBufferSize: GiB, maxStorageBufferBindingSize: small },
    ]) {
      expect(assessFit(ins, limits).ok).toBe(false);
      // No device: anything past the check would throw a TypeError instead.
      const gpu = { device: null, limits } as unknown as Gpu;
      await expect(loadModel(gpu, new BytesSource(bytes, 'm.gguf'))).rejects.toMatchObject({
        name: 'GpuOutOfMemoryError',
        message: expect.stringMatching(/largest tensor needs .* binds at most/),
      });
    }
  });
});
