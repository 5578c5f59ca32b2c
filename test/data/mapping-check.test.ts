/**
 * The Data panel's mapping check off the main thread: the chunked check (src/data/mapping-check.ts)
 * keeps and skips exactly the rows datasetView does; the worker handler behind its client (an
 * in-process port that copies messages as postMessage does) answers the same, sends rows once,
 * reports progress, hears a cancel between chunks; the panel's store restarts on a mapping change
 * and drops stale answers.
 */
import { describe, expect, it } from 'vitest';
import { checkMapping, keptRows } from '../../src/data/mapping-check';
import { splitSizes } from '../../src/data/split';
import { datasetView, DEFAULT_SPLIT, splitView } from '../../src/state/data';
import type { StoredDataset } from '../../src/state/db';
import { createMappingCheckStore } from '../../src/state/mapping-check';
import { HELD_DATASETS } from '../../src/worker/mapping-check';
import { createMappingChecker } from '../../src/worker/mapping-check-client';
import { inProcessPort } from '../helpers/mapping-port';
import { until } from '../helpers/wait';

/** n rows with empties, non-numbers and a column only some rows have; lines from 2 (after a header). */
function dataset(n: number, id = 'ds-1'): StoredDataset {
  const rows = Array.from({ length: n }, (_, i) => {
    const r: Record<string, string> = { smiles: i % 17 === 0 ? ' ' : `C${i % 97}O`, y: i % 13 === 0 ? 'n/a' : i % 29 === 0 ? '' : String(i / 7) };
    if (i % 5 === 0) r.extra = 'x';
    return r;
  });
  return {
    id,
    name: `${id}.csv`,
    source: { kind: 'upload' },
    format: 'csv',
    columns: ['smiles', 'y', 'extra'],
    rows,
    lines: rows.map((_, i) => i + 2),
    report: { total: n, kept: n, skipped: [] },
    mapping: { input: 'smiles', output: 'y' },
    numeric: ['output'],
    split: { ...DEFAULT_SPLIT },
  } as unknown as StoredDataset;
}

describe('chunked mapping check', () => {
  it('keeps and skips exactly what datasetView does, whatever the chunk size', async () => {
    for (const ds of [dataset(1000), { ...dataset(300), numeric: [] }, { ...dataset(300), mapping: { input: 'smiles', tag: 'extra' } }]) {
      const view = datasetView(ds);
      for (const chunkRows of [1, 7, 250, 5000]) {
        const c = await checkMapping(ds, { chunkRows });
        expect(c.error).toBeNull();
        expect(keptRows(ds, c.kept, 0, c.kept.length)).toEqual(view.rows);
        expect(c.skipped).toEqual(view.skipped);
      }
    }
    const broken = { ...dataset(50), mapping: { input: 'smiles', output: 'nope' } };
    expect((await checkMapping(broken)).error).toBe(datasetView(broken).error);
    expect(datasetView(broken).error).toMatch(/Column "nope" \(for field \{output\}\) is not in the data \(columns: smiles, y, extra\)/);
  });

  it('split sizes from the count equal the split of the rows', () => {
    for (const n of [0, 1, 7, 10, 999, 46154]) {
      for (const fr of [DEFAULT_SPLIT, { seed: 3, train: 0.7, validation: 0.2, test: 0.1 }, { seed: 1, train: 1, validation: 0, test: 0 }]) {
        const s = splitView(Array.from({ length: n }, (_, i) => i), fr);
        expect(splitSizes(n, fr)).toEqual({ train: s.train.length, validation: s.validation.length, test: s.test.length });
      }
    }
  });
});

describe('mapping-check worker and client', () => {
  it('answers as datasetView, reports progress, and sends the rows only once', async () => {
    const { port, posted } = inProcessPort();
    const checker = createMappingChecker(() => port, { chunkRows: 400 });
    const ds = dataset(3000);
    const progress: number[] = [];
    const r = await checker.check(ds, { onProgress: (d) => progress.push(d) });
    expect(r.kept.length).toBe(datasetView(ds).rows.length);
    expect(r.skipped).toEqual(datasetView(ds).skipped);
    expect(progress).toEqual([400, 800, 1200, 1600, 2000, 2400, 2800, 3000]);
    const other = { ...ds, mapping: { input: 'smiles' }, numeric: [] };
    const r2 = await checker.check(other);
    expect(keptRows(other, r2.kept, 0, r2.kept.length)).toEqual(datasetView(other).rows);
    expect(posted.filter((m) => m.type === 'check').map((m) => 'rows' in m && !!m.rows)).toEqual([true, false]);
  });

  it('sends the rows again when the worker let them go', async () => {
    const { port, posted } = inProcessPort();
    const checker = createMappingChecker(() => port);
    const sets = Array.from({ length: HELD_DATASETS + 1 }, (_, i) => dataset(20 + i, `ds-${i}`));
    for (const ds of sets) await checker.check(ds);
    // The first dataset's rows were evicted: the worker answers "missing" and the client resends.
    const again = await checker.check(sets[0]!);
    expect(again.skipped).toEqual(datasetView(sets[0]!).skipped);
    const last = posted.filter((m) => m.type === 'check').slice(-2);
    expect(last.map((m) => 'rows' in m && !!m.rows)).toEqual([false, true]);
  });

  it('hears a cancel between chunks (the worker stays responsive) and then checks on', async () => {
    const { port } = inProcessPort();
    const checker = createMappingChecker(() => port, { chunkRows: 500 });
    const ds = dataset(200_000);
    const c = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const seen: number[] = [];
    const p = checker.check(ds, { signal: c.signal, onProgress: (d) => { seen.push(d); if (d >= 5000) c.abort(); } });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    clearInterval(timer);
    expect(seen.at(-1)!).toBeLessThan(200_000);
    // Timers ran while the check was going: it never held the thread for the whole dataset.
    expect(ticks).toBeGreaterThan(3);
    const done = await checker.check({ ...ds, rows: ds.rows.slice(0, 1000), lines: ds.lines.slice(0, 1000) });
    expect(done.error).toBeNull();
  });
});

describe('mapping-check store', () => {
  it('runs a check per dataset, restarts it on a mapping change, drops stale answers, cancels', async () => {
    const { port } = inProcessPort();
    const store = createMappingCheckStore({ checker: createMappingChecker(() => port, { chunkRows: 1000 }) });
    const ds = dataset(30_000);
    store.getState().request(ds);
    expect(store.getState().checks[ds.id]!.status).toBe('running');
    // The mapping changes while the first check runs: only the new one counts.
    const changed = { ...ds, numeric: [] };
    store.getState().request(changed);
    await until(() => store.getState().checks[ds.id]!.status === 'done', 20_000);
    expect(store.getState().resultFor(changed)!.kept.length).toBe(datasetView(changed).rows.length);
    expect(store.getState().resultFor(ds)).toBeNull();
    // Asking again for the same mapping starts nothing.
    const before = store.getState().checks[ds.id];
    store.getState().request(changed);
    expect(store.getState().checks[ds.id]).toBe(before);

    store.getState().request(ds);
    store.getState().cancel(ds.id);
    await until(() => store.getState().checks[ds.id]!.status === 'cancelled', 20_000);
    store.getState().request(ds);
    await until(() => store.getState().checks[ds.id]!.status === 'done', 20_000);
    expect(store.getState().resultFor(ds)!.skipped).toEqual(datasetView(ds).skipped);
  });
});
