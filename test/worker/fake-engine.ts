/**
 * Test doubles for the worker protocol: a fake engine (no GPU) and an in-process "worker" that
 * runs the real handler, with every message passed through structuredClone as postMessage would.
 */
import { loadRdkit } from '../../src/tasks/rdkit';
import type { LoadedDataset } from '../../src/data/builtin';
import { hashOf, planCells, type RunExperimentOptions } from '../../src/experiments/runner';
import { RESULTS_FORMAT, type CellResult, type ExperimentDefinition, type ExperimentResults, type TranslationScore } from '../../src/experiments/types';
import type { Gpu } from '../../src/gpu/device';
import type { AdapterWeights, GenerateRequest, GenerateResult, LoadedModel, LoadProgress, MemoryReport, OnToken, TaggedPrompt } from '../../src/model/api';
import { checkAdapter } from '../../src/model/adapters';
import type { Engine } from '../../src/model/model';
import type { ByteSource } from '../../src/model/source';
import { BytesSource } from '../../src/model/sources';
import type { Tokenizer } from '../../src/model/tokenizer-api';
import type { ModelConfig } from '../../src/model/types';
import { loadShape } from '../../src/model/weights';
import { createHead } from '../../src/tags/head';
import { Rng } from '../../src/model/sampling';
import { importLibrary } from '../../src/tags/library-format';
import { renderPrompt } from '../../src/tags/prompt';
import { createTag, newProvenance, type Tag } from '../../src/tags/tag';
import { parseTemplate } from '../../src/tags/template';
import { checkpointOf, type CheckpointFile } from '../../src/train/checkpoint';
import { functionTagOf, tagNamesOf, type Metrics, type RunSpec } from '../../src/train/protocol';
import type { StepLog, TrainState } from '../../src/train/trainer';
import { EngineClient, type WorkerLike } from '../../src/worker/client';
import { TYPICAL_LIMITS } from '../helpers/limits';
import { createHandler, type EngineDeps, type LoadOptions } from '../../src/worker/handler';
import type { ExperimentRunOptions, MethodDeps, RunHandle } from '../../src/worker/methods';
import { abortError, type RequestMessage, type WorkerMessage } from '../../src/worker/protocol';

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
    const onAbort = () => {
      clearTimeout(t);
      rej(abortError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface FakeModelOptions {
  /** The text generate() streams, one character per token. */
  text?: string;
  /** Delay per token (ms). */
  tokenDelayMs?: number;
  name?: string;
  /** What it was loaded for (default: loadShape of FAKE_CONFIG with the defaults: 4 slots). */
  shape?: { slots: number; maxContext: number; maxTokens: number };
}

/** A LoadedModel that streams `text` one character per token. */
export class FakeModel implements LoadedModel {
  readonly config = FAKE_CONFIG;
  readonly tokenizer = fakeTokenizer;
  readonly name: string;
  readonly shape: { slots: number; maxContext: number; maxTokens: number };
  disposed = false;
  requests: GenerateRequest[] = [];
  private readonly text: string;
  private readonly delay: number;

  constructor(opts: FakeModelOptions = {}) {
    this.text = opts.text ?? ', there was a fake model.';
    this.delay = opts.tokenDelayMs ?? 0;
    this.name = opts.name ?? 'fake';
    this.shape = opts.shape ?? loadShape(FAKE_CONFIG);
  }

  readonly resident = new Map<string, AdapterWeights>();
  setAdapter(name: string, w: AdapterWeights): void {
    // The engine's own check: a wrong adapter throws here, naming what does not fit.
    checkAdapter(name, w, this.config);
    this.resident.set(name, w);
  }
  removeAdapter(name: string): void {
    this.resident.delete(name);
  }
  adapterNames(): string[] {
    return [...this.resident.keys()];
  }

  memory(): MemoryReport {
    return { weights: 1_000_000, kv: 250_000, scratch: 50_000, train: 0, total: 1_300_000 };
  }

  async generate(req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult> {
    this.requests.push({ ...req, signal: undefined });
    const max = req.maxTokens ?? 16;
    const n = req.prompts.length;
    const outs = Array.from({ length: n }, () => ({ ids: [] as number[], text: '', finish: 'stop' as 'stop' | 'length' | 'cancelled' }));
    const chars = [...this.text];
    let cancelled = false;
    for (let k = 0; k < chars.length && !cancelled; k++) {
      if (k >= max) {
        for (const o of outs) o.finish = 'length';
        break;
      }
      if (req.signal?.aborted) break;
      if (this.delay) await new Promise((r) => setTimeout(r, this.delay));
      else await Promise.resolve();
      if (req.signal?.aborted) {
        cancelled = true;
        break;
      }
      for (let seq = 0; seq < n; seq++) {
        // Prompts after the first get a marked copy, so side-by-side outputs differ.
        const ch = seq === 0 ? chars[k] : chars[k].toUpperCase();
        const id = ch.charCodeAt(0);
        outs[seq].ids.push(id);
        outs[seq].text += ch;
        onToken?.({ seq, id, text: ch });
      }
    }
    if (req.signal?.aborted) for (const o of outs) o.finish = 'cancelled';
    return {
      outputs: outs,
      timings: { prefillTokens: 5, prefillMs: 2, decodeTokens: outs[0]?.ids.length ?? 0, decodeMs: (outs[0]?.ids.length ?? 0) * 4 },
    };
  }

  /** The adapter of each hiddenAt call (null = base). */
  readonly hiddenAdapters: Array<string | null> = [];

  /**
   * Deterministic "hidden states": the mean of the prompt's injected rows plus a token feature, plus
   * (with an adapter) the first element of its first layer's first A matrix, so an adapter shows.
   */
  async hiddenAt(prompt: TaggedPrompt | number[], positions: number[], opts: { adapter?: string | null } = {}): Promise<Float32Array> {
    // As the engine: a named adapter must be resident.
    if (opts.adapter && !this.resident.has(opts.adapter)) throw new Error(`Adapter "${opts.adapter}" is not loaded; call setAdapter first.`);
    this.hiddenAdapters.push(opts.adapter ?? null);
    const shift = opts.adapter ? Object.values(this.resident.get(opts.adapter)!.layers[0]!)[0]!.A[0]! : 0;
    const p = Array.isArray(prompt) ? { ids: prompt, inject: prompt.map(() => -1), injected: new Float32Array(0) } : prompt;
    const d = this.config.dModel;
    const out = new Float32Array(positions.length * d);
    positions.forEach((pos, i) => {
      let count = 0;
      for (let t = 0; t <= pos; t++) {
        const row = p.inject[t];
        if (row >= 0) {
          count++;
          for (let j = 0; j < d; j++) out[i * d + j] += p.injected[row * d + j];
        }
      }
      const idSum = p.ids.slice(0, pos + 1).reduce((a, b) => a + b, 0);
      for (let j = 0; j < d; j++) out[i * d + j] = (count ? out[i * d + j] / count : 0) + ((idSum + j) % 7) / 70 + shift;
    });
    return out;
  }

  /** The adapter of each attentionMap call (null = base). */
  readonly attentionAdapters: Array<string | null> = [];

  /** Uniform causal attention in every layer. */
  async attentionMap(prompt: TaggedPrompt | number[], opts: { adapter?: string | null } = {}): Promise<{ T: number; layers: Float32Array[] }> {
    // As the engine: a named adapter must be resident.
    if (opts.adapter && !this.resident.has(opts.adapter)) throw new Error(`Adapter "${opts.adapter}" is not loaded; call setAdapter first.`);
    this.attentionAdapters.push(opts.adapter ?? null);
    const T = Array.isArray(prompt) ? prompt.length : prompt.ids.length;
    const layers = Array.from({ length: this.config.nLayers }, () => {
      const a = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) a[i * T + j] = 1 / (i + 1);
      return a;
    });
    return { T, layers };
  }

  dispose(): void {
    this.disposed = true;
  }
}

export const fakeGpu = (limits: Partial<Gpu['limits']> = {}): Gpu =>
  ({
    device: {} as GPUDevice,
    features: { shaderF16: false, subgroups: true, timestampQuery: false },
    limits: {
      ...TYPICAL_LIMITS,
      ...limits,
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

export interface FakeEngineOptions extends FakeModelOptions, FakeMethodsOptions {
  /** Download steps reported during load, each after `stepDelayMs`. */
  loadSteps?: number;
  stepDelayMs?: number;
  /** Make loadModel throw this. */
  loadError?: Error;
  gpuError?: Error;
  /** Adapter limits of the fake GPU (e.g. a small maxStorageBufferBindingSize). */
  gpuLimits?: Partial<Gpu['limits']>;
  /**
   * What inspectModel reads at a URL: file bytes or a source (e.g. a header-only "7B" file). Any
   * other URL fails as an unreachable host would.
   */
  inspectFiles?: Record<string, Uint8Array | ByteSource>;
}

/** A URL source whose host cannot be reached (what fetch reports offline). */
export function unreachableSource(url: string): ByteSource {
  const fail = async (): Promise<never> => {
    throw new Error(`Could not fetch ${url}: Failed to fetch`);
  };
  return { name: url, size: fail, read: fail };
}

/** EngineDeps with a fake GPU and fake models; records what it was asked. */
export function fakeEngine(opts: FakeEngineOptions = {}) {
  const calls = {
    load: [] as Array<{ source: string; tokenizer?: string; opts: LoadOptions }>,
    models: [] as FakeModel[],
    inspected: [] as string[],
  };
  const fm = fakeMethods(opts);
  const deps: EngineDeps = {
    methods: fm.methods,
    acquireGpu: async () => {
      if (opts.gpuError) throw opts.gpuError;
      return fakeGpu(opts.gpuLimits);
    },
    urlSource: (url) => fakeSource(url),
    inspectSource: (url) => {
      calls.inspected.push(url);
      const f = opts.inspectFiles?.[url];
      if (!f) return unreachableSource(url);
      return f instanceof Uint8Array ? new BytesSource(f, url) : f;
    },
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
      // The engine's shape rule (defaults, the KV cap): the worker reports what the load really got.
      const m = new FakeModel({ ...opts, shape: loadShape(FAKE_CONFIG, { maxContext: o.maxContext, slots: o.slots }) });
      calls.models.push(m);
      return m;
    },
  };
  return { deps, calls, runs: fm.runs, experiments: fm.experiments };
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
  const { deps, calls, runs, experiments } = fakeEngine(opts);
  const worker = new InProcessWorker(deps);
  const client = new EngineClient(worker);
  return { client, worker, calls, runs, experiments };
}

// ---------------------------------------------------------------------------------------------
// A fake method layer: runs that "train" on the CPU with a falling loss, real checkpoints files,
// real prompt rendering (it is pure), a deterministic embedding table.

export interface FakeMethodsOptions {
  /** Delay per training step (ms). */
  stepDelayMs?: number;
  /** Make prepareRun throw this. */
  prepareError?: Error;
  /** Delay per training step of a fake experiment cell (ms). */
  experimentStepDelayMs?: number;
  /** Experiment cells whose id matches fail with "fake failure". */
  experimentFail?: RegExp;
}

/** A deterministic [vocab, d] "embedding table" for the fake config. */
export function fakeEmbeddingTable(vocab = FAKE_CONFIG.vocabSize, d = FAKE_CONFIG.dModel): Float32Array {
  const t = new Float32Array(vocab * d);
  for (let v = 0; v < vocab; v++) for (let j = 0; j < d; j++) t[v * d + j] = Math.sin(v * 0.37 + j * 1.3) * (1 + (v % 5) / 10);
  return t;
}

export class FakeRun implements RunHandle {
  step = 0;
  log: StepLog[] = [];
  disposed = false;
  saved = false;
  readonly totalSteps: number;
  readonly heldOutCount: number;
  readonly trainableParams: number;

  constructor(
    readonly spec: RunSpec,
    readonly model: LoadedModel,
    private readonly delayMs = 0,
  ) {
    this.totalSteps = spec.hyper?.steps ?? 100;
    const n = spec.tasks.reduce((s, t) => s + t.rows.length, 0);
    this.heldOutCount = Math.max(1, Math.round(n * (spec.evalFraction ?? 0.1)));
    this.trainableParams = (spec.tagLength ?? 10) * model.config.dModel;
  }

  private get kind() {
    return this.spec.tasks[0]?.output.kind ?? 'text';
  }

  async evaluate(): Promise<Metrics> {
    const loss = 3 / (1 + this.step);
    if (this.kind === 'regression') return { loss, mse: loss, mae: Math.sqrt(loss), pearson: 1 - loss / 3 };
    if (this.kind === 'classification') return { loss, accuracy: 1 - loss / 6 };
    return { loss, nll: loss, perplexity: Math.exp(loss) };
  }

  async trainStep(signal: AbortSignal): Promise<StepLog> {
    if (signal.aborted) throw abortError('Training was cancelled.');
    await sleep(this.delayMs, signal);
    this.step++;
    const loss = 3 / (1 + this.step);
    const s: StepLog = { step: this.step, loss, lmLoss: loss, headLoss: 0, gradNorm: 1 / this.step, lr: 0.01, tokensPerSec: 1000, skipped: false };
    // Samples as the real trainer takes them (every N-th step); the fake tokenizer decodes char codes.
    const sm = this.spec.sample;
    if (sm && sm.every > 0 && this.step % sm.every === 0) s.sample = [...`${sm.prompt ?? 'default'}@${this.step}`].slice(0, sm.tokens ?? 16).map((c) => c.charCodeAt(0));
    this.log.push(s);
    return s;
  }

  async state(): Promise<TrainState> {
    return {
      version: 1,
      step: this.step,
      cursor: { epoch: 0, index: this.step },
      auxCursor: { epoch: 0, index: 0 },
      skipped: 0,
      tensors: { 'tag.x': Float32Array.from([this.step]) },
      log: this.log.map((l) => ({ ...l })),
    };
  }

  restore(s: Pick<TrainState, 'step' | 'log'>) {
    this.step = s.step;
    this.log = s.log.map((l) => ({ ...l }));
  }

  async save(metrics: Metrics) {
    const lib = this.spec.library;
    const d = this.model.config.dModel;
    const tags: string[] = [];
    let head: string | null = null;
    const m = this.model;
    const prov = (stage: 'stage1' | 'stage2') =>
      newProvenance({ arch: m.config.arch, name: m.name, dModel: d, vocabSize: m.config.vocabSize }, 'fake-fingerprint', {
        stage,
        steps: this.step,
        dataset: this.spec.tasks.map((t) => t.name).join(', '),
        metrics: Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v))) as Record<string, number>,
      });
    for (const task of this.spec.tasks) {
      const t = parseTemplate(task.template);
      const out = task.output.field ?? 'output';
      const fn = this.spec.method === 'stage1' ? null : functionTagOf(t, out);
      for (const name of tagNamesOf(t, task.rows)) {
        if (this.spec.method !== 'stage1' && name !== fn) continue;
        const p = this.spec.tagLength ?? 2;
        const data = new Float32Array(p * d).fill(this.step / 10 + 0.5);
        const tag: Tag = createTag({ name, kind: fn === name ? 'function' : 'domain', p, d, data, provenance: prov(this.spec.method === 'stage1' ? 'stage1' : 'stage2') });
        lib.addTag(tag, { replace: true });
        tags.push(name);
      }
      if (fn && task.output.kind !== 'text') {
        const values = task.rows.map((r) => r[out]);
        const h =
          task.output.kind === 'regression'
            ? createHead('regression', 1, d, new Rng(1), values.map(Number), fn)
            : createHead('classification', new Set(values).size, d, new Rng(1), values, fn);
        lib.setHead(h);
        head = fn;
      }
    }
    this.saved = true;
    // LoRA: the adapter it started from (or none), saved under the run's name with the step count in B.
    if (this.spec.method === 'lora') {
      const from = this.spec.continueAdapter ? lib.getAdapter(this.spec.continueAdapter) : undefined;
      const name = this.spec.name ?? 'lora';
      const layers = (from?.layers ?? []).map((L) => Object.fromEntries(Object.entries(L).map(([t, pr]) => [t, { A: Float32Array.from(pr.A), B: pr.B.map((x) => x + this.step) }])));
      lib.addAdapter({ id: `lora-${name}`, name, rank: from?.rank ?? 8, alpha: from?.alpha ?? 16, targets: from?.targets ?? ['q', 'v'], layers }, { replace: true });
      return { tags, head, adapter: name };
    }
    return { tags, head, adapter: null };
  }

  dispose() {
    this.disposed = true;
  }
}

export function fakeMethods(opts: FakeMethodsOptions = {}): { methods: MethodDeps; runs: FakeRun[]; experiments: FakeExperimentCall[] } {
  const runs: FakeRun[] = [];
  const experiments: FakeExperimentCall[] = [];
  const table = fakeEmbeddingTable();
  const methods: MethodDeps = {
    // The real RDKit (wasm runs in Node): imports are checked as in the app.
    rdkit: () => loadRdkit(),
    async prepareRun(model, spec) {
      if (opts.prepareError) throw opts.prepareError;
      if (spec.tasks.every((t) => t.rows.length === 0)) throw new Error('No training examples: check the dataset and the template.');
      // As the real method layer: LoRA continues a library adapter only when the library has it.
      if (spec.continueAdapter && !spec.library.getAdapter(spec.continueAdapter)) throw new Error(`The library has no adapter "${spec.continueAdapter}" to continue training.`);
      const run = new FakeRun(spec, model, opts.stepDelayMs);
      runs.push(run);
      return run;
    },
    async resumeRun(model, file: CheckpointFile, library) {
      if (!file || file.format !== 'tag-workbench/checkpoint') throw new Error('Not a Tag Workbench checkpoint (missing format "tag-workbench/checkpoint").');
      const r = importLibrary(file.library, { dModel: model.config.dModel, fingerprint: '' }, { acceptFingerprintMismatch: true });
      if (r.status === 'ok') library.merge({ tags: r.tags, heads: r.heads, adapters: r.adapters }, 'replace');
      const spec: RunSpec = { ...file.spec, library };
      const run = new FakeRun(spec, model, opts.stepDelayMs);
      run.restore(file.state);
      runs.push(run);
      return { run, spec };
    },
    async checkpoint(model, spec, snapshot, run) {
      return checkpointOf(model as Engine, spec, snapshot, await run.state());
    },
    async embeddingTable(model) {
      return model.config.vocabSize === FAKE_CONFIG.vocabSize && model.config.dModel === FAKE_CONFIG.dModel
        ? table
        : fakeEmbeddingTable(model.config.vocabSize, model.config.dModel);
    },
    renderPrompt: (template, fields, library, tokenizer, o) => renderPrompt(template, fields, library, tokenizer, o),
    async loadBuiltin(id): Promise<LoadedDataset> {
      if (id !== 'tiny') throw new Error(`Unknown built-in dataset ${JSON.stringify(id)}.`);
      return {
        columns: ['input', 'output'],
        rows: [
          { input: 'CCO', output: '0.5' },
          { input: 'CCN', output: '0.7' },
          { input: 'c1ccccc1', output: '0.2' },
        ],
        report: { total: 4, kept: 3, skipped: [{ line: 3, reason: '{output} is "x", not a number' }] },
      };
    },
    runExperiment(model, definition, o) {
      experiments.push({ definition, previous: o.previous, ran: [], dataBaseUrl: o.dataBaseUrl, datasets: o.datasets });
      return fakeExperiment(model, definition, o, experiments[experiments.length - 1], opts);
    },
  };
  return { methods, runs, experiments };
}

// ---------------------------------------------------------------------------------------------
// A fake experiment runner: the real plan (planCells) and the real resume rule (finished cells of
// `previous` with the same configKey are kept), with "training" that takes `steps` fake steps.

export interface FakeExperimentCall {
  definition: ExperimentDefinition;
  previous?: ExperimentResults;
  dataBaseUrl: string;
  /** The data sets sent with the request (Data panel rows for "dataset" tasks). */
  datasets?: RunExperimentOptions['datasets'];
  /** Ids of the cells that were run (not reused). */
  ran: string[];
}

/** The value a fake cell scores: deterministic per method, task and seed. */
export function fakeCellValue(method: string, task: string, seed: number): number {
  let h = 7;
  for (const ch of `${method}/${task}`) h = (h * 31 + ch.charCodeAt(0)) % 997;
  return Math.round((0.2 + h / 997 + seed * 0.05) * 1000) / 1000;
}

async function fakeExperiment(
  model: LoadedModel,
  def: ExperimentDefinition,
  o: ExperimentRunOptions,
  call: FakeExperimentCall,
  opts: FakeMethodsOptions,
): Promise<ExperimentResults> {
  const now = () => new Date().toISOString();
  const info = { name: model.name, arch: model.config.arch, dModel: model.config.dModel, vocabSize: model.config.vocabSize };
  const planned = planCells(def);
  const results: ExperimentResults = {
    format: RESULTS_FORMAT,
    version: 1,
    name: def.name,
    model: info,
    definition: def,
    started: o.previous?.started ?? now(),
    updated: now(),
    status: 'running',
    cells: [],
  };
  const previous = new Map((o.previous?.cells ?? []).map((c) => [c.id, c]));
  const steps = def.hyper.steps ?? 3;
  for (const [i, p] of planned.entries()) {
    if (o.signal?.aborted) {
      results.status = 'cancelled';
      break;
    }
    const base = { cell: p.id, index: i + 1, total: planned.length };
    const configKey = hashOf({ model: info, task: p.task, caps: def.caps, hyper: def.hyper, method: p.method, variant: p.variant, p: p.tagLength, seed: p.seed });
    const old = previous.get(p.id);
    if (old && old.configKey === configKey && (old.status === 'done' || old.status === 'n/a')) {
      results.cells.push(old);
      o.onProgress?.({ ...base, phase: 'skipped', value: old.value, message: 'finished in an earlier run' });
      await o.onCell?.(old, results);
      continue;
    }
    call.ran.push(p.id);
    const trained = p.method !== 'nearest-neighbour' && p.method !== 'direct-prompting';
    const log: StepLog[] = [];
    try {
      for (let s = 1; trained && s <= steps; s++) {
        await sleep(opts.experimentStepDelayMs ?? 0, o.signal);
        const loss = 3 / (1 + s) + p.seed * 0.01;
        log.push({ step: s, loss, lmLoss: loss, headLoss: 0, gradNorm: 1 / s, lr: def.hyper.lr ?? 1e-4, tokensPerSec: 1000, skipped: false });
        o.onProgress?.({ ...base, phase: 'train', stage: p.method === 'tag-llm' ? 'stage2' : p.method, step: s, steps, loss });
      }
    } catch (e) {
      if (o.signal?.aborted) {
        results.status = 'cancelled';
        break;
      }
      throw e;
    }
    const failed = opts.experimentFail?.test(p.id);
    const text = p.task.output.kind === 'text';
    const value = failed ? null : fakeCellValue(p.method, p.task.id, p.seed);
    const translation: TranslationScore[] | undefined =
      text && !failed
        ? [
            { pair: 'FR→EN', src: 'FR', tgt: 'EN', group: 'seen', n: 4, bleu: value! * 10, chrf: value! * 20 },
            { pair: 'FR→DE', src: 'FR', tgt: 'DE', group: 'unseen-pair', n: 4, bleu: value! * 5, chrf: value! * 15 },
          ]
        : undefined;
    const cell: CellResult = {
      id: p.id,
      task: p.task.id,
      method: p.method,
      variant: p.variant,
      tagLength: p.tagLength,
      seed: p.seed,
      status: failed ? 'failed' : 'done',
      ...(failed ? { error: 'fake failure' } : {}),
      metric: p.task.metric,
      value,
      metrics: value === null ? {} : { [p.task.metric]: value },
      trainableParams: trained ? (p.method === 'linear-probe' ? model.config.dModel + 1 : p.tagLength * model.config.dModel) : 0,
      trainRows: def.caps.maxTrain ?? 8,
      evalRows: def.caps.maxEval ?? 4,
      stages: trained ? [{ stage: p.method === 'tag-llm' ? 'stage2' : p.method, tags: [], steps, trainableParams: 0, log }] : [],
      ...(translation ? { translation } : {}),
      seconds: 0.01,
      configKey,
      finished: now(),
    };
    results.cells.push(cell);
    results.updated = now();
    o.onProgress?.({ ...base, phase: failed ? 'failed' : 'done', value });
    await o.onCell?.(cell, results);
  }
  if (results.status === 'running') results.status = 'complete';
  results.updated = now();
  return results;
}
