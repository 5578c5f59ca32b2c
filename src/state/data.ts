/**
 * Data store: imported and built-in datasets (persisted in IndexedDB), the column → template-field
 * mapping of each, numeric checks for labels, and the seeded train / validation / test split. The
 * worker parses (a big file never blocks the page); bad rows are skipped and reported, never fatal.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { BUILTIN_DATASETS } from '../data/builtin';
import { mapColumns } from '../data/columns';
import { mappingOptions } from '../data/mapping-check';
import type { SkippedRow } from '../data/dataset';
import { splitDataset, type Split } from '../data/split';
import type { EngineClientLike } from '../worker/client';
import type { DatasetReply } from '../worker/protocol';
import type { SplitConfig, StoredDataset, WorkbenchDb } from './db';
import type { NoticesStore } from './notices';

export const DEFAULT_SPLIT: SplitConfig = { seed: 0, train: 0.8, validation: 0.1, test: 0.1 };

/** Built-ins whose "output" is a number (regression labels). */
const NUMERIC_BUILTINS = new Set(['protein-blosum1', 'esol', 'lipophilicity', 'freesolv']);

export interface DatasetView {
  /** Rows with template-field keys (the mapping applied), those that passed the checks. */
  rows: Array<Record<string, string>>;
  lines: number[];
  /** Rows left out by the mapping (empty values, non-numbers). */
  skipped: SkippedRow[];
  /** The mapping itself is wrong (a column that does not exist). */
  error: string | null;
}

/** Every column mapped to a field of the same name (names made template-safe). */
export function defaultMapping(columns: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of columns) {
    let f = c.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^([^A-Za-z_])/, '_$1') || 'field';
    while (out[f] !== undefined) f += '_';
    out[f] = c;
  }
  return out;
}

export function isFieldName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** The dataset seen through its mapping and checks. */
export function datasetView(ds: Pick<StoredDataset, 'rows' | 'lines' | 'mapping' | 'numeric'>): DatasetView {
  try {
    const m = mapColumns(ds.rows, ds.mapping, mappingOptions(ds));
    return { rows: m.rows, lines: m.lines, skipped: m.skipped, error: null };
  } catch (e) {
    return { rows: [], lines: [], skipped: [], error: (e as Error).message };
  }
}

export function splitView<T>(rows: readonly T[], split: SplitConfig): Split<T> {
  return splitDataset(rows, { seed: split.seed, fractions: { train: split.train, validation: split.validation, test: split.test } });
}

export function validateSplit(s: SplitConfig): string | null {
  const fr = [s.train, s.validation, s.test];
  if (fr.some((f) => !Number.isFinite(f) || f < 0)) return 'Split fractions must be numbers ≥ 0.';
  if (!(s.train > 0)) return 'The training share must be above 0.';
  if (!Number.isInteger(s.seed) || s.seed < 0) return 'The seed must be a whole number ≥ 0.';
  return null;
}

export interface DataState {
  datasets: StoredDataset[];
  selectedId: string | null;
  /** What is being read right now (file name or built-in id). */
  busy: string | null;
  loaded: boolean;

  /** Reads the saved datasets. */
  load(): Promise<void>;
  importText(name: string, text: string): Promise<StoredDataset | null>;
  importFile(file: File): Promise<StoredDataset | null>;
  loadBuiltin(id: string): Promise<StoredDataset | null>;
  select(id: string | null): void;
  update(id: string, patch: Partial<Pick<StoredDataset, 'name' | 'mapping' | 'numeric' | 'split'>>): void;
  remove(id: string): Promise<void>;
  get(id: string | null): StoredDataset | undefined;
}

export type DataStore = StoreApi<DataState>;

export interface DataStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  db: Promise<WorkbenchDb>;
  /** Absolute URL of the data folder (…/data/). */
  dataBaseUrl: string;
  newId?: () => string;
  now?: () => Date;
}

export function createDataStore({ client, notices, db, dataBaseUrl, newId, now = () => new Date() }: DataStoreDeps): DataStore {
  let n = 0;
  const makeId = newId ?? (() => `ds-${Date.now().toString(36)}-${(n++).toString(36)}`);
  const saveTimers = new Map<string, ReturnType<typeof setTimeout>>();

  const persist = (d: StoredDataset) => {
    clearTimeout(saveTimers.get(d.id));
    saveTimers.set(
      d.id,
      setTimeout(() => {
        saveTimers.delete(d.id);
        void db
          .then((x) => x.putDataset(d))
          .catch((e) => notices.getState().pushError(e, `Saving dataset ${d.name}`));
      }, 150),
    );
  };

  return createStore<DataState>()((set, get) => {
    const add = async (reply: DatasetReply, id: string, source: StoredDataset['source'], numeric: string[]): Promise<StoredDataset> => {
      const d: StoredDataset = {
        id,
        name: reply.name,
        source,
        format: reply.format,
        columns: reply.columns,
        rows: reply.rows,
        lines: reply.lines,
        report: reply.report,
        mapping: defaultMapping(reply.columns),
        numeric,
        split: { ...DEFAULT_SPLIT },
        created: now().toISOString(),
      };
      set({ datasets: [...get().datasets.filter((x) => x.id !== id), d], selectedId: id });
      try {
        await (await db).putDataset(d);
      } catch (e) {
        notices.getState().pushError(e, `Saving dataset ${d.name}`);
      }
      return d;
    };

    return {
      datasets: [],
      selectedId: null,
      busy: null,
      loaded: false,

      async load() {
        try {
          const datasets = await (await db).listDatasets();
          set({ datasets, loaded: true, selectedId: get().selectedId ?? datasets[0]?.id ?? null });
        } catch (e) {
          set({ loaded: true });
          notices.getState().pushError(e, 'Reading saved datasets');
        }
      },

      async importText(name, text) {
        set({ busy: name });
        try {
          const reply = await client.request('datasetImport', { text, name });
          if (reply.rows.length === 0 && reply.report.total === 0) {
            notices.getState().push({ kind: 'warning', title: `${name} has no records`, message: 'The file is empty or has only a header.' });
          }
          return await add(reply, makeId(), 'upload', []);
        } catch (e) {
          notices.getState().pushError(e, `Importing ${name}`);
          return null;
        } finally {
          set({ busy: null });
        }
      },

      async importFile(file) {
        let text: string;
        try {
          text = await file.text();
        } catch (e) {
          notices.getState().pushError(e, `Reading ${file.name}`);
          return null;
        }
        return get().importText(file.name, text);
      },

      async loadBuiltin(id) {
        const def = BUILTIN_DATASETS.find((d) => d.id === id);
        set({ busy: def?.title ?? id });
        try {
          const reply = await client.request('datasetBuiltin', { id, baseUrl: dataBaseUrl });
          return await add({ ...reply, name: def?.title ?? id }, `builtin-${id}`, 'builtin', NUMERIC_BUILTINS.has(id) ? ['output'] : []);
        } catch (e) {
          notices.getState().pushError(e, `Loading ${def?.title ?? id}`);
          return null;
        } finally {
          set({ busy: null });
        }
      },

      select(id) {
        set({ selectedId: id });
      },

      update(id, patch) {
        const d = get().datasets.find((x) => x.id === id);
        if (!d) return;
        const next = { ...d, ...patch };
        set({ datasets: get().datasets.map((x) => (x.id === id ? next : x)) });
        persist(next);
      },

      async remove(id) {
        set({ datasets: get().datasets.filter((x) => x.id !== id), selectedId: get().selectedId === id ? null : get().selectedId });
        clearTimeout(saveTimers.get(id));
        try {
          await (await db).deleteDataset(id);
        } catch (e) {
          notices.getState().pushError(e, 'Deleting the dataset');
        }
      },

      get(id) {
        return id ? get().datasets.find((x) => x.id === id) : undefined;
      },
    };
  });
}
