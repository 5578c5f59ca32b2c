/// <reference lib="webworker" />
/**
 * The engine worker: owns the GPU device and the loaded model, and answers the protocol in
 * ./protocol.ts. The UI never touches WebGPU directly.
 */
import { acquireGpu } from '../gpu/device';
import { loadModel } from '../model/model';
import { BlobSource, UrlSource } from '../model/sources';
import { createHandler } from './handler';
import { realMethods } from './methods';
import { openSelfSpecDb } from './selfspec-store';
import { CachedUrlSource, cachedModelBlob } from './model-cache';
import { isAbortError, type RequestMessage, type WorkerMessage } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

const post = (msg: WorkerMessage) => self.postMessage(msg);

const handler = createHandler(
  {
    acquireGpu: () => acquireGpu(self.navigator.gpu),
    loadModel: (gpu, source, opts) => loadModel(gpu, source, opts),
    // Cache-first: a URL downloaded once is read from the Cache API afterwards (Model panel lists them).
    urlSource: (url, opts) => new CachedUrlSource(url, opts),
    blobSource: (blob, name) => new BlobSource(blob, name),
    // Inspection reads the header only: from the cache when the file is there (offline too), else
    // with HTTP Range requests (a 4 GB hub file costs a few MB).
    inspectSource: async (url) => {
      const blob = await cachedModelBlob(url);
      return blob ? new BlobSource(blob, url) : new UrlSource(url);
    },
    methods: realMethods,
    selfspecDb: () => openSelfSpecDb(),
  },
  post,
);

self.addEventListener('message', (ev: MessageEvent<RequestMessage>) => {
  void handler.handle(ev.data);
});

self.addEventListener('unhandledrejection', (ev: PromiseRejectionEvent) => {
  ev.preventDefault();
  // Work left over from a cancelled request unwinds with AbortError: a cancellation, not a crash.
  if (isAbortError(ev.reason)) return;
  handler.fatal(ev.reason);
});

self.addEventListener('error', (ev: ErrorEvent) => {
  ev.preventDefault();
  handler.fatal(ev.error ?? new Error(ev.message || 'Uncaught error in the engine worker.'));
});
