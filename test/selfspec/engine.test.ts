/**
 * Specialisation and the evaluation runner on the real engine (stories260K on SwiftShader):
 * training lowers the response loss; a LoRA adapter whose B is zero scores exactly like the base
 * model; a trained adapter / tag changes the scores and the generations read their weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { EngineRunner } from '../../src/selfspec/runner';
import { DEFAULT_SPECIALISE, specialise, tagsOf } from '../../src/selfspec/specialise';
import { TagLibrary } from '../../src/tags/library';
import { TrainingCancelled, type TrainState } from '../../src/train/trainer';
import { publicPath } from '../helpers/fixtures';

let engine: Engine;
beforeAll(async () => {
  engine = await loadModel(await acquireNodeGpu(), new NodeFileSource(publicPath('models/stories260K/stories260K.bin')), {
    tokenizer: new NodeFileSource(publicPath('models/stories260K/tok512.bin')),
    slots: 4,
    maxContext: 512,
  });
});
afterAll(() => engine?.dispose());

const data = [
  { instruction: 'Say what Tim saw.', input: '', output: 'Tim saw a big red ball.' },
  { instruction: 'Say what Lily had.', input: 'In the park.', output: 'Lily had a little cat.' },
  { instruction: 'Tell the end.', input: '', output: 'They were happy.' },
  { instruction: 'Say what Sam ate.', input: '', output: 'Sam ate a cake.' },
];
const prompts = [
  { instruction: 'Say what Tim saw.', input: '' },
  { instruction: 'Say what Lily had.', input: 'In the park.' },
];

describe('specialise + EngineRunner on stories260K', () => {
  it('LoRA + tag training lowers the response loss by epochs; the result scores and generates differently from the base', async () => {
    const lib = new TagLibrary();
    const losses: number[] = [];
    const o = { ...DEFAULT_SPECIALISE, method: 'both' as const, epochs: 6, batch: 2, accum: 2, lr: 0.02, tagLength: 2, adapterName: 'spec' };
    const res = await specialise(engine, data, lib, o, { onStep: (s) => void losses.push(s.loss) });
    expect(res.steps).toBe(6); // ⌈6 · 4 / (2 · 2)⌉
    expect(res.epochs).toBeCloseTo(6, 9);
    expect(res.saved).toEqual({ tags: ['BioMed'], adapter: 'spec' });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    expect(lib.adapters[0].targets).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);

    const base = new EngineRunner(engine, { library: new TagLibrary(), tags: {}, adapter: null }, { slots: 4, batch: 2 });
    const spec = new EngineRunner(engine, { library: lib, tags: tagsOf('both', o), adapter: 'spec' }, { slots: 4, batch: 2 });
    const target = data.slice(0, 2).map((d) => d.output);
    const sb = await base.score(prompts, target);
    const ss = await spec.score(prompts, target);
    // The trained responses became more likely under the specialised model.
    expect(ss[0][0]).toBeGreaterThan(sb[0][0]);
    expect(ss[1][1]).toBeGreaterThan(sb[1][1]);
    const gb = await base.generate(prompts, 8);
    const gs = await spec.generate(prompts, 8);
    expect(gs).not.toEqual(gb);
    expect(spec.promptTokens(prompts[0])).toBe(base.promptTokens(prompts[0]) + 2); // the tag's 2 rows
  });

  it('a cancelled training run checkpoints the steps it took and resumes to the same end', async () => {
    const o = { ...DEFAULT_SPECIALISE, method: 'lora' as const, epochs: 4, batch: 2, accum: 1, lr: 0.01, adapterName: 'r' };
    const full: number[] = [];
    await specialise(engine, data, new TagLibrary(), o, { onStep: (s) => void full.push(s.loss) });
    const ac = new AbortController();
    const saved: TrainState[] = [];
    const first: number[] = [];
    await expect(
      specialise(engine, data, new TagLibrary(), o, {
        signal: ac.signal,
        checkpoint: async (s) => void saved.push(s),
        onStep: (s) => {
          first.push(s.loss);
          if (s.step === 3) ac.abort();
        },
      }),
    ).rejects.toBeInstanceOf(TrainingCancelled);
    expect(saved.at(-1)!.step).toBe(3);
    const rest: number[] = [];
    const res = await specialise(engine, data, new TagLibrary(), o, { resume: saved.at(-1), onStep: (s) => void rest.push(s.loss) });
    expect(res.steps).toBe(8);
    expect([...first, ...rest]).toEqual(full);
  });

  it('LoRA training starts from a given adapter\'s A/B (an imported one), and refuses one of another rank', async () => {
    const o = { ...DEFAULT_SPECIALISE, method: 'lora' as const, epochs: 0.5, batch: 2, accum: 1, lr: 0.01, adapterName: 'first' };
    const lib = new TagLibrary();
    await specialise(engine, data, lib, o, {});
    const start = lib.adapters[0];
    // One step at a negligible lr: the result is the start adapter, not LoRA's fresh init (A random, B = 0).
    const tiny = { ...o, lr: 1e-9 };
    const from = new TagLibrary();
    await specialise(engine, data, from, { ...tiny, adapterName: 'from', init: { name: 'first', weights: start } });
    const fresh = new TagLibrary();
    await specialise(engine, data, fresh, { ...tiny, adapterName: 'fresh' });
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    for (const l of [0, engine.config.nLayers - 1]) {
      for (const t of ['q', 'down']) {
        expect(maxDiff(from.adapters[0].layers[l][t].A, start.layers[l][t].A)).toBeLessThan(1e-5);
        expect(maxDiff(from.adapters[0].layers[l][t].B, start.layers[l][t].B)).toBeLessThan(1e-5);
        // A fresh LoRA (same seed) has B ≈ 0; the start's B took a step of ~lr = 0.01 (A did not move: its gradient is 0 while B = 0).
        expect(maxDiff(fresh.adapters[0].layers[l][t].B, start.layers[l][t].B)).toBeGreaterThan(1e-3);
      }
    }
    expect(maxDiff(start.layers[0].q.B, new Float32Array(start.layers[0].q.B.length))).toBeGreaterThan(0);
    await expect(specialise(engine, data, new TagLibrary(), { ...tiny, lora: { ...tiny.lora, rank: 4 }, init: { name: 'first', weights: start } })).rejects.toThrow(/"first" has rank 8, alpha 16 .*this run trains LoRA rank 4/);
  });

  it('an adapter with B = 0 scores exactly like the base model', async () => {
    const lib = new TagLibrary();
    const cfg = engine.config;
    const dims: Record<string, [number, number]> = { q: [cfg.dModel, cfg.nHeads * cfg.headDim], v: [cfg.dModel, cfg.nKvHeads * cfg.headDim] };
    lib.addAdapter({
      id: 'z',
      name: 'zero',
      rank: 4,
      alpha: 8,
      targets: ['q', 'v'],
      layers: Array.from({ length: cfg.nLayers }, () =>
        Object.fromEntries(Object.entries(dims).map(([t, [inn, out]]) => [t, { A: Float32Array.from({ length: 4 * inn }, (_, i) => Math.sin(i)), B: new Float32Array(out * 4) }])),
      ),
    });
    const base = new EngineRunner(engine, { library: new TagLibrary(), tags: {}, adapter: null }, { slots: 4, batch: 2 });
    const zero = new EngineRunner(engine, { library: lib, tags: {}, adapter: 'zero' }, { slots: 4, batch: 2 });
    const cands = ['yes', 'no', 'maybe'];
    const a = await base.score(prompts, cands);
    const b = await zero.score(prompts, cands);
    expect(a.flat().every(Number.isFinite)).toBe(true);
    b.flat().forEach((x, i) => expect(x).toBeCloseTo(a.flat()[i], 4));
    // Longer answers have lower total log-likelihood as a rule; at least the three differ.
    expect(new Set(a[0]).size).toBe(3);
  });
});
