/**
 * Sample generations during training on stories260K: the samples come at every N-th step, decode to
 * text, and equal what the model's own greedy generation gives for the same prompt and trained tag.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { TagLibrary } from '../../src/tags/library';
import { renderPrompt } from '../../src/tags/prompt';
import { defaultSamplePrompt, prepareRun, type RunSpec } from '../../src/train/protocol';

let engine: Engine | null = null;
async function stories(): Promise<Engine> {
  engine ??= await loadModel(await acquireNodeGpu(), new NodeFileSource('public/models/stories260K/stories260K.bin'), {
    tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
    slots: 1,
    maxContext: 64,
  });
  return engine;
}

const rows = ['Once upon a time there was a cat.', 'The dog ran to the park.', 'Lily had a red ball.', 'Tom saw a big tree.', 'The sun was hot.', 'Sam ate an apple.'].map((text) => ({ text }));

describe('sample generations during training', () => {
  it('fire after every N-th step with greedy text that matches the model generating with the trained tag', async () => {
    const e = await stories();
    const lib = new TagLibrary();
    const spec: RunSpec = {
      method: 'stage1',
      tasks: [{ name: 'stories', template: '<Story> {text}', rows, output: { kind: 'text' } }],
      library: lib,
      tagLength: 2,
      hyper: { steps: 7, batch: 2, lr: 0.05, seed: 1, schedule: 'constant', warmupFraction: 0 },
      sample: { every: 3, tokens: 6, prompt: '<Story> Once upon' },
    };
    const run = await prepareRun(e, spec);
    const got: Array<{ step: number; ids: number[] }> = [];
    await run.run({ onStep: (s) => void (s.sample && got.push({ step: s.step, ids: s.sample })) });
    expect(got.map((g) => g.step)).toEqual([3, 6]);
    for (const g of got) {
      expect(g.ids).toHaveLength(6);
      expect(e.tokenizer.decode(g.ids).trim().length).toBeGreaterThan(0);
    }
    run.dispose();
    // The step-6 sample against the engine's own greedy decoding with the tag saved after step 6 (a
    // constant schedule, so a 6-step run takes the same first 6 steps as the 7-step one).
    const lib6 = new TagLibrary();
    const again = await prepareRun(e, { ...spec, library: lib6, hyper: { ...spec.hyper, steps: 6 } });
    await again.run();
    const saved = await again.save({ loss: NaN });
    again.dispose();
    expect(saved.tags).toContain('Story');
    const tagged = renderPrompt('<Story> Once upon', {}, lib6, e.tokenizer);
    const ref = await e.generate({ prompts: [tagged.prompt], maxTokens: 6, temperature: 0, stopTokens: [] });
    expect(got[1].ids).toEqual(ref.outputs[0].ids);
  }, 600_000);

  it('off (every 0) samples nothing; a prompt with a tag the run does not use is refused', async () => {
    const e = await stories();
    const base: RunSpec = {
      method: 'stage1',
      tasks: [{ name: 'stories', template: '<Story> {text}', rows, output: { kind: 'text' } }],
      library: new TagLibrary(),
      tagLength: 2,
      hyper: { steps: 2, batch: 2, seed: 1 },
    };
    const off = await prepareRun(e, { ...base, sample: { every: 0 } });
    const logs: boolean[] = [];
    await off.run({ onStep: (s) => void logs.push(s.sample !== undefined) });
    off.dispose();
    expect(logs).toEqual([false, false]);
    await expect(prepareRun(e, { ...base, library: new TagLibrary(), sample: { every: 1, prompt: '<Other> hi' } })).rejects.toThrow(/<Other>/);
    await expect(prepareRun(e, { ...base, library: new TagLibrary(), sample: { every: 1, prompt: '{text}' } })).rejects.toThrow(/no data row/);
  }, 600_000);

  it('the default prompt is the template filled with a row, cut before the output, syntax escaped', () => {
    expect(defaultSamplePrompt('Q: <Mol> {input} <Qed> {output}', { input: 'C{C}<O', output: '1' })).toBe('Q: <Mol> C\\{C\\}\\<O <Qed>');
    expect(defaultSamplePrompt('<Story> {text}', { text: 'x' })).toBe('<Story>');
    expect(defaultSamplePrompt('a\\nb {input}\\n{output}', { input: 'i' })).toBe('a\\nb i\\n');
  });
});
