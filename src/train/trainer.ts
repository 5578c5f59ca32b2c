/**
 * The optimisation loop over a TrainGraph: micro-batches of packed examples, gradient accumulation,
 * GPU-side clipping and AdamW, a learning-rate schedule, held-out evaluation, NaN/Inf step skipping,
 * and checkpoints that resume bit for bit (parameters, moments, step, data order).
 */
import { bytesOf, readBuffer } from '../gpu/memory';
import type { Engine } from '../model/model';
import { Rng } from '../model/sampling';
import { IGNORE, STAT, TrainGraph, type GraphOptions, type LoraConfig, type Param, type SamplePrompt, type TrainBatch } from './graph';
import { lrAt } from './schedule';
import { epochOrder } from './shuffle';

/** One rendered example, ready for the graph. Positions index `ids`. */
export interface Example {
  ids: number[];
  /** Per position: row of the run's injected buffer, or -1. */
  inject: number[];
  /** Per position: attention lower bound (isolation mask); empty = all 0. */
  start: number[];
  /** Per position: next-token target, or null (no LM loss there). */
  targets: Array<number | null>;
  /** Position whose final hidden state feeds the head, or null. */
  headPos: number | null;
  /** Head label: standardized regression values [k], or [classId]. */
  label?: number[];
  /** Dataset it came from (multi-task batches, per-dataset metrics). */
  group?: string;
}

export interface TrainHyper {
  /** Optimizer steps; replaced by the epochs' worth of steps when `epochs` > 0. */
  steps: number;
  /** Passes over the training set (0 = use `steps`): steps = ceil(epochs · trainRows / (batch · accum)). */
  epochs: number;
  /** Examples per micro-batch. */
  batch: number;
  /** Micro-batches per optimizer step. */
  accum: number;
  lr: number;
  weightDecay: number;
  warmupFraction: number;
  schedule: 'cosine' | 'constant' | 'linear';
  /** Global gradient-norm bound (0 = none). */
  maxGradNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
  seed: number;
  /** Evaluate on the held-out set every N steps (0 = only before and after). */
  evalEvery: number;
  /** Examples of the held-out set used by periodic evaluations (all for the final one). */
  evalLimit: number;
  /** Weight of the auxiliary LM loss relative to the main loss (enriched stage 2). */
  auxWeight: number;
}

export const DEFAULT_HYPER: TrainHyper = {
  steps: 100,
  epochs: 0,
  batch: 4,
  accum: 1,
  lr: 1e-4,
  weightDecay: 0,
  warmupFraction: 0.03,
  schedule: 'cosine',
  maxGradNorm: 1,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  seed: 0,
  evalEvery: 0,
  evalLimit: 64,
  auxWeight: 1,
};

/** Optimizer steps that make `epochs` passes over `rows` training examples (at least 1 when epochs > 0). */
export function stepsForEpochs(epochs: number, rows: number, batch: number, accum: number): number {
  if (!(epochs > 0)) return 0;
  return Math.max(1, Math.ceil((epochs * rows) / (Math.max(1, batch) * Math.max(1, accum))));
}

/** A trainable range of the injected-row buffer (one tag), in rows. */
const F32_MAX = 3.4028234663852886e38;

/**
 * Hyperparameter bounds, checked before anything is allocated: a batch of 0 loops forever in take(),
 * a NaN lr trains nothing, an lr beyond f32 makes every parameter Inf on the first step.
 */
export function checkHyper(h: TrainHyper): void {
  const fail = (k: string, allowed: string) => {
    const v = (h as unknown as Record<string, unknown>)[k];
    throw new Error(`Hyperparameter ${k} is ${typeof v === 'number' || v === undefined ? String(v) : JSON.stringify(v)}; it must be ${allowed}.`);
  };
  const int = (k: keyof TrainHyper, min: number, max: number) => {
    const v = h[k] as number;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(k, `a whole number from ${min} to ${max}`);
  };
  const real = (k: keyof TrainHyper, min: number, max: number, exclusiveMin = false) => {
    const v = h[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (exclusiveMin && v === min) || v > max) fail(k, `a finite number ${exclusiveMin ? '>' : '≥'} ${min} and ≤ ${max}`);
  };
  int('steps', 0, 10_000_000);
  int('batch', 1, 4096);
  int('accum', 1, 4096);
  int('seed', 0, 0xffffffff);
  int('evalEvery', 0, 10_000_000);
  int('evalLimit', 1, 1 << 24);
  real('lr', 0, 1, true);
  real('weightDecay', 0, 10);
  real('warmupFraction', 0, 1);
  real('maxGradNorm', 0, F32_MAX);
  real('beta1', 0, 1);
  real('beta2', 0, 1);
  real('eps', 0, 1, true);
  real('auxWeight', 0, 1e6);
  real('epochs', 0, 1e6);
  if (!['cosine', 'constant', 'linear'].includes(h.schedule)) fail('schedule', 'cosine, constant or linear');
}

export interface InjectedRange {
  name: string;
  row0: number;
  rows: number;
}

export interface StepLog {
  step: number;
  loss: number;
  lmLoss: number;
  headLoss: number;
  gradNorm: number;
  lr: number;
  tokensPerSec: number;
  skipped: boolean;
  eval?: EvalResult;
  /** Token ids greedily sampled from TrainerSetup.sample's prompt after this step (sample steps only). */
  sample?: number[];
}

/** Sample generations during training: after every `every`-th step, `tokens` greedy tokens from `prompt`. */
export interface SampleSetup {
  prompt: SamplePrompt;
  /** Steps between samples (0 = never). */
  every: number;
  tokens: number;
}

export interface EvalResult {
  /** Mean NLL per target token (LM tasks) — NaN when there are none. */
  nll: number;
  /** Mean head loss per example (standardized units) — NaN without a head. */
  headLoss: number;
  /** Head outputs per example, [n][k] (standardized), in example order. */
  preds: number[][];
  /** Per example mean NLL over its target tokens. */
  exampleNll: number[];
}

export interface TrainerSetup {
  engine: Engine;
  train: Example[];
  /** Auxiliary examples (stage-1 text for enriched domain tags), mixed in at auxWeight. */
  aux?: Example[];
  heldOut: Example[];
  hyper: Partial<TrainHyper>;
  /** f32 [rows, d]: initial content of the injected buffer (all tags of the run). */
  injected: Float32Array;
  /** Which injected ranges train; the rest are frozen. */
  trainable: InjectedRange[];
  head?: { k: number; kind: 'regression' | 'classification'; W?: Float32Array; b?: Float32Array };
  lora?: LoraConfig & { init?: Map<string, Float32Array> };
  recompute?: boolean;
  sample?: SampleSetup;
}

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainState {
  version: 1;
  step: number;
  cursor: { epoch: number; index: number };
  auxCursor: { epoch: number; index: number };
  skipped: number;
  /** name → f32 values: params, and `${name}.m` / `${name}.v` moments. */
  tensors: Record<string, Float32Array>;
  log: StepLog[];
}

export class TrainingCancelled extends Error {
  override name = 'TrainingCancelled';
}

export class Trainer {
  readonly hyper: TrainHyper;
  step = 0;
  skipped = 0;
  readonly log: StepLog[] = [];
  private cursor = { epoch: 0, index: 0 };
  private auxCursor = { epoch: 0, index: 0 };
  private order: number[] = [];
  private auxOrder: number[] = [];
  private readonly injectedParams: Param[];
  private readonly tagMoments: { m: GPUBuffer; v: GPUBuffer } | null;

  private constructor(
    readonly graph: TrainGraph,
    readonly setup: TrainerSetup,
    hyper: TrainHyper,
  ) {
    this.hyper = hyper;
    const d = setup.engine.config.dModel;
    const g = graph;
    // Tag rows are trained in place inside the injected buffer: each trainable tag is a Param over its
    // row range. Ranges never overlap, so all tags share one pair of moment buffers shaped like it.
    const mem = setup.engine.mem;
    this.tagMoments = setup.trainable.length
      ? { m: mem.create('tags.m', g.injected.size, 'train'), v: mem.create('tags.v', g.injected.size, 'train') }
      : null;
    this.injectedParams = setup.trainable.map((r) => {
      const p: Param = {
        name: `tag.${r.name}`,
        n: r.rows * d,
        param: g.injected,
        grad: g.dInjected,
        m: this.tagMoments!.m,
        v: this.tagMoments!.v,
        offset: r.row0 * d * 4,
      };
      if (p.offset! % setup.engine.gpu.limits.minStorageBufferOffsetAlignment !== 0) {
        throw new Error(`Tag ${r.name} starts at byte ${p.offset}, which is not aligned for a GPU binding; lay tags out with alignedRows().`);
      }
      return p;
    });
  }

  static async create(setup: TrainerSetup): Promise<Trainer> {
    const hyper = { ...DEFAULT_HYPER, ...setup.hyper };
    checkHyper(hyper);
    if (hyper.epochs > 0) hyper.steps = stepsForEpochs(hyper.epochs, setup.train.length, hyper.batch, hyper.accum);
    const e = setup.engine;
    if (setup.train.length === 0 && hyper.steps > 0) throw new Error('No training examples: check the dataset and the template.');
    // A loop, not Math.max(...lengths): a spread of a data-sized array overflows the call stack.
    let maxLen = 0;
    let count = 0;
    for (const set of [setup.train, setup.aux ?? [], setup.heldOut]) {
      for (const x of set) if (x.ids.length > maxLen) maxLen = x.ids.length;
      count += set.length;
    }
    if (count === 0) throw new Error('No examples: check the dataset and the template.');
    if (hyper.steps > 0 && !setup.train.some(carriesLoss)) {
      throw new Error('No training example has a token that carries loss (no next-token target and no head position): the template must contain the output field after the prompt, e.g. "{input} <Fn> {output}".');
    }
    const d = e.config.dModel;
    const sample = setup.sample && setup.sample.every > 0 ? setup.sample : null;
    if (sample) checkSample(sample, e.config.vocabSize, setup.injected.length / d);
    // The sample's sequence (prompt + tokens fed back) shares the graph's buffers.
    const sampleLen = sample ? sample.prompt.ids.length + sample.tokens - 1 : 0;
    const opts: GraphOptions = {
      maxTokens: Math.max(maxLen * hyper.batch, sampleLen),
      maxSeqs: hyper.batch,
      maxSeqLen: Math.max(maxLen, sampleLen),
      sampleTokens: sample ? sample.tokens : 0,
      injectedRows: setup.injected.length / d,
      recompute: setup.recompute,
      lora: setup.lora,
      headOutputs: setup.head?.k ?? 0,
      headKind: setup.head?.kind,
    };
    const graph = await TrainGraph.create(e.gpu, e.kernels, e.mem, e.config, e.weights, opts);
    const t = new Trainer(graph, setup, hyper);
    t.initParams();
    t.order = setup.train.length ? epochOrder(setup.train.length, hyper.seed, 0) : [];
    if (setup.aux?.length) t.auxOrder = epochOrder(setup.aux.length, hyper.seed + 1, 0);
    return t;
  }

  /** Trainable tensors in a fixed order: tags, head, LoRA. */
  params(): Param[] {
    return [...this.injectedParams, ...this.graph.params()];
  }

  private initParams(): void {
    const q = this.setup.engine.gpu.device.queue;
    q.writeBuffer(this.graph.injected, 0, bytesOf(this.setup.injected));
    const rng = new Rng(this.hyper.seed ^ 0x5eed);
    const r = () => rng.next();
    const head = this.setup.head;
    if (head && this.graph.head) {
      const d = this.setup.engine.config.dModel;
      const W = head.W ?? Float32Array.from({ length: head.k * d }, () => (r() * 2 - 1) / Math.sqrt(d));
      q.writeBuffer(this.graph.head.W.param, 0, bytesOf(W));
      q.writeBuffer(this.graph.head.b.param, 0, bytesOf(head.b ?? new Float32Array(head.k)));
    }
    for (const layer of this.graph.lora) {
      for (const pair of Object.values(layer)) {
        if (!pair) continue;
        // LoRA's usual init: A small random, B zero, so training starts from the base model.
        const [rank, K] = pair.a.shape;
        const A = this.setup.lora?.init?.get(pair.A.name) ?? Float32Array.from({ length: rank * K }, () => (r() * 2 - 1) / Math.sqrt(K));
        q.writeBuffer(pair.A.param, 0, bytesOf(A));
        const B = this.setup.lora?.init?.get(pair.B.name);
        if (B) q.writeBuffer(pair.B.param, 0, bytesOf(B));
      }
    }
  }

  /** The next `n` examples of a stream, reshuffling per epoch with a seeded order. */
  private take(n: number, aux: boolean): Example[] {
    const pool = aux ? this.setup.aux! : this.setup.train;
    const cur = aux ? this.auxCursor : this.cursor;
    const out: Example[] = [];
    while (out.length < n) {
      if (cur.index >= pool.length) {
        cur.epoch++;
        cur.index = 0;
        const o = epochOrder(pool.length, this.hyper.seed + (aux ? 1 : 0), cur.epoch);
        if (aux) this.auxOrder = o;
        else this.order = o;
      }
      out.push(pool[(aux ? this.auxOrder : this.order)[cur.index++]]);
    }
    return out;
  }

  /** Runs `n` optimizer steps (or until done / cancelled), calling onStep after each. */
  async run(opts: { until?: number; signal?: AbortSignal; onStep?: (s: StepLog) => void | Promise<void> } = {}): Promise<void> {
    const until = Math.min(opts.until ?? this.hyper.steps, this.hyper.steps);
    while (this.step < until) {
      if (opts.signal?.aborted) throw new TrainingCancelled('Training was cancelled; the last checkpoint holds the state.');
      const s = await this.optimizerStep();
      if (this.hyper.evalEvery > 0 && this.step % this.hyper.evalEvery === 0 && this.step < this.hyper.steps) {
        s.eval = await this.evaluate(this.setup.heldOut.slice(0, this.hyper.evalLimit));
      }
      const sample = this.setup.sample;
      if (sample && sample.every > 0 && this.step % sample.every === 0) s.sample = await this.graph.sampleGreedy(sample.prompt, sample.tokens);
      await opts.onStep?.(s);
    }
  }

  private async optimizerStep(): Promise<StepLog> {
    const h = this.hyper;
    const g = this.graph;
    const t0 = performance.now();
    g.resetStats();
    let tokens = 0;
    const useAux = (this.setup.aux?.length ?? 0) > 0;
    // Normalise so the summed gradient is the mean loss over the whole accumulated batch.
    const micro: Array<{ ex: Example[]; weight: number }> = [];
    for (let a = 0; a < h.accum; a++) {
      micro.push({ ex: this.take(h.batch, false), weight: 1 });
      if (useAux) micro.push({ ex: this.take(h.batch, true), weight: h.auxWeight });
    }
    const lmTargets = micro.reduce((s, m) => s + m.ex.reduce((t, x) => t + x.targets.filter((y) => y !== null).length, 0), 0);
    const headCount = micro.reduce((s, m) => s + m.ex.filter((x) => x.headPos !== null).length, 0);
    for (const [mi, m] of micro.entries()) {
      const b = packBatch(m.ex, { lmScale: m.weight / Math.max(1, lmTargets), headScale: m.weight / Math.max(1, headCount), headK: this.setup.head?.k ?? 0 });
      // Dropout masks depend on (seed, step, micro-batch) only, so a resumed run draws the same ones.
      b.dropoutSeed = (Math.imul(h.seed + 1, 1000003) + this.step * 64 + mi) >>> 0;
      tokens += b.ids.length;
      g.setBatch(b);
      g.step(true);
    }
    const params = this.params();
    g.gradNorm(params);
    const lr = lrAt(this.step, { base: h.lr, totalSteps: h.steps, warmupFraction: h.warmupFraction, schedule: h.schedule });
    // The update is skipped on the GPU when the norm is not finite or the update would make a
    // parameter non-finite; the readback below only reports it.
    g.update(params, { lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, step: this.step + 1 - this.skipped, gradScale: 1, maxNorm: h.maxGradNorm });
    const st = await g.readStats();
    const lmLoss = st[STAT.lmLoss] / Math.max(1, lmTargets);
    const headLoss = st[STAT.headLoss] / Math.max(1, headCount);
    const gradNorm = Math.sqrt(st[STAT.gradSq]);
    const skipped = !Number.isFinite(gradNorm) || !Number.isFinite(lmLoss) || !Number.isFinite(headLoss) || st[STAT.updateBad] !== 0;
    if (skipped) {
      this.skipped++;
      // A non-finite loss with finite gradients would still have updated: undo is impossible, so the
      // GPU clip test covers the gradients and this keeps the count of bad steps visible.
    }
    this.step++;
    const log: StepLog = {
      step: this.step,
      loss: (headCount ? headLoss : 0) + (lmTargets ? lmLoss : 0),
      lmLoss,
      headLoss,
      gradNorm,
      lr,
      tokensPerSec: tokens / ((performance.now() - t0) / 1000),
      skipped,
    };
    this.log.push(log);
    return log;
  }

  /** Forward-only pass over examples: mean NLL of target tokens, head loss and predictions. */
  async evaluate(examples: Example[]): Promise<EvalResult> {
    const g = this.graph;
    const k = this.setup.head?.k ?? 0;
    const preds: number[][] = [];
    const exampleNll: number[] = [];
    let nllSum = 0;
    let nllCount = 0;
    let headSum = 0;
    for (let i = 0; i < examples.length; i += this.hyper.batch) {
      const ex = examples.slice(i, i + this.hyper.batch);
      const b = packBatch(ex, { lmScale: 0, headScale: 0, headK: k });
      g.resetStats();
      g.setBatch(b);
      g.step(false);
      const st = await g.readStats();
      headSum += st[STAT.headLoss];
      if (b.targets) {
        const tl = await g.readTokenLoss();
        let t = 0;
        for (const x of ex) {
          let s = 0;
          let c = 0;
          for (let j = 0; j < x.ids.length; j++, t++) {
            if (x.targets[j] !== null) {
              s += tl[t];
              c++;
            }
          }
          exampleNll.push(c ? s / c : NaN);
          nllSum += s;
          nllCount += c;
        }
      }
      if (b.headRows && k) {
        const p = await g.readPredictions(b.headRows.length);
        for (let r = 0; r < b.headRows.length; r++) preds.push(Array.from(p.subarray(r * k, (r + 1) * k)));
      }
    }
    const withHead = examples.filter((x) => x.headPos !== null).length;
    return { nll: nllCount ? nllSum / nllCount : NaN, headLoss: withHead ? headSum / withHead : NaN, preds, exampleNll };
  }

  /** Reads every trainable tensor and its moments back (for checkpoints and export). */
  async state(): Promise<TrainState> {
    const gpu = this.setup.engine.gpu;
    const tensors: Record<string, Float32Array> = {};
    const read = async (buf: GPUBuffer, p: Param) => new Float32Array(await readBuffer(gpu, buf, p.offset ?? 0, p.n * 4));
    for (const p of this.params()) {
      tensors[p.name] = await read(p.param, p);
      tensors[`${p.name}.m`] = await read(p.m, p);
      tensors[`${p.name}.v`] = await read(p.v, p);
    }
    return {
      version: 1,
      step: this.step,
      cursor: { ...this.cursor },
      auxCursor: { ...this.auxCursor },
      skipped: this.skipped,
      tensors,
      log: this.log.map((l) => ({ ...l })),
    };
  }

  /** Continues from a saved state: the next steps are the ones the saved run would have taken. */
  restore(s: TrainState): void {
    const q = this.setup.engine.gpu.device.queue;
    for (const p of this.params()) {
      for (const [suffix, buf] of [['', p.param], ['.m', p.m], ['.v', p.v]] as const) {
        const v = s.tensors[p.name + suffix];
        if (!v || v.length !== p.n) throw new Error(`Checkpoint does not match this run: tensor ${p.name + suffix} is missing or has the wrong size.`);
        q.writeBuffer(buf, p.offset ?? 0, bytesOf(v));
      }
    }
    this.step = s.step;
    this.skipped = s.skipped;
    this.cursor = { ...s.cursor };
    this.auxCursor = { ...s.auxCursor };
    this.order = epochOrder(this.setup.train.length, this.hyper.seed, this.cursor.epoch);
    if (this.setup.aux?.length) this.auxOrder = epochOrder(this.setup.aux.length, this.hyper.seed + 1, this.auxCursor.epoch);
    this.log.length = 0;
    for (const l of s.log) this.log.push(l);
  }

  dispose(): void {
    this.graph.dispose();
    if (this.tagMoments) {
      this.setup.engine.mem.destroy(this.tagMoments.m);
      this.setup.engine.mem.destroy(this.tagMoments.v);
    }
  }
}

/** A sample setup the graph can run: a non-empty prompt of valid ids and injected rows, 1–4096 tokens. */
function checkSample(s: SampleSetup, vocab: number, injectedRows: number): void {
  if (!Number.isSafeInteger(s.every) || s.every < 0) throw new Error(`Sample every ${s.every} steps: it must be a whole number ≥ 0 (0 = off).`);
  if (!Number.isSafeInteger(s.tokens) || s.tokens < 1 || s.tokens > 4096) throw new Error(`Sample of ${s.tokens} tokens: it must be a whole number from 1 to 4096.`);
  const p = s.prompt;
  if (p.ids.length === 0) throw new Error('The sample prompt is empty: give some text or a tag.');
  for (const id of p.ids) if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`The sample prompt holds token id ${id}, outside the vocabulary of ${vocab}.`);
  for (const r of p.inject) if (r >= injectedRows) throw new Error(`The sample prompt injects row ${r}; the run has ${injectedRows}.`);
}

/** Whether an example contributes to the loss: a next-token target or a head position. */
export function carriesLoss(x: Example): boolean {
  return x.headPos !== null || x.targets.some((y) => y !== null && y !== undefined);
}

/** Packs examples into one micro-batch (sequence s = slot s). */
export function packBatch(ex: Example[], o: { lmScale: number; headScale: number; headK: number }): TrainBatch {
  const T = ex.reduce((s, x) => s + x.ids.length, 0);
  const ids = new Uint32Array(T);
  const slot = new Uint32Array(T);
  const pos = new Uint32Array(T);
  const start = new Uint32Array(T);
  const inject = new Uint32Array(T).fill(IGNORE);
  const targets = new Uint32Array(T).fill(IGNORE);
  const headRows: number[] = [];
  const headTargets: number[] = [];
  let anyTarget = false;
  let t = 0;
  ex.forEach((x, s) => {
    for (let j = 0; j < x.ids.length; j++, t++) {
      ids[t] = x.ids[j];
      slot[t] = s;
      pos[t] = j;
      start[t] = x.start[j] ?? 0;
      if (x.inject[j] >= 0) inject[t] = x.inject[j];
      const y = x.targets[j];
      if (y !== null && y !== undefined) {
        targets[t] = y;
        anyTarget = true;
      }
    }
    if (x.headPos !== null && o.headK > 0) {
      headRows.push(t - x.ids.length + x.headPos);
      const lab = x.label ?? [];
      for (let j = 0; j < (lab.length === 1 ? 1 : o.headK); j++) headTargets.push(lab[j] ?? 0);
    }
  });
  return {
    ids,
    slot,
    pos,
    start,
    inject,
    targets: anyTarget ? targets : undefined,
    lmScale: o.lmScale,
    headRows: headRows.length ? Uint32Array.from(headRows) : undefined,
    headTargets: headRows.length ? Float32Array.from(headTargets) : undefined,
    headScale: o.headScale,
  };
}

/** Row count to reserve for a tag so the next tag's rows start on a GPU binding boundary (256 bytes). */
export function alignedRows(rows: number, d: number, alignBytes = 256): number {
  const per = alignBytes / gcd(alignBytes, d * 4);
  return Math.ceil(rows / per) * per;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

