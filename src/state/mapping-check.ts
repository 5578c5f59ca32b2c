/**
 * Mapping checks of large datasets, run off the main thread (src/worker/mapping-check.ts) with
 * progress and cancel. Small datasets are checked in place (datasetView: instant); above
 * SYNC_CHECK_ROWS the Data panel asks this store, which keeps one check per dataset, restarts it when
 * the mapping or numeric fields change and drops a stale answer.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { datasetRows, type DatasetRows, type RowsRequest } from '../data/dataset-rows';
import type { MappingCheck } from '../data/mapping-check';
import type { CheckOptions, MappingChecker } from '../worker/mapping-check-client';
import { isAbortError } from '../worker/protocol';
import type { StoredDataset } from './db';

/** Rows up to which the panel checks on the main thread (a few ms); larger uploads go to the worker. */
export const SYNC_CHECK_ROWS = 20_000;

/** The rows of a dataset a run, a Matrix evaluation or the Composer takes (datasetRows), however they are computed. */
export type RowsSource = (ds: StoredDataset, req: RowsRequest, o?: CheckOptions) => Promise<DatasetRows>;

/**
 * Up to SYNC_CHECK_ROWS rows in place (a few ms), larger datasets in the mapping worker, where mapping
 * and splitting 500k rows (seconds) leaves the page free; with no checker, everything in place.
 */
export function createRowsSource(checker: Pick<MappingChecker, 'rows'> | null): RowsSource {
  return async (ds, req, o = {}) => {
    if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
    if (!checker || ds.rows.length <= SYNC_CHECK_ROWS) return datasetRows(ds, req);
    return checker.rows(ds, req, o);
  };
}

export interface CheckEntry {
  /** Which rows, mapping and numeric fields this entry is about. */
  signature: string;
  status: 'running' | 'done' | 'cancelled' | 'error';
  done: number;
  total: number;
  result?: MappingCheck;
  error?: string;
}

export interface MappingCheckState {
  checks: Record<string, CheckEntry>;
  /** Starts a check of `ds` unless one for its current mapping is running or done. */
  request(ds: StoredDataset): void;
  cancel(id: string): void;
  /** The finished check of `ds` as it is now (same rows, mapping, numeric fields), else null. */
  resultFor(ds: StoredDataset): MappingCheck | null;
  /** The dataset was deleted. */
  forget(ds: StoredDataset): void;
}

export type MappingCheckStore = StoreApi<MappingCheckState>;

export function createMappingCheckStore({ checker }: { checker: MappingChecker }): MappingCheckStore {
  const rowIds = new WeakMap<object, number>();
  let nextRows = 1;
  const controllers = new Map<string, AbortController>();
  const signature = (ds: StoredDataset) => {
    let r = rowIds.get(ds.rows);
    if (!r) rowIds.set(ds.rows, (r = nextRows++));
    return `${r}|${JSON.stringify(Object.entries(ds.mapping))}|${ds.numeric.filter((f) => f in ds.mapping).join(',')}`;
  };

  return createStore<MappingCheckState>()((set, get) => {
    const patch = (id: string, sig: string, p: Partial<CheckEntry>) => {
      const cur = get().checks[id];
      if (!cur || cur.signature !== sig) return;
      set({ checks: { ...get().checks, [id]: { ...cur, ...p } } });
    };
    return {
      checks: {},
      request(ds) {
        const sig = signature(ds);
        const cur = get().checks[ds.id];
        if (cur && cur.signature === sig && (cur.status === 'running' || cur.status === 'done')) return;
        controllers.get(ds.id)?.abort();
        const c = new AbortController();
        controllers.set(ds.id, c);
        set({ checks: { ...get().checks, [ds.id]: { signature: sig, status: 'running', done: 0, total: ds.rows.length } } });
        checker
          .check(ds, { signal: c.signal, onProgress: (done, total) => patch(ds.id, sig, { done, total }) })
          .then(
            (result) => patch(ds.id, sig, { status: 'done', result, done: ds.rows.length }),
            (e) => patch(ds.id, sig, isAbortError(e) ? { status: 'cancelled' } : { status: 'error', error: String((e as Error)?.message ?? e) }),
          )
          .finally(() => controllers.get(ds.id) === c && controllers.delete(ds.id));
      },
      cancel(id) {
        controllers.get(id)?.abort();
      },
      resultFor(ds) {
        const cur = get().checks[ds.id];
        return cur && cur.status === 'done' && cur.signature === signature(ds) ? (cur.result ?? null) : null;
      },
      forget(ds) {
        controllers.get(ds.id)?.abort();
        const checks = { ...get().checks };
        delete checks[ds.id];
        set({ checks });
        checker.forget(ds.rows);
      },
    };
  });
}
