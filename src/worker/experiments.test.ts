import { describe, expect, it } from 'vitest';
import { planCells } from '../experiments/runner';
import { datasetTask } from '../experiments/dataset-task';
import { parseExperiment } from '../experiments/definition';
import type { ExperimentEvent, ExperimentRunParams } from './protocol';
import { fakeClient, type FakeEngineOptions } from '../../test/worker/fake-engine';

const DEF = {
  name: 'tiny',
  tasks: ['descriptor', 'qed'],
  methods: ['tag-llm', 'linear-probe', 'nearest-neighbour'],
  seeds: [0, 1],
  hyper: { steps: 3, batch: 2, lr: 0.01 },
  tagLength: 2,
  caps: { maxTrain: 8, maxEval: 4 },
};

const PARAMS: ExperimentRunParams = { definition: DEF, dataBaseUrl: 'http://x/data/' };

async function setup(opts: FakeEngineOptions = {}, load = true) {
  const f = fakeClient(opts);
  if (load) await f.client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
  return f;
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('experimentRun over the worker protocol', () => {
  it('plans, reports progress per step and each cell, and returns the results', async () => {
    const { client, experiments } = await setup();
    const events: ExperimentEvent[] = [];
    const res = await client.request('experimentRun', PARAMS, { onEvent: (e) => events.push(e) });
    const plan = events[0];
    expect(plan?.kind).toBe('plan');
    if (plan?.kind !== 'plan') return;
    const expected = planCells(parseExperiment(DEF)).map((c) => c.id);
    expect(plan.cells.map((c) => c.id)).toEqual(expected);
    expect(plan.cells[0]).toEqual({ id: 'descriptor/tag-llm/full/p2/s0', task: 'descriptor', method: 'tag-llm', variant: 'full', tagLength: 2, seed: 0 });
    expect(plan.model).toEqual({ name: 'fake', arch: 'llama', dModel: 64, vocabSize: 512 });
    expect(experiments[0]!.dataBaseUrl).toBe('http://x/data/');

    const steps = events.flatMap((e) => (e.kind === 'progress' && e.progress.phase === 'train' ? [e.progress] : []));
    // 2 tasks × 2 seeds × 2 trained methods × 3 steps.
    expect(steps).toHaveLength(24);
    expect(steps[0]).toMatchObject({ cell: 'descriptor/tag-llm/full/p2/s0', index: 1, total: 12, step: 1, steps: 3, loss: expect.any(Number) });
    const cells = events.flatMap((e) => (e.kind === 'cell' ? [e.cell] : []));
    expect(cells.map((c) => c.id)).toEqual(expected);
    expect(res.status).toBe('complete');
    expect(res.cells.map((c) => c.id)).toEqual(expected);
    expect(res.cells.every((c) => typeof c.value === 'number')).toBe(true);
    expect(res.cells.find((c) => c.method === 'tag-llm')!.stages[0]!.log.map((l) => l.step)).toEqual([1, 2, 3]);
  });

  it('reports every problem of an invalid definition at once', async () => {
    const { client } = await setup();
    const bad = { name: '', tasks: ['nope'], methods: ['magic'], hyper: { steps: -1 } };
    const err = await client.request('experimentRun', { definition: bad, dataBaseUrl: 'http://x/data/' }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ExperimentDefinitionError' });
    const msg = (err as Error).message;
    expect(msg).toMatch(/name: is required/);
    expect(msg).toMatch(/tasks\[0\]/);
    expect(msg).toMatch(/methods\[0\]: unknown method "magic"/);
    expect(msg).toMatch(/hyper\.steps/);
  });

  it('needs a loaded model', async () => {
    const { client } = await setup({}, false);
    await expect(client.request('experimentRun', PARAMS)).rejects.toThrow(/No model is loaded/);
  });

  it('is cancelled between steps and returns the cells finished so far', async () => {
    const { client } = await setup({ experimentStepDelayMs: 5 });
    const ac = new AbortController();
    const events: ExperimentEvent[] = [];
    const p = client.request('experimentRun', PARAMS, {
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        // Cancelled while the next cell (linear probe) trains.
        if (e.kind === 'cell' && e.cell.id === 'descriptor/tag-llm/full/p2/s0') ac.abort();
      },
    });
    const res = await p;
    expect(res.status).toBe('cancelled');
    expect(res.cells.map((c) => c.id)).toEqual(['descriptor/tag-llm/full/p2/s0']);
  });

  it('reuses the unchanged finished cells of a previous run', async () => {
    const { client, experiments } = await setup();
    const first = await client.request('experimentRun', { ...PARAMS, definition: { ...DEF, seeds: [0] } });
    expect(experiments[0]!.ran).toHaveLength(6);
    const events: ExperimentEvent[] = [];
    const second = await client.request('experimentRun', { ...PARAMS, previous: first }, { onEvent: (e) => events.push(e) });
    // Seed 0's cells are reused; only seed 1's run.
    expect(experiments[1]!.ran.every((id) => id.endsWith('/s1'))).toBe(true);
    expect(experiments[1]!.ran).toHaveLength(6);
    const skipped = events.flatMap((e) => (e.kind === 'progress' && e.progress.phase === 'skipped' ? [e.progress.cell] : []));
    expect(skipped).toHaveLength(6);
    expect(second.started).toBe(first.started);
    expect(second.cells).toHaveLength(12);
    // A change of the training budget re-runs everything.
    await client.request('experimentRun', { ...PARAMS, previous: second, definition: { ...DEF, hyper: { ...DEF.hyper, steps: 4 } } });
    expect(experiments[2]!.ran).toHaveLength(12);
  });

  it('keeps failed cells in the results', async () => {
    const { client } = await setup({ experimentFail: /linear-probe\/full\/s1/ });
    const res = await client.request('experimentRun', PARAMS);
    const failed = res.cells.filter((c) => c.status === 'failed');
    expect(failed.map((c) => c.id)).toEqual(['descriptor/linear-probe/full/s1', 'qed/linear-probe/full/s1']);
    expect(failed[0]).toMatchObject({ value: null, error: 'fake failure' });
  });

  it('excludes training runs, a second experiment and model changes while it runs', async () => {
    const { client } = await setup({ experimentStepDelayMs: 5 });
    const ac = new AbortController();
    const p = client.request('experimentRun', PARAMS, { signal: ac.signal });
    await tick(10);
    await expect(client.request('experimentRun', PARAMS)).rejects.toThrow(/already running/);
    await expect(
      client.request('trainStart', {
        runId: 'r',
        checkpointEvery: 0,
        evalEvery: 0,
        evalLimit: 4,
        spec: { method: 'stage1', tasks: [{ name: 't', template: '<A> {text}', rows: [{ text: 'a' }, { text: 'b' }], output: { kind: 'text' } }], hyper: { steps: 1 } },
      }),
    ).rejects.toThrow(/experiment is running/);
    await expect(client.request('unloadModel', {})).rejects.toThrow(/An experiment is in progress/);
    ac.abort();
    expect((await p).status).toBe('cancelled');
    // Free again afterwards.
    expect((await client.request('experimentRun', { ...PARAMS, definition: { ...DEF, tasks: ['qed'], seeds: [0] } })).status).toBe('complete');
  });

  it('runs a task over a Data-panel data set sent with the request, and refuses a bad mapping before the plan', async () => {
    const { client, experiments } = await setup();
    const ds = { name: 'my.csv', columns: ['text', 'y'], rows: Array.from({ length: 20 }, (_, i) => ({ text: `row ${i}`, y: String(i / 4) })) };
    const task = datasetTask(ds, { inputs: ['text'], target: 'y' });
    const def = { name: 'mine', tasks: [task], methods: ['tag-llm', 'linear-probe'], hyper: { steps: 2 }, caps: {} };
    const events: ExperimentEvent[] = [];
    const res = await client.request('experimentRun', { definition: def, dataBaseUrl: 'http://x/data/', datasets: [ds] }, { onEvent: (e) => events.push(e) });
    expect(res.status).toBe('complete');
    expect(res.cells.map((c) => c.id)).toEqual(['my/tag-llm/full/p10/s0', 'my/linear-probe/full/s0']);
    expect(experiments[0]!.datasets).toEqual([ds]);
    expect(experiments[0]!.definition.tasks[0]!.data).toEqual({ builder: 'dataset', name: 'my.csv', hash: task.data.builder === 'dataset' ? task.data.hash : '', columns: { input: 'text', output: 'y' } });

    const calls = experiments.length;
    const bad = { ...def, tasks: [{ ...task, data: { ...task.data, columns: { input: 'text', output: 'label' } } }] };
    const err = await client.request('experimentRun', { definition: bad, dataBaseUrl: 'http://x/data/', datasets: [ds] }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ExperimentDefinitionError' });
    expect((err as Error).message).toContain('tasks[0].data.columns.output: the data set "my.csv" has no column "label" (its columns: text, y)');
    const missing = await client.request('experimentRun', { definition: def, dataBaseUrl: 'http://x/data/' }).catch((e: Error) => e);
    expect((missing as Error).message).toContain('tasks[0].data.name: no data set named "my.csv" in the workbench');
    expect(experiments.length).toBe(calls);
  });
});
