import { describe, expect, it } from 'vitest';
import { buildTables } from '../experiments/report';
import { parseExperiment } from '../experiments/definition';
import { fakeClient, fakeCellValue, type FakeEngineOptions } from '../../test/worker/fake-engine';
import {
  barsOf,
  checkDefinition,
  compactDefinition,
  createExperimentsStore,
  createMemoryExperimentsDb,
  curveOf,
  DEFAULT_FORM,
  fileBase,
  formFromJson,
  formToJson,
  parseList,
  resultsFile,
  type ExperimentsDb,
} from './experiments';
import { createDataStore } from './data';
import { createMemoryDb } from './db';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { until } from '../../test/helpers/wait';

const TINY = {
  name: 'tiny',
  tasks: ['descriptor', 'qed'],
  methods: ['tag-llm', 'linear-probe'],
  seeds: [0, 1],
  hyper: { steps: 2, batch: 2, lr: 0.01 },
  tagLength: 2,
  caps: { maxTrain: 8, maxEval: 4 },
};

async function setup(opts: FakeEngineOptions = {}, { load = true, db = createMemoryExperimentsDb() }: { load?: boolean; db?: ExperimentsDb } = {}) {
  const f = fakeClient(opts);
  const notices = createNoticesStore();
  const model = createModelStore({ client: f.client, notices });
  const store = createExperimentsStore({ client: f.client, notices, model, db: Promise.resolve(db), dataBaseUrl: 'http://x/data/' });
  if (load) await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  return { ...f, notices, model, store, db };
}

describe('experiment definitions in the editor', () => {
  it('turns the form into a valid definition and back', () => {
    const json = formToJson(DEFAULT_FORM);
    expect(json).toEqual({
      name: 'my-experiment',
      tasks: ['descriptor'],
      methods: ['tag-llm', 'linear-probe'],
      seeds: [0],
      hyper: { steps: 10, batch: 2, lr: 0.01 },
      tagLength: 2,
      caps: { maxTrain: 32, maxEval: 16, maxChars: 32 },
    });
    const c = checkDefinition('form', DEFAULT_FORM, '');
    expect(c.validation?.ok).toBe(true);
    expect(c.cells).toBe(2);
    const back = formFromJson(json);
    expect('form' in back && back.form).toEqual(DEFAULT_FORM);
    expect(parseList('0, 1 2;x')).toEqual([0, 1, 2, 'x']);
  });

  it('lists every problem of a bad definition, and JSON syntax errors', () => {
    const bad = checkDefinition('form', { ...DEFAULT_FORM, name: '', methods: [], seeds: '0, x' }, '');
    expect(bad.validation?.ok).toBe(false);
    const errors = bad.validation && !bad.validation.ok ? bad.validation.errors : [];
    expect(errors.some((e) => /^name/.test(e))).toBe(true);
    expect(errors.some((e) => /^methods/.test(e))).toBe(true);
    expect(errors.some((e) => /^seeds/.test(e) && /"x"/.test(e))).toBe(true);
    expect(checkDefinition('json', DEFAULT_FORM, '{"name": ').parseError).toMatch(/Not valid JSON/);
    expect(checkDefinition('json', DEFAULT_FORM, '  ').parseError).toMatch(/Paste or upload/);
  });

  it('switches between the form and JSON; custom definitions stay JSON', async () => {
    const { store } = await setup({}, { load: false });
    const s = () => store.getState();
    s().setForm({ name: 'x1', seeds: '0, 1' });
    s().setMode('json');
    expect(JSON.parse(s().jsonText)).toMatchObject({ name: 'x1', seeds: [0, 1] });
    s().setJsonText(JSON.stringify({ ...JSON.parse(s().jsonText), tasks: ['qed', 'binding'] }));
    expect(s().check.cells).toBe(8);
    s().setMode('form');
    expect(s().mode).toBe('form');
    expect(s().form.tasks).toEqual(['qed', 'binding']);
    // A task with changes has no place in the form.
    s().setJsonText(JSON.stringify({ ...TINY, tasks: [{ id: 'q', extends: 'qed', caps: { maxTrain: 4 } }] }), 'custom.json');
    expect(s().check.validation?.ok).toBe(true);
    expect(s().fileName).toBe('custom.json');
    s().setMode('form');
    expect(s().mode).toBe('json');
    expect(s().formNote).toMatch(/cannot be shown as a form/);
    s().setJsonText('{ nope');
    s().setMode('form');
    expect(s().formNote).toMatch(/does not parse/);
  });

  it('writes a validated definition back with built-in tasks as ids', () => {
    const def = parseExperiment({ ...TINY, tasks: ['qed', { id: 'q2', extends: 'qed', caps: { maxTrain: 4 } }] });
    const c = compactDefinition(def);
    expect((c.tasks as unknown[])[0]).toBe('qed');
    expect((c.tasks as Array<{ id: string }>)[1]!.id).toBe('q2');
    expect(c.ablations).toBeUndefined();
    expect(parseExperiment(c)).toEqual(def);
  });
});

describe('experiments store', () => {
  it('runs in the worker with progress per cell and step, and keeps the results', async () => {
    const { store, db, experiments } = await setup({ experimentStepDelayMs: 2 });
    store.getState().setJsonText(JSON.stringify(TINY));
    const seen = { running: new Set<string>(), live: 0, progress: 0 };
    const unsub = store.subscribe((s) => {
      for (const [id, st] of Object.entries(s.cellStatus)) if (st === 'running') seen.running.add(id);
      if (s.live) seen.live = Math.max(seen.live, s.live.points.length);
      if (s.progress) seen.progress++;
    });
    await store.getState().run();
    unsub();
    const s = store.getState();
    expect(experiments[0]!.dataBaseUrl).toBe('http://x/data/');
    expect(experiments[0]!.previous).toBeUndefined();
    expect(s.status).toBe('done');
    expect(s.plan).toHaveLength(8);
    expect(seen.running.size).toBe(8);
    expect(seen.live).toBe(2);
    expect(seen.progress).toBeGreaterThan(8);
    expect(Object.values(s.cellStatus).every((x) => x === 'done')).toBe(true);
    expect(s.results?.status).toBe('complete');
    expect(s.results?.cells).toHaveLength(8);
    // The results table is complete: every method × task cell has a number with ± over the seeds.
    const t = buildTables(s.results!).main;
    expect(t.rows.map((r) => r.key)).toEqual(['tag-llm', 'linear-probe']);
    for (const r of t.rows) for (const c of r.cells) expect(c.text).toMatch(/^[\d.]+ ± [\d.]+$/);
    expect(t.rows[0]!.params).toBe('128');
    // Saved, listed.
    expect((await db.get('tiny'))?.cells).toHaveLength(8);
    expect(s.saved).toEqual([expect.objectContaining({ name: 'tiny', status: 'complete', done: 8, total: 8 })]);
  });

  it('resumes: a cancelled run keeps its finished cells and a re-run skips them', async () => {
    const { store, db, experiments } = await setup({ experimentStepDelayMs: 3 });
    store.getState().setJsonText(JSON.stringify(TINY));
    const p = store.getState().run();
    await until(() => (store.getState().results?.cells.length ?? 0) >= 3);
    store.getState().cancel();
    await p;
    let s = store.getState();
    expect(s.status).toBe('cancelled');
    const kept = s.results!.cells.map((c) => c.id);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.length).toBeLessThan(8);
    expect(Object.values(s.cellStatus).filter((x) => x === 'pending').length).toBe(8 - kept.length);
    const saved = await db.get('tiny');
    expect(saved?.status).toBe('cancelled');
    expect(saved?.cells.map((c) => c.id)).toEqual(kept);
    expect(s.saved[0]).toMatchObject({ name: 'tiny', status: 'cancelled', done: kept.length, total: 8 });

    // Re-run: the saved cells are passed as `previous` and not run again.
    await store.getState().run();
    s = store.getState();
    expect(s.status).toBe('done');
    expect(experiments[1]!.previous?.cells.map((c) => c.id)).toEqual(kept);
    expect(experiments[1]!.ran).toHaveLength(8 - kept.length);
    expect(kept.every((id) => s.cellStatus[id] === 'reused')).toBe(true);
    expect(s.results!.cells).toHaveLength(8);

    // A third run reuses everything; "fresh" runs everything again.
    await store.getState().run();
    expect(experiments[2]!.ran).toHaveLength(0);
    expect(Object.values(store.getState().cellStatus).every((x) => x === 'reused')).toBe(true);
    store.getState().setFresh(true);
    await store.getState().run();
    expect(experiments[3]!.previous).toBeUndefined();
    expect(experiments[3]!.ran).toHaveLength(8);
  });

  it('survives a reload: saved results are listed, opened and resumed from the database', async () => {
    const db = createMemoryExperimentsDb();
    const a = await setup({ experimentStepDelayMs: 2 }, { db });
    a.store.getState().setJsonText(JSON.stringify({ ...TINY, tasks: ['qed'] }));
    await a.store.getState().run();
    // A new page: new stores over the same database.
    const b = await setup({}, { db });
    await b.store.getState().loadSaved();
    expect(b.store.getState().saved.map((x) => x.name)).toEqual(['tiny']);
    await b.store.getState().open('tiny');
    const s = b.store.getState();
    expect(s.results?.cells).toHaveLength(4);
    expect(s.status).toBe('done');
    expect(s.mode).toBe('form');
    expect(s.form).toMatchObject({ name: 'tiny', tasks: ['qed'], seeds: '0, 1', steps: 2, maxTrain: 8, maxChars: null });
    expect(Object.values(s.cellStatus).every((x) => x === 'done')).toBe(true);
    await b.store.getState().run();
    expect(b.experiments[0]!.ran).toEqual([]);
    await b.store.getState().remove('tiny');
    expect(b.store.getState().saved).toEqual([]);
    expect(await db.get('tiny')).toBeNull();
  });

  it('keeps failed cells and names them in the table notes', async () => {
    const { store } = await setup({ experimentFail: /qed\/linear-probe\/full\/s1/ });
    store.getState().setJsonText(JSON.stringify(TINY));
    await store.getState().run();
    const s = store.getState();
    expect(s.status).toBe('done');
    expect(s.cellStatus['qed/linear-probe/full/s1']).toBe('failed');
    const t = buildTables(s.results!).main;
    expect(t.rows[1]!.cells[1]!.text).toMatch(/\(1 failed\)/);
    expect(t.notes.join('\n')).toMatch(/qed\/linear-probe\/full\/s1 failed: fake failure/);
  });

  it('needs a model and a valid definition', async () => {
    const { store, notices, experiments } = await setup({}, { load: false });
    await store.getState().run();
    expect(notices.getState().notices.at(-1)?.title).toBe('No model loaded');
    expect(experiments).toHaveLength(0);
    const b = await setup();
    b.store.getState().setJsonText('{"name": "x"}');
    await b.store.getState().run();
    expect(b.store.getState().error).toMatch(/problems/);
    expect(b.experiments).toHaveLength(0);
  });
});

describe('result views', () => {
  it('draws a cell’s loss curve per stage and bars per task', async () => {
    const { store } = await setup();
    store.getState().setJsonText(JSON.stringify(TINY));
    await store.getState().run();
    const r = store.getState().results!;
    const cell = r.cells.find((c) => c.id === 'qed/tag-llm/full/p2/s1')!;
    const curve = curveOf(cell);
    expect(curve.stages).toEqual(['stage2']);
    expect(curve.data.map((d) => d.step)).toEqual([1, 2]);
    expect(curve.data[0]!.stage2).toBeCloseTo(1.5 + 0.01);
    const main = buildTables(r).main;
    const bars = barsOf(main, 1);
    expect(bars.map((b) => b.key)).toEqual(['tag-llm', 'linear-probe']);
    expect(bars[0]!.mean).toBeCloseTo((fakeCellValue('tag-llm', 'qed', 0) + fakeCellValue('tag-llm', 'qed', 1)) / 2);
    expect(bars[0]!.std).toBeGreaterThan(0);
  });

  it('downloads JSON, CSV and Markdown', async () => {
    const { store } = await setup();
    store.getState().setJsonText(JSON.stringify({ ...TINY, name: 'My run / 1' }));
    await store.getState().run();
    const r = store.getState().results!;
    expect(fileBase(r.name)).toBe('My-run-1');
    const json = resultsFile(r, 'json');
    expect(json.name).toBe('My-run-1.results.json');
    expect(JSON.parse(json.text)).toMatchObject({ format: 'tag-workbench/experiment-results', cells: expect.any(Array) });
    const csv = resultsFile(r, 'csv').text.split('\n');
    expect(csv[0]).toBe('method,params,descriptor_mean,descriptor_std,descriptor_n,qed_mean,qed_std,qed_n');
    expect(csv[1]).toMatch(/^tag-llm,128,[\d.]+,[\d.]+,2,/);
    expect(resultsFile(r, 'cells-csv').text.split('\n').filter(Boolean)).toHaveLength(9);
    const md = resultsFile(r, 'md');
    expect(md.name).toBe('My-run-1.md');
    expect(md.text).toMatch(/\| Method \| Params \| Descriptor \(MSE ↓\) \| QED \(MSE ↓\) \|/);
  });
});

describe('experiments on the Data panel\'s data sets', () => {
  const CSV = ['word,score,big', ...Array.from({ length: 20 }, (_, i) => `w${i},${i / 2},${i % 3 === 0 ? 'yes' : 'no'}`)].join('\n');

  async function withData() {
    const f = fakeClient();
    const notices = createNoticesStore();
    const model = createModelStore({ client: f.client, notices });
    let n = 0;
    const data = createDataStore({ client: f.client, notices, db: Promise.resolve(createMemoryDb()), dataBaseUrl: 'http://x/data/', newId: () => `ds-${++n}` });
    const store = createExperimentsStore({ client: f.client, notices, model, db: Promise.resolve(createMemoryExperimentsDb()), dataBaseUrl: 'http://x/data/', data });
    await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
    return { ...f, data, store };
  }

  it('a data entry becomes a task (kind inferred), is checked against the rows, round-trips through JSON, and its rows go with the run', async () => {
    const { data, store, experiments } = await withData();
    const ds = await data.getState().importText('words.csv', CSV);
    expect(ds).not.toBeNull();
    store.getState().setForm({ tasks: [], methods: ['tag-llm', 'nearest-neighbour'], epochs: 2 });
    store.getState().addDataTask('ds-1');
    // The first column is the input, the last the target (a yes/no column: classification).
    expect(store.getState().form.data).toEqual([{ datasetId: 'ds-1', inputs: ['word'], target: 'big', kind: 'auto', test: 0.2, seed: 0 }]);
    let c = store.getState().check;
    expect(c.validation?.ok).toBe(true);
    const task = (c.json as { tasks: Array<{ id: string; output: { kind: string }; data: unknown }> }).tasks[0];
    expect(task.id).toBe('words');
    expect(task.output.kind).toBe('classification');
    expect((c.json as { hyper: unknown }).hyper).toEqual({ epochs: 2, batch: 2, lr: 0.01 });

    // A regression on a yes/no column is refused with the reason; picking the numeric target fixes it.
    store.getState().setDataTask(0, { kind: 'regression' });
    c = store.getState().check;
    expect(c.validation?.ok).toBe(false);
    expect(c.validation && !c.validation.ok && c.validation.errors).toEqual([expect.stringMatching(/^tasks\[0\]\.output\.kind: the target column "big" is not numeric/)]);
    store.getState().setDataTask(0, { target: 'score' });
    expect(store.getState().check.validation?.ok).toBe(true);
    store.getState().setDataTask(0, { inputs: [] });
    c = store.getState().check;
    expect(c.validation && !c.validation.ok && c.validation.errors).toEqual(['data[0] (words.csv): pick at least one input column']);
    store.getState().setDataTask(0, { inputs: ['word'] });

    // JSON and back to the form.
    store.getState().setMode('json');
    store.getState().setMode('form');
    expect(store.getState().formNote).toBeNull();
    expect(store.getState().form.data).toEqual([{ datasetId: 'ds-1', inputs: ['word'], target: 'score', kind: 'regression', test: 0.2, seed: 0 }]);

    await store.getState().run();
    expect(store.getState().status).toBe('done');
    const call = experiments.at(-1)!;
    expect(call.datasets?.map((d) => [d.name, d.rows.length])).toEqual([['words.csv', 20]]);
    expect(store.getState().results?.cells.map((x) => x.id)).toEqual(['words/tag-llm/full/p2/s0', 'words/nearest-neighbour/full/s0']);

    // Deleting the data set in the Data panel: the entry says so.
    await data.getState().remove('ds-1');
    await until(() => store.getState().check.validation?.ok === false);
    const v = store.getState().check.validation;
    expect(v && !v.ok && v.errors[0]).toBe('data[0]: the data set is no longer in the workbench; pick another (Data panel)');
  });
});

