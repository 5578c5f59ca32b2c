/**
 * Experiments store: the definition being edited (a form over the built-in tasks and the Data
 * panel's data sets — input column(s), target, kind, split — or JSON pasted / uploaded, validated on
 * every edit with every problem listed), the run in the worker (plan, progress
 * per cell and step, cancel), and the results. Results are kept in IndexedDB per experiment name, after
 * every finished cell, so a re-run (or a run after a reload) skips the cells that are already done
 * with the same configuration (the runner's `previous`).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { datasetTask, findDataset, mappingOf, mappingProblems, rowsHash, taskIdOf, type ExperimentDataset } from '../experiments/dataset-task';
import { validateExperiment, type ValidationResult } from '../experiments/definition';
import { formatCellsCsv, formatCsv, formatMarkdown, type ResultTable } from '../experiments/report';
import { hashOf, planCells } from '../experiments/runner';
import { BUILTIN_TASKS, builtinTask } from '../experiments/tasks';
import {
  ABLATIONS,
  EXPERIMENT_METHODS,
  RESULTS_FORMAT,
  type Ablation,
  type CellResult,
  type ExperimentDefinition,
  type ExperimentMethod,
  type ExperimentProgress,
  type ExperimentResults,
  type OutputKind,
  type TaskDefinition,
} from '../experiments/types';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type ExperimentCellPlan, type ExperimentEvent } from '../worker/protocol';
import type { DataStore } from './data';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

// ---------------------------------------------------------------------------------------------
// The form (a subset of the definition schema: built-in tasks, the shared budget, caps, variants)

/** A task over a workbench data set, as the form edits it (dataset-task.ts makes the task). */
export interface DataTaskForm {
  /** The Data panel's id of the data set. */
  datasetId: string;
  inputs: string[];
  target: string;
  /** 'auto': inferred from the target column. */
  kind: OutputKind | 'auto';
  /** Fraction of the distinct inputs held out for test, and the split's seed. */
  test: number;
  seed: number;
}

/** A data set of the workbench as experiments see it (the Data panel's id, name, columns, rows). */
export interface WorkbenchDataset extends ExperimentDataset {
  id: string;
}

export interface ExperimentForm {
  name: string;
  /** Built-in task ids. */
  tasks: string[];
  /** Tasks over the workbench's data sets (built-in or uploaded in the Data panel). */
  data: DataTaskForm[];
  methods: ExperimentMethod[];
  /** As typed: "0, 1, 2". */
  seeds: string;
  steps: number;
  /** Budget in epochs instead of steps (null: steps). */
  epochs: number | null;
  batch: number;
  lr: number;
  tagLength: number;
  maxTrain: number | null;
  maxEval: number | null;
  maxChars: number | null;
  ablations: Ablation[];
  /** As typed: "1, 5, 10" (empty: no sweep). */
  tagLengths: string;
}

/** Small enough to run on stories260K in a browser tab. */
export const DEFAULT_FORM: ExperimentForm = {
  name: 'my-experiment',
  tasks: ['descriptor'],
  data: [],
  methods: ['tag-llm', 'linear-probe'],
  seeds: '0',
  steps: 10,
  epochs: null,
  batch: 2,
  lr: 0.01,
  tagLength: 2,
  maxTrain: 32,
  maxEval: 16,
  maxChars: 32,
  ablations: [],
  tagLengths: '',
};

/** "0, 1 2" → [0, 1, 2]; tokens that are not numbers stay strings so validation names them. */
export function parseList(text: string): Array<number | string> {
  return text
    .split(/[\s,;]+/)
    .filter(Boolean)
    .map((t) => (/^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t));
}

/** A new data task for a data set: the first column as input, the last as target, kind inferred. */
export function newDataTask(ds: WorkbenchDataset): DataTaskForm {
  const cols = ds.columns;
  return { datasetId: ds.id, inputs: cols.length > 1 ? [cols[0]] : [], target: cols.length > 1 ? cols[cols.length - 1] : (cols[0] ?? ''), kind: 'auto', test: 0.2, seed: 0 };
}

/** The tasks of the form's data entries, and what keeps an entry from being a task. */
export function dataTasksOf(f: ExperimentForm, datasets: readonly WorkbenchDataset[]): { tasks: TaskDefinition[]; problems: string[] } {
  const tasks: TaskDefinition[] = [];
  const problems: string[] = [];
  const used = new Set(f.tasks);
  f.data.forEach((d, i) => {
    const ds = datasets.find((x) => x.id === d.datasetId);
    if (!ds) {
      problems.push(`data[${i}]: the data set is no longer in the workbench; pick another (Data panel)`);
      return;
    }
    const mp = mappingProblems(ds, d);
    if (mp.length) {
      for (const m of mp) problems.push(`data[${i}] (${ds.name}): ${m}`);
      return;
    }
    const base = taskIdOf(ds.name);
    let id = base;
    for (let k = 2; used.has(id); k++) id = `${base}-${k}`;
    used.add(id);
    tasks.push(datasetTask(ds, { inputs: d.inputs, target: d.target, kind: d.kind, test: d.test, seed: d.seed, id }));
  });
  return { tasks, problems };
}

/** The definition JSON the form describes (data entries that are not complete yet are left out). */
export function formToJson(f: ExperimentForm, datasets: readonly WorkbenchDataset[] = []): Record<string, unknown> {
  const caps: Record<string, number> = {};
  if (f.maxTrain !== null) caps.maxTrain = f.maxTrain;
  if (f.maxEval !== null) caps.maxEval = f.maxEval;
  if (f.maxChars !== null) caps.maxChars = f.maxChars;
  const tagLengths = parseList(f.tagLengths);
  return {
    name: f.name,
    tasks: [...f.tasks, ...dataTasksOf(f, datasets).tasks],
    methods: [...f.methods],
    seeds: parseList(f.seeds),
    hyper: f.epochs !== null ? { epochs: f.epochs, batch: f.batch, lr: f.lr } : { steps: f.steps, batch: f.batch, lr: f.lr },
    tagLength: f.tagLength,
    caps,
    ...(f.ablations.length ? { ablations: [...f.ablations] } : {}),
    ...(tagLengths.length ? { tagLengths } : {}),
  };
}

const FORM_KEYS = new Set(['name', 'tasks', 'methods', 'seeds', 'hyper', 'tagLength', 'caps', 'ablations', 'tagLengths', 'description', 'model', 'dataDir', '$schema']);
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The form entry a data-set task came from, when the form would write exactly that task again. */
function dataTaskFromJson(t: unknown, datasets: readonly WorkbenchDataset[]): DataTaskForm | null {
  if (!isObj(t) || !isObj(t.data) || t.data.builder !== 'dataset') return null;
  const task = t as unknown as TaskDefinition;
  const m = mappingOf(task);
  const src = task.data.builder === 'dataset' ? task.data : null;
  if (!m || !src) return null;
  const named = datasets.filter((d) => d.name === src.name);
  const ds = named.find((d) => rowsHash(d.rows) === src.hash) ?? named.at(-1);
  if (!ds || mappingProblems(ds, m).length) return null;
  const entry: DataTaskForm = { datasetId: ds.id, inputs: m.inputs, target: m.target, kind: m.kind ?? 'auto', test: m.test ?? 0.2, seed: m.seed ?? 0 };
  return hashOf(datasetTask(ds, { ...entry, id: task.id })) === hashOf(t) ? entry : null;
}

/** The form for a definition, or why the form cannot show it (custom tasks, other settings). */
export function formFromJson(json: unknown, datasets: readonly WorkbenchDataset[] = []): { form: ExperimentForm } | { reason: string } {
  if (!isObj(json)) return { reason: 'the definition is not a JSON object' };
  const other = Object.keys(json).filter((k) => !FORM_KEYS.has(k));
  if (other.length) return { reason: `the form has no place for ${other.map((k) => `"${k}"`).join(', ')}` };
  const all = Array.isArray(json.tasks) ? json.tasks : [];
  const tasks = all.filter((t) => typeof t === 'string');
  const data = all.filter((t) => typeof t !== 'string').map((t) => dataTaskFromJson(t, datasets));
  if (!tasks.every((t) => BUILTIN_TASKS.some((b) => b.id === t)) || data.some((d) => d === null)) return { reason: 'it has tasks that are neither built-in ids nor data sets of the workbench as the form writes them' };
  const hyper = isObj(json.hyper) ? json.hyper : {};
  const extraHyper = Object.keys(hyper).filter((k) => !['steps', 'epochs', 'batch', 'lr'].includes(k));
  if (extraHyper.length) return { reason: `the form has no place for hyper.${extraHyper.join(', hyper.')}` };
  const caps = isObj(json.caps) ? json.caps : {};
  const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
  const cap = (v: unknown) => (typeof v === 'number' ? v : null);
  const list = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');
  return {
    form: {
      name: typeof json.name === 'string' ? json.name : '',
      tasks: tasks as string[],
      data: data as DataTaskForm[],
      methods: (Array.isArray(json.methods) ? json.methods : []).filter((m): m is ExperimentMethod => EXPERIMENT_METHODS.includes(m as ExperimentMethod)),
      seeds: json.seeds === undefined ? '0' : list(json.seeds),
      steps: num(hyper.steps, DEFAULT_FORM.steps),
      epochs: typeof hyper.epochs === 'number' ? hyper.epochs : null,
      batch: num(hyper.batch, DEFAULT_FORM.batch),
      lr: num(hyper.lr, DEFAULT_FORM.lr),
      tagLength: num(json.tagLength, 10),
      maxTrain: cap(caps.maxTrain),
      maxEval: cap(caps.maxEval),
      maxChars: cap(caps.maxChars),
      ablations: (Array.isArray(json.ablations) ? json.ablations : []).filter((a): a is Ablation => ABLATIONS.includes(a as Ablation)),
      tagLengths: list(json.tagLengths),
    },
  };
}

/** A validated definition written back compactly: built-in tasks as their ids, empty lists left out. */
export function compactDefinition(def: ExperimentDefinition): Record<string, unknown> {
  const { tasks, ablations, tagLengths, ...rest } = def;
  return {
    ...rest,
    tasks: tasks.map((t) => (JSON.stringify(t) === JSON.stringify(builtinTask(t.id)) ? t.id : t)),
    ...(ablations.length ? { ablations } : {}),
    ...(tagLengths.length ? { tagLengths } : {}),
  };
}

export interface DefinitionCheck {
  /** The parsed JSON (null when the text does not parse). */
  json: unknown;
  /** JSON syntax error, with its position. */
  parseError: string | null;
  validation: ValidationResult | null;
  /** Cells the valid definition plans. */
  cells: number;
}

export function checkDefinition(mode: 'form' | 'json', form: ExperimentForm, text: string, datasets: readonly WorkbenchDataset[] = []): DefinitionCheck {
  let json: unknown;
  if (mode === 'form') {
    json = formToJson(form, datasets);
    const { problems } = dataTasksOf(form, datasets);
    if (problems.length) {
      // An unfinished data entry: say what it lacks (and not that the task list is empty because of it).
      const v = validateExperiment(json, { datasets });
      const rest = v.ok ? [] : v.errors.filter((e) => !(e.startsWith('tasks: must be a non-empty list') && form.data.length > 0));
      return { json, parseError: null, validation: { ok: false, errors: [...problems, ...rest] }, cells: 0 };
    }
  } else {
    if (text.trim() === '') return { json: null, parseError: 'Paste or upload an experiment definition (JSON).', validation: null, cells: 0 };
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { json: null, parseError: `Not valid JSON: ${(e as Error).message}`, validation: null, cells: 0 };
    }
  }
  const validation = validateExperiment(json, { datasets });
  return { json, parseError: null, validation, cells: validation.ok ? planCells(validation.definition).length : 0 };
}

/** The data sets a definition's "dataset" tasks name (the one with the task's hash when names repeat), to send with the run. */
export function datasetsFor(def: ExperimentDefinition, all: readonly WorkbenchDataset[]): ExperimentDataset[] {
  const out: ExperimentDataset[] = [];
  for (const t of def.tasks) {
    if (t.data.builder !== 'dataset') continue;
    const src = t.data;
    const named = all.filter((d) => d.name === src.name);
    const ds = named.find((d) => rowsHash(d.rows) === src.hash) ?? findDataset(named, src.name);
    if (ds && !out.some((x) => x.name === ds.name)) out.push({ name: ds.name, columns: ds.columns, rows: ds.rows });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Persistence (its own IndexedDB database, one record per experiment name)

export interface SavedExperiment {
  name: string;
  status: ExperimentResults['status'];
  updated: string;
  model: string;
  done: number;
  total: number;
}

export interface ExperimentsDb {
  readonly kind: 'indexeddb' | 'memory';
  list(): Promise<ExperimentResults[]>;
  get(name: string): Promise<ExperimentResults | null>;
  put(results: ExperimentResults): Promise<void>;
  delete(name: string): Promise<void>;
}

export const EXPERIMENTS_DB_NAME = 'tag-workbench-experiments';
const STORE = 'results';

export function createMemoryExperimentsDb(): ExperimentsDb {
  const m = new Map<string, ExperimentResults>();
  const c = <T>(v: T): T => structuredClone(v);
  return {
    kind: 'memory',
    async list() {
      return [...m.values()].map(c);
    },
    async get(name) {
      const r = m.get(name);
      return r ? c(r) : null;
    },
    async put(r) {
      m.set(r.name, c(r));
    },
    async delete(name) {
      m.delete(name);
    },
  };
}

export function openExperimentsDb(factory: IDBFactory | undefined = globalThis.indexedDB, name = EXPERIMENTS_DB_NAME): Promise<ExperimentsDb> {
  if (!factory) return Promise.resolve(createMemoryExperimentsDb());
  const opened = new Promise<IDBDatabase>((resolve, reject) => {
    const req = factory.open(name, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'name' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('Could not open IndexedDB'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
  return opened.then(
    (db): ExperimentsDb => {
      const req = <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>) =>
        new Promise<T>((resolve, reject) => {
          const tx = db.transaction(STORE, mode);
          const r = fn(tx.objectStore(STORE));
          tx.oncomplete = () => resolve(r.result);
          tx.onerror = () => reject(tx.error ?? r.error ?? new Error('IndexedDB request failed'));
          tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction was aborted'));
        });
      return {
        kind: 'indexeddb',
        list: () => req('readonly', (s) => s.getAll() as IDBRequest<ExperimentResults[]>),
        get: async (n) => ((await req('readonly', (s) => s.get(n))) as ExperimentResults | undefined) ?? null,
        put: async (r) => void (await req('readwrite', (s) => s.put(r))),
        delete: async (n) => void (await req('readwrite', (s) => s.delete(n))),
      };
    },
    () => createMemoryExperimentsDb(),
  );
}

export function savedOf(r: ExperimentResults): SavedExperiment {
  let total = r.cells.length;
  try {
    total = Math.max(total, planCells(r.definition).length);
  } catch {
    /* an old definition the planner no longer reads: count what is there */
  }
  return { name: r.name, status: r.status, updated: r.updated, model: r.model?.name ?? '', done: r.cells.filter((c) => c.status !== 'failed').length, total };
}

// ---------------------------------------------------------------------------------------------
// Views of results (pure, for the panel and tests)

/** One cell's loss curves: a row per step with a column per training stage. */
export function curveOf(cell: CellResult): { stages: string[]; data: Array<Record<string, number>> } {
  const stages = cell.stages.filter((s) => s.log.length > 0).map((s) => s.stage);
  const byStep = new Map<number, Record<string, number>>();
  for (const s of cell.stages) {
    for (const l of s.log) {
      if (l.skipped || !Number.isFinite(l.loss)) continue;
      const row = byStep.get(l.step) ?? { step: l.step };
      row[s.stage] = l.loss;
      byStep.set(l.step, row);
    }
  }
  return { stages, data: [...byStep.values()].sort((a, b) => a.step - b.step) };
}

/** Bars of one task column of a table: a bar per row with a value (mean, ± std as an error bar). */
export function barsOf(table: ResultTable, column: number): Array<{ key: string; label: string; mean: number; std: number; text: string }> {
  return table.rows.flatMap((r) => {
    const c = r.cells[column];
    return c && c.mean !== null ? [{ key: r.key, label: r.label, mean: c.mean, std: c.std ?? 0, text: c.text }] : [];
  });
}

/** A file-name-safe version of the experiment's name. */
export function fileBase(name: string): string {
  return name.trim().replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'experiment';
}

export type DownloadKind = 'json' | 'csv' | 'cells-csv' | 'md';

/** The results as a file to download. */
export function resultsFile(r: ExperimentResults, kind: DownloadKind): { name: string; text: string; type: string } {
  const base = fileBase(r.name);
  switch (kind) {
    case 'json':
      return { name: `${base}.results.json`, text: JSON.stringify(r, null, 1), type: 'application/json' };
    case 'csv':
      return { name: `${base}.csv`, text: formatCsv(r), type: 'text/csv' };
    case 'cells-csv':
      return { name: `${base}.cells.csv`, text: formatCellsCsv(r), type: 'text/csv' };
    case 'md':
      return { name: `${base}.md`, text: formatMarkdown(r), type: 'text/markdown' };
  }
}

// ---------------------------------------------------------------------------------------------
// The store

export type RunStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';
/** reused: finished in an earlier run with the same configuration (not run again). */
export type CellRunStatus = 'pending' | 'running' | 'done' | 'failed' | 'n/a' | 'reused';

export interface ExperimentsState {
  mode: 'form' | 'json';
  form: ExperimentForm;
  jsonText: string;
  /** The uploaded file the JSON came from. */
  fileName: string | null;
  /** Why the form cannot show the JSON definition (then the JSON stays the source). */
  formNote: string | null;
  check: DefinitionCheck;
  /** Ignore saved results: run every cell again. */
  fresh: boolean;

  status: RunStatus;
  error: string | null;
  plan: ExperimentCellPlan[];
  cellStatus: Record<string, CellRunStatus>;
  progress: ExperimentProgress | null;
  /** Loss per step of the cell stage training now. */
  live: { key: string; points: Array<{ step: number; loss: number }> } | null;
  results: ExperimentResults | null;
  /** The cell whose training curve is shown. */
  selected: string | null;
  saved: SavedExperiment[];

  setMode(mode: 'form' | 'json'): void;
  setForm(patch: Partial<ExperimentForm>): void;
  setJsonText(text: string, fileName?: string | null): void;
  setFresh(fresh: boolean): void;
  /** Adds a task over a workbench data set (the Data panel's id). */
  addDataTask(datasetId: string): void;
  setDataTask(index: number, patch: Partial<DataTaskForm>): void;
  removeDataTask(index: number): void;
  /** Re-checks the definition (the workbench's data sets changed). */
  recheck(): void;
  run(): Promise<void>;
  cancel(): void;
  select(cellId: string | null): void;
  loadSaved(): Promise<void>;
  /** Shows saved results (and puts their definition in the editor). */
  open(name: string): Promise<void>;
  remove(name: string): Promise<void>;
}

export type ExperimentsStore = StoreApi<ExperimentsState>;

export interface ExperimentsStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  db: Promise<ExperimentsDb>;
  /** Absolute URL of the data folder, for the worker. */
  dataBaseUrl: string;
  /** The Data panel's data sets (built-in and uploaded): tasks over them, checked as they change. */
  data?: DataStore;
}

/** Cell status from results (plan order), for a view of saved results. */
function statusesOf(plan: readonly ExperimentCellPlan[], cells: readonly CellResult[]): Record<string, CellRunStatus> {
  const out: Record<string, CellRunStatus> = {};
  for (const p of plan) out[p.id] = 'pending';
  for (const c of cells) out[c.id] = c.status;
  return out;
}

function planOf(def: ExperimentDefinition): ExperimentCellPlan[] {
  try {
    return planCells(def).map((c) => ({ id: c.id, task: c.task.id, method: c.method, variant: c.variant, tagLength: c.tagLength, seed: c.seed }));
  } catch {
    return [];
  }
}

export function createExperimentsStore({ client, notices, model, db, dataBaseUrl, data }: ExperimentsStoreDeps): ExperimentsStore {
  const datasets = (): WorkbenchDataset[] => (data?.getState().datasets ?? []).map((d) => ({ id: d.id, name: d.name, columns: d.columns, rows: d.rows }));
  let controller: AbortController | null = null;
  // Saves are serialized so an older partial result never overwrites a newer one.
  let saving: Promise<unknown> = Promise.resolve();
  const save = (r: ExperimentResults) => {
    const copy = structuredClone(r);
    saving = saving.then(() => db.then((d) => d.put(copy))).catch((e) => console.warn('saving experiment results failed:', e));
    return saving;
  };

  const store = createStore<ExperimentsState>()((set, get) => {
    const recheck = (patch: Partial<ExperimentsState>) => {
      const s = { ...get(), ...patch };
      set({ ...patch, check: checkDefinition(s.mode, s.form, s.jsonText, datasets()) });
    };

    const refreshSaved = async () => {
      try {
        const all = await (await db).list();
        set({ saved: all.filter((r) => r?.format === RESULTS_FORMAT).map(savedOf).sort((a, b) => b.updated.localeCompare(a.updated)) });
      } catch (e) {
        console.warn('listing saved experiments failed:', e);
      }
    };

    const onEvent = (e: ExperimentEvent, def: ExperimentDefinition) => {
      const s = get();
      if (e.kind === 'plan') {
        const results: ExperimentResults = {
          format: RESULTS_FORMAT,
          version: 1,
          name: e.name,
          model: e.model,
          definition: def,
          started: e.started,
          updated: e.started,
          status: 'running',
          cells: [],
        };
        set({ plan: e.cells, cellStatus: Object.fromEntries(e.cells.map((c) => [c.id, 'pending'])), results });
      } else if (e.kind === 'progress') {
        const p = e.progress;
        const patch: Partial<ExperimentsState> = { progress: p };
        if (p.phase === 'skipped') patch.cellStatus = { ...s.cellStatus, [p.cell]: 'reused' };
        else if (p.phase !== 'done' && p.phase !== 'failed' && s.cellStatus[p.cell] !== 'running') patch.cellStatus = { ...s.cellStatus, [p.cell]: 'running' };
        if (p.phase === 'train' && typeof p.step === 'number' && typeof p.loss === 'number') {
          const key = `${p.cell} ${p.stage ?? ''}`;
          const points = s.live?.key === key ? s.live.points : [];
          patch.live = { key, points: [...points.filter((x) => x.step < p.step!), { step: p.step, loss: p.loss }] };
        }
        set(patch);
      } else if (e.kind === 'cell') {
        if (!s.results) return;
        const cells = [...s.results.cells.filter((c) => c.id !== e.cell.id), e.cell];
        const results = { ...s.results, cells, updated: e.updated };
        const reused = s.cellStatus[e.cell.id] === 'reused';
        set({ results, cellStatus: { ...s.cellStatus, [e.cell.id]: reused ? 'reused' : e.cell.status } });
        void save(results).then(refreshSaved);
      }
    };

    return {
      mode: 'form',
      form: DEFAULT_FORM,
      jsonText: '',
      fileName: null,
      formNote: null,
      check: checkDefinition('form', DEFAULT_FORM, '', datasets()),
      fresh: false,

      status: 'idle',
      error: null,
      plan: [],
      cellStatus: {},
      progress: null,
      live: null,
      results: null,
      selected: null,
      saved: [],

      setMode(mode) {
        const s = get();
        if (mode === s.mode) return;
        if (mode === 'json') {
          // The form's definition, to edit further.
          recheck({ mode, jsonText: JSON.stringify(formToJson(s.form, datasets()), null, 2), fileName: null, formNote: null });
          return;
        }
        const c = s.check;
        if (c.parseError && s.jsonText.trim() !== '') {
          set({ formNote: 'Fix the JSON first (it does not parse), or clear it.' });
          return;
        }
        if (s.jsonText.trim() === '') {
          recheck({ mode, formNote: null });
          return;
        }
        const f = formFromJson(c.json, datasets());
        if ('reason' in f) {
          set({ formNote: `This definition cannot be shown as a form: ${f.reason}. Edit it as JSON.` });
          return;
        }
        recheck({ mode, form: f.form, formNote: null });
      },

      setForm(patch) {
        recheck({ form: { ...get().form, ...patch } });
      },

      setJsonText(text, fileName) {
        recheck({ jsonText: text, mode: 'json', formNote: null, ...(fileName !== undefined ? { fileName } : {}) });
      },

      setFresh(fresh) {
        set({ fresh });
      },

      addDataTask(datasetId) {
        const ds = datasets().find((d) => d.id === datasetId);
        if (!ds) return;
        const f = get().form;
        recheck({ form: { ...f, data: [...f.data, newDataTask(ds)] } });
      },

      setDataTask(index, patch) {
        const f = get().form;
        const cur = f.data[index];
        if (!cur) return;
        let next = { ...cur, ...patch };
        // Another data set: its own columns.
        if (patch.datasetId && patch.datasetId !== cur.datasetId) {
          const ds = datasets().find((d) => d.id === patch.datasetId);
          if (ds) next = { ...newDataTask(ds), test: next.test, seed: next.seed };
        }
        recheck({ form: { ...f, data: f.data.map((d, i) => (i === index ? next : d)) } });
      },

      removeDataTask(index) {
        const f = get().form;
        recheck({ form: { ...f, data: f.data.filter((_, i) => i !== index) } });
      },

      recheck() {
        recheck({});
      },

      async run() {
        if (get().status === 'running') return;
        if (!model.getState().model) {
          notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first: experiments run on the loaded model.' });
          return;
        }
        const c = get().check;
        if (!c.validation?.ok) {
          set({ error: c.parseError ?? 'The definition has problems (listed under it). Fix them first.' });
          return;
        }
        const def = c.validation.definition;
        let previous: ExperimentResults | undefined;
        if (!get().fresh) {
          try {
            const p = await (await db).get(def.name);
            if (p?.format === RESULTS_FORMAT && Array.isArray(p.cells)) previous = p;
          } catch (e) {
            console.warn('reading saved experiment results failed:', e);
          }
        }
        const ac = new AbortController();
        controller = ac;
        set({ status: 'running', error: null, plan: [], cellStatus: {}, progress: null, live: null, results: null, selected: null });
        try {
          const sets = datasetsFor(def, datasets());
          const res = await client.request('experimentRun', { definition: c.json, previous, dataBaseUrl, ...(sets.length ? { datasets: sets } : {}) }, { signal: ac.signal, onEvent: (e) => onEvent(e, def) });
          const s = get();
          // Cells reported as reused keep that mark; the rest follow the final results.
          const cellStatus = { ...statusesOf(s.plan, res.cells) };
          for (const [id, st] of Object.entries(s.cellStatus)) if (st === 'reused') cellStatus[id] = 'reused';
          set({ results: res, status: res.status === 'cancelled' ? 'cancelled' : 'done', cellStatus, progress: null });
          await save(res);
        } catch (e) {
          if (isAbortError(e) || ac.signal.aborted) {
            const r = get().results;
            set({ status: 'cancelled', progress: null, results: r ? { ...r, status: 'cancelled' } : r });
            if (r) await save({ ...r, status: 'cancelled' });
          } else {
            const msg = String((e as Error)?.message ?? e);
            set({ status: 'error', error: msg, progress: null });
            if ((e as Error)?.name !== 'ExperimentDefinitionError') notices.getState().pushError(e, 'The experiment');
          }
        } finally {
          if (controller === ac) controller = null;
          await refreshSaved();
        }
      },

      cancel() {
        controller?.abort();
      },

      select(cellId) {
        set({ selected: cellId });
      },

      async loadSaved() {
        await refreshSaved();
      },

      async open(name) {
        if (get().status === 'running') return;
        const r = await (await db).get(name).catch(() => null);
        if (!r) {
          notices.getState().push({ kind: 'warning', title: 'Not found', message: `No saved results named ${JSON.stringify(name)}.` });
          await refreshSaved();
          return;
        }
        const plan = planOf(r.definition);
        const compact = compactDefinition(r.definition);
        const f = formFromJson(compact, datasets());
        const editor: Partial<ExperimentsState> =
          'form' in f ? { mode: 'form', form: f.form } : { mode: 'json', jsonText: JSON.stringify(compact, null, 2), fileName: null };
        recheck({
          ...editor,
          formNote: null,
          results: r,
          plan,
          cellStatus: statusesOf(plan, r.cells),
          status: r.status === 'cancelled' ? 'cancelled' : 'done',
          error: null,
          progress: null,
          live: null,
          selected: null,
        });
      },

      async remove(name) {
        await (await db).delete(name).catch((e) => notices.getState().pushError(e, 'Deleting the results'));
        if (get().results?.name === name && get().status !== 'running') set({ results: null, plan: [], cellStatus: {}, status: 'idle', selected: null });
        await refreshSaved();
      },
    };
  });
  // A data set imported, renamed or deleted in the Data panel changes what the definition can use.
  data?.subscribe((s, prev) => {
    if (s.datasets !== prev.datasets) store.getState().recheck();
  });
  return store;
}
