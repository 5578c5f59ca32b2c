/**
 * The ONNX export's KV cache (src/model/onnx/export.ts `past`/`present`): a prefill graph followed by
 * one-token decode steps that feed back `present` as `past` must give the logits of the cache-free
 * graph run over the whole sequence, within 1e-4, in onnxruntime-web's wasm execution provider. Pure
 * CPU (no WebGPU): the model is only described, never loaded onto a device.
 */
import { describe, expect, it } from 'vitest';
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { describeModel } from '../../src/model/describe';
import { exportOnnx, onnxCacheNames } from '../../src/model/onnx/export';
import { NodeFileSource } from '../../src/model/source-node';
import type { ByteSource } from '../../src/model/source';

const here = new URL('../../public/models/stories260K/', import.meta.url).pathname;

/** Max |cached − full| over every decoded position's logits; also returns the full logits' spread. */
async function cachedVsFull(src: ByteSource, ids: number[], prefill: number) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const desc = await describeModel(src);
  const { vocabSize: V, nLayers: L } = desc.config;
  const n = ids.length;
  const int64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [xs.length]);
  const create = async (o: Parameters<typeof exportOnnx>[2]) => ort.InferenceSession.create(await exportOnnx(desc, src, o), { executionProviders: ['wasm'] });
  const full = await create(n);
  const pre = await create({ maxContext: n, present: true });
  const step = await create({ maxContext: n, past: true, present: true });
  try {
    const want = (await full.run({ ids: int64(ids) })).logits.data as Float32Array; // [n, V]
    let out: InferenceSession.ReturnType = await pre.run({ ids: int64(ids.slice(0, prefill)) });
    let maxDiff = 0;
    const compare = (logits: Tensor, pos: number[]) => {
      const got = logits.data as Float32Array;
      pos.forEach((t, r) => {
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(got[r * V + v] - want[t * V + v]));
      });
    };
    compare(out.logits, Array.from({ length: prefill }, (_, i) => i));
    for (let t = prefill; t < n; t++) {
      const feed: Record<string, Tensor> = { ids: int64([ids[t]]) };
      for (let l = 0; l < L; l++) {
        const c = onnxCacheNames(l);
        feed[c.pastKey] = out[c.presentKey];
        feed[c.pastValue] = out[c.presentValue];
      }
      out = await step.run(feed);
      expect(out[onnxCacheNames(L - 1).presentKey].dims).toEqual([desc.config.nKvHeads, t + 1, desc.config.headDim]);
      compare(out.logits, [t]);
    }
    let spread = 0;
    for (let v = 0; v < V; v++) spread = Math.max(spread, Math.abs(want[(n - 1) * V + v] - want[(n - 1) * V]));
    return { maxDiff, spread };
  } finally {
    await Promise.all([full.release(), pre.release(), step.release()]);
  }
}

describe('ONNX export with a KV cache', () => {
  it('stories260K (GQA 8/4 heads): prefill 5 + 11 cached one-token steps = the full-sequence logits within 1e-4', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => 1 + ((i * 37) % 500));
    const { maxDiff, spread } = await cachedVsFull(new NodeFileSource(here + 'stories260K.bin'), ids, 5);
    expect(maxDiff).toBeLessThan(1e-4);
    expect(spread).toBeGreaterThan(1e-2); // the logits are not flat, so agreement means something
  }, 120_000);

  it('qwen2 (q/k/v biases, NeoX RoPE, GQA 8/2) in Q4_K: cached decode = the full-sequence logits within 1e-4', async () => {
    const { randomGguf } = await import('../../src/model/random-model');
    const { BytesSource } = await import('../../src/model/sources');
    const { GgmlType } = await import('../../src/model/types');
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.Q4_K, nHeads: 8, nKvHeads: 2, seed: 3, includeTokenizer: true }), 'q.gguf');
    const ids = Array.from({ length: 10 }, (_, i) => 3 + ((i * 29) % 250));
    const { maxDiff, spread } = await cachedVsFull(src, ids, 3);
    expect(maxDiff).toBeLessThan(1e-4);
    expect(spread).toBeGreaterThan(1e-3);
  }, 120_000);
});
