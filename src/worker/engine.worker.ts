/// <reference lib="webworker" />
/**
 * The engine worker: owns the GPU device and the loaded model, and answers the protocol in
 * ./protocol.ts. The UI never touches WebGPU directly.
 */
import { acquireGpu } from '../gpu/device';
import { loadModel } from '../model/model';
import { BlobSource, UrlSource } from '../model/sources';
import { createHandler } from './handler';
import type { RequestMessage, WorkerMessage } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

const post = (msg: WorkerMessage) => self.postMessage(msg);

const handler = createHandler(
  {
    acquireGpu: () => acquireGpu(self.navigator.gpu),
    loadModel: (gpu, source, opts) => loadModel(gpu, source, opts),
    urlSource: (url) => new UrlSource(url),
    blobSource: (blob, name) => new BlobSource(blob, name),
  },
  post,
);

self.addEventListener('message', (ev: MessageEvent<RequestMessage>) => {
  void handler.handle(ev.data);
});

self.addEventListener('unhandledrejection', (ev: PromiseRejectionEvent) => {
  ev.preventDefault();
  handler.fatal(ev.reason);
});

self.addEventListener('error', (ev: ErrorEvent) => {
  ev.preventDefault();
  handler.fatal(ev.error ?? new Error(ev.message || 'Uncaught error in the engine worker.'));
});
