/**
 * Model store: the GPU adapter, the pre-load inspection of the selected model (header only: config,
 * memory estimate, largest tensor, and the verdict against the adapter's limits and the memory
 * budget), the load in progress (bytes, speed, ETA) and the loaded model.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { LoadProgress, MemoryReport } from '../model/api';
import { assessFit, type FitLimits, type FitVerdict, type ModelInspection } from '../model/preflight';
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

export type InspectStatus = 'idle' | 'pending' | 'ready' | 'error';

/** The latest pre-load inspection (one at a time: a new one replaces the last). */
export interface InspectionState {
  status: InspectStatus;
  /** sourceKey() of the inspected source: buttons compare it with their own. */
  key: string | null;
  label: string | null;
  result: ModelInspection | null;
  /** Why the inspection failed, in words (the worker's message plus what it likely means). */
  error: string | null;
  errorName: string | null;
}

const NO_INSPECTION: InspectionState = { status: 'idle', key: null, label: null, result: null, error: null, errorName: null };

/** WebGPU does not say how much memory the GPU has: the estimate is held against this budget, which the user sets. */
export const DEFAULT_BUDGET_BYTES = 8 * 2 ** 30;
export const BUDGET_STORAGE_KEY = 'tag-workbench-memory-budget';
export const LOAD_SETTINGS_STORAGE_KEY = 'tag-workbench-load-settings';

/** What a load allocates for: decoding slots and KV positions per slot; null = the engine's default (4 slots; the model's context, halved under the KV cap). */
export interface LoadSettings {
  slots: number | null;
  maxContext: number | null;
}
export const DEFAULT_LOAD_SETTINGS: LoadSettings = { slots: null, maxContext: null };
/** The worker's bounds (src/worker/schema.ts). */
export const MAX_SLOTS = 64;
export const MIN_CONTEXT = 16;
export const MAX_CONTEXT = 1 << 24;

/** What is wrong with the load settings, by field (empty when they are usable). */
export function checkLoadSettings(s: LoadSettings): Partial<Record<keyof LoadSettings, string>> {
  const e: Partial<Record<keyof LoadSettings, string>> = {};
  if (s.slots !== null && !(Number.isInteger(s.slots) && s.slots >= 1 && s.slots <= MAX_SLOTS)) e.slots = `Parallel slots must be a whole number from 1 to ${MAX_SLOTS} (or empty for the default, 4).`;
  if (s.maxContext !== null && !(Number.isInteger(s.maxContext) && s.maxContext >= MIN_CONTEXT && s.maxContext <= MAX_CONTEXT)) {
    e.maxContext = `The context must be a whole number of tokens from ${MIN_CONTEXT} to ${MAX_CONTEXT} (or empty for the model's own, capped).`;
  }
  return e;
}

export interface ModelState {
  /** The pre-load inspection of the selected source. */
  inspection: InspectionState;
  /** GPU memory budget in bytes for a model's estimate (0 = no budget). */
  budgetBytes: number;
  /** Slots and context the next load (and the inspection's estimate) uses; remembered. */
  loadSettings: LoadSettings;

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
  /**
   * Reads the header of a model (no download of the weights, no GPU) and estimates what loading it
   * takes. Replaces (and cancels) the previous inspection. Failures land in `inspection.error`,
   * never in a banner: an unreachable hub is a state of the card, not an app error.
   */
  inspect(source: ModelSourceSpec, label?: string, opts?: { maxContext?: number; slots?: number }): Promise<void>;
  clearInspection(): void;
  /** Sets the memory budget (bytes; 0 = none) and remembers it. */
  setBudget(bytes: number): void;
  /**
   * Changes the load settings (remembered) and, when they are valid, inspects the shown source again
   * so that its estimate is for the new slots × context.
   */
  setLoadSettings(patch: Partial<LoadSettings>): void;
  /**
   * Loads the model that was last loaded again, from the same source, with `slots` decoding slots
   * (also made the setting) and the same context setting. Resolves when done, failed or refused.
   */
  reloadWithSlots(slots: number): Promise<void>;
  /**
   * Loads a model, replacing the current one. Resolves when done, failed or cancelled. Refused
   * (with a notice) when the source's inspection says it cannot fit. Options not given come from
   * `loadSettings`.
   */
  load(source: ModelSourceSpec, label?: string, opts?: { maxContext?: number; slots?: number }): Promise<void>;
  cancelLoad(): void;
  unload(): Promise<void>;
  /** Updates the memory report (the generation store calls this after each run). */
  setMemory(memory: MemoryReport): void;
  /** The device went away: the model is gone with it. */
  deviceLost(message: string): void;
  /**
   * The engine worker was replaced by a fresh one: forgets the GPU and the model (both died with the
   * old worker) and loads again what was loaded or loading (same source: catalog entry, URL, or the
   * file kept as a Blob). Resolves to the label of what was reloaded, or null if nothing was.
   */
  reloadAfterRestart(): Promise<string | null>;
}

export type ModelStore = StoreApi<ModelState>;

export interface ModelStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  now?: () => number;
  /** Where the memory budget is remembered (localStorage in the app). */
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
}

/** Identifies a source for matching an inspection with the source a button would load. */
export function sourceKey(source: ModelSourceSpec): string {
  if (source.kind === 'file') {
    const f = source.file;
    const t = source.tokenizerFile;
    return `file:${f?.name}:${f?.size}:${f?.lastModified ?? 0}|${t ? `${t.name}:${t.size}` : ''}`;
  }
  return `url:${source.url}|${source.tokenizerUrl ?? ''}`;
}

/** The GPU limits the fit verdict reads, when the adapter is known. */
export function fitLimitsOf(gpu: GpuInfo | null): FitLimits | null {
  if (!gpu) return null;
  const { maxBufferSize, maxStorageBufferBindingSize } = gpu.limits;
  if (typeof maxBufferSize !== 'number' || typeof maxStorageBufferBindingSize !== 'number') return null;
  return { maxBufferSize, maxStorageBufferBindingSize };
}

/** The verdict on the current inspection (null until one succeeded). */
export function fitOf(s: Pick<ModelState, 'inspection' | 'gpu' | 'budgetBytes'>, fmt?: (bytes: number) => string): FitVerdict | null {
  const r = s.inspection.status === 'ready' ? s.inspection.result : null;
  return r ? assessFit(r, fitLimitsOf(s.gpu), { budgetBytes: s.budgetBytes, fmt }) : null;
}

/** What an inspection failure most likely means, for the card (the raw message is kept after it). */
export function explainInspectError(message: string, source?: ModelSourceSpec): string {
  const url = source?.kind === 'url' ? source.url : '';
  let host = '';
  try {
    host = url ? new URL(url).host : '';
  } catch {
    /* not a URL */
  }
  const http = /HTTP (\d{3})/.exec(message);
  if (http) {
    const code = Number(http[1]);
    if (code === 401 || code === 403) {
      return `${host || 'The server'} refused access (HTTP ${code}): the repository may be gated or private. ${message}`;
    }
    if (code === 404) return `The file was not found (HTTP 404): check the URL. ${message}`;
    return `The server answered HTTP ${code}. ${message}`;
  }
  if (/Could not fetch|Failed to fetch|NetworkError|fetch failed|ECONNREFUSED|ENOTFOUND/i.test(message)) {
    return (
      `Could not reach ${host || 'the server'} to read the model's header: offline, blocked (CORS), or the host is down. ` +
      `Loading needs it too, unless the file is in the model cache. (${message})`
    );
  }
  return message;
}

function readLoadSettings(storage: ModelStoreDeps['storage']): LoadSettings {
  try {
    const v = storage?.getItem(LOAD_SETTINGS_STORAGE_KEY);
    if (v) {
      const o = JSON.parse(v) as Partial<LoadSettings>;
      const s: LoadSettings = {
        slots: typeof o.slots === 'number' ? o.slots : null,
        maxContext: typeof o.maxContext === 'number' ? o.maxContext : null,
      };
      const bad = checkLoadSettings(s);
      return { slots: bad.slots ? null : s.slots, maxContext: bad.maxContext ? null : s.maxContext };
    }
  } catch {
    /* storage unavailable or not ours */
  }
  return DEFAULT_LOAD_SETTINGS;
}

function readBudget(storage: ModelStoreDeps['storage']): number {
  try {
    const v = storage?.getItem(BUDGET_STORAGE_KEY);
    if (v !== null && v !== undefined && v !== '') {
      const n = Number(v);
      if (Number.isFinite(n) && n >= 0) return n;
    }
  } catch {
    /* storage unavailable */
  }
  return DEFAULT_BUDGET_BYTES;
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

export function createModelStore({ client, notices, now = () => performance.now(), storage = null }: ModelStoreDeps): ModelStore {
  let loadController: AbortController | null = null;
  let inspectController: AbortController | null = null;
  let gpuQuery: Promise<void> | null = null;
  /** What load() was last asked for (kept so a restarted engine can load it again). */
  let lastLoad: { source: ModelSourceSpec; label?: string; opts: { maxContext?: number; slots?: number } } | null = null;
  /** What inspect() was last asked for (the settings inspect it again). */
  let lastInspect: { source: ModelSourceSpec; label?: string } | null = null;
  /** Explicit options win; the others come from the settings (null = the engine's default). */
  const withSettings = (s: LoadSettings, opts: { maxContext?: number; slots?: number }) => ({
    maxContext: opts.maxContext ?? s.maxContext ?? undefined,
    slots: opts.slots ?? s.slots ?? undefined,
  });

  return createStore<ModelState>()((set, get) => ({
    inspection: NO_INSPECTION,
    budgetBytes: readBudget(storage),
    loadSettings: readLoadSettings(storage),
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

    async inspect(source, label, opts = {}) {
      inspectController?.abort();
      const controller = new AbortController();
      inspectController = controller;
      lastInspect = { source, label };
      const key = sourceKey(source);
      set({ inspection: { status: 'pending', key, label: label ?? sourceLabelOf(source), result: null, error: null, errorName: null } });
      const bad = Object.values(checkLoadSettings(get().loadSettings));
      if (bad.length && opts.slots === undefined && opts.maxContext === undefined) {
        inspectController = null;
        set({ inspection: { ...get().inspection, status: 'error', error: `No estimate: ${bad.join(' ')}`, errorName: 'LoadSettingsError' } });
        return;
      }
      const eff = withSettings(get().loadSettings, opts);
      try {
        const result = await client.request('inspectModel', { source, maxContext: eff.maxContext, slots: eff.slots }, { signal: controller.signal });
        if (inspectController !== controller) return;
        set({ inspection: { ...get().inspection, status: 'ready', result } });
      } catch (e) {
        if (inspectController !== controller) return;
        if (isAbortError(e) || controller.signal.aborted) {
          set({ inspection: NO_INSPECTION });
          return;
        }
        const message = String((e as Error)?.message ?? e);
        const errorName = typeof (e as Error)?.name === 'string' ? (e as Error).name : 'Error';
        set({ inspection: { ...get().inspection, status: 'error', error: explainInspectError(message, source), errorName } });
      } finally {
        if (inspectController === controller) inspectController = null;
      }
    },

    clearInspection() {
      inspectController?.abort();
      inspectController = null;
      lastInspect = null;
      set({ inspection: NO_INSPECTION });
    },

    setBudget(bytes) {
      const v = Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : 0;
      set({ budgetBytes: v });
      try {
        storage?.setItem(BUDGET_STORAGE_KEY, String(v));
      } catch {
        /* storage unavailable: the budget lasts for this page */
      }
    },

    setLoadSettings(patch) {
      const next = { ...get().loadSettings, ...patch };
      set({ loadSettings: next });
      try {
        storage?.setItem(LOAD_SETTINGS_STORAGE_KEY, JSON.stringify(next));
      } catch {
        /* storage unavailable: the settings last for this page */
      }
      if (lastInspect && get().inspection.status !== 'idle') void get().inspect(lastInspect.source, lastInspect.label);
    },

    async reloadWithSlots(slots) {
      const again = lastLoad;
      if (!again) {
        notices.getState().push({ kind: 'warning', title: 'Nothing to reload', message: 'Load a model in the Model panel first.' });
        return;
      }
      const bad = checkLoadSettings({ slots, maxContext: null }).slots;
      if (bad) {
        notices.getState().push({ kind: 'warning', title: 'Not reloading', message: bad });
        return;
      }
      get().setLoadSettings({ slots });
      // Estimate first, for the new slots: load() then refuses a reload that would not fit (the
      // loaded model stays) instead of the worker failing partway through.
      await get().inspect(again.source, again.label, { ...again.opts, slots });
      await get().load(again.source, again.label, { ...again.opts, slots });
    },

    async load(source, label, explicit = {}) {
      if (get().status === 'loading') {
        notices.getState().push({ kind: 'warning', title: 'Already loading', message: 'Cancel the current load first.' });
        return;
      }
      const bad = checkLoadSettings({ slots: explicit.slots ?? get().loadSettings.slots, maxContext: explicit.maxContext ?? get().loadSettings.maxContext });
      if (Object.keys(bad).length) {
        notices.getState().push({ kind: 'warning', title: 'Not loading: check the load settings', message: Object.values(bad).join(' ') });
        return;
      }
      const opts = withSettings(get().loadSettings, explicit);
      // The button is disabled for a refused model; this also covers other callers.
      const s = get();
      if (s.inspection.key === sourceKey(source)) {
        const verdict = fitOf(s);
        if (verdict && !verdict.ok) {
          notices.getState().push({
            kind: 'warning',
            title: 'Not loading: it does not fit',
            message: `${label ?? sourceLabelOf(source)}: ${verdict.problems.join(' ')}`,
          });
          return;
        }
      }
      const controller = new AbortController();
      loadController = controller;
      lastLoad = { source, label, opts };
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
        // A refused load (training in progress, another load) leaves the old model in the worker; a
        // failure after the worker freed it leaves none. Ask rather than guess.
        const current = await client.request('currentModel', {}).catch(() => null);
        if (loadController !== controller) return;
        const kept = current ? { model: current, status: 'loaded' as const, sourceLabel: current.name } : { model: null };
        if (isAbortError(e) || controller.signal.aborted) {
          set({ status: 'cancelled', progress: null, error: null, ...kept });
          notices.getState().push({ kind: 'info', title: 'Loading cancelled', message: `${label ?? sourceLabelOf(source)} was not loaded.` });
        } else {
          const message = String((e as Error)?.message ?? e);
          set({ status: 'error', progress: null, error: message, ...kept });
          notices.getState().pushError(e, current ? `Loading the model (${current.name} stays loaded)` : 'Loading the model');
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
      lastLoad = null;
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

    async reloadAfterRestart() {
      const again = lastLoad;
      const { model, status } = get();
      loadController?.abort();
      loadController = null;
      gpuQuery = null;
      set({ gpuStatus: 'idle', gpu: null, gpuError: null, model: null, status: 'idle', progress: null, error: null });
      void get().queryGpu();
      // Only what was loaded or on its way: a failed or cancelled load stays unloaded.
      if (!again || !(model || status === 'loading' || status === 'error')) return null;
      await get().load(again.source, again.label, again.opts);
      return get().status === 'loaded' ? (get().sourceLabel ?? get().model?.name ?? null) : null;
    },
  }));
}
