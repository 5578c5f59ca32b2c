/**
 * The app's store instances and React hooks, wired to the real engine worker.
 * (Tests build their own stores with the create* factories and a fake client.)
 */
import { useStore } from 'zustand';
import { EngineClient, createEngineWorker } from '../worker/client';
import { resolveUrl } from './catalog';
import { createComposerStore, type ComposerState } from './composer';
import { createDataStore, type DataState } from './data';
import { openWorkbenchDb } from './db';
import { createEngineStore, type EngineState } from './engine';
import { createGenerationStore, type GenerationState } from './generation';
import { createInspectorStore, type InspectorState } from './inspector';
import { createLibraryStore, type LibraryState } from './library';
import { createMatrixStore, type MatrixState } from './matrix';
import { createMappingCheckStore, createRowsSource, type MappingCheckState } from './mapping-check';
import { createMappingChecker, createMappingCheckWorker } from '../worker/mapping-check-client';
import { createModelStore, type ModelState } from './model';
import { createModelCacheStore, type ModelCacheState } from './modelCache';
import { createNoticesStore, type NoticesState } from './notices';
import { followAdapter, renamer, renameTagsInTemplate, tagRenames } from './tag-renames';
import { createTrainStore, type TrainState } from './train';

// A worker that crashes, loses its GPU device or stops answering is replaced (see ./engine.ts).
export const client = new EngineClient(createEngineWorker(), { spawn: createEngineWorker, pingAfterMs: 5_000, deadAfterMs: 60_000 });
export const noticesStore = createNoticesStore();
export const modelStore = createModelStore({
  client,
  notices: noticesStore,
  storage: typeof localStorage !== 'undefined' ? localStorage : null,
});
export const generationStore = createGenerationStore({ client, notices: noticesStore, model: modelStore });

const opened = openWorkbenchDb();
const db = opened.then((o) => o.db);
void opened.then((o) => {
  if (o.warning) noticesStore.getState().push({ kind: 'warning', title: 'Nothing will be saved', message: o.warning });
});

export const libraryStore = createLibraryStore({ client, notices: noticesStore, db });
export const dataStore = createDataStore({ client, notices: noticesStore, db, dataBaseUrl: resolveUrl('data/') });
/** The mapping worker (started on the first large dataset): the Data panel's checks, and the rows of runs, Matrix cells, Composer pre-fills. */
const mappingChecker = createMappingChecker(createMappingCheckWorker);
export const datasetRowsOf = createRowsSource(mappingChecker);
export const trainStore = createTrainStore({
  client,
  rows: datasetRowsOf,
  notices: noticesStore,
  model: modelStore,
  data: dataStore,
  db,
  storage: typeof localStorage !== 'undefined' ? localStorage : null,
});
export const composerStore = createComposerStore({ client, notices: noticesStore, model: modelStore });
export const matrixStore = createMatrixStore({ client, notices: noticesStore, model: modelStore, data: dataStore, rows: datasetRowsOf });
/** Mapping checks of large datasets, in their own worker (started on the first large dataset). */
export const mappingCheckStore = createMappingCheckStore({ checker: mappingChecker });
// A deleted dataset's rows leave the check worker too.
let lastDatasets = dataStore.getState().datasets;
dataStore.subscribe((s) => {
  if (s.datasets === lastDatasets) return;
  const gone = lastDatasets.filter((d) => !s.datasets.some((x) => x.id === d.id));
  lastDatasets = s.datasets;
  for (const d of gone) mappingCheckStore.getState().forget(d);
});
export const inspectorStore = createInspectorStore({ client, notices: noticesStore, model: modelStore });
export const modelCacheStore = createModelCacheStore({ notices: noticesStore });
export const engineStore = createEngineStore({ client, notices: noticesStore, model: modelStore, library: libraryStore, train: trainStore });

// Test hook (e2e/specs/worker-restart.mjs): kills the worker as an out-of-memory kill would. By default
// the death is declared at once; `{ silently: true }` only terminates it and leaves noticing to the liveness ping.
if (typeof window !== 'undefined') {
  (window as unknown as { __twKillWorker?: (o?: { silently?: boolean }) => void }).__twKillWorker = (o = {}) =>
    o.silently ? client.terminateWorkerOnly() : client.kill('the engine worker was killed by a test');
}

client.onBroadcast(({ type, error }) => {
  noticesStore.getState().pushError(error, type === 'deviceLost' ? 'GPU' : 'Engine');
  if (type === 'deviceLost') {
    modelStore.getState().deviceLost(error.message);
    void modelStore.getState().queryGpu();
  }
});

// The model's fingerprint (tags are checked against it) and the cached-files list follow the model.
let lastModel: unknown = null;
modelStore.subscribe((s) => {
  if (s.model === lastModel) return;
  const hadModel = lastModel !== null;
  lastModel = s.model;
  void libraryStore.getState().refreshFingerprint(s.model?.name ?? null);
  if (s.model || hadModel) void modelCacheStore.getState().refresh();
});

// Tags are tracked by id: a rename in the library carries over to the Composer's chips and the
// Train panel's template.
let lastTags = libraryStore.getState().summary.tags;
libraryStore.subscribe((s) => {
  if (s.summary.tags === lastTags) return;
  const renames = tagRenames(lastTags, s.summary.tags);
  lastTags = s.summary.tags;
  if (renames.length === 0) return;
  composerStore.getState().renameTags(renamer(renames));
  const t = trainStore.getState();
  const template = renameTagsInTemplate(t.config.template, renames);
  if (template !== t.config.template) t.setConfig({ template });
});

// A chosen adapter follows a rename and is dropped when deleted (Generate, Composer, Matrix, Train panels).
let lastAdapters = libraryStore.getState().summary.adapters;
libraryStore.subscribe((s) => {
  if (s.summary.adapters === lastAdapters) return;
  const prev = lastAdapters;
  lastAdapters = s.summary.adapters;
  const follow = (name: string | null) => followAdapter(prev, s.summary.adapters, name);
  const g = generationStore.getState();
  if (follow(g.adapter) !== g.adapter) g.setAdapter(follow(g.adapter));
  const c = composerStore.getState();
  for (const which of ['a', 'b'] as const) if (follow(c.adapters[which]) !== c.adapters[which]) c.setAdapter(which, follow(c.adapters[which]));
  const mx = matrixStore.getState();
  if (follow(mx.adapter) !== mx.adapter) mx.followAdapter(follow(mx.adapter));
  const t = trainStore.getState();
  const from = t.config.initAdapter ?? null;
  if (follow(from) !== from) t.setConfig({ initAdapter: follow(from) });
});

/** Loads what was saved: the tag library into the worker, datasets, checkpoints. */
export function restoreSession(): void {
  void libraryStore.getState().restore();
  void dataStore.getState().load();
  void trainStore.getState().loadCheckpoints();
  void modelCacheStore.getState().refresh();
}

export function useEngine<T>(selector: (s: EngineState) => T): T {
  return useStore(engineStore, selector);
}
export function useModel<T>(selector: (s: ModelState) => T): T {
  return useStore(modelStore, selector);
}
export function useGeneration<T>(selector: (s: GenerationState) => T): T {
  return useStore(generationStore, selector);
}
export function useNotices<T>(selector: (s: NoticesState) => T): T {
  return useStore(noticesStore, selector);
}
export function useMappingCheck<T>(selector: (s: MappingCheckState) => T): T {
  return useStore(mappingCheckStore, selector);
}
export function useLibrary<T>(selector: (s: LibraryState) => T): T {
  return useStore(libraryStore, selector);
}
export function useData<T>(selector: (s: DataState) => T): T {
  return useStore(dataStore, selector);
}
export function useTrain<T>(selector: (s: TrainState) => T): T {
  return useStore(trainStore, selector);
}
export function useComposer<T>(selector: (s: ComposerState) => T): T {
  return useStore(composerStore, selector);
}
export function useMatrix<T>(selector: (s: MatrixState) => T): T {
  return useStore(matrixStore, selector);
}
export function useInspector<T>(selector: (s: InspectorState) => T): T {
  return useStore(inspectorStore, selector);
}
export function useModelCache<T>(selector: (s: ModelCacheState) => T): T {
  return useStore(modelCacheStore, selector);
}

/** Errors that escape everything else still reach the banner. */
export function installGlobalErrorHandlers(win: Window = window): void {
  win.addEventListener('error', (ev) => {
    noticesStore.getState().pushError(ev.error ?? new Error(ev.message), 'The app');
  });
  win.addEventListener('unhandledrejection', (ev) => {
    noticesStore.getState().pushError(ev.reason, 'The app');
  });
}
