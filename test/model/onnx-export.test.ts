/**
 * The ONNX export (src/model/onnx) as an independent oracle: the same stories260K forward built from
 * standard ONNX operators and run by onnxruntime-web (wasm execution provider, in Node) must give our
 * WebGPU engine's logits within 1e-3.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { exportOnnx } from '../../src/model/onnx/export';
import { NodeFileSource } from '../../src/model/source-node';

const here = new URL('../../public/models/stories260K/', import.meta.url).pathname;

describe('ONNX export', () => {
  it('stories260K: onnxruntime-web (wasm) logits match the engine within 1e-3', async () => {
    const src = new NodeFileSource(here + 'stories260K.bin');
    const e = await loadModel(await acquireNodeGpu(), src, { tokenizer: new NodeFileSource(here + 'tok512.bin'), slots: 4, maxContext: 64 });
    try {
      const T = 24;
      const ids = Array.from({ length: T }, (_, i) => 1 + ((i * 37) % 500));
      const rows = [0, 7, 16, T - 1];
      e.transformer.run({ ids: Uint32Array.from(ids), slot: new Uint32Array(T), pos: Uint32Array.from({ length: T }, (_, i) => i), logitRows: Uint32Array.from(rows) });
      const ours = await e.transformer.logits(rows.length);

      const ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(await exportOnnx(e.desc, src, T), { executionProviders: ['wasm'] });
      const out = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [T]) });
      const theirs = out.logits.data as Float32Array;
      const V = e.config.vocabSize;
      expect(out.logits.dims).toEqual([T, V]);
      let maxDiff = 0;
      rows.forEach((t, r) => {
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(ours[r * V + v] - theirs[t * V + v]));
      });
      expect(maxDiff).toBeLessThan(1e-3);
      // Not trivially equal: the logits vary across the vocabulary and positions.
      expect(Math.abs(theirs[(T - 1) * V + 5] - theirs[(T - 1) * V + 6]) + Math.abs(theirs[5] - theirs[(T - 1) * V + 5])).toBeGreaterThan(1e-3);
      await session.release();
    } finally {
      e.dispose();
    }
  }, 300_000);

  it('qwen2 (q/k/v biases, NeoX RoPE, GQA) in Q4_K: logits match the engine within 1e-3', async () => {
    const { randomGguf } = await import('../../src/model/random-model');
    const { BytesSource } = await import('../../src/model/sources');
    const { GgmlType } = await import('../../src/model/types');
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.Q4_K, nHeads: 8, nKvHeads: 2, seed: 3, includeTokenizer: true }), 'q.gguf');
    const e = await loadModel(await acquireNodeGpu(), src, { slots: 2, maxContext: 32 });
    try {
      const T = 12;
      const ids = Array.from({ length: T }, (_, i) => 3 + ((i * 29) % 250));
      const rows = [3, T - 1];
      e.transformer.run({ ids: Uint32Array.from(ids), slot: new Uint32Array(T), pos: Uint32Array.from({ length: T }, (_, i) => i), logitRows: Uint32Array.from(rows) });
      const ours = await e.transformer.logits(rows.length);
      const ort = await import('onnxruntime-web');
      const session = await ort.InferenceSession.create(await exportOnnx(e.desc, src, T), { executionProviders: ['wasm'] });
      const theirs = (await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [T]) })).logits.data as Float32Array;
      const V = e.config.vocabSize;
      let maxDiff = 0;
      rows.forEach((t, r) => {
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(ours[r * V + v] - theirs[t * V + v]));
      });
      expect(maxDiff).toBeLessThan(1e-3);
      await session.release();
    } finally {
      e.dispose();
    }
  }, 300_000);
});
