import { describe, expect, it } from 'vitest';
import { fakeClient, type FakeEngineOptions } from '../../test/worker/fake-engine';
import { createComposerStore, insertTagAt, segmentsToTemplate, withoutTags, type Segment } from './composer';
import { createDataStore, datasetView, defaultMapping, splitView } from './data';
import { createMemoryDb } from './db';
import { createInspectorStore, attentionLayer } from './inspector';
import { createLibraryStore, exportFileName } from './library';
import { cellTemplate, combinationOf, createMatrixStore, patternOfTemplate, trainedWith } from './matrix';
import { createModelCacheStore } from './modelCache';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { buildTrainSpec, clockOnPhase, createTrainStore, DEFAULT_CONFIG, defaultSamplePromptOf, lossLabel, runTimes, metricLabel, renameTagInTemplate, runThatTrained, thinCurve, TINY_HYPER, trainedTagOf, tryParseTemplate } from './train';
import { tick, until } from '../../test/helpers/wait';

const CSV = 'text,score\nthe cat sat,1\nbad,row,here\na dog ran,2\n,3\nthe sun,x\nbirds sing,4\nfish swim,5\nfrogs jump,6\nbees buzz,7\n';

async function setup(opts: FakeEngineOptions = {}, { load = true } = {}) {
  const { client, calls, worker, runs } = fakeClient(opts);
  const notices = createNoticesStore();
  const db = createMemoryDb();
  const dbp = Promise.resolve(db);
  const model = createModelStore({ client, notices });
  const library = createLibraryStore({ client, notices, db: dbp, now: () => new Date('2026-01-02T03:04:05Z') });
  let id = 0;
  const data = createDataStore({ client, notices, db: dbp, dataBaseUrl: 'http://x/data/', newId: () => `ds-${++id}` });
  let run = 0;
  const train = createTrainStore({ client, notices, model, data, db: dbp, newRunId: () => `run-${++run}` });
  const composer = createComposerStore({ client, notices, model });
  const matrix = createMatrixStore({ client, notices, model, data });
  const inspector = createInspectorStore({ client, notices, model });
  await library.getState().restore();
  if (load) await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  return { client, calls, worker, runs, notices, db, model, library, data, train, composer, matrix, inspector };
}

/** Imports CSV, maps text → text, and configures a tiny stage-1 run on it. */
async function withStage1(s: Awaited<ReturnType<typeof setup>>, patch: Partial<typeof DEFAULT_CONFIG> = {}) {
  const ds = (await s.data.getState().importText('tiny.csv', CSV))!;
  s.train.getState().setConfig({
    method: 'stage1',
    template: '<Story> {text}',
    tagLength: 2,
    datasetIds: [ds.id],
    hyper: { ...TINY_HYPER, steps: 4 },
    checkpointEvery: 2,
    ...patch,
  });
  return ds;
}

describe('data store', () => {
  it('imports with a report, maps, checks numbers and splits reproducibly', async () => {
    const s = await setup();
    const ds = (await s.data.getState().importText('tiny.csv', CSV))!;
    expect(ds.report.skipped.map((x) => x.line)).toEqual([3]);
    expect(ds.mapping).toEqual({ text: 'text', score: 'score' });
    expect(s.data.getState().selectedId).toBe(ds.id);
    s.data.getState().update(ds.id, { mapping: { input: 'text', output: 'score' }, numeric: ['output'] });
    const cur = s.data.getState().get(ds.id)!;
    const v = datasetView(cur);
    expect(v.rows).toHaveLength(6);
    expect(v.skipped.map((x) => x.reason)).toEqual([expect.stringMatching(/empty "text"/), expect.stringMatching(/not a number/)]);
    const a = splitView(v.rows, { seed: 3, train: 0.6, validation: 0.2, test: 0.2 });
    const b = splitView(v.rows, { seed: 3, train: 0.6, validation: 0.2, test: 0.2 });
    expect(a).toEqual(b);
    expect(a.train.length + a.validation.length + a.test.length).toBe(6);
    expect(datasetView({ ...cur, mapping: { input: 'nope' } }).error).toMatch(/not in the data/);
    // Persisted (updates are debounced).
    await tick(200);
    expect((await s.db.listDatasets())[0]!.mapping).toEqual({ input: 'text', output: 'score' });
    await s.data.getState().remove(ds.id);
    expect(await s.db.listDatasets()).toEqual([]);
  });

  it('loads a built-in and survives a reload', async () => {
    const s = await setup();
    await s.data.getState().loadBuiltin('tiny');
    expect(s.data.getState().datasets[0]).toMatchObject({ id: 'builtin-tiny', source: 'builtin', columns: ['input', 'output'] });
    const again = createDataStore({ client: s.client, notices: s.notices, db: Promise.resolve(s.db), dataBaseUrl: 'http://x/data/' });
    await again.getState().load();
    expect(again.getState().datasets.map((d) => d.id)).toEqual(['builtin-tiny']);
  });

  it('reports a failed built-in in a banner', async () => {
    const s = await setup();
    expect(await s.data.getState().loadBuiltin('nope')).toBeNull();
    expect(s.notices.getState().notices.at(-1)?.kind).toBe('error');
  });

  it('makes template-safe default field names', () => {
    expect(defaultMapping(['p_np', 'my col', '2x', 'my-col'])).toEqual({ p_np: 'p_np', my_col: 'my col', _2x: '2x', my_col_: 'my-col' });
  });
});

describe('train store', () => {
  it('builds a run spec from the config and the dataset', async () => {
    const s = await setup();
    const ds = await withStage1(s);
    const built = buildTrainSpec(s.train.getState().config, [s.data.getState().get(ds.id)!]);
    expect('error' in built).toBe(false);
    if ('error' in built) return;
    expect(built.label).toBe('stage1 <Story> · tiny.csv');
    expect(built.spec.tasks[0]!.rows[0]).toEqual({ text: expect.any(String) });
    expect(built.spec.tasks[0]!.rows.length).toBeGreaterThan(4);
    expect(built.spec.tagLength).toBe(2);
    // Provenance: the template field's source column.
    expect(built.spec.tasks[0]!.fieldMapping).toEqual({ text: 'text' });
    const bad = buildTrainSpec({ ...s.train.getState().config, template: '<Story> {txt}' }, [s.data.getState().get(ds.id)!]);
    expect('error' in bad && bad.error).toMatch(/\{txt\}/);
    const noFn = buildTrainSpec({ ...s.train.getState().config, method: 'stage2', template: 'Text: {text} {score}', outputField: 'score', outputKind: 'regression' }, [
      s.data.getState().get(ds.id)!,
    ]);
    expect('error' in noFn && noFn.error).toMatch(/function tag/);
    expect(buildTrainSpec({ ...s.train.getState().config, template: '<Story {text}' }, [])).toMatchObject({ error: expect.stringMatching(/Template, line 1/) });
  });

  it('samples while training: the spec carries the default row or the edited prompt; samples and the clock arrive live', async () => {
    const s = await setup();
    const ds = await withStage1(s, { method: 'stage2', template: 'Say {text} <Score> {score}', outputField: 'score', outputKind: 'text', sampleEvery: 2, sampleTokens: 12 });
    const cur = s.data.getState().get(ds.id)!;
    const prompt = defaultSamplePromptOf(s.train.getState().config, cur);
    expect(prompt).toMatch(/^Say .+ <Score>$/);
    const built = buildTrainSpec(s.train.getState().config, [cur]);
    if ('error' in built) throw new Error(built.error);
    expect(built.spec.sample).toEqual({ every: 2, tokens: 12, row: { text: expect.any(String), score: expect.any(String) } });
    expect(`Say ${built.spec.sample!.row!.text} <Score>`).toBe(prompt);
    const edited = buildTrainSpec({ ...s.train.getState().config, samplePrompt: '<Score> hi' }, [cur]);
    expect('spec' in edited && edited.spec.sample).toEqual({ every: 2, tokens: 12, prompt: '<Score> hi' });
    const off = buildTrainSpec({ ...s.train.getState().config, sampleEvery: 0 }, [cur]);
    expect('spec' in off && off.spec.sample).toBeUndefined();
    expect(buildTrainSpec({ ...s.train.getState().config, sampleEvery: 1.5 }, [cur])).toMatchObject({ error: expect.stringMatching(/Sample every/) });
    await s.train.getState().start();
    const st = s.train.getState();
    expect(st.status).toBe('done');
    expect(st.samples.map((x) => x.step)).toEqual([2, 4]);
    expect(st.samples[0]!.text).toBe('default@2');
    expect(st.clock).toMatchObject({ fromStep: 0, lastStep: 4 });
  });

  it('elapsed time and ETA from the run clock', () => {
    expect(runTimes(null, 10, 0)).toBeNull();
    const c = { pausedMs: 0, pausedSince: null };
    expect(runTimes({ startMs: 0, fromStep: 0, lastMs: 0, lastStep: 0, ...c }, 10, 3000)).toEqual({ elapsed: 3, eta: null });
    // 4 steps in 8 s: 2 s a step, 6 steps to go.
    expect(runTimes({ startMs: 0, fromStep: 0, lastMs: 8000, lastStep: 4, ...c }, 10, 9000)).toEqual({ elapsed: 9, eta: 12 });
    // A resumed run counts only the steps taken since it resumed.
    expect(runTimes({ startMs: 0, fromStep: 5, lastMs: 2000, lastStep: 6, ...c }, 10, 2000)).toEqual({ elapsed: 2, eta: 8 });
  });

  it('the ETA leaves out time spent paused (elapsed is wall-clock time)', () => {
    // 4 steps by 14 s, 10 s of which paused: 1 s a step, 6 steps to go (not 3.5 s a step → 21 s).
    expect(runTimes({ startMs: 0, fromStep: 0, lastMs: 14_000, lastStep: 4, pausedMs: 10_000, pausedSince: null }, 10, 14_000)).toEqual({ elapsed: 14, eta: 6 });
    // Paused now, since after the last step: the rate is that of the steps taken.
    expect(runTimes({ startMs: 0, fromStep: 0, lastMs: 4000, lastStep: 4, pausedMs: 0, pausedSince: 5000 }, 10, 65_000)).toEqual({ elapsed: 65, eta: 6 });
    // A pause going on that began before the last step (a step finishing as the pause lands) counts up to it.
    expect(runTimes({ startMs: 0, fromStep: 0, lastMs: 6000, lastStep: 4, pausedMs: 0, pausedSince: 4000 }, 10, 9000)).toEqual({ elapsed: 9, eta: 6 });
    // A pause is opened by 'paused' and closed by any other phase, once.
    let clock = clockOnPhase({ startMs: 0, fromStep: 0, lastMs: 0, lastStep: 0, pausedMs: 0, pausedSince: null }, 'paused', 1000);
    expect(clockOnPhase(clock, 'paused', 3000)).toBe(clock);
    clock = clockOnPhase(clock, 'running', 4000);
    expect(clock).toMatchObject({ pausedMs: 3000, pausedSince: null });
    expect(clockOnPhase(clock, 'evaluating', 5000)).toBe(clock);
    expect(clockOnPhase(null, 'paused', 0)).toBeNull();
  });

  it('the run clock counts a pause between Pause and Resume', async () => {
    const s = await setup({ stepDelayMs: 3 });
    let ms = 0;
    const train = createTrainStore({ client: s.client, notices: s.notices, model: s.model, data: s.data, db: Promise.resolve(s.db), now: () => new Date(ms) });
    await withStage1({ ...s, train }, { hyper: { ...TINY_HYPER, steps: 12 }, checkpointEvery: 0 });
    const p = train.getState().start();
    await until(() => train.getState().log.length >= 2, 2000);
    await train.getState().pause();
    await until(() => train.getState().phase === 'paused', 2000);
    expect(train.getState().clock?.pausedSince).toBe(0);
    ms = 60_000;
    await train.getState().resume();
    await p;
    expect(train.getState().clock).toMatchObject({ pausedMs: 60_000, pausedSince: null, lastMs: 60_000, lastStep: 12 });
    // All steps took no time on this clock: the minute paused is not spread over them.
    expect(runTimes(train.getState().clock, 12, 60_000)?.eta).toBe(0);
  });

  it('trains, streams the loss, saves checkpoints to the db and the tag to the library', async () => {
    const s = await setup();
    await withStage1(s);
    const losses: number[] = [];
    s.train.subscribe((st) => st.log.length && losses.push(st.log.at(-1)!.loss));
    await s.train.getState().start();
    const st = s.train.getState();
    expect(st.status).toBe('done');
    expect(st.log.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(st.evals.map((e) => e.step)).toEqual([0, 4]);
    expect(losses[0]).toBeGreaterThan(losses.at(-1)!);
    expect(st.result?.saved.tags).toEqual(['Story']);
    await tick(5);
    expect(s.library.getState().summary.tags.map((t) => t.name)).toEqual(['Story']);
    // The library was persisted; the finished run's checkpoint was removed.
    expect((await s.db.getLibrary())!.tags.map((t) => t.name)).toEqual(['Story']);
    expect(await s.db.listCheckpoints()).toEqual([]);
    expect(s.notices.getState().notices.at(-1)).toMatchObject({ title: 'Training finished' });
    // The run is kept with its configuration and loss curve.
    expect(st.history).toHaveLength(1);
    expect(st.history[0]).toMatchObject({ config: { template: '<Story> {text}', method: 'stage1' }, datasetNames: ['tiny.csv'], saved: { tags: ['Story'] } });
    expect(st.history[0]!.loss.map(([step]) => step)).toEqual([1, 2, 3, 4]);
    expect(runThatTrained(st.history, 'Story')?.runId).toBe(st.result?.runId);
  });

  it('thins curves and turns a training template into a matrix cell template', () => {
    const pts = Array.from({ length: 1000 }, (_, i) => [i + 1, 1 / (i + 1)] as [number, number]);
    const thin = thinCurve(pts, 10);
    expect(thin).toHaveLength(10);
    expect(thin[0]).toEqual([1, 1]);
    expect(thin[9]).toEqual([1000, 0.001]);
    expect(patternOfTemplate('In: <SMILES> {input}. Out: <QED> {output}', 'QED', ['SMILES', 'Protein'])).toBe('In: <$DOMAIN> {input}. Out: <$FUNCTION> {output}');
    expect(patternOfTemplate('<QED> {output}', 'QED', ['SMILES'])).toBeNull();
  });

  it('the matrix takes the template, mapping and dataset of the run that trained the function tag, until the user edits', async () => {
    const s = await setup();
    const ds = (await s.data.getState().importText('tiny.csv', CSV))!;
    const run = { label: 'stage2 <Score>', config: { template: '<Story> {text} <Score> {y}', fieldMap: { y: 'score' }, outputField: 'y', datasetIds: [ds.id] } };
    s.matrix.getState().adoptRun('Score', run, ['Story']);
    expect(s.matrix.getState()).toMatchObject({ pattern: '<$DOMAIN> {text} <$FUNCTION> {y}', fieldMap: { y: 'score' }, outputField: 'y', datasetId: ds.id });
    expect(s.matrix.getState().defaultsFrom).toMatch(/trained <Score>/);
    s.matrix.getState().setConfig({ pattern: 'mine <$DOMAIN> <$FUNCTION> {y}' });
    s.matrix.getState().adoptRun('Score', run, ['Story']);
    expect(s.matrix.getState().pattern).toBe('mine <$DOMAIN> <$FUNCTION> {y}');
  });

  it('after a "reload", resumes the interrupted run from its last checkpoint', async () => {
    const s = await setup({ stepDelayMs: 3 });
    await withStage1(s, { hyper: { ...TINY_HYPER, steps: 40 }, checkpointEvery: 2 });
    const p = s.train.getState().start();
    await until(() => s.train.getState().lastCheckpointStep !== null && s.train.getState().lastCheckpointStep! >= 4, 2000);
    s.train.getState().cancel(); // the page went away mid-run
    await p;
    expect(s.train.getState().status).toBe('cancelled');
    const [meta] = await s.db.listCheckpoints();
    expect(meta).toMatchObject({ runId: 'run-1', label: 'stage1 <Story> · tiny.csv', totalSteps: 40 });

    // A fresh store over the same db, as after a reload.
    const again = createTrainStore({ client: s.client, notices: s.notices, model: s.model, data: s.data, db: Promise.resolve(s.db) });
    await again.getState().loadCheckpoints();
    expect(again.getState().checkpoints.map((c) => c.runId)).toEqual(['run-1']);
    const resumed = again.getState().resumeCheckpoint('run-1');
    await until(() => again.getState().log.length > 0, 2000);
    expect(again.getState().log[0]!.step).toBe(1); // the history came back
    expect(again.getState().run?.resumedFrom).toBe(meta!.step);
    await resumed;
    expect(again.getState().status).toBe('done');
    expect(again.getState().log.at(-1)!.step).toBe(40);
    expect(again.getState().log.map((l) => l.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('pauses and resumes', async () => {
    const s = await setup({ stepDelayMs: 3 });
    await withStage1(s, { hyper: { ...TINY_HYPER, steps: 30 }, checkpointEvery: 0 });
    const p = s.train.getState().start();
    await until(() => s.train.getState().log.length >= 2, 2000);
    await s.train.getState().pause();
    await until(() => s.train.getState().phase === 'paused', 2000);
    const n = s.train.getState().log.length;
    await tick(20);
    expect(s.train.getState().log.length).toBe(n);
    expect(s.train.getState().lastCheckpointStep).toBe(n);
    await s.train.getState().resume();
    await p;
    expect(s.train.getState().log.length).toBe(30);
  });

  it('refuses to start without a model or with a bad config', async () => {
    const s = await setup({}, { load: false });
    await s.train.getState().start();
    expect(s.notices.getState().notices.at(-1)).toMatchObject({ title: 'No model loaded' });
    await s.model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
    s.train.getState().setConfig({ datasetIds: [] });
    await s.train.getState().start();
    expect(s.train.getState().error).toMatch(/Choose a dataset/);
    expect(s.notices.getState().notices.some((n) => n.title === 'Check the run')).toBe(true);
    // Fixing the configuration takes the stale warning away without another start.
    await withStage1(s);
    expect(s.train.getState().error).toBeNull();
    expect(s.notices.getState().notices.some((n) => n.title === 'Check the run')).toBe(false);
  });

  it('labels the loss and the metric with their units (regression loss is on standardised labels)', async () => {
    expect(lossLabel('regression')).toMatch(/standardised labels/);
    expect(lossLabel('text')).toMatch(/NLL/);
    expect(metricLabel('mse')).toMatch(/label units/);
    const s = await setup();
    await withStage1(s);
    await s.train.getState().start();
    expect(s.train.getState().run?.outputKind).toBe('text');
  });

  it('template helpers', () => {
    expect(renameTagInTemplate('a <QED> b \\<QED> <QEDX>', 'QED', 'Q2')).toBe('a <Q2> b \\<QED> <QEDX>');
    const t = tryParseTemplate('<SMILES> {input} <QED> {output}').template!;
    expect(trainedTagOf('stage1', t, 'output')).toBe('SMILES');
    expect(trainedTagOf('stage2', t, 'output')).toBe('QED');
    expect(trainedTagOf('lora', t, 'output')).toBeNull();
  });

  it('remembers the configuration', async () => {
    const mem = new Map<string, string>();
    const storage = { getItem: (k: string) => mem.get(k) ?? null, setItem: (k: string, v: string) => void mem.set(k, v) };
    const s = await setup();
    const a = createTrainStore({ client: s.client, notices: s.notices, model: s.model, data: s.data, db: Promise.resolve(s.db), storage });
    a.getState().setConfig({ template: '<X> {y}' });
    const b = createTrainStore({ client: s.client, notices: s.notices, model: s.model, data: s.data, db: Promise.resolve(s.db), storage });
    expect(b.getState().config.template).toBe('<X> {y}');
  });
});

describe('library store', () => {
  it('restores the saved library into the worker after a reload', async () => {
    const s = await setup();
    await withStage1(s);
    await s.train.getState().start();
    await tick(5);
    const saved = await s.db.getLibrary();
    // New worker, same db.
    const t = fakeClient();
    const lib2 = createLibraryStore({ client: t.client, notices: s.notices, db: Promise.resolve(s.db) });
    await lib2.getState().restore();
    expect(lib2.getState().summary.tags.map((x) => x.name)).toEqual(['Story']);
    expect(lib2.getState().restored).toBe(true);
    expect(saved!.tags[0]!.data).toBe((await s.db.getLibrary())!.tags[0]!.data);
  });

  it('exports, deletes, imports with confirmation, and names files', async () => {
    const s = await setup();
    await withStage1(s);
    await s.train.getState().start();
    const exp = (await s.library.getState().exportJson({ tags: ['Story'] }))!;
    expect(exp.fileName).toBe('tags-Story-2026-01-02-03-04-05.json');
    expect(exportFileName(undefined, new Date('2026-01-02T03:04:05Z'))).toBe('tags-library-2026-01-02-03-04-05.json');
    await s.library.getState().remove('tag', 'Story');
    expect(s.library.getState().summary.tags).toEqual([]);
    const r = await s.library.getState().importText(exp.json, 'story.json');
    expect(r?.status).toBe('needs-confirmation');
    expect(s.library.getState().pendingImport?.warning).toMatch(/different embedding table/);
    await s.library.getState().confirmImport();
    expect(s.library.getState().pendingImport).toBeNull();
    expect(s.library.getState().lastImport).toMatchObject({ fileName: 'story.json', added: ['<Story>'] });
    expect(s.library.getState().summary.tags.map((t) => t.name)).toEqual(['Story']);
    const again = (await s.library.getState().exportJson({ tags: ['Story'] }))!;
    expect(JSON.parse(again.json).tags[0].data).toBe(JSON.parse(exp.json).tags[0].data);
    await s.library.getState().importText('{"format":"nope"}', 'bad.json');
    expect(s.library.getState().importError).toBeTruthy();
    expect(await s.library.getState().rename('tag', 'Story', 'Tale')).toBe(true);
    expect(s.library.getState().summary.tags.map((t) => t.name)).toEqual(['Tale']);
    expect(await s.library.getState().rename('tag', 'Tale', 'bad name')).toBe(false);
  });

  it('knows the loaded model fingerprint', async () => {
    const s = await setup();
    await s.library.getState().refreshFingerprint('fake');
    expect(s.library.getState().fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('composer store', () => {
  it('segment helpers', () => {
    const segs: Segment[] = [{ kind: 'text', text: 'a <b> {c}' }, { kind: 'tag', name: 'T' }, { kind: 'text', text: ' x' }];
    expect(segmentsToTemplate(segs)).toBe('a \\<b> \\{c\\}<T> x');
    expect(withoutTags(segs)).toEqual([{ kind: 'text', text: 'a <b> {c} x' }]);
    expect(insertTagAt([{ kind: 'text', text: 'hello' }], 'X', 2)).toEqual([
      { kind: 'text', text: 'he' },
      { kind: 'tag', name: 'X' },
      { kind: 'text', text: 'llo' },
    ]);
    expect(insertTagAt([], 'X', 0)).toEqual([{ kind: 'tag', name: 'X' }]);
    expect(insertTagAt([{ kind: 'tag', name: 'A' }], 'X', 0)).toEqual([
      { kind: 'tag', name: 'X' },
      { kind: 'tag', name: 'A' },
    ]);
  });

  it('runs side by side with and without tags, streaming', async () => {
    const s = await setup({ text: 'abc' });
    await withStage1(s);
    await s.train.getState().start();
    s.composer.getState().setSegments('a', [{ kind: 'tag', name: 'Story' }, { kind: 'text', text: ' Once' }]);
    s.composer.getState().setCompare('no-tags');
    await s.composer.getState().run();
    const st = s.composer.getState();
    expect(st.status).toBe('done');
    expect(st.columns.map((c) => c.title)).toEqual(['With tags', 'Without tags']);
    expect(st.columns.map((c) => c.output)).toEqual(['abc', 'ABC']);
    expect(st.columns[0]!.info?.tagRows).toBe(2);
    expect(st.columns[1]!.template).toBe(' Once');
  });

  it('shows an engine error for an unknown tag', async () => {
    const s = await setup();
    s.composer.getState().setSegments('a', [{ kind: 'tag', name: 'Ghost' }]);
    await s.composer.getState().run();
    expect(s.composer.getState().status).toBe('error');
    expect(s.composer.getState().error).toMatch(/not in the tag library/);
  });
});

describe('matrix and inspector stores', () => {
  it('fills cells with metrics', async () => {
    const s = await setup();
    const ds = await withStage1(s);
    await s.train.getState().start();
    s.data.getState().update(ds.id, { mapping: { input: 'text', output: 'score' }, numeric: ['output'] });
    s.train.getState().setConfig({ method: 'stage2', template: '<Story> {input} <Score> {output}', outputKind: 'regression', outputField: 'output' });
    await s.train.getState().start();
    expect(s.train.getState().status).toBe('done');
    s.matrix.getState().setConfig({ datasetId: ds.id, pattern: '<$DOMAIN> {input} <$FUNCTION> {output}', rows: 'all' });
    await tick(5);
    await s.matrix.getState().evaluateAll(['Story'], ['Score']);
    const cell = Object.values(s.matrix.getState().cells)[0]!;
    expect(cell).toMatchObject({ status: 'done', reply: { mode: 'head', metric: 'mse' } });
    const fn = s.library.getState().summary.tags.find((t) => t.name === 'Score')!;
    expect(trainedWith(fn)).toEqual(['Story']);
    expect(combinationOf({ name: 'Story' }, fn)).toBe('trained');
    expect(combinationOf({ name: 'Other' }, fn)).toBe('zero-shot');
    expect(cellTemplate('<$DOMAIN> {x} <$FUNCTION>', 'A', 'B')).toBe('<A> {x} <B>');
  });

  it('inspects a tag and an attention map', async () => {
    const s = await setup();
    await withStage1(s);
    await s.train.getState().start();
    await s.inspector.getState().inspect('Story');
    expect(s.inspector.getState().data?.rowNorms).toHaveLength(2);
    s.inspector.getState().setPrompt('<Story> hi');
    await s.inspector.getState().runAttention();
    const a = s.inspector.getState().attention!;
    expect(a.tokens[1]!.tag).toBe('Story');
    const mean = attentionLayer(a, -1);
    expect(mean[0]).toBeCloseTo(1);
  });
});

describe('model cache store', () => {
  it('lists and deletes through the cache api', async () => {
    const entries = [{ url: 'http://x/a.bin', name: 'a.bin', size: 10, cachedAt: '' }];
    const api = {
      list: async () => entries.slice(),
      remove: async (u: string) => {
        const i = entries.findIndex((e) => e.url === u);
        if (i >= 0) entries.splice(i, 1);
        return i >= 0;
      },
      clear: async () => true,
    };
    const store = createModelCacheStore({ api, notices: createNoticesStore() });
    await store.getState().refresh();
    expect(store.getState().entries).toHaveLength(1);
    await store.getState().remove('http://x/a.bin');
    expect(store.getState().entries).toEqual([]);
  });
});
