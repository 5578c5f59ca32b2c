/**
 * The ONNX oracle on the bench's 100M model (bench/bench.ts `llama-100M-Q4_0`: d 768, 12 layers, 12
 * heads, ff 2048, vocab 32000, tied, random Q4_0 weights): onnxruntime-web (wasm EP, in Node) on our
 * export must give our WebGPU engine's logits within 1e-3. The full shape, not a reduced one: on this
 * 2-core SwiftShader machine it took 24–56 s (our prefill of 8 tokens 17–34 s with the model build, the
 * 440 MB f32 export and ORT's run 7–22 s; 2 GB resident), inside the suite's 3-minute budget.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { exportOnnx } from '../../src/model/onnx/export';
import { randomGguf } from '../../src/model/random-model';
import { BytesSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';

describe('ONNX oracle on the 100M model', () => {
  it('llama-100M-Q4_0: onnxruntime-web (wasm) logits match the engine within 1e-3', async () => {
    const t0 = performance.now();
    const src = new BytesSource(
      randomGguf({ arch: 'llama', type: GgmlType.Q4_0, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 2048, vocabSize: 32000, seed: 1, tied: true, includeTokenizer: true }),
      'llama-100M-Q4_0.gguf',
    );
    const e = await loadModel(await acquireNodeGpu(), src, { slots: 2, maxContext: 16 });
    try {
      const T = 8;
      const ids = Array.from({ length: T }, (_, i) => 3 + ((i * 7919) % 31990));
      const rows = [0, T - 1];
      e.transformer.run({ ids: Uint32Array.from(ids), slot: new Uint32Array(T), pos: Uint32Array.from({ length: T }, (_, i) => i), logitRows: Uint32Array.from(rows) });
      const ours = await e.transformer.logits(rows.length);
      const tOurs = performance.now();

      const ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(await exportOnnx(e.desc, src, T), { executionProviders: ['wasm'] });
      const out = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [T]) });
      await session.release();
      const theirs = out.logits.data as Float32Array;
      const V = e.config.vocabSize;
      expect(out.logits.dims).toEqual([T, V]);
      let maxDiff = 0;
      let maxAbs = 0;
      rows.forEach((t, r) => {
        for (let v = 0; v < V; v++) {
          maxDiff = Math.max(maxDiff, Math.abs(ours[r * V + v] - theirs[t * V + v]));
          maxAbs = Math.max(maxAbs, Math.abs(theirs[t * V + v]));
        }
      });
      console.log(`100M oracle: max |ours − ORT| ${maxDiff.toExponential(2)} (max |logit| ${maxAbs.toFixed(2)}); ours ${((tOurs - t0) / 1000).toFixed(1)} s, ORT ${((performance.now() - tOurs) / 1000).toFixed(1)} s`);
      expect(maxDiff).toBeLessThan(1e-3);
      expect(maxAbs).toBeGreaterThan(1e-2); // not a flat output
    } finally {
      e.dispose();
    }
  }, 600_000);
});
