/**
 * Where the workbench keeps self-specialization runs: IndexedDB in the engine worker (the pipeline
 * writes its files there as it goes, so a reload resumes the run where its files stop), or memory
 * where IndexedDB is missing. One database, three stores:
 *   runs    one record per run (settings, status, where its seeds and corpus came from)
 *   inputs  the uploaded seed / corpus bytes of a run (resume re-reads them)
 *   chunks  the run's files: [run, name, seq] → text. An append adds one chunk, so appending a line
 *           to a long responses.jsonl never rewrites the file; a read joins the chunks in order.
 */
import { MemoryStore, type RunStore } from '../selfspec/store';
import { done, promisify } from './idb';

export type SelfSpecSourceSpec =
  | { kind: 'builtin'; id: string }
  | { kind: 'file'; name: string; bytes: ArrayBuffer }
  /** Uploaded bytes already stored with the run (inputs store). */
  | { kind: 'stored'; name: string };

/** What a run stores of its inputs: uploads, and the start adapter (a one-adapter library JSON). */
export type InputRole = 'seeds' | 'corpus' | 'instructions' | 'adapter';
export const INPUT_ROLES: readonly InputRole[] = ['seeds', 'corpus', 'instructions', 'adapter'];

export type SelfSpecRunStatus = 'running' | 'paused' | 'cancelled' | 'done' | 'error';

export interface SelfSpecRunMeta {
  id: string;
  name: string;
  created: string;
  updated: string;
  status: SelfSpecRunStatus;
  error: string | null;
  model: string;
  /** The panel's settings (SelfSpecSettings) the run was started with. */
  settings: unknown;
  seeds: { kind: 'builtin' | 'stored'; id?: string; name?: string };
  corpus: { kind: 'builtin' | 'stored'; id?: string; name?: string } | null;
  /** A given round-1 instruction set (stored upload). */
  instructions?: { kind: 'builtin' | 'stored'; id?: string; name?: string } | null;
}

export interface SelfSpecRunsDb {
  readonly kind: 'indexeddb' | 'memory';
  listRuns(): Promise<SelfSpecRunMeta[]>;
  getRun(id: string): Promise<SelfSpecRunMeta | null>;
  putRun(meta: SelfSpecRunMeta): Promise<void>;
  /** Deletes the run, its inputs and its files. */
  deleteRun(id: string): Promise<void>;
  putInput(id: string, role: InputRole, bytes: ArrayBuffer): Promise<void>;
  getInput(id: string, role: InputRole): Promise<ArrayBuffer | null>;
  /** The run's files as a RunStore (the pipeline's). */
  files(id: string): Promise<RunStore>;
}

export const SELFSPEC_DB_NAME = 'tag-workbench-selfspec';
const RUNS = 'runs';
const INPUTS = 'inputs';
const CHUNKS = 'chunks';

interface Chunk {
  run: string;
  name: string;
  seq: number;
  text: string;
}

/** All keys [run, name, seq] of one file, or of every file of a run. */
const fileRange = (run: string, name: string) => IDBKeyRange.bound([run, name, 0], [run, name, Infinity]);
// Arrays sort after every string and number, so [run, []] bounds every [run, name, seq].
const runRange = (run: string) => IDBKeyRange.bound([run], [run, []]);

/** A RunStore over the chunks store; it keeps each file's next sequence number in memory. */
class IdbRunStore implements RunStore {
  private constructor(
    private readonly db: IDBDatabase,
    private readonly run: string,
    /** name → next chunk seq */
    private readonly next: Map<string, number>,
  ) {}

  static async open(db: IDBDatabase, run: string): Promise<IdbRunStore> {
    const tx = db.transaction(CHUNKS, 'readonly');
    const keys = (await promisify(tx.objectStore(CHUNKS).getAllKeys(runRange(run)))) as Array<[string, string, number]>;
    const next = new Map<string, number>();
    for (const [, name, seq] of keys) next.set(name, Math.max(next.get(name) ?? 0, seq + 1));
    return new IdbRunStore(db, run, next);
  }

  async read(name: string): Promise<string | null> {
    if (!this.next.has(name)) return null;
    const tx = this.db.transaction(CHUNKS, 'readonly');
    const chunks = (await promisify(tx.objectStore(CHUNKS).getAll(fileRange(this.run, name)))) as Chunk[];
    return chunks.map((c) => c.text).join('');
  }

  async write(name: string, text: string): Promise<void> {
    const tx = this.db.transaction(CHUNKS, 'readwrite');
    const s = tx.objectStore(CHUNKS);
    s.delete(fileRange(this.run, name));
    s.put({ run: this.run, name, seq: 0, text } satisfies Chunk);
    await done(tx);
    this.next.set(name, 1);
  }

  async append(name: string, text: string): Promise<void> {
    const seq = this.next.get(name) ?? 0;
    this.next.set(name, seq + 1);
    const tx = this.db.transaction(CHUNKS, 'readwrite');
    tx.objectStore(CHUNKS).put({ run: this.run, name, seq, text } satisfies Chunk);
    await done(tx);
  }

  async remove(name: string): Promise<void> {
    const tx = this.db.transaction(CHUNKS, 'readwrite');
    tx.objectStore(CHUNKS).delete(fileRange(this.run, name));
    await done(tx);
    this.next.delete(name);
  }

  async list(): Promise<string[]> {
    return [...this.next.keys()];
  }
}

export function openSelfSpecDb(factory: IDBFactory | undefined = globalThis.indexedDB, name = SELFSPEC_DB_NAME): Promise<SelfSpecRunsDb> {
  if (!factory) return Promise.resolve(createMemorySelfSpecDb());
  const opened = new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(RUNS)) db.createObjectStore(RUNS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(INPUTS)) db.createObjectStore(INPUTS);
      if (!db.objectStoreNames.contains(CHUNKS)) db.createObjectStore(CHUNKS, { keyPath: ['run', 'name', 'seq'] });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('Could not open IndexedDB'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
  return opened.then(
    (db): SelfSpecRunsDb => {
      const get = <T>(store: string, key: IDBValidKey) => promisify(db.transaction(store, 'readonly').objectStore(store).get(key)) as Promise<T | undefined>;
      const write = async (stores: string[], fn: (tx: IDBTransaction) => void) => {
        const tx = db.transaction(stores, 'readwrite');
        fn(tx);
        await done(tx);
      };
      return {
        kind: 'indexeddb',
        async listRuns() {
          const all = (await promisify(db.transaction(RUNS, 'readonly').objectStore(RUNS).getAll())) as SelfSpecRunMeta[];
          return all.sort((a, b) => b.created.localeCompare(a.created));
        },
        async getRun(id) {
          return (await get<SelfSpecRunMeta>(RUNS, id)) ?? null;
        },
        putRun: (meta) => write([RUNS], (tx) => tx.objectStore(RUNS).put(meta)),
        deleteRun: (id) =>
          write([RUNS, INPUTS, CHUNKS], (tx) => {
            tx.objectStore(RUNS).delete(id);
            for (const r of INPUT_ROLES) tx.objectStore(INPUTS).delete(`${id}/${r}`);
            tx.objectStore(CHUNKS).delete(runRange(id));
          }),
        putInput: (id, role, bytes) => write([INPUTS], (tx) => tx.objectStore(INPUTS).put(bytes, `${id}/${role}`)),
        async getInput(id, role) {
          return (await get<ArrayBuffer>(INPUTS, `${id}/${role}`)) ?? null;
        },
        files: (id) => IdbRunStore.open(db, id),
      };
    },
    () => createMemorySelfSpecDb(),
  );
}

/** The same in memory (tests; browsers without IndexedDB: nothing survives a reload). */
export function createMemorySelfSpecDb(): SelfSpecRunsDb {
  const runs = new Map<string, SelfSpecRunMeta>();
  const inputs = new Map<string, ArrayBuffer>();
  const stores = new Map<string, MemoryStore>();
  const c = <T>(v: T): T => structuredClone(v);
  return {
    kind: 'memory',
    async listRuns() {
      return [...runs.values()].map(c).sort((a, b) => b.created.localeCompare(a.created));
    },
    async getRun(id) {
      const r = runs.get(id);
      return r ? c(r) : null;
    },
    async putRun(meta) {
      runs.set(meta.id, c(meta));
    },
    async deleteRun(id) {
      runs.delete(id);
      for (const r of INPUT_ROLES) inputs.delete(`${id}/${r}`);
      stores.delete(id);
    },
    async putInput(id, role, bytes) {
      inputs.set(`${id}/${role}`, bytes.slice(0));
    },
    async getInput(id, role) {
      return inputs.get(`${id}/${role}`)?.slice(0) ?? null;
    },
    async files(id) {
      let s = stores.get(id);
      if (!s) stores.set(id, (s = new MemoryStore()));
      return s;
    },
  };
}
