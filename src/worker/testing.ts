/**
 * Test doubles for the worker protocol: a fake engine (no GPU) and an in-process "worker" that
 * runs the real handler, with every message passed through structuredClone as postMessage would.
 */
import type { Gpu } from '../gpu/device';
import type { GenerateRequest, GenerateResult, LoadedModel, LoadProgress, MemoryReport, OnToken } from '../model/api';
import type { ByteSource } from '../model/source';
import type { Tokenizer } from '../model/tokenizer-api';
import type { ModelConfig } from '../model/types';
import { EngineClient, type WorkerLike } from './client';
import { createHandler, type EngineDeps, type LoadOptions } from './handler';
import { abortError, type RequestMessage, type WorkerMessage } from './protocol';

export const FAKE_CONFIG: ModelConfig = {
  arch: 'llama',
  name: 'fake',
  dModel: 64,
  nLayers: 5,
  nHeads: 8,
  nKvHeads: 4,
  headDim: 8,
  dFF: 172,
  vocabSize: 512,
  maxSeqLen: 512,
  normEps: 1e-5,
  ropeTheta: 10000,
  ropeStyle: 'normal',
  ropeScale: 1,
  qkvBias: false,
  tiedEmbeddings: true,
};

export const fakeTokenizer: Tokenizer = {
  vocabSize: 512,
  bosId: 1,
  eosId: 2,
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0) % 512),
  decode: (ids) => ids.map((i) => String.fromCharCode(i)).join(''),
  idToToken: (id) => String.fromCharCode(id),
  json: null,
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res, rej) => {
    if (signal?.aborted) return rej(abortError());
    const t = setTimeout(res, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      rej(abortError());
    });
  });

export interface FakeModelOptions {
  /** The text generate() streams, one character per token. */
  text?: string;
  /** Delay per token (ms). */
  tokenDelayMs?: number;
  name?: string;
}

/** A LoadedModel that streams `text` one character per token. */
export class FakeModel implements LoadedModel {
  readonly config = FAKE_CONFIG;
  readonly tokenizer = fakeTokenizer;
  readonly name: string;
  disposed = false;
  requests: GenerateRequest[] = [];
  private readonly text: string;
  private readonly delay: number;

  constructor(opts: FakeModelOptions = {}) {
    this.text = opts.text ?? ', there was a fake model.';
    this.delay = opts.tokenDelayMs ?? 0;
    this.name = opts.name ?? 'fake';
  }

  memory(): MemoryReport {
    return { weights: 1_000_000, kv: 250_000, scratch: 50_000, train: 0, total: 1_300_000 };
  }

  async generate(req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult> {
    this.requests.push({ ...req, signal: undefined });
    const max = req.maxTokens ?? 16;
    const ids: number[] = [];
    let text = '';
    let finish: 'stop' | 'length' | 'cancelled' = 'stop';
    for (const ch of this.text) {
      if (ids.length >= max) {
        finish = 'length';
        break;
      }
      if (req.signal?.aborted) {
        finish = 'cancelled';
        break;
      }
      if (this.delay) await new Promise((r) => setTimeout(r, this.delay));
      else await Promise.resolve();
      if (req.signal?.aborted) {
        finish = 'cancelled';
        break;
      }
      const id = ch.charCodeAt(0);
      ids.push(id);
      text += ch;
      onToken?.({ seq: 0, id, text: ch });
    }
    return {
      outputs: [{ ids, text, finish }],
      timings: { prefillTokens: 5, prefillMs: 2, decodeTokens: ids.length, decodeMs: ids.length * 4 },
    };
  }

  dispose(): void {
    this.disposed = true;
  }
}

export const fakeGpu = (): Gpu =>
  ({
    device: {} as GPUDevice,
    features: { shaderF16: false, subgroups: true, timestampQuery: false },
    limits: {
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 30,
      maxComputeWorkgroupStorageSize: 32768,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupsPerDimension: 65535,
      maxStorageBuffersPerShaderStage: 10,
      minStorageBufferOffsetAlignment: 256,
      minUniformBufferOffsetAlignment: 256,
    },
    adapterInfo: { vendor: 'fake', architecture: 'test', device: 'fake device', description: 'Fake GPU' },
    lost: new Promise(() => {}),
    lostError: null,
  }) as Gpu;

export function fakeSource(name: string, size = 1000): ByteSource {
  return {
    name,
    size: async () => size,
    read: async (offset, length) => new Uint8Array(Math.max(0, Math.min(length, size - offset))),
  };
}

export interface FakeEngineOptions extends FakeModelOptions {
  /** Download steps reported during load, each after `stepDelayMs`. */
  loadSteps?: number;
  stepDelayMs?: number;
  /** Make loadModel throw this. */
  loadError?: Error;
  gpuError?: Error;
}

/** EngineDeps with a fake GPU and fake models; records what it was asked. */
export function fakeEngine(opts: FakeEngineOptions = {}) {
  const calls = { load: [] as Array<{ source: string; tokenizer?: string; opts: LoadOptions }>, models: [] as FakeModel[] };
  const deps: EngineDeps = {
    acquireGpu: async () => {
      if (opts.gpuError) throw opts.gpuError;
      return fakeGpu();
    },
    urlSource: (url) => fakeSource(url),
    blobSource: (blob, name) => fakeSource(name, blob.size),
    loadModel: async (_gpu, source, o) => {
      calls.load.push({ source: source.name, tokenizer: o.tokenizer?.name, opts: o });
      const total = await source.size();
      const steps = opts.loadSteps ?? 4;
      for (let i = 0; i <= steps; i++) {
        const p: LoadProgress = { phase: 'download', loaded: Math.round((total * i) / steps), total };
        o.onProgress?.(p);
        if (i < steps) await sleep(opts.stepDelayMs ?? 0, o.signal);
      }
      if (opts.loadError) throw opts.loadError;
      o.onProgress?.({ phase: 'ready', loaded: 1, total: 1 });
      const m = new FakeModel(opts);
      calls.models.push(m);
      return m;
    },
  };
  return { deps, calls };
}

/** Node before 22 clones a File into something without its name; browsers keep Files intact. */
const CLONES_FILES = (() => {
  try {
    return typeof File !== 'undefined' && (structuredClone(new File([], 'x')) as File).name === 'x';
  } catch {
    return false;
  }
})();

function cloneMessage<T>(msg: T): T {
  if (CLONES_FILES) return structuredClone(msg);
  const clone = structuredClone(msg);
  // Put the original Files back where the clone lost them.
  const walk = (orig: unknown, copy: Record<string, unknown>) => {
    if (!orig || typeof orig !== 'object') return;
    for (const [k, v] of Object.entries(orig)) {
      if (typeof File !== 'undefined' && v instanceof File) {
        copy[k] = v;
      } else if (v && typeof v === 'object') walk(v, copy[k] as Record<string, unknown>);
    }
  };
  walk(msg, clone as Record<string, unknown>);
  return clone;
}

/** A WorkerLike that runs `createHandler(deps)` in-process. */
export class InProcessWorker implements WorkerLike {
  private listeners: Record<string, Array<(ev: never) => void>> = {};
  readonly sent: RequestMessage[] = [];
  terminated = false;
  private readonly handler;

  constructor(deps: EngineDeps) {
    this.handler = createHandler(deps, (msg: WorkerMessage) => {
      const data = cloneMessage(msg);
      queueMicrotask(() => this.dispatch('message', { data } as MessageEvent));
    });
  }

  postMessage(msg: unknown): void {
    if (this.terminated) return;
    const data = cloneMessage(msg) as RequestMessage;
    this.sent.push(data);
    queueMicrotask(() => void this.handler.handle(data));
  }

  addEventListener(type: string, fn: (ev: never) => void): void {
    (this.listeners[type] ??= []).push(fn);
  }

  /** Simulates the worker script crashing. */
  crash(message: string) {
    this.dispatch('error', { message, preventDefault() {} } as unknown as ErrorEvent);
  }

  terminate(): void {
    this.terminated = true;
  }

  private dispatch(type: string, ev: unknown) {
    for (const fn of this.listeners[type] ?? []) (fn as (e: unknown) => void)(ev);
  }
}

/** A client talking to the real handler over a fake engine. */
export function fakeClient(opts: FakeEngineOptions = {}) {
  const { deps, calls } = fakeEngine(opts);
  const worker = new InProcessWorker(deps);
  const client = new EngineClient(worker);
  return { client, worker, calls };
}
