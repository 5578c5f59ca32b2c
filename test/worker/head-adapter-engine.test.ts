/**
 * Head prediction with a LoRA adapter on the REAL engine (a random GGUF on SwiftShader) through the
 * real worker handler and method layer: the Composer's head mode and a Matrix cell with the adapter
 * give exactly the head applied to hiddenAt(…, { adapter }) called on the engine directly, and differ
 * from the base model's prediction.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { LoadedModel } from '../../src/model/api';
import { loadModel } from '../../src/model/model';
import { randomGguf } from '../../src/model/random-model';
import { Rng } from '../../src/model/sampling';
import { BytesSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';
import { renderPrompt } from '../../src/tags/prompt';
import { applyHead, createHead, unstandardize, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, TagLibrary } from '../../src/tags/library';
import { createTag, newProvenance, randomTagRows } from '../../src/tags/tag';
import { EngineClient } from '../../src/worker/client';
import { realMethods } from '../../src/worker/methods';
import { randomAdapter } from '../helpers/lora';
import { InProcessWorker } from './fake-engine';

describe('head prediction with an adapter on the real engine', () => {
  it('equals the head on hiddenAt with the adapter, and differs from the base', async () => {
    const gguf = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, seed: 4, nLayers: 2, nHeads: 4, nKvHeads: 2, includeTokenizer: true });
    let loaded: LoadedModel | null = null;
    const worker = new InProcessWorker({
      acquireGpu: () => acquireNodeGpu(),
      loadModel: async (gpu, source, o) => (loaded = await loadModel(gpu, source, { ...o, slots: 2, maxContext: 64 })),
      urlSource: () => new BytesSource(gguf, 'tiny.gguf'),
      blobSource: () => new BytesSource(gguf, 'tiny.gguf'),
      methods: realMethods,
    });
    const client = new EngineClient(worker);
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/tiny.gguf' } });
    const m = loaded!;
    const { dModel: d } = m.config;
    const rng = new Rng(11);
    const prov = (stage: 'stage1' | 'stage2') => newProvenance({ arch: 'llama', name: m.name, dModel: d, vocabSize: m.config.vocabSize }, '', { stage, steps: 1 });
    const lib = new TagLibrary();
    lib.addTag(createTag({ name: 'Story', kind: 'domain', p: 2, d, data: randomTagRows(2, d, 0.5, rng), provenance: prov('stage1') }));
    lib.addTag(createTag({ name: 'Size', kind: 'function', p: 2, d, data: randomTagRows(2, d, 0.5, rng), provenance: prov('stage2') }));
    // A head with weights large enough that the adapter's change of the hidden state shows in the prediction.
    const head = createHead('regression', 1, d, rng, [1, 5, 9], 'Size');
    for (let i = 0; i < d; i++) head.W[i] = Math.sin(i + 1);
    lib.setHead(head);
    const adapterWeights = randomAdapter(m.config, 7, ['q', 'v', 'down'], 4, 8, 0.3);
    lib.addAdapter({ id: 'lora-bio', name: 'bio', ...adapterWeights } as LoraAdapter);
    expect((await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)), confirm: true })).status).toBe('ok');

    const template = '<Story> once upon <Size>';
    const viaWorker = async (adapter: string | null) => {
      const r = await client.request('compose', { variants: [template], mode: 'head', ...(adapter ? { adapters: [adapter] } : {}) });
      if (r.mode !== 'head') throw new Error('expected a head reply');
      return r.predictions[0]!;
    };
    const base = await viaWorker(null);
    const bio = await viaWorker('bio');
    expect(base.adapter).toBeNull();
    expect(bio.adapter).toBe('bio');

    // Direct engine calls: the same rendered prompt, the adapter set under a name of the test's own.
    const r = renderPrompt(template, {}, lib, m.tokenizer);
    const pos = r.rendered.functionTagLastPos!;
    m.setAdapter('direct', adapterWeights);
    const direct = unstandardize(head, applyHead(head, await m.hiddenAt(r.prompt, [pos], { adapter: 'direct' })))[0]!;
    const directBase = unstandardize(head, applyHead(head, await m.hiddenAt(r.prompt, [pos])))[0]!;
    expect(bio.value).toBe(direct);
    expect(base.value).toBe(directBase);
    expect(Math.abs(bio.value! - base.value!)).toBeGreaterThan(1e-3);

    // A Matrix cell whose only row renders to the same prompt: the same number, with and without.
    const cell = (adapter: string | null) =>
      client.request('matrixCell', { domain: 'Story', fn: 'Size', template: '<Story> {input} <Size> {output}', datasetName: 'd', rows: [{ input: 'once upon', output: '3' }], limit: 1, ...(adapter ? { adapter } : {}) });
    const cBio = await cell('bio');
    const cBase = await cell(null);
    const same = renderPrompt('<Story> {input} <Size> {output}', { input: 'once upon', output: '3' }, lib, m.tokenizer, { omitFields: ['output'] });
    const p2 = same.rendered.functionTagLastPos!;
    expect(cBio.predictions![0]!.prediction).toBe(unstandardize(head, applyHead(head, await m.hiddenAt(same.prompt, [p2], { adapter: 'direct' })))[0]);
    expect(cBase.predictions![0]!.prediction).toBe(unstandardize(head, applyHead(head, await m.hiddenAt(same.prompt, [p2])))[0]);
    expect(cBio.predictions![0]!.prediction).not.toBe(cBase.predictions![0]!.prediction);
    expect(cBio.adapter).toBe('bio');
    m.dispose();
  }, 300_000);
});
