/**
 * Persistence of the workbench in IndexedDB (raw API, no wrapper library): the tag library (as a
 * library file), imported datasets, and training checkpoints (metadata and files in separate stores,
 * so listing checkpoints does not read their tensors). `createMemoryDb` is the same interface in
 * memory, for tests and for browsers where IndexedDB is unavailable (private windows…).
 */
import type { DataFormat, DataReport } from '../data/dataset';
import type { LibraryFile } from '../tags/library-format';
import type { CheckpointFile } from '../train/checkpoint';
import type { Metrics } from '../train/protocol';
import { done, promisify } from '../worker/idb';

export interface SplitConfig {
  seed: number;
  train: number;
  validation: number;
  test: number;
}

export interface StoredDataset {
  id: string;
  name: string;
  source: 'upload' | 'builtin';
  format: DataFormat | 'builtin';
  columns: string[];
  rows: Array<Record<string, string>>;
  lines: number[];
  report: DataReport;
  /** Template field → column. */
  mapping: Record<string, string>;
  /** Fields that must hold numbers (labels of regression tasks). */
  numeric: string[];
  split: SplitConfig;
  created: string;
}

export interface CheckpointMeta {
  runId: string;
  /** What the run trains, for the list ("stage1 <SMILES> on smiles"). */
  label: string;
  method: string;
  modelName: string;
  step: number;
  totalSteps: number;
  created: string;
  /** Options the run was started with (resumed runs keep them). */
  options: { checkpointEvery: number; evalEvery: number; evalLimit: number };
  /** Validation metrics so far (the chart continues after a resume). */
  evals: Array<{ step: number; metrics: Metrics }>;
}

export interface WorkbenchDb {
  readonly kind: 'indexeddb' | 'memory';
  getLibrary(): Promise<LibraryFile | null>;
  putLibrary(file: LibraryFile): Promise<void>;
  listDatasets(): Promise<StoredDataset[]>;
  putDataset(d: StoredDataset): Promise<void>;
  deleteDataset(id: string): Promise<void>;
  listCheckpoints(): Promise<CheckpointMeta[]>;
  getCheckpointFile(runId: string): Promise<CheckpointFile | null>;
  putCheckpoint(meta: CheckpointMeta, file: CheckpointFile): Promise<void>;
  deleteCheckpoint(runId: string): Promise<void>;
}

export const DB_NAME = 'tag-workbench';
const DB_VERSION = 1;
const META = 'meta';
const DATASETS = 'datasets';
const CHECKPOINTS = 'checkpoints';
const CHECKPOINT_FILES = 'checkpointFiles';
/**
 * A dataset's rows and lines live in META under this key, apart from its record (which then says
 * `rowsApart`), so saving a changed mapping does not rewrite them; records from before hold their
 * rows inline and are moved apart on their next save. (META takes any key: no schema upgrade.)
 */
const rowsKey = (id: string) => `dataset-rows:${id}`;

export function openDatabase(factory: IDBFactory = globalThis.indexedDB, name = DB_NAME): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      if (!db.objectStoreNames.contains(DATASETS)) db.createObjectStore(DATASETS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(CHECKPOINTS)) db.createObjectStore(CHECKPOINTS, { keyPath: 'runId' });
      if (!db.objectStoreNames.contains(CHECKPOINT_FILES)) db.createObjectStore(CHECKPOINT_FILES);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('Could not open IndexedDB'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version; close it and reload.'));
  });
}

export async function createIndexedDb(factory: IDBFactory = globalThis.indexedDB, name = DB_NAME): Promise<WorkbenchDb> {
  const db = await openDatabase(factory, name);
  const read = async <T>(store: string, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const tx = db.transaction(store, 'readonly');
    return promisify(fn(tx.objectStore(store)));
  };
  const write = async (stores: string[], fn: (tx: IDBTransaction) => void): Promise<void> => {
    const tx = db.transaction(stores, 'readwrite');
    fn(tx);
    await done(tx);
  };
  /** Per dataset, the rows array last saved (or read): a save writes rows only when they are another array. */
  const written = new Map<string, StoredDataset['rows']>();
  return {
    kind: 'indexeddb',
    async getLibrary() {
      return ((await read(META, (s) => s.get('library'))) as LibraryFile | undefined) ?? null;
    },
    putLibrary(file) {
      return write([META], (tx) => tx.objectStore(META).put(file, 'library'));
    },
    async listDatasets() {
      const tx = db.transaction([DATASETS, META], 'readonly');
      const all = (await promisify(tx.objectStore(DATASETS).getAll())) as Array<StoredDataset & { rowsApart?: boolean }>;
      // Every rows read is requested at once, while the transaction is still active.
      const out = await Promise.all(
        all.map(async ({ rowsApart, ...d }) => {
          if (rowsApart) {
            const r = (await promisify(tx.objectStore(META).get(rowsKey(d.id)))) as Pick<StoredDataset, 'rows' | 'lines'> | undefined;
            Object.assign(d, { rows: r?.rows ?? [], lines: r?.lines ?? [] });
            // Saved apart already; a record from before (rows inline) gets its rows written on its next save.
            written.set(d.id, d.rows);
          }
          return d as StoredDataset;
        }),
      );
      return out.sort((a, b) => a.created.localeCompare(b.created));
    },
    putDataset(d) {
      // The rows go apart from the rest and only when they are new: renaming a dataset or changing its
      // mapping then saves a small record instead of cloning 500k rows on the page.
      const { rows, lines, ...rest } = d;
      const fresh = written.get(d.id) !== rows;
      return write([DATASETS, META], (tx) => {
        tx.objectStore(DATASETS).put({ ...rest, rows: [], lines: [], rowsApart: true });
        if (fresh) tx.objectStore(META).put({ rows, lines }, rowsKey(d.id));
      }).then(() => void written.set(d.id, rows));
    },
    deleteDataset(id) {
      written.delete(id);
      return write([DATASETS, META], (tx) => {
        tx.objectStore(DATASETS).delete(id);
        tx.objectStore(META).delete(rowsKey(id));
      });
    },
    async listCheckpoints() {
      const all = (await read(CHECKPOINTS, (s) => s.getAll())) as CheckpointMeta[];
      return all.sort((a, b) => b.created.localeCompare(a.created));
    },
    async getCheckpointFile(runId) {
      return ((await read(CHECKPOINT_FILES, (s) => s.get(runId))) as CheckpointFile | undefined) ?? null;
    },
    putCheckpoint(meta, file) {
      return write([CHECKPOINTS, CHECKPOINT_FILES], (tx) => {
        tx.objectStore(CHECKPOINTS).put(meta);
        tx.objectStore(CHECKPOINT_FILES).put(file, meta.runId);
      });
    },
    deleteCheckpoint(runId) {
      return write([CHECKPOINTS, CHECKPOINT_FILES], (tx) => {
        tx.objectStore(CHECKPOINTS).delete(runId);
        tx.objectStore(CHECKPOINT_FILES).delete(runId);
      });
    },
  };
}

/** The same interface in memory; values are cloned in and out like IndexedDB does. */
export function createMemoryDb(): WorkbenchDb {
  let library: LibraryFile | null = null;
  const datasets = new Map<string, StoredDataset>();
  const checkpoints = new Map<string, CheckpointMeta>();
  const files = new Map<string, CheckpointFile>();
  const c = <T>(v: T): T => structuredClone(v);
  return {
    kind: 'memory',
    async getLibrary() {
      return library ? c(library) : null;
    },
    async putLibrary(file) {
      library = c(file);
    },
    async listDatasets() {
      return [...datasets.values()].map(c).sort((a, b) => a.created.localeCompare(b.created));
    },
    async putDataset(d) {
      datasets.set(d.id, c(d));
    },
    async deleteDataset(id) {
      datasets.delete(id);
    },
    async listCheckpoints() {
      return [...checkpoints.values()].map(c).sort((a, b) => b.created.localeCompare(a.created));
    },
    async getCheckpointFile(runId) {
      const f = files.get(runId);
      return f ? c(f) : null;
    },
    async putCheckpoint(meta, file) {
      checkpoints.set(meta.runId, c(meta));
      files.set(meta.runId, c(file));
    },
    async deleteCheckpoint(runId) {
      checkpoints.delete(runId);
      files.delete(runId);
    },
  };
}

/** IndexedDB when it opens, else memory (and a reason to show). */
export async function openWorkbenchDb(): Promise<{ db: WorkbenchDb; warning: string | null }> {
  if (typeof globalThis.indexedDB === 'undefined') {
    return { db: createMemoryDb(), warning: 'This browser has no IndexedDB: tags, datasets and checkpoints will not survive a reload.' };
  }
  try {
    return { db: await createIndexedDb(), warning: null };
  } catch (e) {
    return { db: createMemoryDb(), warning: `IndexedDB could not be opened (${(e as Error).message}); nothing will survive a reload.` };
  }
}
