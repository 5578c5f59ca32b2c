/**
 * The proof of the PEFT exchange: one random model written twice — GGUF (q/k rows interleaved) and
 * safetensors (Hugging Face layout). A LoRA trained on the GPU against the GGUF model, exported to
 * PEFT and imported onto the safetensors model, computes the same thing there: the same per-token
 * losses through the training graph on the GPU, the same greedy ids from the engine, and the same
 * logits (within 1e-4) and greedy ids through the float64 reference forward. Export → import → export gives the same bytes, and
 * further training starts from the imported adapter.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { BytesSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';
import type { LoraAdapter } from '../../src/tags/head';
import { TagLibrary } from '../../src/tags/library';
import { exportPeft, importPeft } from '../../src/tags/peft';
import type { Proj } from '../../src/train/graph';
import { runProtocol } from '../../src/train/protocol';
import { Trainer, type Example } from '../../src/train/trainer';
import { refModel } from '../reference/forward';
import { refGreedy, refLora } from '../reference/greedy';

const OPTS = { arch: 'llama' as const, seed: 9, nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, dFF: 96, includeTokenizer: true };
const TEXTS = ['once upon a time there was a little girl', 'the dog saw a big red ball in the park', 'she loved to play with her friend tim'];

/** Per-example mean NLL of `texts` under the model with `adapter`, on the GPU (training graph, no update). */
async function gpuNll(e: Engine, adapter: LoraAdapter, texts: string[]): Promise<number[]> {
  const examples: Example[] = texts.map((t) => {
    const ids = e.tokenizer.encode(t, { bos: true });
    return { ids, inject: ids.map(() => -1), start: [], targets: ids.map((_, i) => (i + 1 < ids.length ? ids[i + 1]! : null)), headPos: null };
  });
  const init = new Map<string, Float32Array>();
  adapter.layers.forEach((layer, l) => {
    for (const t of adapter.targets) {
      init.set(`lora.${l}.${t}.A`, layer[t]!.A);
      init.set(`lora.${l}.${t}.B`, layer[t]!.B);
    }
  });
  const trainer = await Trainer.create({
    engine: e,
    train: [],
    heldOut: examples,
    hyper: { steps: 0, batch: 2 },
    injected: new Float32Array(e.config.dModel),
    trainable: [],
    lora: { rank: adapter.rank, alpha: adapter.alpha, targets: adapter.targets as Proj[], init },
  });
  try {
    return (await trainer.evaluate(examples)).exampleNll;
  } finally {
    trainer.graph.dispose();
  }
}

describe('PEFT proof: train on GGUF, run on safetensors', () => {
  it('a LoRA trained on the GGUF twin, exported and imported onto the safetensors twin, gives the same losses, logits and greedy ids', async () => {
    const gpu = await acquireNodeGpu();
    const gg = randomGguf({ ...OPTS, type: GgmlType.F32 });
    const st = randomSafetensors(OPTS);
    const onGguf = await loadModel(gpu, new BytesSource(gg, 'twin.gguf'), { slots: 1, maxContext: 64 });
    const onSt = await loadModel(gpu, new BytesSource(st.bytes, 'twin.safetensors'), {
      configJson: st.config,
      tokenizer: new BytesSource(new TextEncoder().encode(JSON.stringify(onGguf.tokenizer.json)), 'tokenizer.json'),
      slots: 1,
      maxContext: 64,
    });
    expect(onGguf.config.ropeStyle).toBe('normal');
    expect(onSt.config.ropeStyle).toBe('neox');

    // Train through src/train (the LoRA baseline) on the GGUF model.
    const lib = new TagLibrary();
    const rows = TEXTS.map((t) => ({ input: t.split(' ').slice(0, 3).join(' '), output: t.split(' ').slice(3).join(' ') }));
    const run = await runProtocol(onGguf, {
      method: 'lora',
      tasks: [{ name: 'stories', template: '{input} {output}', rows, output: { kind: 'text' } }],
      library: lib,
      tagLength: 1,
      // Every projection, q and k (the RoPE-permuted rows) included: the default is q,v only.
      lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
      hyper: { steps: 4, batch: 2, accum: 1, lr: 0.05, seed: 1 },
    });
    expect(run.steps).toBe(4);
    const trained = lib.getAdapter('lora')!;
    expect(trained.targets).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
    expect(trained.layers[0]!.q!.B.some((x) => x !== 0)).toBe(true); // B starts at 0: training moved it

    const files = exportPeft(trained, onGguf.config, { baseModel: 'random/llama-twin' });
    const { adapter: imported } = await importPeft(files, onSt.config, { name: 'imported' });

    // GPU: the training graph's forward with the adapter, on each twin.
    const nllG = await gpuNll(onGguf, trained, TEXTS);
    const nllS = await gpuNll(onSt, imported, TEXTS);
    const nllBase = await gpuNll(onSt, { ...imported, layers: imported.layers.map((l) => Object.fromEntries(Object.entries(l).map(([t, p]) => [t, { A: p.A, B: new Float32Array(p.B.length) }]))) }, TEXTS);
    for (let i = 0; i < TEXTS.length; i++) {
      expect(Math.abs(nllS[i]! - nllG[i]!), TEXTS[i]).toBeLessThan(1e-4);
      expect(Math.abs(nllS[i]! - nllBase[i]!), 'the adapter changes the loss').toBeGreaterThan(1e-3);
    }

    // Reference forward: logits and greedy ids.
    const refG = await refModel(onGguf.desc, new BytesSource(gg));
    const refS = await refModel(onSt.desc, new BytesSource(st.bytes));
    const prompt = onGguf.tokenizer.encode('once upon a time', { bos: true });
    const a = refGreedy(refG, prompt, 8, refLora(trained));
    const b = refGreedy(refS, prompt, 8, refLora(imported));
    expect(b.ids).toEqual(a.ids);
    let maxDiff = 0;
    for (let i = 0; i < a.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.logits[i]! - b.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-4);

    // The engine: greedy generation with the adapter resident on each twin.
    onGguf.setAdapter('trained', trained);
    onSt.setAdapter('imported', imported);
    const genG = await onGguf.generate({ prompts: [prompt], maxTokens: 8, temperature: 0, adapters: ['trained'], stopTokens: [] });
    const genS = await onSt.generate({ prompts: [prompt], maxTokens: 8, temperature: 0, adapters: ['imported'], stopTokens: [] });
    const n = genG.outputs[0]!.ids.length;
    expect(n).toBeGreaterThan(0);
    expect(genS.outputs[0]!.ids).toEqual(genG.outputs[0]!.ids);
    expect(genG.outputs[0]!.ids).toEqual(a.ids.slice(0, n));

    // Export → import → export is byte-identical, from either twin.
    const again = exportPeft(imported, onSt.config);
    expect(Buffer.from(again.weights).equals(Buffer.from(files.weights))).toBe(true);
    expect(Buffer.from(again.config).equals(Buffer.from(files.config))).toBe(true);

    // Further training starts from the imported adapter, not from a fresh one.
    const libS = new TagLibrary();
    libS.addAdapter(imported);
    const spec = { method: 'lora' as const, tasks: [{ name: 'stories', template: '{input} {output}', rows, output: { kind: 'text' as const } }], tagLength: 1, hyper: { steps: 2, batch: 2, accum: 1, lr: 0.01, seed: 2 } };
    const fresh = await runProtocol(onSt, { ...spec, library: new TagLibrary(), lora: { rank: 4, alpha: 8, dropout: 0 } });
    const more = await runProtocol(onSt, { ...spec, library: libS, continueAdapter: 'imported', name: 'continued' });
    const before = { nll: more.evalBefore.nll!, fresh: fresh.evalBefore.nll! };
    expect(Math.abs(before.nll - before.fresh)).toBeGreaterThan(1e-3);
    const continued = libS.getAdapter('continued')!;
    expect(continued).toMatchObject({ rank: 4, alpha: 8, targets: imported.targets });
    expect(continued.layers[1]!.v!.B).not.toEqual(imported.layers[1]!.v!.B);
    await expect(runProtocol(onSt, { ...spec, library: libS, continueAdapter: 'nope' })).rejects.toThrow(/no adapter "nope" to continue/);
    onGguf.dispose();
    onSt.dispose();
  });
});
