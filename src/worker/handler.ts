/**
 * The worker's request handler, independent of the worker global so it can be unit-tested with a
 * fake engine: engine.worker.ts wires it to `self` and to the real engine.
 */
import type { Gpu } from '../gpu/device';
import type { LoadedModel, LoadProgress } from '../model/api';
import { inspectModelSource } from '../model/preflight';
import type { ByteSource } from '../model/source';
import { BlobSource, UrlSource } from '../model/sources';
import type { MethodDeps } from './methods';
import { validateRequest } from './schema';
import { createWorkbench, WORKBENCH_REQUESTS, type Workbench } from './workbench';
import { createSelfSpecHandler, SELFSPEC_REQUESTS } from './selfspec';
import { createMemorySelfSpecDb, type SelfSpecRunsDb } from './selfspec-store';
import {
  abortError,
  serializeError,
  type GpuInfo,
  type ModelInfo,
  type ModelSourceSpec,
  type RequestMessage,
  type WorkerMessage,
} from './protocol';

export interface LoadOptions {
  tokenizer?: ByteSource;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  maxContext?: number;
  slots?: number;
}

/** What the handler needs from the engine. */
export interface EngineDeps {
  acquireGpu(): Promise<Gpu>;
  loadModel(gpu: Gpu, source: ByteSource, opts: LoadOptions): Promise<LoadedModel>;
  /** `onProgress` reports a download the source makes before the loader reads (cache-first sources). */
  urlSource(url: string, opts?: { onProgress?: (loaded: number, total: number) => void; signal?: AbortSignal }): ByteSource;
  blobSource(blob: Blob, name: string): ByteSource;
  /**
   * A source for inspecting a URL before loading: it must read only what is asked (HTTP Range),
   * never the whole file. Default: UrlSource. The worker reads a cached copy when there is one.
   */
  inspectSource?(url: string, signal?: AbortSignal): ByteSource | Promise<ByteSource>;
  /** The method layer (training, tags, datasets); required by the workbench requests. */
  methods?: MethodDeps;
  /** Where self-specialization runs are kept (default: memory). */
  selfspecDb?: () => Promise<SelfSpecRunsDb>;
  now?(): number;
}

export type Post = (msg: WorkerMessage) => void;

export interface Handler {
  handle(msg: RequestMessage): Promise<void>;
  /** The workbench state (tag library, training run) — null without method deps. */
  workbench: Workbench | null;
  /** Reports something that escaped every request (unhandled rejection, uncaught error). */
  fatal(e: unknown): void;
}

export function createHandler(deps: EngineDeps, post: Post): Handler {
  const now = deps.now ?? (() => performance.now());
  const controllers = new Map<number, AbortController>();
  let gpuPromise: Promise<Gpu> | null = null;
  let model: LoadedModel | null = null;
  /** What loadModel answered for `model` (its name as the UI knows it). */
  let modelInfoOf: ModelInfo | null = null;
  let loading: { id: number; controller: AbortController } | null = null;
  const busy = { generating: false };
  const workbench = deps.methods ? createWorkbench({ methods: deps.methods, model: () => model, post, busy }) : null;
  const selfspec = createSelfSpecHandler({
    model: () => model,
    db: deps.selfspecDb ? deps.selfspecDb() : Promise.resolve(createMemorySelfSpecDb()),
    busyWith: () => (busy.generating ? 'A generation' : workbench?.training() ? workbench.busyWith() : null),
    library: () => workbench?.library ?? null,
  });

  function getGpu(): Promise<Gpu> {
    if (!gpuPromise) {
      const p = deps.acquireGpu().then((gpu) => {
        // When the device goes away, drop it (and the model on it) so the next request reacquires.
        void gpu.lost?.then((err) => {
          if (gpuPromise === p) gpuPromise = null;
          if (model) {
            try {
              model.dispose();
            } catch {
              /* the device is gone anyway */
            }
            model = null;
          }
          post({ id: 0, type: 'deviceLost', error: serializeError(err) });
        });
        return gpu;
      });
      gpuPromise = p;
      p.catch(() => {
        if (gpuPromise === p) gpuPromise = null;
      });
    }
    return gpuPromise;
  }

  function gpuInfo(gpu: Gpu): GpuInfo {
    return {
      adapterInfo: { ...gpu.adapterInfo },
      features: { ...gpu.features },
      limits: { ...gpu.limits },
    };
  }

  function sources(
    spec: ModelSourceSpec,
    onProgress?: (what: string) => (loaded: number, total: number) => void,
    signal?: AbortSignal,
  ): { model: ByteSource; tokenizer?: ByteSource } {
    if (spec.kind === 'url') {
      if (!spec.url) throw new TypeError('No model URL was given.');
      return {
        model: deps.urlSource(spec.url, { onProgress: onProgress?.(spec.url), signal }),
        tokenizer: spec.tokenizerUrl ? deps.urlSource(spec.tokenizerUrl, { onProgress: onProgress?.(spec.tokenizerUrl), signal }) : undefined,
      };
    }
    if (spec.kind === 'file') {
      if (!spec.file) throw new TypeError('No model file was given.');
      return {
        model: deps.blobSource(spec.file, spec.file.name),
        tokenizer: spec.tokenizerFile ? deps.blobSource(spec.tokenizerFile, spec.tokenizerFile.name) : undefined,
      };
    }
    throw new TypeError(`Unknown model source kind: ${(spec as { kind?: unknown }).kind}`);
  }

  function modelInfo(m: LoadedModel, spec: ModelSourceSpec, loadMs: number): ModelInfo {
    return {
      name: displayName(m.name, spec),
      config: { ...m.config },
      memory: { ...m.memory() },
      tokenizer: { vocabSize: m.tokenizer.vocabSize, bosId: m.tokenizer.bosId, eosId: m.tokenizer.eosId },
      shape: { ...m.shape },
      loadMs,
    };
  }

  function disposeModel(): boolean {
    if (!model) return false;
    const m = model;
    model = null;
    m.dispose();
    return true;
  }

  async function run(msg: RequestMessage, signal: AbortSignal): Promise<unknown> {
    switch (msg.type) {
      case 'gpuInfo':
        return gpuInfo(await getGpu());

      case 'ping':
        return { ok: true };

      case 'loadModel': {
        const { source, maxContext, slots } = msg.params;
        const t0 = now();
        if (loading) throw new Error('A model is already loading. Cancel it first.');
        if (busy.generating) throw new Error('A generation is running. Stop it before loading another model.');
        if (workbench?.training()) throw new Error(`${workbench.busyWith()} is in progress. Finish or cancel it before loading another model.`);
        if (selfspec.running()) throw new Error('A self-specialization run is in progress. Pause it before loading another model.');
        const controller = controllers.get(msg.id)!;
        loading = { id: msg.id, controller };
        try {
          const downloadProgress = (url: string) => (loaded: number, total: number) =>
            post({ id: msg.id, type: 'event', event: { phase: 'download', loaded, total, message: `Downloading ${shortName(url)}` } });
          const src = sources(source, downloadProgress, signal);
          const gpu = await getGpu();
          if (signal.aborted) throw abortError('Loading was cancelled.');
          // One model at a time: free the old one's GPU memory before allocating the new one.
          disposeModel();
          const m = await deps.loadModel(gpu, src.model, {
            tokenizer: src.tokenizer,
            signal,
            maxContext,
            slots,
            onProgress: (p) => post({ id: msg.id, type: 'event', event: { ...p } }),
          });
          if (signal.aborted) {
            m.dispose();
            throw abortError('Loading was cancelled.');
          }
          // The files proved to be a model: cache-first sources may keep them now.
          for (const s of [src.model, src.tokenizer]) {
            const c = s as Partial<{ commit(): Promise<unknown> }> | undefined;
            if (typeof c?.commit === 'function') await c.commit().catch(() => undefined);
          }
          model = m;
          modelInfoOf = modelInfo(m, source, now() - t0);
          return modelInfoOf;
        } finally {
          loading = null;
        }
      }

      case 'inspectModel': {
        const { source, maxContext, slots, maxTokens } = msg.params;
        let src: ByteSource;
        let tokenizerName: string | undefined;
        if (source?.kind === 'url') {
          if (!source.url) throw new TypeError('No model URL was given.');
          src = deps.inspectSource ? await deps.inspectSource(source.url, signal) : new UrlSource(source.url);
          tokenizerName = source.tokenizerUrl ? shortName(source.tokenizerUrl) : undefined;
        } else if (source?.kind === 'file') {
          if (!source.file) throw new TypeError('No model file was given.');
          // Slices of the File: only the header is read.
          src = new BlobSource(source.file, source.file.name);
          tokenizerName = source.tokenizerFile?.name;
        } else {
          throw new TypeError(`Unknown model source kind: ${(source as { kind?: unknown } | undefined)?.kind}`);
        }
        // A stalled host must not keep the request open after a cancel: answer the abort at once.
        return untilAborted(inspectModelSource(src, { tokenizerName, maxContext, slots, maxTokens, signal }), signal);
      }

      case 'currentModel':
        return model && modelInfoOf ? { ...modelInfoOf, memory: { ...model.memory() } } : null;

      case 'unloadModel':
        if (workbench?.training()) throw new Error(`${workbench.busyWith()} is in progress. Finish or cancel it before unloading the model.`);
        if (selfspec.running()) throw new Error('A self-specialization run is in progress. Pause it before unloading the model.');
        return { unloaded: disposeModel() };

      case 'generate': {
        if (!model) throw new Error('No model is loaded. Load one in the Model panel first.');
        if (busy.generating) throw new Error('A generation is already running. Stop it or wait for it to finish.');
        busy.generating = true;
        try {
          const m = model;
          const { adapters: names, ...params } = msg.params;
          let adapters: Array<string | null> | undefined;
          if (names?.some((a) => a)) {
            if (!workbench) throw new Error('This engine has no tag library, so it has no adapters to apply.');
            adapters = workbench.residentAdapters(m, names);
          }
          const res = await m.generate({ ...params, ...(adapters ? { adapters } : {}), signal }, (ev) =>
            post({ id: msg.id, type: 'event', event: { seq: ev.seq, id: ev.id, text: ev.text, ...(ev.posterior !== undefined ? { posterior: ev.posterior } : {}) } }),
          );
          return { ...res, memory: { ...m.memory() } };
        } finally {
          busy.generating = false;
        }
      }

      case 'cancel': {
        const c = controllers.get(msg.params.target);
        if (!c || c.signal.aborted) return { cancelled: false };
        c.abort(abortError('Cancelled by the user.'));
        return { cancelled: true };
      }

      default:
        if (SELFSPEC_REQUESTS.has(msg.type)) return selfspec.handle(msg, signal, (event) => post({ id: msg.id, type: 'event', event }));
        if (WORKBENCH_REQUESTS.has(msg.type)) {
          if (!workbench) throw new Error('This engine has no method layer (training and tags are unavailable).');
          return workbench.handle(msg, signal);
        }
        throw new TypeError(`Unknown request type: ${(msg as { type?: unknown }).type}`);
    }
  }

  return {
    workbench,
    async handle(msg) {
      if (typeof msg !== 'object' || msg === null || typeof msg.id !== 'number') {
        post({ id: 0, type: 'fatal', error: { name: 'ProtocolError', message: 'Malformed message to the engine worker.' } });
        return;
      }
      const controller = new AbortController();
      if (msg.type !== 'cancel') controllers.set(msg.id, controller);
      try {
        validateRequest(msg.type, msg.params);
        const result = await run(msg, controller.signal);
        post({ id: msg.id, type: 'result', result });
      } catch (e) {
        // A cancelled request reports AbortError whatever the engine threw while unwinding.
        const err = controller.signal.aborted && !isAbortLike(e) ? abortError('Cancelled by the user.') : e;
        post({ id: msg.id, type: 'error', error: serializeError(err) });
      } finally {
        controllers.delete(msg.id);
      }
    },
    fatal(e) {
      post({ id: 0, type: 'fatal', error: serializeError(e) });
    },
  };
}

/** The name to show: the catalog's, else the engine's (a URL shortened to its file name). */
export function displayName(engineName: string, spec: ModelSourceSpec): string {
  if (spec.kind === 'url' && spec.name) return spec.name;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(engineName)) {
    try {
      return decodeURIComponent(new URL(engineName).pathname.split('/').filter(Boolean).pop() ?? engineName);
    } catch {
      return engineName;
    }
  }
  return engineName || (spec.kind === 'file' ? spec.file.name : spec.url);
}

function shortName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? url);
  } catch {
    return url;
  }
}

/** `p`, or an AbortError as soon as `signal` aborts (whatever `p` does later is ignored). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  // `p` is already running and will reject with its own AbortError: that is expected, not an
  // unhandled rejection (the worker would report it as fatal, a banner in the UI).
  p.catch(() => undefined);
  if (signal.aborted) return Promise.reject(abortError('Cancelled by the user.'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError('Cancelled by the user.'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function isAbortLike(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}
