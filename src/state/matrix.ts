/**
 * Composition-matrix store: domain tags × function tags; each cell evaluates the pair on a chosen
 * dataset (no training) and shows its metric, marked trained / zero-shot from the tags' provenance.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type MatrixCellReply, type RowPrediction, type TagSummary } from '../worker/protocol';
import type { DataStore } from './data';
import { createRowsSource, type RowsSource } from './mapping-check';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

export const DOMAIN_SLOT = '$DOMAIN';
export const FUNCTION_SLOT = '$FUNCTION';
export const DEFAULT_CELL_TEMPLATE = '# # Input: <$DOMAIN> {input}\n# # Output: <$FUNCTION> {output}';

/** The pattern with its <$DOMAIN> and <$FUNCTION> slots filled. */
export function cellTemplate(pattern: string, domain: string, fn: string): string {
  return pattern.split(`<${DOMAIN_SLOT}>`).join(`<${domain}>`).split(`<${FUNCTION_SLOT}>`).join(`<${fn}>`);
}

export type Combination = 'trained' | 'zero-shot' | 'untrained';

/** Domain tags a function tag was trained with (its provenance notes: "trained with: <A> <B>"). */
export function trainedWith(fn: Pick<TagSummary, 'provenance'>): string[] {
  const m = /trained with:([^\n]*)/.exec(fn.provenance.notes ?? '');
  return m ? [...m[1].matchAll(/<([^>\s]+)>/g)].map((x) => x[1]) : [];
}

/** trained: the function tag was trained together with this domain tag; zero-shot: it was trained, never with it. */
export function combinationOf(domain: Pick<TagSummary, 'name'>, fn: Pick<TagSummary, 'provenance'>): Combination {
  if (fn.provenance.stage === 'init' || fn.provenance.steps === 0) return 'untrained';
  return trainedWith(fn).includes(domain.name) ? 'trained' : 'zero-shot';
}

/**
 * A training template as a cell template: the function tag becomes <$FUNCTION>, the first domain
 * tag <$DOMAIN>. Null when the template has no domain tag to swap.
 */
export function patternOfTemplate(template: string, fn: string, domains: readonly string[]): string | null {
  const tagRe = /(^|[^\\])<([A-Za-z_][A-Za-z0-9_-]*)>/g;
  const names = [...template.matchAll(tagRe)].map((m) => m[2]!);
  const domain = names.find((n) => domains.includes(n));
  if (!domain || !names.includes(fn)) return null;
  return template.replace(tagRe, (all, pre: string, name: string) => (name === fn ? `${pre}<${FUNCTION_SLOT}>` : name === domain ? `${pre}<${DOMAIN_SLOT}>` : all));
}

export const cellKey = (domain: string, fn: string) => `${domain}\u0000${fn}`;

export interface CellState {
  status: 'running' | 'done' | 'error';
  reply?: MatrixCellReply;
  error?: string;
  /** The rows sent (reply.predictions index into them). */
  rows?: Array<Record<string, string>>;
}

export type RowsChoice = 'test' | 'validation' | 'all';

export interface MatrixState {
  datasetId: string | null;
  pattern: string;
  rows: RowsChoice;
  limit: number;
  outputField: string;
  /** Template field → dataset field, as the training run mapped them ({} = the dataset's own names). */
  fieldMap: Record<string, string>;
  /** Library LoRA adapter applied under the heads of cells and batch predictions (null = the base model). */
  adapter: string | null;
  /** Where the settings came from: the run that trained a function tag (null: the user's or the default). */
  defaultsFrom: string | null;
  cells: Record<string, CellState>;
  running: boolean;
  /** Rows mapped so far of the dataset an evaluation is about to use (a large upload, in the mapping worker), else null. */
  preparingRows: { done: number; total: number } | null;

  setConfig(patch: Partial<Pick<MatrixState, 'datasetId' | 'pattern' | 'rows' | 'limit' | 'outputField' | 'fieldMap' | 'adapter'>>): void;
  /** The library renamed or deleted the chosen adapter: follow it without discarding the cells (they name theirs). */
  followAdapter(name: string | null): void;
  /**
   * Takes the template, field mapping, output field and dataset of the run that trained `fn`, with its
   * tags replaced by the pair slots; does nothing once the user changed the settings.
   */
  adoptRun(fn: string, run: { label: string; config: { template: string; fieldMap: Record<string, string>; outputField: string; datasetIds: string[] } }, domains: readonly string[]): void;
  evaluate(domain: string, fn: string): Promise<void>;
  evaluateAll(domains: string[], fns: string[]): Promise<void>;
  stop(): void;
  clearCells(): void;
  /** The cell whose per-row predictions are shown. */
  shown: string | null;
  show(key: string | null): void;
  /** The head of `fn` on each input (one row each, in `inputField`), with the chosen adapter; labels optional. */
  predictBatch(p: { fn: string; template: string; inputField: string; outputField: string; inputs: string[] }): Promise<{ predictions: RowPrediction[]; adapter: string | null } | null>;
}

export type MatrixStore = StoreApi<MatrixState>;

export interface MatrixStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  data: DataStore;
  /** The dataset's rows (the app maps large uploads in the mapping worker); default: mapped in place. */
  rows?: RowsSource;
}

type CellRows = { name: string; rows: Array<Record<string, string>> } | { error: string };

export function createMatrixStore({ client, notices, model, data, rows: rowsSource = createRowsSource(null) }: MatrixStoreDeps): MatrixStore {
  let controller: AbortController | null = null;
  /** The user changed a setting: run defaults no longer apply. */
  let touched = false;

  return createStore<MatrixState>()((set, get) => {
    const setCell = (key: string, c: CellState) => set({ cells: { ...get().cells, [key]: c } });

    /** The rows every cell of an evaluation is scored on (mapped once per evaluation, not per cell). */
    const rowsFor = async (signal: AbortSignal): Promise<CellRows> => {
      const ds = data.getState().get(get().datasetId);
      if (!ds) return { error: 'Choose a dataset.' };
      const choice = get().rows;
      const onProgress = (done: number, total: number) => set({ preparingRows: { done, total } });
      set({ preparingRows: { done: 0, total: ds.rows.length } });
      try {
        let got = await rowsSource(ds, { split: ds.split, parts: [choice] }, { signal, onProgress });
        if (got.error) return { error: got.error };
        // An empty part (its fraction is 0): every row, as before.
        if (choice !== 'all' && !got.parts[choice]!.length) got = await rowsSource(ds, { parts: ['all'] }, { signal, onProgress });
        const picked = got.parts[choice]!.length || choice === 'all' ? got.parts[choice]! : got.parts.all!;
        // The run's mapping: template field ← dataset field.
        const map = Object.entries(get().fieldMap).filter(([f, src]) => f !== src);
        const rows = map.length ? picked.map((r) => ({ ...r, ...Object.fromEntries(map.map(([f, src]) => [f, r[src] ?? ''])) })) : picked;
        return { name: ds.name, rows };
      } finally {
        set({ preparingRows: null });
      }
    };

    const one = async (domain: string, fn: string, signal: AbortSignal, src: CellRows) => {
      const key = cellKey(domain, fn);
      if ('error' in src) {
        setCell(key, { status: 'error', error: src.error });
        return;
      }
      setCell(key, { status: 'running' });
      try {
        const reply = await client.request(
          'matrixCell',
          {
            domain,
            fn,
            template: cellTemplate(get().pattern, domain, fn),
            datasetName: src.name,
            rows: src.rows,
            outputField: get().outputField,
            limit: get().limit,
            ...(get().adapter ? { adapter: get().adapter } : {}),
          },
          { signal },
        );
        setCell(key, { status: 'done', reply, rows: src.rows });
      } catch (e) {
        if (isAbortError(e) || signal.aborted) {
          const cells = { ...get().cells };
          delete cells[key];
          set({ cells });
          throw e;
        }
        setCell(key, { status: 'error', error: String((e as Error)?.message ?? e) });
      }
    };

    const guard = (): boolean => {
      if (!model.getState().model) {
        notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
        return false;
      }
      if (get().running) return false;
      return true;
    };

    return {
      datasetId: null,
      pattern: DEFAULT_CELL_TEMPLATE,
      rows: 'test',
      limit: 16,
      outputField: 'output',
      fieldMap: {},
      adapter: null,
      defaultsFrom: null,
      cells: {},
      running: false,
      preparingRows: null,

      setConfig(patch) {
        const changesResult = ['datasetId', 'pattern', 'rows', 'limit', 'outputField', 'fieldMap', 'adapter'].some((k) => k in patch);
        touched = true;
        set({ ...patch, defaultsFrom: null, ...(changesResult ? { cells: {} } : {}) });
      },

      followAdapter(adapter) {
        set({ adapter });
      },

      adoptRun(fn, run, domains) {
        if (touched || get().defaultsFrom) return;
        const pattern = patternOfTemplate(run.config.template, fn, domains);
        if (!pattern) return;
        const datasetId = run.config.datasetIds.find((id) => data.getState().get(id)) ?? get().datasetId;
        set({ pattern, fieldMap: { ...run.config.fieldMap }, outputField: run.config.outputField, datasetId, defaultsFrom: `${run.label} (the run that trained <${fn}>)`, cells: {} });
      },

      async evaluate(domain, fn) {
        if (!guard()) return;
        const c = new AbortController();
        controller = c;
        set({ running: true });
        try {
          await one(domain, fn, c.signal, await rowsFor(c.signal));
        } catch {
          /* cancelled */
        } finally {
          if (controller === c) controller = null;
          set({ running: false });
        }
      },

      async evaluateAll(domains, fns) {
        if (!guard()) return;
        const c = new AbortController();
        controller = c;
        set({ running: true });
        try {
          const src = await rowsFor(c.signal);
          for (const d of domains) for (const f of fns) await one(d, f, c.signal, src);
        } catch {
          /* cancelled */
        } finally {
          if (controller === c) controller = null;
          set({ running: false });
        }
      },

      stop() {
        controller?.abort();
      },

      clearCells() {
        set({ cells: {}, shown: null });
      },

      shown: null,
      show(key) {
        set({ shown: key });
      },

      async predictBatch({ fn, template, inputField, outputField, inputs }) {
        if (!model.getState().model) {
          notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
          return null;
        }
        const adapter = get().adapter;
        try {
          const reply = await client.request('matrixCell', {
            domain: fn,
            fn,
            template,
            datasetName: 'the pasted inputs',
            rows: inputs.map((x) => ({ [inputField]: x, [outputField]: '' })),
            outputField,
            limit: inputs.length,
            predictOnly: true,
            ...(adapter ? { adapter } : {}),
          });
          return { predictions: reply.predictions ?? [], adapter: reply.adapter };
        } catch (e) {
          notices.getState().pushError(e, 'Batch prediction');
          return null;
        }
      },
    };
  });
}
