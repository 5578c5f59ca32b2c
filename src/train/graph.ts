/**
 * Training forward and backward through the frozen decoder. Only activation gradients flow through
 * the base model (its quantized weights are read, never differentiated); parameter gradients exist
 * for what is trainable: injected embedding rows (tags, soft prompts), a head on the final hidden
 * state, and LoRA adapters. Everything for one micro-batch is recorded into one submit.
 *
 * Memory: without recomputation every layer keeps its activations; with it, only each layer's input
 * is kept and the layer's forward is re-run just before its backward (activation checkpointing).
 */
import type { Gpu } from '../gpu/device';
import type { KernelCache } from '../gpu/kernel';
import { AdamW } from '../gpu/kernels/adamw';
import { Attention } from '../gpu/kernels/attention';
import { Elementwise } from '../gpu/kernels/elementwise';
import { Embedding } from '../gpu/kernels/embedding';
import { Argmax } from '../gpu/kernels/logits';
import { CrossEntropy, Mse } from '../gpu/kernels/loss';
import { Matmul } from '../gpu/kernels/matmul';
import { Reduce, SumSquares } from '../gpu/kernels/reduce';
import { RmsNorm } from '../gpu/kernels/rmsnorm';
import { Rope } from '../gpu/kernels/rope';
import { Rows } from '../gpu/kernels/rows';
import { Swiglu } from '../gpu/kernels/swiglu';
import { WeightGrad } from '../gpu/kernels/weightgrad';
import { bytesOf, readBuffer, type GpuMemory } from '../gpu/memory';
import { Recorder, type Binding } from '../gpu/recorder';
import { matrices } from '../model/transformer';
import { GgmlType, type GpuTensor, type ModelConfig } from '../model/types';
import type { LayerWeights, ModelWeights } from '../model/weights';
import { PLANE_ALIGN } from './memory';

export type Proj = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export const ALL_PROJS: readonly Proj[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

export const IGNORE = 0xffffffff;

export interface LoraConfig {
  rank: number;
  alpha: number;
  targets: readonly Proj[];
  /** Dropout on the adapter's input during training (paper baseline: 0.05). */
  dropout?: number;
}

/** Seed of the dropout mask of one adapter in one micro-batch (tests rebuild the mask from it). */
export function loraDropoutSeed(batchSeed: number, layer: number, p: Proj): number {
  return (Math.imul(batchSeed >>> 0, 0x9e3779b1) + layer * 97 + ALL_PROJS.indexOf(p) * 7 + 1) >>> 0;
}

export interface GraphOptions {
  /** Tokens per micro-batch (all sequences packed). */
  maxTokens: number;
  /** Sequences per micro-batch. */
  maxSeqs: number;
  /** Longest sequence. */
  maxSeqLen: number;
  /** Rows of the injected-embedding buffer (all tags of the run, laid out by the caller). */
  injectedRows: number;
  /** Re-run each layer's forward during backward instead of keeping its activations. */
  recompute?: boolean;
  lora?: LoraConfig;
  /** Outputs of a head on the final hidden state (0 = no head). */
  headOutputs?: number;
  headKind?: 'regression' | 'classification';
  /** Tokens per LM-loss chunk (multiple of 64): bounds the [chunk, vocab] logits buffer. */
  lmChunk?: number;
  /** Greedy samples of up to this many tokens (sampleGreedy); 0 = none, nothing extra is built. */
  sampleTokens?: number;
}

/** A prompt for sampleGreedy: token ids with injected rows and attention lower bounds, as in Example. */
export interface SamplePrompt {
  ids: readonly number[];
  /** Per position: row of the injected buffer, or -1. */
  inject: readonly number[];
  /** Per position: attention lower bound (empty = all 0). */
  start: readonly number[];
}

/** One micro-batch: T tokens of up to maxSeqs packed sequences. */
export interface TrainBatch {
  ids: Uint32Array; // [T]
  slot: Uint32Array; // [T] sequence index
  pos: Uint32Array; // [T] position within the sequence
  start?: Uint32Array; // [T] attention lower bound (isolation mask)
  inject?: Uint32Array; // [T] row of the injected buffer or IGNORE
  /** [T] next-token target of each position, IGNORE where no LM loss. */
  targets?: Uint32Array;
  /** Gradient multiplier of the LM loss (e.g. 1 / (target tokens · accumulation steps)). */
  lmScale?: number;
  /** Seed of this micro-batch's LoRA dropout masks (vary it per step). */
  dropoutSeed?: number;
  /** [R] token index per sequence whose final hidden state feeds the head. */
  headRows?: Uint32Array;
  /** Regression: f32 [R, k] standardized labels; classification: class ids as numbers [R]. */
  headTargets?: Float32Array;
  headScale?: number;
}

/** A trainable f32 tensor with its gradient and Adam moments. */
export interface Param {
  name: string;
  n: number;
  param: GPUBuffer;
  grad: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
  /** Row range [row0, row0+rows) of a larger buffer when only part of it is trainable (tags). */
  offset?: number;
}

interface LayerActs {
  xMid: GPUBuffer; // f32 [T, d] residual after attention
  q: GPUBuffer; // f32 [T, qd] after RoPE
  att: GPUBuffer; // f32 [T, qd] attention output
  lse: GPUBuffer; // f32 [T, nHeads]
  gate: GPUBuffer; // f32 [T, ff]
  up: GPUBuffer; // f32 [T, ff]
  kC: GPUBuffer; // f32 [B, S, nKv, hd]
  vC: GPUBuffer;
  u: Partial<Record<Proj, GPUBuffer>>; // LoRA x·Aᵀ, f32 [T, r]
}

interface LoraPair {
  A: Param; // [r, in]
  B: Param; // [out, r]
  a: GpuTensor;
  b: GpuTensor;
}

type K = {
  embed: Embedding;
  norm: RmsNorm;
  mm: Matmul;
  rope: Rope;
  attn: Attention;
  swiglu: Swiglu;
  rows: Rows;
  ew: Elementwise;
  ce: CrossEntropy;
  mse: Mse;
  argmax: Argmax | null;
  wg: WeightGrad;
  sumsq: SumSquares;
  reduce: Reduce;
  adam: AdamW;
};

/** stats buffer slots, read back once per optimizer step. */
/** Slots of the stats buffer; updateBad ≠ 0 when the step's update was skipped as non-finite. */
export const STAT = { lmLoss: 0, headLoss: 1, gradSq: 2, updateBad: 3 } as const;

export class TrainGraph {
  readonly rec: Recorder;
  readonly cfg: ModelConfig;
  /** f32 [injectedRows, d]: rows spliced into the input (tags); the caller writes them. */
  readonly injected: GPUBuffer;
  /** f32 [injectedRows, d]: gradient of the injected rows, accumulated across micro-batches. */
  readonly dInjected: GPUBuffer;
  readonly head: { W: Param; b: Param; w: GpuTensor } | null;
  readonly lora: Array<Partial<Record<Proj, LoraPair>>>;
  /** f32 [4]: see STAT. */
  readonly stats: GPUBuffer;
  /** Predictions of the head for the last batch, f32 [maxSeqs, k]. */
  readonly pred: GPUBuffer;

  private readonly meta: Record<'ids' | 'slot' | 'pos' | 'start' | 'inject' | 'targets' | 'headRows' | 'cacheRow' | 'iota', GPUBuffer>;
  private readonly headTargets: GPUBuffer; // f32 [maxSeqs, k] regression labels, or [maxSeqs] class ids
  private readonly xIn: GPUBuffer[]; // L+1 × f32 [T, d]; xIn[L] is the final residual
  private readonly acts: LayerActs[]; // L entries, or 1 shared when recomputing
  private readonly s: Record<string, GPUBuffer>; // scratch
  /**
   * The input gradients of q|k|v and gate|up, planar in one buffer each (parts at offsets aligned for
   * their own bindings) so one stacked backward sums dy_i·W_i over the parts when the weights are stacked.
   */
  private readonly dqkv: Planes<'q' | 'k' | 'v'>;
  private readonly dgu: Planes<'gate' | 'up'>;
  private readonly lossRows: GPUBuffer; // f32 [T] per-token NLL
  private readonly sampleId: GPUBuffer | null; // u32 [1]: the last greedy choice
  private readonly sampleIds: GPUBuffer | null; // u32 [sampleTokens]: the sample's ids, read once
  private readonly headLoss: GPUBuffer; // f32 [maxSeqs]
  private readonly zeros4 = new Float32Array(4);
  private readonly lmChunk: number;
  private readonly ropeArgs: { theta: number; style: ModelConfig['ropeStyle']; scale: number; headDim: number };
  /** Every buffer this graph allocated, freed by dispose(). */
  private readonly owned: GPUBuffer[] = [];
  private T = 0;
  /** Dropout applies only in training steps (not in evaluation forwards). */
  private training = false;
  private nSeqs = 0;
  private nKeys = 0;

  private constructor(
    readonly gpu: Gpu,
    readonly mem: GpuMemory,
    readonly w: ModelWeights,
    private readonly k: K,
    readonly opts: GraphOptions,
    cfg: ModelConfig,
  ) {
    this.cfg = cfg;
    this.rec = new Recorder(gpu);
    const T = opts.maxTokens;
    const B = opts.maxSeqs;
    const S = opts.maxSeqLen;
    const d = cfg.dModel;
    const qd = cfg.nHeads * cfg.headDim;
    const kvd = cfg.nKvHeads * cfg.headDim;
    const ff = cfg.dFF;
    const f = (label: string, n: number) => {
      const b = mem.create(label, n * 4, 'train');
      this.owned.push(b);
      return b;
    };
    this.lmChunk = opts.lmChunk ?? Math.max(64, Math.min(256, 64 * Math.floor((16 << 20) / (cfg.vocabSize * 4 * 64))));
    if (this.lmChunk % 64 !== 0) throw new Error('lmChunk must be a multiple of 64');
    this.ropeArgs = { theta: cfg.ropeTheta, style: cfg.ropeStyle, scale: cfg.ropeScale, headDim: cfg.headDim };
    const tPad = Math.ceil(T / 64) * 64;
    this.meta = {
      ids: f('ids', T),
      slot: f('slot', T),
      pos: f('pos', T),
      start: f('start', T),
      inject: f('inject', T),
      targets: f('targets', tPad),
      headRows: f('headRows', B),
      cacheRow: f('cacheRow', T),
      iota: f('iota', tPad),
    };
    gpu.device.queue.writeBuffer(this.meta.iota, 0, bytesOf(Uint32Array.from({ length: tPad }, (_, i) => i)));
    this.injected = f('injected', Math.max(1, opts.injectedRows) * d);
    this.dInjected = f('d-injected', Math.max(1, opts.injectedRows) * d);
    this.xIn = Array.from({ length: cfg.nLayers + 1 }, (_, l) => f(`xIn.${l}`, tPad * d));
    const r = opts.lora?.rank ?? 0;
    if (opts.lora && (r <= 0 || r % 4 !== 0)) throw new Error(`LoRA rank must be a positive multiple of 4 (the GPU kernels read 4 values at a time); got ${r}.`);
    const layerActs = (l: number): LayerActs => ({
      xMid: f(`xMid.${l}`, T * d),
      q: f(`q.${l}`, T * qd),
      att: f(`att.${l}`, T * qd),
      lse: f(`lse.${l}`, T * cfg.nHeads),
      gate: f(`gate.${l}`, T * ff),
      up: f(`up.${l}`, T * ff),
      kC: f(`kC.${l}`, B * S * kvd),
      vC: f(`vC.${l}`, B * S * kvd),
      u: Object.fromEntries((opts.lora?.targets ?? []).map((p) => [p, f(`u.${p}.${l}`, T * r)])),
    });
    this.acts = opts.recompute ? [layerActs(0)] : Array.from({ length: cfg.nLayers }, (_, l) => layerActs(l));
    const C = this.lmChunk;
    this.s = {
      xn: f('xn', T * d),
      k: f('k', T * kvd),
      v: f('v', T * kvd),
      ffn: f('ffn', T * ff),
      dx: f('dx', tPad * d),
      dxn: f('dxn', T * d),
      datt: f('datt', T * qd),
      dkC: f('dkC', B * S * kvd),
      dvC: f('dvC', B * S * kvd),
      dffn: f('dffn', T * ff),
      attStats: f('att-stats', T * cfg.nHeads * 2),
      hc: f('hc', C * d),
      hcn: f('hcn', C * d),
      dhc: f('dhc', C * d),
      logits: f('lm-logits', C * cfg.vocabSize),
      us: f('u-scaled', Math.max(1, T * r)),
      du: f('du', Math.max(1, T * r)),
      hh: f('hh', B * d),
      hhn: f('hhn', B * d),
      dhh: f('dhh', B * d),
      dpred: f('dpred', B * Math.max(1, opts.headOutputs ?? 1)),
      // LoRA dropout: the masked adapter input, and the masked gradient going back through it.
      ...(opts.lora?.dropout ? { xd: f('lora-xd', T * Math.max(d, qd, ff)), dxd: f('lora-dxd', T * Math.max(d, qd, ff)), dxd2: f('lora-dxd2', T * Math.max(d, qd, ff)) } : {}),
    };
    this.dqkv = planes(f, 'd-qkv', { q: T * qd, k: T * kvd, v: T * kvd }, PLANE_ALIGN);
    this.dgu = planes(f, 'd-gate|up', { gate: T * ff, up: T * ff }, PLANE_ALIGN);
    this.lossRows = f('loss-rows', tPad);
    this.headLoss = f('head-loss', B);
    this.headTargets = f('head-targets', B * Math.max(1, opts.headOutputs ?? 1));
    this.pred = f('pred', B * Math.max(1, opts.headOutputs ?? 1));
    this.stats = f('stats', 4);
    // Sampling: one u32 per decoded token; the argmax lands in sampleId, then is copied to both the
    // next input position and sampleIds (copies, because storage bindings need 256-byte offsets).
    this.sampleId = opts.sampleTokens ? f('sample-id', 1) : null;
    this.sampleIds = opts.sampleTokens ? f('sample-ids', opts.sampleTokens) : null;

    const param = (name: string, n: number): Param => ({ name, n, param: f(name, n), grad: f(`${name}.grad`, n), m: f(`${name}.m`, n), v: f(`${name}.v`, n) });
    const ko = opts.headOutputs ?? 0;
    if (ko > 0) {
      const W = param('head.W', ko * d);
      this.head = { W, b: param('head.b', ko), w: { name: 'head.W', type: GgmlType.F32, shape: [ko, d], buffer: W.param } };
    } else this.head = null;
    this.lora = w.layers.map((L, l) => {
      const out: Partial<Record<Proj, LoraPair>> = {};
      for (const p of opts.lora?.targets ?? []) {
        const [N, Kin] = projWeight(L, p).shape;
        const A = param(`lora.${l}.${p}.A`, r * Kin);
        const Bp = param(`lora.${l}.${p}.B`, N * r);
        out[p] = {
          A,
          B: Bp,
          a: { name: A.name, type: GgmlType.F32, shape: [r, Kin], buffer: A.param },
          b: { name: Bp.name, type: GgmlType.F32, shape: [N, r], buffer: Bp.param },
        };
      }
      return out;
    });
  }

  static async create(gpu: Gpu, kc: KernelCache, mem: GpuMemory, cfg: ModelConfig, w: ModelWeights, opts: GraphOptions): Promise<TrainGraph> {
    const types = new Set(matrices(w).map((t) => t.type));
    if (opts.lora || opts.headOutputs) types.add(GgmlType.F32);
    const [embed, norm, mm, rope, attn, swiglu, rows, ew, ce, mse, wg, sumsq, reduce, adam, argmax] = await Promise.all([
      Embedding.create(kc, [w.tokEmbd.type]),
      RmsNorm.create(kc),
      Matmul.create(kc, [...types]),
      Rope.create(kc),
      Attention.create(kc, { backward: true }),
      Swiglu.create(kc),
      Rows.create(kc),
      Elementwise.create(kc),
      CrossEntropy.create(kc),
      Mse.create(kc),
      WeightGrad.create(kc),
      SumSquares.create(kc),
      Reduce.create(kc),
      AdamW.create(kc),
      opts.sampleTokens ? Argmax.create(kc) : Promise.resolve(null),
    ]);
    const k: K = { embed, norm, mm, rope, attn, swiglu, rows, ew, ce, mse, wg, sumsq, reduce, adam, argmax };
    return new TrainGraph(gpu, mem, w, k, opts, cfg);
  }

  /** Frees every buffer of the graph (a run's memory goes back before the next run starts). */
  dispose(): void {
    this.rec.destroy();
    for (const b of this.owned) this.mem.destroy(b);
    this.owned.length = 0;
  }

  /** Every trainable tensor except the injected rows (whose trainable ranges the caller knows). */
  params(): Param[] {
    const out: Param[] = [];
    if (this.head) out.push(this.head.W, this.head.b);
    for (const layer of this.lora) for (const p of ALL_PROJS) if (layer[p]) out.push(layer[p]!.A, layer[p]!.B);
    return out;
  }

  get lmChunkSize(): number {
    return this.lmChunk;
  }

  /** Uploads a micro-batch's indices. Call between submits (queue writes land before the next submit). */
  setBatch(b: TrainBatch): void {
    const T = b.ids.length;
    const o = this.opts;
    if (T > o.maxTokens) throw new Error(`Micro-batch has ${T} tokens; the graph holds ${o.maxTokens}.`);
    let nSeqs = 0;
    let nKeys = 0;
    for (let t = 0; t < T; t++) {
      if (b.slot[t] >= o.maxSeqs) throw new Error(`Sequence index ${b.slot[t]} ≥ ${o.maxSeqs}.`);
      if (b.pos[t] >= o.maxSeqLen) throw new Error(`Position ${b.pos[t]} ≥ max sequence length ${o.maxSeqLen}.`);
      nSeqs = Math.max(nSeqs, b.slot[t] + 1);
      nKeys = Math.max(nKeys, b.pos[t] + 1);
    }
    const q = this.gpu.device.queue;
    q.writeBuffer(this.meta.ids, 0, bytesOf(b.ids));
    q.writeBuffer(this.meta.slot, 0, bytesOf(b.slot));
    q.writeBuffer(this.meta.pos, 0, bytesOf(b.pos));
    q.writeBuffer(this.meta.start, 0, bytesOf(b.start ?? new Uint32Array(T)));
    q.writeBuffer(this.meta.inject, 0, bytesOf(b.inject ?? new Uint32Array(T).fill(IGNORE)));
    const targets = new Uint32Array(Math.ceil(T / 64) * 64).fill(IGNORE);
    if (b.targets) targets.set(b.targets);
    q.writeBuffer(this.meta.targets, 0, bytesOf(targets));
    q.writeBuffer(this.meta.cacheRow, 0, bytesOf(Uint32Array.from({ length: T }, (_, t) => b.slot[t] * o.maxSeqLen + b.pos[t])));
    if (b.headRows) {
      if (!this.head) throw new Error('This graph has no head.');
      q.writeBuffer(this.meta.headRows, 0, bytesOf(b.headRows));
      q.writeBuffer(this.headTargets, 0, bytesOf(b.headTargets ?? new Float32Array(b.headRows.length)));
    }
    this.T = T;
    this.nSeqs = nSeqs;
    this.nKeys = nKeys;
    this.batch = b;
  }
  private batch: TrainBatch | null = null;

  /** Zeroes the loss/gradient-norm statistics (start of an optimizer step). */
  resetStats(): void {
    this.gpu.device.queue.writeBuffer(this.stats, 0, this.zeros4);
  }

  /**
   * Records forward + losses (+ backward when `backward`) for the batch given to setBatch, and submits.
   * Losses add into `stats`; gradients add into the params' grad buffers and dInjected.
   */
  step(backward: boolean): void {
    const b = this.batch;
    if (!b) throw new Error('setBatch first');
    const T = this.T;
    const L = this.cfg.nLayers;
    const needModelGrad = backward && (this.opts.injectedRows > 0 || !!this.opts.lora);
    this.training = backward;
    this.k.embed.gather(this.rec, { ids: this.meta.ids, inject: this.meta.inject, injected: this.injected, table: this.w.tokEmbd, out: this.xIn[0], T });
    for (let l = 0; l < L; l++) this.layerForward(l, T);
    const dx = this.s.dx;
    if (backward) this.k.ew.fill(this.rec, dx, T * this.cfg.dModel);
    if (b.targets) this.lmLoss(b, backward);
    if (b.headRows && this.head) this.headLossAndGrad(b, backward);
    if (needModelGrad) {
      for (let l = L - 1; l >= 0; l--) {
        if (this.opts.recompute) this.layerForward(l, T);
        this.layerBackward(l, T);
      }
      if (this.opts.injectedRows > 0) {
        this.k.rows.segmentSum(this.rec, { src: dx, rows: this.meta.inject, out: this.dInjected, T, nOut: this.opts.injectedRows, d: this.cfg.dModel });
      }
    }
    this.rec.submit();
  }

  /** Adds Σ‖grad‖² of the given params (and injected row ranges) into stats[gradSq]. */
  gradNorm(params: readonly Param[]): void {
    for (const p of params) this.k.sumsq.accumulate(this.rec, { x: range(p.grad, p), n: p.n, out: this.stats, slot: STAT.gradSq, accumulate: true });
    this.rec.submit();
  }

  /**
   * One AdamW update of each param, clipping on the GPU by the global norm in stats[gradSq] (call
   * gradNorm first) and skipping the update there if that norm is not finite. Clears the grads.
   */
  update(
    params: readonly Param[],
    h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number; gradScale: number; maxNorm: number },
  ): void {
    const { maxNorm, ...rest } = h;
    const args = (p: Param) => ({
      param: range(p.param, p),
      grad: range(p.grad, p),
      m: range(p.m, p),
      v: range(p.v, p),
      n: p.n,
      ...rest,
      zeroGrad: true,
      clip: { sumSquares: this.stats, slot: STAT.gradSq, maxNorm: maxNorm > 0 ? maxNorm : Infinity },
      guard: { flagSlot: STAT.updateBad },
    });
    // Probe every parameter first: a step whose update would make any value non-finite is skipped
    // whole (the parameters keep their last good state), like a step with a non-finite gradient.
    for (const p of params) this.k.adam.probe(this.rec, args(p));
    for (const p of params) this.k.adam.update(this.rec, args(p));
    this.rec.submit();
  }

  /** Clears gradients without updating (a skipped step). */
  zeroGrads(params: readonly Param[]): void {
    for (const p of params) this.k.ew.fill(this.rec, range(p.grad, p), p.n);
    this.rec.submit();
  }

  async readStats(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu, this.stats, 0, 16));
  }

  /** Per-token NLL of the last batch, f32 [T] (IGNORE rows are 0). */
  async readTokenLoss(): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu, this.lossRows, 0, this.T * 4));
  }

  /** Head outputs of the last batch, f32 [R, k]. */
  async readPredictions(R: number): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu, this.pred, 0, R * (this.opts.headOutputs ?? 1) * 4));
  }

  /**
   * Greedy continuation of `prompt` with the current parameters (tags, LoRA; no dropout), `n` tokens.
   * Each token re-runs the forward over the whole padded sequence (causal attention: the positions not
   * yet decoded do not affect earlier ones), picks the argmax on the GPU and writes it into the next
   * input position there, so the only read back is the n ids at the end. Clobbers the activations of
   * the last training batch (the next step sets its own).
   */
  async sampleGreedy(prompt: SamplePrompt, n: number): Promise<number[]> {
    const o = this.opts;
    const argmax = this.k.argmax;
    if (!argmax || !this.sampleId || !this.sampleIds) throw new Error('This graph was built without sampling (sampleTokens).');
    if (!(n >= 1 && n <= (o.sampleTokens ?? 0))) throw new Error(`Sample of ${n} tokens; the graph was built for 1 to ${o.sampleTokens}.`);
    const P = prompt.ids.length;
    if (P === 0) throw new Error('The sample prompt is empty.');
    const T = P + n - 1; // the last sampled token is never fed back
    if (T > o.maxTokens || T > o.maxSeqLen) throw new Error(`The sample prompt (${P} tokens) plus ${n} sampled tokens do not fit the graph (${Math.min(o.maxTokens, o.maxSeqLen)} positions).`);
    const ids = new Uint32Array(T);
    ids.set(prompt.ids);
    const inject = new Uint32Array(T).fill(IGNORE);
    for (let t = 0; t < P; t++) if (prompt.inject[t] >= 0) inject[t] = prompt.inject[t];
    const start = new Uint32Array(T);
    for (let t = 0; t < P; t++) start[t] = prompt.start[t] ?? 0;
    const iota = Uint32Array.from({ length: T }, (_, t) => t);
    this.setBatch({ ids, slot: new Uint32Array(T), pos: iota, start, inject });
    this.training = false;
    const { k, rec, cfg, s } = this;
    const d = cfg.dModel;
    const xL = this.xIn[cfg.nLayers];
    for (let j = 0; j < n; j++) {
      const last = P - 1 + j; // f32 [1, d]: the hidden state that predicts token last+1
      k.embed.gather(rec, { ids: this.meta.ids, inject: this.meta.inject, injected: this.injected, table: this.w.tokEmbd, out: this.xIn[0], T });
      for (let l = 0; l < cfg.nLayers; l++) this.layerForward(l, T);
      rec.copy(xL, last * d * 4, s.hc, 0, d * 4);
      k.norm.forward(rec, { x: s.hc, weight: this.w.outNorm, out: s.hcn, T: 1, d, eps: cfg.normEps });
      k.mm.forward(rec, { x: s.hcn, w: this.w.output, y: s.logits, M: 1 });
      argmax.forward(rec, { logits: s.logits, out: this.sampleId, B: 1, V: cfg.vocabSize });
      rec.copy(this.sampleId, 0, this.sampleIds, j * 4, 4);
      if (last + 1 < T) rec.copy(this.sampleId, 0, this.meta.ids, (last + 1) * 4, 4);
    }
    rec.submit();
    return Array.from(new Uint32Array(await readBuffer(this.gpu, this.sampleIds, 0, n * 4)));
  }

  // ── forward ────────────────────────────────────────────────────────────

  private layerAct(l: number): LayerActs {
    return this.acts[this.opts.recompute ? 0 : l];
  }

  private layerForward(l: number, T: number): void {
    const { k, rec, cfg, s, meta } = this;
    const Lw = this.w.layers[l];
    const a = this.layerAct(l);
    const d = cfg.dModel;
    const xIn = this.xIn[l];
    k.norm.forward(rec, { x: xIn, weight: Lw.attnNorm, out: s.xn, T, d, eps: cfg.normEps });
    this.proj(l, 'q', s.xn, a.q, T, Lw.bq);
    this.proj(l, 'k', s.xn, s.k, T, Lw.bk);
    this.proj(l, 'v', s.xn, s.v, T, Lw.bv);
    k.rope.forward(rec, { ...this.ropeArgs, x: a.q, pos: meta.pos, T, nHeads: cfg.nHeads });
    k.rope.forward(rec, { ...this.ropeArgs, x: s.k, pos: meta.pos, T, nHeads: cfg.nKvHeads });
    const cache = { kCache: a.kC, vCache: a.vC, slot: meta.slot, pos: meta.pos, T, nKv: cfg.nKvHeads, hd: cfg.headDim, maxSeq: this.opts.maxSeqLen };
    k.attn.kvWrite(rec, { ...cache, k: s.k, v: s.v });
    k.attn.forward(rec, { ...cache, q: a.q, start: meta.start, out: a.att, lse: a.lse, nHeads: cfg.nHeads, scale: 1 / Math.sqrt(cfg.headDim) });
    k.ew.copy(rec, a.xMid, xIn, T * d);
    this.proj(l, 'o', a.att, a.xMid, T, null, true);
    k.norm.forward(rec, { x: a.xMid, weight: Lw.ffnNorm, out: s.xn, T, d, eps: cfg.normEps });
    this.proj(l, 'gate', s.xn, a.gate, T);
    this.proj(l, 'up', s.xn, a.up, T);
    k.swiglu.forward(rec, { gate: a.gate, up: a.up, out: s.ffn, n: T * cfg.dFF });
    k.ew.copy(rec, this.xIn[l + 1], a.xMid, T * d);
    this.proj(l, 'down', s.ffn, this.xIn[l + 1], T, null, true);
  }

  /** y (+)= x·Wᵀ (+ bias) + (α/r)·(x·Aᵀ)·Bᵀ when the projection carries a LoRA adapter. */
  private proj(l: number, p: Proj, x: Binding, y: Binding, T: number, bias?: GPUBuffer | null, accumulate = false): void {
    const { k, rec } = this;
    k.mm.forward(rec, { x, w: projWeight(this.w.layers[l], p), y, M: T, bias: bias ?? undefined, accumulate });
    const lp = this.lora[l][p];
    if (!lp) return;
    const lo = this.opts.lora!;
    const u = this.layerAct(l).u[p]!;
    k.mm.forward(rec, { x: this.loraInput(l, p, x, T), w: lp.a, y: u, M: T });
    k.ew.copy(rec, this.s.us, u, T * lo.rank, lo.alpha / lo.rank);
    k.mm.forward(rec, { x: this.s.us, w: lp.b, y, M: T, accumulate: true });
  }

  /** The adapter's input: x itself, or x with this micro-batch's dropout mask while training. */
  private loraInput(l: number, p: Proj, x: Binding, T: number): Binding {
    const drop = this.opts.lora?.dropout ?? 0;
    if (!(drop > 0) || !this.training) return x;
    const K = projWeight(this.w.layers[l], p).shape[1];
    this.k.ew.dropout(this.rec, this.s.xd, x, T * K, drop, loraDropoutSeed(this.batch?.dropoutSeed ?? 0, l, p));
    return this.s.xd;
  }

  // ── losses ─────────────────────────────────────────────────────────────

  /** Next-token CE in token chunks: the [chunk, vocab] logits never exist for the whole batch. */
  private lmLoss(b: TrainBatch, backward: boolean): void {
    const { k, rec, cfg, s, meta } = this;
    const d = cfg.dModel;
    const V = cfg.vocabSize;
    const C = this.lmChunk;
    const xL = this.xIn[cfg.nLayers];
    const targets = b.targets!;
    for (let c0 = 0; c0 < this.T; c0 += C) {
      const n = Math.min(C, this.T - c0);
      let any = false;
      for (let t = c0; t < c0 + n && !any; t++) any = targets[t] !== IGNORE;
      if (!any) continue;
      k.rows.gather(rec, { src: xL, rows: { buffer: meta.iota, offset: c0 * 4, size: n * 4 }, out: s.hc, R: n, d });
      k.norm.forward(rec, { x: s.hc, weight: this.w.outNorm, out: s.hcn, T: n, d, eps: cfg.normEps });
      k.mm.forward(rec, { x: s.hcn, w: this.w.output, y: s.logits, M: n });
      k.ce.forwardBackward(rec, {
        logits: s.logits,
        targets: { buffer: meta.targets, offset: c0 * 4, size: n * 4 },
        loss: { buffer: this.lossRows, offset: c0 * 4, size: n * 4 },
        R: n,
        V,
        scale: b.lmScale ?? 1,
      });
      if (!backward) continue;
      k.mm.backwardInput(rec, { dy: s.logits, w: this.w.output, dx: s.hcn, M: n });
      k.norm.backward(rec, { x: s.hc, weight: this.w.outNorm, dy: s.hcn, dx: s.dhc, T: n, d, eps: cfg.normEps });
      k.ew.add(rec, { buffer: s.dx, offset: c0 * d * 4, size: n * d * 4 }, s.dhc, n * d);
    }
    // Ignored rows may hold stale losses from an earlier, longer batch: sum only the real tokens' rows,
    // which the CE kernel wrote (0 for IGNORE targets).
    k.reduce.sum(rec, { x: this.lossRows, n: this.T, out: this.stats, slot: STAT.lmLoss, accumulate: true });
  }

  private headLossAndGrad(b: TrainBatch, backward: boolean): void {
    const { k, rec, cfg, s, meta } = this;
    const head = this.head!;
    const d = cfg.dModel;
    const R = b.headRows!.length;
    const ko = this.opts.headOutputs!;
    k.rows.gather(rec, { src: this.xIn[cfg.nLayers], rows: meta.headRows, out: s.hh, R, d });
    k.norm.forward(rec, { x: s.hh, weight: this.w.outNorm, out: s.hhn, T: R, d, eps: cfg.normEps });
    k.mm.forward(rec, { x: s.hhn, w: head.w, y: this.pred, M: R, bias: head.b.param });
    if (this.opts.headKind === 'classification') {
      k.ce.forwardBackward(rec, { logits: this.pred, targets: this.headTargets, floatTargets: true, dlogits: s.dpred, loss: this.headLoss, R, V: ko, scale: b.headScale ?? 1 });
    } else {
      k.mse.forwardBackward(rec, { pred: this.pred, target: this.headTargets, dpred: s.dpred, loss: this.headLoss, B: R, k: ko, scale: b.headScale ?? 1 });
    }
    k.reduce.sum(rec, { x: this.headLoss, n: R, out: this.stats, slot: STAT.headLoss, accumulate: true });
    if (!backward) return;
    k.wg.accumulate(rec, { dy: s.dpred, x: s.hhn, dw: head.W.grad, M: R, N: ko, K: d, scale: 1, accumulate: true });
    k.wg.biasGrad(rec, { dy: s.dpred, db: head.b.grad, M: R, N: ko, scale: 1, accumulate: true });
    k.mm.backwardInput(rec, { dy: s.dpred, w: head.w, dx: s.hhn, M: R });
    k.norm.backward(rec, { x: s.hh, weight: this.w.outNorm, dy: s.hhn, dx: s.dhh, T: R, d, eps: cfg.normEps });
    k.rows.scatterAdd(rec, { src: s.dhh, rows: meta.headRows, out: s.dx, R, d });
  }

  // ── backward ───────────────────────────────────────────────────────────

  /** s.dx holds dL/dxIn[l+1] on entry and dL/dxIn[l] on exit. */
  private layerBackward(l: number, T: number): void {
    const { k, rec, cfg, s, meta } = this;
    const Lw = this.w.layers[l];
    const a = this.layerAct(l);
    const d = cfg.dModel;
    const ff = cfg.dFF;
    const eps = cfg.normEps;
    const lora = this.lora[l];

    // FFN: xIn[l+1] = xMid + down(swiglu(gate(n2), up(n2))), n2 = norm(xMid)
    k.mm.backwardInput(rec, { dy: s.dx, w: Lw.wDown, dx: s.dffn, M: T });
    if (lora.down) {
      k.swiglu.forward(rec, { gate: a.gate, up: a.up, out: s.ffn, n: T * ff });
      this.loraBackward(l, 'down', s.ffn, s.dx, s.dffn, T);
    }
    const { gate: dgate, up: dup } = this.dgu.parts;
    k.swiglu.backward(rec, { gate: a.gate, up: a.up, dout: s.dffn, dgate, dup, n: T * ff });
    if (stackedAll([Lw.wGate, Lw.wUp])) {
      k.mm.backwardInputStacked(rec, { dy: this.dgu.buffer, dyOffsets: this.dgu.offsets, ws: [Lw.wGate, Lw.wUp], dx: s.dxn, M: T });
    } else {
      k.mm.backwardInput(rec, { dy: dgate, w: Lw.wGate, dx: s.dxn, M: T });
      k.mm.backwardInput(rec, { dy: dup, w: Lw.wUp, dx: s.dxn, M: T, accumulate: true });
    }
    if (lora.gate || lora.up) {
      k.norm.forward(rec, { x: a.xMid, weight: Lw.ffnNorm, out: s.xn, T, d, eps });
      if (lora.gate) this.loraBackward(l, 'gate', s.xn, dgate, s.dxn, T);
      if (lora.up) this.loraBackward(l, 'up', s.xn, dup, s.dxn, T);
    }
    k.norm.backward(rec, { x: a.xMid, weight: Lw.ffnNorm, dy: s.dxn, dx: s.dx, T, d, eps, accumulate: true });

    // Attention: xMid = xIn + o(attn(rope(q(n1)), rope(k(n1)), v(n1))), n1 = norm(xIn)
    k.mm.backwardInput(rec, { dy: s.dx, w: Lw.wo, dx: s.datt, M: T });
    if (lora.o) this.loraBackward(l, 'o', a.att, s.dx, s.datt, T);
    k.attn.backward(rec, {
      q: a.q,
      kCache: a.kC,
      vCache: a.vC,
      slot: meta.slot,
      pos: meta.pos,
      start: meta.start,
      out: a.att,
      dOut: s.datt,
      lse: a.lse,
      stats: s.attStats,
      dq: this.dqkv.parts.q,
      dk: s.dkC,
      dv: s.dvC,
      T,
      nHeads: cfg.nHeads,
      nKv: cfg.nKvHeads,
      hd: cfg.headDim,
      maxSeq: this.opts.maxSeqLen,
      scale: 1 / Math.sqrt(cfg.headDim),
      slots: this.nSeqs,
      nKeys: this.nKeys,
    });
    const kvd = cfg.nKvHeads * cfg.headDim;
    const { q: dq, k: dk, v: dv } = this.dqkv.parts;
    k.rows.gather(rec, { src: s.dkC, rows: meta.cacheRow, out: dk, R: T, d: kvd });
    k.rows.gather(rec, { src: s.dvC, rows: meta.cacheRow, out: dv, R: T, d: kvd });
    // dq and dk share one buffer: one dispatch rotates both back.
    k.rope.backward(rec, { ...this.ropeArgs, x: this.dqkv.buffer, pos: meta.pos, T, nHeads: cfg.nHeads, second: { nHeads: cfg.nKvHeads, offset: this.dqkv.offsets[1] } });
    if (stackedAll([Lw.wq, Lw.wk, Lw.wv])) {
      k.mm.backwardInputStacked(rec, { dy: this.dqkv.buffer, dyOffsets: this.dqkv.offsets, ws: [Lw.wq, Lw.wk, Lw.wv], dx: s.dxn, M: T });
    } else {
      k.mm.backwardInput(rec, { dy: dq, w: Lw.wq, dx: s.dxn, M: T });
      k.mm.backwardInput(rec, { dy: dk, w: Lw.wk, dx: s.dxn, M: T, accumulate: true });
      k.mm.backwardInput(rec, { dy: dv, w: Lw.wv, dx: s.dxn, M: T, accumulate: true });
    }
    if (lora.q || lora.k || lora.v) {
      k.norm.forward(rec, { x: this.xIn[l], weight: Lw.attnNorm, out: s.xn, T, d, eps });
      if (lora.q) this.loraBackward(l, 'q', s.xn, dq, s.dxn, T);
      if (lora.k) this.loraBackward(l, 'k', s.xn, dk, s.dxn, T);
      if (lora.v) this.loraBackward(l, 'v', s.xn, dv, s.dxn, T);
    }
    k.norm.backward(rec, { x: this.xIn[l], weight: Lw.attnNorm, dy: s.dxn, dx: s.dx, T, d, eps, accumulate: true });
  }

  /**
   * For y += s·(x·Aᵀ)·Bᵀ with u = x·Aᵀ: dB += s·dyᵀ·u, du = s·dy·B, dA += duᵀ·x, dx += du·A.
   * `u` was saved by the forward (or recomputed with the layer).
   */
  private loraBackward(l: number, p: Proj, x: Binding, dy: Binding, dxIn: Binding, T: number): void {
    const { k, rec } = this;
    const lp = this.lora[l][p]!;
    const { rank: r, alpha } = this.opts.lora!;
    const sc = alpha / r;
    const u = this.layerAct(l).u[p]!;
    const [N, Kin] = projWeight(this.w.layers[l], p).shape;
    k.wg.accumulate(rec, { dy, x: u, dw: lp.B.grad, M: T, N, K: r, scale: sc, accumulate: true });
    k.mm.backwardInput(rec, { dy, w: lp.b, dx: this.s.du, M: T });
    k.ew.copy(rec, this.s.us, this.s.du, T * r, sc);
    const xd = this.loraInput(l, p, x, T);
    k.wg.accumulate(rec, { dy: this.s.us, x: xd, dw: lp.A.grad, M: T, N: r, K: Kin, scale: 1, accumulate: true });
    const drop = this.opts.lora!.dropout ?? 0;
    if (drop > 0) {
      // d(input) = mask ⊙ (du·A)/(1 − p): the same mask as the forward, regenerated from its seed.
      k.mm.backwardInput(rec, { dy: this.s.us, w: lp.a, dx: this.s.dxd, M: T });
      k.ew.dropout(rec, this.s.dxd2, this.s.dxd, T * Kin, drop, loraDropoutSeed(this.batch?.dropoutSeed ?? 0, l, p));
      k.ew.add(rec, dxIn, this.s.dxd2, T * Kin);
    } else {
      k.mm.backwardInput(rec, { dy: this.s.us, w: lp.a, dx: dxIn, M: T, accumulate: true });
    }
  }
}

export function projWeight(L: LayerWeights, p: Proj): GpuTensor {
  return { q: L.wq, k: L.wk, v: L.wv, o: L.wo, gate: L.wGate, up: L.wUp, down: L.wDown }[p];
}

/** A param's binding: the whole buffer, or its trainable row range. */
function range(buf: GPUBuffer, p: Param): Binding {
  return p.offset === undefined ? buf : { buffer: buf, offset: p.offset, size: p.n * 4 };
}

/** Planar parts of one buffer, each at an offset aligned for binding it alone. */
interface Planes<P extends string> {
  buffer: GPUBuffer;
  /** Byte offsets of the parts, in declaration order (the first is 0). */
  offsets: number[];
  parts: Record<P, { buffer: GPUBuffer; offset: number; size: number }>;
}

function planes<P extends string>(f: (label: string, n: number) => GPUBuffer, label: string, words: Record<P, number>, align: number): Planes<P> {
  const offsets: number[] = [];
  let size = 0;
  for (const n of Object.values<number>(words)) {
    offsets.push(size);
    size = Math.ceil((size + Math.max(n, 1) * 4) / align) * align;
  }
  const buffer = f(label, size / 4);
  const parts = Object.fromEntries(Object.entries<number>(words).map(([p, n], i) => [p, { buffer, offset: offsets[i], size: Math.max(n, 1) * 4 }])) as Planes<P>['parts'];
  return { buffer, offsets, parts };
}

/** Whether matrices are one stack (uploadWeights: one buffer and type, in order) for a stacked matmul. */
function stackedAll(ws: GpuTensor[]): boolean {
  return ws.every((w, i) => w.buffer === ws[0].buffer && w.type === ws[0].type && w.offset !== undefined && (i === 0 || w.offset > ws[i - 1].offset!));
}
