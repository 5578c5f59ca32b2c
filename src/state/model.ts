/**
 * Model store: the GPU adapter, the load in progress (bytes, speed, ETA) and the loaded model.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { LoadProgress, MemoryReport } from '../model/api';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type GpuInfo, type ModelInfo, type ModelSourceSpec } from '../worker/protocol';
import type { NoticesStore } from './notices';

export type GpuStatus = 'idle' | 'pending' | 'ready' | 'error';
export type LoadStatus = 'idle' | 'loading' | 'loaded' | 'error' | 'cancelled';

export interface ProgressView {
  phase: LoadProgress['phase'];
  loaded: number;
  total: number;
  message?: string;
  /** loaded/total in [0, 1], or null when the total is unknown. */
  fraction: number | null;
  /** Average rate over the current phase (bytes or steps per second); null until measurable. */
  rate: number | null;
  /** Seconds left in the current phase; null when unknown. */
  etaSec: number | null;
  /** When the whole load and the current phase started (ms, store clock). */
  startedAt: number;
  phaseStartedAt: number;
  /** `loaded` when the phase started (rates count from there). */
  phaseStartLoaded: number;
  /** Time of this update. */
  at: number;
}

/** Below this much time in a phase, the rate is too noisy to show. */
const MIN_RATE_WINDOW_MS = 150;

/** Folds one progress report into the view: rate is the average since the phase began. */
export function advanceProgress(prev: ProgressView | null, p: LoadProgress, now: number): ProgressView {
  const samePhase = prev !== null && prev.phase === p.phase && p.loaded >= prev.loaded;
  const startedAt = prev?.startedAt ?? now;
  const phaseStartedAt = samePhase ? prev.phaseStartedAt : now;
  const phaseStartLoaded = samePhase ? prev.phaseStartLoaded : p.loaded;
  const total = p.total > 0 ? p.total : 0;
  const fraction = total > 0 ? Math.min(1, Math.max(0, p.loaded / total)) : null;
  const dt = now - phaseStartedAt;
  const done = p.loaded - phaseStartLoaded;
  const rate = dt >= MIN_RATE_WINDOW_MS && done > 0 ? (done * 1000) / dt : null;
  const etaSec = rate && total > 0 ? Math.max(0, (total - p.loaded) / rate) : null;
  return {
    phase: p.phase,
    loaded: p.loaded,
    total,
    message: p.message,
    fraction,
    rate,
    etaSec,
    startedAt,
    phaseStartedAt,
    phaseStartLoaded,
    at: now,
  };
}

export interface ModelState {
  gpuStatus: GpuStatus;
  gpu: GpuInfo | null;
  gpuError: string | null;

  status: LoadStatus;
  /** What is being loaded or was loaded last (catalog name, URL or file name). */
  sourceLabel: string | null;
  progress: ProgressView | null;
  model: ModelInfo | null;
  error: string | null;

  /** Asks the worker for the adapter (acquiring the device); safe to call repeatedly. */
  queryGpu(): Promise<void>;
  /** Loads a model, replacing the current one. Resolves when done, failed or cancelled. */
  load(source: ModelSourceSpec, label?: string, opts?: { maxContext?: number; slots?: number }): Promise<void>;
  cancelLoad(): void;
  unload(): Promise<void>;
  /** Updates the memory report (the generation store calls this after each run). */
  setMemory(memory: MemoryReport): void;
  /** The device went away: the model is gone with it. */
  deviceLost(message: string): void;
}

export type ModelStore = StoreApi<ModelState>;

export interface ModelStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  now?: () => number;
}

export function sourceLabelOf(source: ModelSourceSpec): string {
  if (source.kind === 'file') return source.file?.name ?? 'file';
  if (source.name) return source.name;
  try {
    const u = new URL(source.url);
    return u.pathname.split('/').filter(Boolean).pop() || source.url;
  } catch {
    return source.url;
  }
}

export function createModelStore({ client, notices, now = () => performance.now() }: ModelStoreDeps): ModelStore {
  let loadController: AbortController | null = null;
  let gpuQuery: Promise<void> | null = null;

  return createStore<ModelState>()((set, get) => ({
    gpuStatus: 'idle',
    gpu: null,
    gpuError: null,
    status: 'idle',
    sourceLabel: null,
    progress: null,
    model: null,
    error: null,

    queryGpu() {
      if (get().gpuStatus === 'ready') return Promise.resolve();
      if (gpuQuery) return gpuQuery;
      set({ gpuStatus: 'pending', gpuError: null });
      gpuQuery = client
        .request('gpuInfo', {})
        .then((gpu) => set({ gpu, gpuStatus: 'ready', gpuError: null }))
        .catch((e) => {
          set({ gpuStatus: 'error', gpuError: String((e as Error)?.message ?? e) });
          notices.getState().pushError(e, 'WebGPU set-up');
        })
        .finally(() => {
          gpuQuery = null;
        });
      return gpuQuery;
    },

    async load(source, label, opts = {}) {
      if (get().status === 'loading') {
        notices.getState().push({ kind: 'warning', title: 'Already loading', message: 'Cancel the current load first.' });
        return;
      }
      const controller = new AbortController();
      loadController = controller;
      const t0 = now();
      set({
        status: 'loading',
        sourceLabel: label ?? sourceLabelOf(source),
        progress: advanceProgress(null, { phase: 'download', loaded: 0, total: 0, message: 'Starting…' }, t0),
        // The worker frees the current model before loading the next one.
        model: null,
        error: null,
      });
      try {
        const model = await client.request(
          'loadModel',
          { source, maxContext: opts.maxContext, slots: opts.slots },
          {
            signal: controller.signal,
            onEvent: (p) => {
              if (loadController !== controller) return;
              set({ progress: advanceProgress(get().progress, p, now()) });
            },
          },
        );
        if (loadController !== controller) return;
        set({ status: 'loaded', model, progress: null, error: null });
        if (get().gpuStatus !== 'ready') void get().queryGpu();
      } catch (e) {
        if (loadController !== controller) return;
        if (isAbortError(e) || controller.signal.aborted) {
          set({ status: 'cancelled', progress: null, error: null });
          notices.getState().push({ kind: 'info', title: 'Loading cancelled', message: `${get().sourceLabel ?? 'The model'} was not loaded.` });
        } else {
          const message = String((e as Error)?.message ?? e);
          set({ status: 'error', progress: null, error: message });
          notices.getState().pushError(e, 'Loading the model');
        }
      } finally {
        if (loadController === controller) loadController = null;
      }
    },

    cancelLoad() {
      loadController?.abort();
    },

    async unload() {
      if (get().status === 'loading') get().cancelLoad();
      try {
        await client.request('unloadModel', {});
      } catch (e) {
        notices.getState().pushError(e, 'Unloading the model');
      }
      set({ model: null, status: 'idle', progress: null, error: null });
    },

    setMemory(memory) {
      const m = get().model;
      if (m) set({ model: { ...m, memory } });
    },

    deviceLost(message) {
      loadController?.abort();
      loadController = null;
      set({
        gpuStatus: 'idle',
        gpu: null,
        gpuError: message,
        model: null,
        status: get().model || get().status === 'loading' ? 'error' : get().status,
        progress: null,
        error: get().model ? message : get().error,
      });
    },
  }));
}
