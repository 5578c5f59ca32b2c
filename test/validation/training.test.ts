/**
 * Issue 10 regressions in training (stories260K on the GPU): hyperparameters that would hang or
 * produce NaN are refused before anything is allocated, bad labels are reported rows, examples must
 * fit the context, and an update that would overflow is skipped so the last good state survives.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/model/model';
import { TagLibrary } from '../../src/tags/library';
import { checkpointOf, resumeRun, snapshotLibrary } from '../../src/train/checkpoint';
import { prepareRun, type RunSpec } from '../../src/train/protocol';
import { Trainer, type Example } from '../../src/train/trainer';
import { loadStories } from '../helpers/stories';

let e: Engine;
beforeAll(async () => {
  e = await loadStories({ slots: 1, maxContext: 64 });
}, 120_000);

const rows = (labels: string[]) => labels.map((output, i) => ({ input: `Tom had ${i} cats.`, output }));
const regression = (labels: string[], extra: Partial<RunSpec> = {}): RunSpec => ({
  method: 'stage2',
  tasks: [{ name: 'cats', template: '<Count> {input} {output}', rows: rows(labels), output: { kind: 'regression', field: 'output' } }],
  library: new TagLibrary(),
  tagLength: 2,
  hyper: { steps: 2, batch: 2, lr: 1e-2 },
  ...extra,
});

describe('training inputs', () => {
  it.each([
    [{ batch: 0 }, /Hyperparameter batch is 0; it must be a whole number from 1 to 4096/],
    [{ batch: NaN }, /Hyperparameter batch is NaN/],
    [{ steps: 1.5 }, /Hyperparameter steps is 1.5/],
    [{ lr: 1e39 }, /Hyperparameter lr is 1e\+39; it must be a finite number > 0 and ≤ 1/],
    [{ lr: -1 }, /Hyperparameter lr is -1/],
    [{ accum: 1e9 }, /Hyperparameter accum is 1000000000/],
  ])('hyper %j is refused before the run starts', async (hyper, re) => {
    await expect(prepareRun(e, regression(['1', '2', '3', '4'], { hyper: { steps: 2, batch: 2, lr: 1e-2, ...hyper } }))).rejects.toThrow(re);
  });

  it('a tag length beyond every context is refused; one that does not fit this context is named', async () => {
    await expect(prepareRun(e, regression(['1', '2', '3'], { tagLength: 100000 }))).rejects.toThrow(/tagLength is 100000/);
    await expect(prepareRun(e, regression(['1', '2', '3'], { tagLength: 600 }))).rejects.toThrow(
      /The longest example is \d+ tokens \(template \+ tags of 600 rows \+ data\), but the model's context holds 64/,
    );
  });

  it('labels "", "abc", "NaN", "Infinity" are bad rows: reported and skipped, never trained on', async () => {
    const run = await prepareRun(e, regression(['1', '', 'abc', '2.5', 'NaN', 'Infinity', '3', '4']));
    try {
      expect(run.badRows.map((b) => b.row)).toEqual([1, 2, 4, 5]);
      expect(run.badRows[2].reason).toMatch(/label "NaN" is not a finite number/);
      await run.run();
      expect(run.trainer.skipped).toBe(0);
      expect((await run.evaluate()).mse).toBeGreaterThanOrEqual(0);
    } finally {
      run.dispose();
    }
    await expect(prepareRun(e, regression(['', 'x', 'NaN']))).rejects.toThrow(/cats: no usable example \(3 rows had unusable labels\)/);
  });

  it('an update that would overflow f32 is skipped; the parameters keep their last good state and save', async () => {
    // A function tag at 3e38 with weight decay 10 at lr 1: p·(1 − lr·wd) overflows on step 1.
    const spec = regression(['1', '2', '3', '4', '5'], { hyper: { steps: 3, batch: 2, lr: 1, weightDecay: 10, warmupFraction: 0, schedule: 'constant' } });
    const first = await prepareRun(e, spec);
    const st = await first.trainer.state();
    first.dispose();
    const name = Object.keys(st.tensors).find((k) => k.startsWith('tag.') && !k.endsWith('.m') && !k.endsWith('.v'))!;
    st.tensors[name] = new Float32Array(st.tensors[name].length).fill(3e38);
    const snapshot = snapshotLibrary(spec.library);
    const { run } = await resumeRun(e, JSON.parse(JSON.stringify(checkpointOf(e, spec, snapshot, st))), new TagLibrary());
    try {
      await run.run();
      expect(run.trainer.skipped).toBe(3);
      expect(run.trainer.log.every((l) => l.skipped)).toBe(true);
      const after = await run.trainer.state();
      expect(after.tensors[name].every((x) => x === Math.fround(3e38))).toBe(true);
      for (const v of Object.values(after.tensors)) expect(v.every(Number.isFinite)).toBe(true);
      // The last good state can always be written out again.
      expect(() => JSON.stringify(checkpointOf(e, spec, snapshot, after))).not.toThrow();
    } finally {
      run.dispose();
    }
  });

  it('malformed checkpoints are refused with the field path, before the run is rebuilt', async () => {
    const spec = regression(['1', '2', '3', '4']);
    const run = await prepareRun(e, spec);
    const good = JSON.parse(JSON.stringify(checkpointOf(e, spec, snapshotLibrary(spec.library), await run.trainer.state())));
    run.dispose();
    const cases: Array<[(f: any) => void, RegExp]> = [
      [(f) => (f.state.step = -1), /Checkpoint state\.step is -1/],
      [(f) => (f.state.cursor = null), /Checkpoint state\.cursor is null/],
      [(f) => (f.state.tensors[Object.keys(f.state.tensors)[0]].n = 1e12), /Checkpoint state\.tensors\..+\.n is 1000000000000/],
      [(f) => (f.state.log = {}), /Checkpoint state\.log is \{\}/],
      [(f) => (f.state.skipped = 5), /state\.skipped is 5, more than its 0 steps/],
      [(f) => (f.spec.tasks = []), /Checkpoint spec\.tasks is \[\]/],
      [(f) => (f.spec.hyper.batch = 0), /Hyperparameter batch is 0/],
    ];
    for (const [mutate, re] of cases) {
      const f = structuredClone(good);
      mutate(f);
      await expect(resumeRun(e, f, new TagLibrary())).rejects.toThrow(re);
    }
  });

  it('a dataset of 140k examples trains (no argument spread of data-sized arrays)', async () => {
    const ex: Example[] = Array.from({ length: 140_000 }, (_, i) => ({ ids: [1, 2 + (i % 5), 3], inject: [-1, -1, -1], start: [], targets: [2 + (i % 5), 3, null], headPos: null }));
    const t = await Trainer.create({ engine: e, train: ex, heldOut: ex.slice(0, 2), hyper: { steps: 1, batch: 2 }, injected: new Float32Array(e.config.dModel * 4), trainable: [] });
    try {
      await t.run();
      expect(t.step).toBe(1);
      expect(Number.isFinite(t.log[0].lmLoss)).toBe(true);
    } finally {
      t.dispose();
    }
  });
});
