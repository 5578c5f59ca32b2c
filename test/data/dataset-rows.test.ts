/**
 * The rows a run, a Matrix evaluation and a Composer pre-fill take from a dataset, now mapped and
 * split in the mapping worker for a large upload: the same rows as the direct path (datasetView →
 * splitView → pick, what the page computed before), whether in one call, in chunks or through the
 * worker; the stores send the engine exactly those rows, show progress and can cancel.
 */
import { describe, expect, it, vi } from 'vitest';
import { datasetRows, datasetRowsInChunks, type RowsRequest } from '../../src/data/dataset-rows';
import { prefillRow } from '../../src/state/composer';
import { createDataStore, datasetView, DEFAULT_SPLIT, splitView, validateSplit } from '../../src/state/data';
import { createMemoryDb, type StoredDataset } from '../../src/state/db';
import { createRowsSource, SYNC_CHECK_ROWS } from '../../src/state/mapping-check';
import { createMatrixStore } from '../../src/state/matrix';
import { createModelStore } from '../../src/state/model';
import { createNoticesStore } from '../../src/state/notices';
import { buildTrainSpec, createTrainStore, DEFAULT_CONFIG, sampleRowIn, sampleRowOf, TINY_HYPER, type TrainConfig } from '../../src/state/train';
import { tryParseTemplate } from '../../src/state/train';
import { createMappingChecker } from '../../src/worker/mapping-check-client';
import { inProcessPort } from '../helpers/mapping-port';
import { until } from '../helpers/wait';
import { fakeClient } from '../worker/fake-engine';

/** n rows with empties and non-numbers; lines from 2 (after a header). */
function dataset(n: number, id = 'ds-1'): StoredDataset {
  const rows = Array.from({ length: n }, (_, i) => ({ smiles: i % 17 === 0 ? ' ' : `C${i % 97}O`, y: i % 13 === 0 ? 'n/a' : i % 29 === 0 ? '' : String(i / 7) }));
  return {
    id,
    name: `${id}.csv`,
    source: 'upload',
    format: 'csv',
    columns: ['smiles', 'y'],
    rows,
    lines: rows.map((_, i) => i + 2),
    report: { total: n, kept: n, skipped: [] },
    mapping: { input: 'smiles', output: 'y' },
    numeric: ['output'],
    split: { ...DEFAULT_SPLIT, seed: 3 },
    created: '2026-01-01T00:00:00.000Z',
  };
}

/** What the page computed before: datasetView, splitView, the parts, the pick, the first `limit`. */
function reference(ds: StoredDataset, req: RowsRequest) {
  const view = datasetView(ds);
  if (view.error) return { error: view.error, parts: {}, sizes: {} };
  const split = req.split ? splitView(view.rows, req.split) : null;
  const parts: Record<string, unknown[]> = {};
  const sizes: Record<string, number> = {};
  for (const p of req.parts) {
    const all = p === 'all' ? view.rows : split![p];
    const some = req.limit !== undefined ? all.slice(0, req.limit) : all;
    parts[p] = req.pick ? some.map((r) => Object.fromEntries(Object.entries(req.pick!).map(([f, c]) => [f, r[c] ?? '']))) : some;
    sizes[p] = all.length;
  }
  return { error: null, parts, sizes };
}

const REQUESTS: RowsRequest[] = [
  { split: DEFAULT_SPLIT, parts: ['train', 'validation'], pick: { text: 'input', label: 'output', missing: 'nope' } },
  { split: { seed: 9, train: 0.5, validation: 0.25, test: 0.25 }, parts: ['test'] },
  { parts: ['all'] },
  { split: DEFAULT_SPLIT, parts: ['test', 'all'], limit: 1 },
  { split: { seed: 1, train: 1, validation: 0, test: 0 }, parts: ['validation', 'train'], limit: 5 },
];

describe('dataset rows', () => {
  it('are the rows the page mapped and split before, in one call or in chunks', async () => {
    for (const ds of [dataset(1000), { ...dataset(300), numeric: [] }, { ...dataset(40), mapping: { input: 'smiles', output: 'nope' } }, dataset(0)]) {
      for (const req of REQUESTS) {
        const want = reference(ds, req);
        expect(datasetRows(ds, req)).toEqual(want);
        for (const chunkRows of [1, 7, 5000]) expect(await datasetRowsInChunks(ds, req, { chunkRows })).toEqual(want);
      }
    }
    expect(datasetRows({ ...dataset(40), mapping: { input: 'nope' } }, { parts: ['all'] }).error).toMatch(/Column "nope"/);
  });

  it('come from the mapping worker the same, with progress, the rows sent once, and a cancel heard', async () => {
    const { port, posted } = inProcessPort();
    const checker = createMappingChecker(() => port, { chunkRows: 500 });
    const ds = dataset(3000);
    await checker.check(ds);
    const progress: number[] = [];
    for (const req of REQUESTS) expect(await checker.rows(ds, req, { onProgress: (d) => progress.push(d) })).toEqual(reference(ds, req));
    expect(progress.slice(0, 6)).toEqual([500, 1000, 1500, 2000, 2500, 3000]);
    // The check sent the rows; every later request named them by key.
    expect(posted.filter((m) => m.type === 'check' || m.type === 'rows').map((m) => 'rows' in m && !!m.rows)).toEqual([true, ...REQUESTS.map(() => false)]);

    const big = dataset(100_000);
    const c = new AbortController();
    const p = checker.rows(big, { parts: ['all'] }, { signal: c.signal, onProgress: (d) => d >= 2000 && c.abort() });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});

/** Stores over a fake engine; the rows source maps large datasets in the (in-process) mapping worker. */
async function stores() {
  const { client } = fakeClient();
  const notices = createNoticesStore();
  const db = Promise.resolve(createMemoryDb());
  const model = createModelStore({ client, notices });
  const data = createDataStore({ client, notices, db, dataBaseUrl: 'http://x/data/' });
  const { port, posted } = inProcessPort();
  const rows = createRowsSource(createMappingChecker(() => port, { chunkRows: 2000 }));
  const train = createTrainStore({ client, notices, model, data, db, rows });
  const matrix = createMatrixStore({ client, notices, model, data, rows });
  await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  return { client, notices, data, train, matrix, rows, posted };
}

const BIG = SYNC_CHECK_ROWS + 5000;

describe('a run, a Matrix evaluation and a pre-fill on a large upload', () => {
  it('a run gets the spec the direct path builds (rows mapped in the worker), with progress; a cancel starts nothing', async () => {
    const s = await stores();
    const ds = dataset(BIG);
    s.data.setState({ datasets: [ds] });
    const config: TrainConfig = { ...DEFAULT_CONFIG, method: 'stage1', template: '{input} => {output}', outputKind: 'text', datasetIds: [ds.id], hyper: { ...TINY_HYPER, steps: 1 }, sampleEvery: 1 };
    s.train.getState().setConfig(config);
    const direct = buildTrainSpec(s.train.getState().config, [ds]);
    if ('error' in direct) throw new Error(direct.error);
    // The direct path is what it was: train + validation rows, picked; the sample row is sampleRowOf's.
    const split = splitView(datasetView(ds).rows, ds.split);
    expect(direct.spec.tasks[0]!.rows).toEqual([...split.train, ...split.validation].map((r) => ({ input: r.input, output: r.output })));
    const sample = split.validation[0] ?? split.train[0]!;
    expect(sampleRowOf(s.train.getState().config, ds)).toEqual({ input: sample.input, output: sample.output });
    expect(direct.spec.sample!.row).toEqual(sampleRowOf(s.train.getState().config, ds));
    // The Train panel's default sample prompt of a large upload: the same row, from the worker.
    expect(await sampleRowIn(s.train.getState().config, ds, s.rows)).toEqual({ input: sample.input, output: sample.output });

    const start = vi.spyOn(s.client, 'start');
    const seen: number[] = [];
    const unsub = s.train.subscribe((st) => st.preparingRows && seen.push(st.preparingRows.done));
    // Cancelled while the worker maps: no run starts.
    const first = s.train.getState().start();
    await until(() => seen.length > 1, 10_000);
    s.train.getState().cancel();
    await first;
    expect(start).not.toHaveBeenCalled();
    expect(s.train.getState().status).toBe('idle');
    expect(s.train.getState().preparingRows).toBeNull();

    await s.train.getState().start();
    unsub();
    expect(seen.at(-1)).toBe(BIG);
    expect(s.posted.some((m) => m.type === 'rows')).toBe(true);
    const sent = start.mock.calls.find((c) => c[0] === 'trainStart')![1] as { spec: typeof direct.spec };
    expect(sent.spec).toEqual(direct.spec);
    s.train.getState().cancel();
    await until(() => s.train.getState().status !== 'running' && s.train.getState().status !== 'starting', 10_000);
  });

  it('a refused run on a large upload: the warning goes once the fix checks out in the worker', async () => {
    const s = await stores();
    const ds = dataset(BIG);
    s.data.setState({ datasets: [ds] });
    s.train.getState().setConfig({ ...DEFAULT_CONFIG, method: 'stage1', template: '{input} {nope}', outputKind: 'text', datasetIds: [ds.id], hyper: { ...TINY_HYPER, steps: 1 } });
    await s.train.getState().start();
    expect(s.train.getState().error).toMatch(/template field \{nope\}/);
    const warned = () => s.notices.getState().notices.some((n) => n.title === 'Check the run');
    expect(warned()).toBe(true);
    const asked = s.posted.filter((m) => m.type === 'rows').length;
    s.train.getState().setConfig({ template: '{input} {output}' });
    expect(warned()).toBe(true);
    await until(() => !warned(), 10_000);
    expect(s.train.getState().error).toBeNull();
    expect(s.posted.filter((m) => m.type === 'rows').length).toBe(asked + 1);
  });

  it('a Matrix evaluation sends the rows the direct path picked, mapped once for all its cells', async () => {
    const s = await stores();
    const ds = dataset(BIG);
    s.data.setState({ datasets: [ds] });
    const request = vi.spyOn(s.client, 'request');
    for (const rows of ['test', 'validation', 'all'] as const) {
      s.matrix.getState().setConfig({ datasetId: ds.id, rows, fieldMap: { text: 'input' } });
      const before = s.posted.filter((m) => m.type === 'rows').length;
      await s.matrix.getState().evaluateAll(['A', 'B'], ['F']);
      const cells = request.mock.calls.filter((c) => c[0] === 'matrixCell').slice(-2).map((c) => (c[1] as { rows: unknown[] }).rows);
      const view = datasetView(ds);
      const picked = rows === 'all' ? view.rows : splitView(view.rows, ds.split)[rows];
      const want = picked.map((r) => ({ ...r, text: r.input! }));
      expect(cells).toEqual([want, want]);
      expect(s.posted.filter((m) => m.type === 'rows').length - before).toBe(1);
    }
  });

  it('a pre-fill takes the first test row (the first row when the split is not valid)', async () => {
    const { port } = inProcessPort();
    const rows = createRowsSource(createMappingChecker(() => port));
    for (const ds of [dataset(BIG), dataset(50), { ...dataset(BIG), split: { seed: 0, train: 0, validation: 0.5, test: 0.5 } }, { ...dataset(50), mapping: { input: 'nope' } }]) {
      const view = datasetView(ds);
      const split = validateSplit(ds.split) ? null : splitView(view.rows, ds.split);
      expect(await prefillRow(ds, rows)).toEqual(split?.test[0] ?? view.rows[0] ?? {});
    }
  });
});
