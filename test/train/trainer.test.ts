/** Checkpoints resume the same loss curve; a NaN step is skipped without touching the parameters. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/model/model';
import { TagLibrary } from '../../src/tags/library';
import { checkpointOf, resumeRun, snapshotLibrary } from '../../src/train/checkpoint';
import { prepareRun, type RunSpec } from '../../src/train/protocol';
import { loadStories } from '../helpers/stories';

let engine: Engine | null = null;
async function stories(): Promise<Engine> {
  engine ??= await loadStories({ slots: 1, maxContext: 64 });
  return engine;
}

const smiles = readFileSync('test/fixtures/smiles-60.txt', 'utf8').trim().split('\n').slice(0, 24).map((input) => ({ input }));

describe('trainer', () => {
  it('a run resumed from a checkpoint continues the same loss curve, bit for bit', async () => {
    const e = await stories();
    const spec = (lib: TagLibrary): RunSpec => ({
      method: 'stage1',
      tasks: [{ name: 'smiles', template: '<SMILES> {input}', rows: smiles, output: { kind: 'text' } }],
      library: lib,
      tagLength: 2,
      hyper: { steps: 6, batch: 2, lr: 0.05, seed: 3 },
    });
    const whole = await prepareRun(e, spec(new TagLibrary()));
    await whole.run();
    const wholeLoss = whole.trainer.log.map((l) => l.loss);
    const wholeTag = (await whole.trainer.state()).tensors['tag.SMILES'];
    whole.dispose();

    const lib = new TagLibrary();
    const s = spec(lib);
    const first = await prepareRun(e, s);
    const snap = snapshotLibrary(lib);
    await first.run({ until: 3 });
    // Through JSON, as the CLI and the browser store it.
    const file = JSON.parse(JSON.stringify(checkpointOf(e, s, snap, await first.trainer.state())));
    first.dispose();
    const { run } = await resumeRun(e, file);
    expect(run.trainer.step).toBe(3);
    await run.run();
    expect(run.trainer.log.map((l) => l.loss)).toEqual(wholeLoss);
    expect(Array.from((await run.trainer.state()).tensors['tag.SMILES'])).toEqual(Array.from(wholeTag));
    run.dispose();
  });

  it('a checkpoint from another model is refused with a clear message', async () => {
    const e = await stories();
    const bad = { format: 'tag-workbench/checkpoint', version: 1, model: { name: 'x', arch: 'llama', dModel: 4096, vocabSize: 32000 }, spec: {}, state: {}, library: {} };
    await expect(resumeRun(e, bad)).rejects.toThrow(/d_model 4096.*Load the model it was trained on/);
    await expect(resumeRun(e, { hello: 1 })).rejects.toThrow(/Not a Tag Workbench checkpoint/);
  });

  it('a step whose loss is NaN is skipped and reported; the parameters are untouched and training goes on', async () => {
    const e = await stories();
    // NaN labels in data are bad rows now (never trained on): poison one prepared example instead.
    const rows = ['1.5', '2.0', '1.3', '0.5', '1.0', '2.5', '3.0', '0.7', '1.1', '1.9'].map((output, i) => ({ input: `x${i}`, output }));
    const run = await prepareRun(e, {
      method: 'stage2',
      tasks: [{ name: 'nan', template: 'Value {input} <Fn> {output}', rows, output: { kind: 'regression' } }],
      library: new TagLibrary(),
      tagLength: 2,
      evalFraction: 0.1,
      hyper: { steps: 9, batch: 1, lr: 0.05, seed: 1 },
    });
    run.trainer.setup.train[3].label = [NaN];
    const tags: Float32Array[] = [Float32Array.from((await run.trainer.state()).tensors['tag.Fn'])];
    await run.run({ onStep: async () => void tags.push(Float32Array.from((await run.trainer.state()).tensors['tag.Fn'])) });
    const log = run.trainer.log;
    const bad = log.findIndex((l) => l.skipped);
    expect(bad).toBeGreaterThanOrEqual(0);
    expect(run.trainer.skipped).toBe(1);
    expect(Number.isNaN(log[bad].loss)).toBe(true);
    expect(Array.from(tags[bad + 1])).toEqual(Array.from(tags[bad]));
    expect(log.filter((l) => !l.skipped).every((l) => Number.isFinite(l.loss))).toBe(true);
    expect(tags[tags.length - 1].every(Number.isFinite)).toBe(true);
    expect(Array.from(tags[tags.length - 1])).not.toEqual(Array.from(tags[0]));
    run.dispose();
  });
});
