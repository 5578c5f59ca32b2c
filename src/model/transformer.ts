import type { Gpu } from '../gpu/device';
import type { KernelCache } from '../gpu/kernel';
import { Attention } from '../gpu/kernels/attention';
import { Embedding, NO_INJECT } from '../gpu/kernels/embedding';
import { LoraDown, LoraUp } from '../gpu/kernels/lora';
import { GROUP_WORDS, MEMBER_WORDS, MixtureSampler, writePlan, type PlanGroup } from '../gpu/kernels/mixture';
import { Argmax } from '../gpu/kernels/logits';
import { Matmul, MATVEC_MAX_M } from '../gpu/kernels/matmul';
import { DecodeMatvec, type MatvecMode } from '../gpu/kernels/matvec';
import { RmsNorm } from '../gpu/kernels/rmsnorm';
import { Rope } from '../gpu/kernels/rope';
import { Rows } from '../gpu/kernels/rows';
import { Swiglu } from '../gpu/kernels/swiglu';
import { bytesOf, readBuffer, type GpuMemory } from '../gpu/memory';
import { Recorder, type Binding } from '../gpu/recorder';
import type { GpuTensor, ModelConfig } from './types';
import type { ModelWeights } from './weights';
import { NO_ADAPTER, ResidentAdapters, type LoraGroup } from './adapters';
import { GgmlType } from './types';

/** Every weight matrix of the model (the LM head once even when tied). */
export function matrices(w: ModelWeights): GpuTensor[] {
  const out = [w.tokEmbd, ...w.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown])];
  if (w.output !== w.tokEmbd) out.push(w.output);
  return out;
}

export { NO_INJECT, NO_ADAPTER };

/** A part of a buffer bound on its own. */
type Part = { buffer: GPUBuffer; offset: number; size: number };

/** One scratch buffer holding f32 parts of `words` each, every part starting at a binding-aligned offset. */
function planar(mem: GpuMemory, label: string, words: number[], align: number): [GPUBuffer, Part[]] {
  const offsets: number[] = [];
  let size = 0;
  for (const n of words) {
    offsets.push(size);
    size = Math.ceil((size + Math.max(n, 1) * 4) / align) * align;
  }
  const buffer = mem.create(label, size, 'scratch');
  return [buffer, words.map((n, i) => ({ buffer, offset: offsets[i], size: Math.max(n, 1) * 4 }))];
}

/** Whether matrices were uploaded as one stack (uploadWeights) and can be projected in one dispatch. */
function stacked(ws: GpuTensor[]): boolean {
  return ws.every((w) => w.buffer === ws[0].buffer && w.offset !== undefined);
}

/**
 * One forward call: T tokens from any number of sequences, each token placed in a KV-cache slot at a
 * position. Prefill passes a whole prompt per slot; a decode step passes one token per active slot.
 */
export interface ForwardInput {
  ids: Uint32Array; // [T] token ids (ignored where injected)
  slot: Uint32Array; // [T] KV-cache slot (sequence) of each token
  pos: Uint32Array; // [T] position of each token in its sequence
  /** [T] first key position each token may attend to (custom mask; default 0 = plain causal). */
  start?: Uint32Array;
  /** [T] row of `injected` that replaces the token's embedding, or NO_INJECT. */
  inject?: Uint32Array;
  /** f32 [nInjected, d]: caller-provided embedding rows (tags, soft prompts). */
  injected?: GPUBuffer;
  /** [R] indices into the T tokens whose next-token logits are wanted. */
  logitRows: Uint32Array;
  /** [T] resident LoRA adapter slot applied to each token (Transformer.adapters), or NO_ADAPTER. */
  adapter?: Uint32Array;
}

export interface TransformerOptions {
  /** Tokens per forward chunk: longer inputs are processed in chunks of this size. */
  maxTokens: number;
  /** KV-cache slots = sequences decodable in parallel. */
  slots: number;
  /** Positions per slot in the KV cache. */
  maxContext: number;
}

type Kernels = {
  embed: Embedding;
  norm: RmsNorm;
  mm: Matmul;
  rope: Rope;
  attn: Attention;
  swiglu: Swiglu;
  rows: Rows;
  argmax: Argmax;
  sampler: MixtureSampler;
  /** The fused decode projections, and which layers' q|k|v and gate|up can use them (one stack each). */
  mv: DecodeMatvec | null;
  fuse: { qkv: boolean; gu: boolean }[];
};

/**
 * The decoder on the GPU. All activation buffers are allocated once, for `maxTokens` tokens, so a
 * forward or decode step allocates nothing and records its whole layer stack into one submit per chunk.
 */
export class Transformer {
  readonly rec: Recorder;
  /** slot and pos are parts of one buffer so the fused q|k|v kernel reads both through one binding. */
  private readonly meta: { ids: GPUBuffer; slot: Part; pos: Part; start: GPUBuffer; inject: GPUBuffer; rows: GPUBuffer; adapter: GPUBuffer };
  /** LoRA adapters resident for inference; a token's adapter is its slot here. */
  readonly adapters: ResidentAdapters;
  /**
   * Compiled on first use of an adapter (prepareAdapters): f32 matmul for the down projection and the up
   * kernel (long chunks); for decode chunks the masked down projection and the fused projections' LoRA
   * variants (`rope`: whether q|k|v have one, which needs 10 storage buffers per shader stage).
   */
  private lora: { mm: Matmul; up: LoraUp; down: LoraDown; mv: DecodeMatvec | null; rope: boolean } | null = null;
  private kernelCache: KernelCache | null = null;
  private readonly localRows: Uint32Array;
  /** Token choice of a decode step (mixture.wgsl): plan in, ids and member probabilities out. */
  private readonly pick: {
    plan: GPUBuffer; // u32 [slots·(GROUP_WORDS + MEMBER_WORDS)]
    stats: GPUBuffer; // f32 [slots, 2]
    q: GPUBuffer; // f32 [slots, vocab]
    out: GPUBuffer; // u32 [slots] ids, then f32 [slots] member probabilities
    readback: GPUBuffer; // MAP_READ copy of `out`, reused every step
    words: Uint32Array<ArrayBuffer>;
    floats: Float32Array;
    result: ArrayBuffer;
  };
  private readonly act: {
    x: GPUBuffer; // f32 [maxTokens, d] residual stream
    xn: GPUBuffer; // f32 [maxTokens, d] normed input of a sublayer
    qkv: GPUBuffer; // q, k, v below, planar in one buffer so one stacked matmul writes all three
    q: Part; // f32 [maxTokens, nHeads·hd]
    k: Part; // f32 [maxTokens, nKv·hd]
    v: Part; // f32 [maxTokens, nKv·hd]
    att: GPUBuffer; // f32 [maxTokens, nHeads·hd]
    gu: GPUBuffer; // gate, up below, planar in one buffer
    gate: Part; // f32 [maxTokens, ff]
    up: Part; // f32 [maxTokens, ff]
    ffn: GPUBuffer; // f32 [maxTokens, ff] silu(gate)·up
    hid: GPUBuffer; // f32 [slots, d] hidden state of the rows whose logits are wanted
    hidn: GPUBuffer; // f32 [slots, d]
    logits: GPUBuffer; // f32 [slots, vocab]
    argmax: GPUBuffer; // u32 [slots]
  };
  /** Per layer f32 [nHeads·hd + 2·nKv·hd]: bq|bk|bv for the stacked projection (null without biases). */
  private readonly qkvBias: (GPUBuffer | null)[];
  readonly kCache: GPUBuffer[]; // per layer f32 [slots, maxContext, nKv, hd]
  readonly vCache: GPUBuffer[];
  private readonly noInjected: GPUBuffer;
  private readonly zeros: Uint32Array;
  private readonly noInject: Uint32Array;

  private constructor(
    readonly gpu: Gpu,
    readonly cfg: ModelConfig,
    readonly w: ModelWeights,
    readonly k: Kernels,
    readonly opts: TransformerOptions,
    readonly mem: GpuMemory,
  ) {
    const { maxTokens: T, slots, maxContext } = opts;
    const d = cfg.dModel;
    const qd = cfg.nHeads * cfg.headDim;
    const kvd = cfg.nKvHeads * cfg.headDim;
    const f = (label: string, n: number) => mem.create(label, n * 4, 'scratch');
    this.rec = new Recorder(gpu);
    const [, [slotP, posP]] = planar(mem, 'slot|pos', [T, T], gpu.limits.minStorageBufferOffsetAlignment);
    this.meta = {
      ids: f('ids', T),
      slot: slotP,
      pos: posP,
      start: f('start', T),
      inject: f('inject', T),
      rows: f('rows', Math.max(T, slots)),
      adapter: f('adapter', T),
    };
    this.localRows = new Uint32Array(Math.max(T, slots));
    this.adapters = new ResidentAdapters(mem, cfg, T, () => this.rec.forget());
    const words = new Uint32Array(slots * (GROUP_WORDS + MEMBER_WORDS));
    this.pick = {
      plan: f('pick-plan', words.length),
      stats: f('pick-stats', 2 * slots),
      q: f('pick-q', slots * cfg.vocabSize),
      out: f('pick-out', 2 * slots),
      readback: mem.create('pick-readback', 2 * slots * 4, 'scratch', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      words,
      floats: new Float32Array(words.buffer),
      result: new ArrayBuffer(2 * slots * 4),
    };
    const align = gpu.limits.minStorageBufferOffsetAlignment;
    const [qkv, [qP, kP, vP]] = planar(mem, 'qkv', [T * qd, T * kvd, T * kvd], align);
    const [gu, [gateP, upP]] = planar(mem, 'gate|up', [T * cfg.dFF, T * cfg.dFF], align);
    this.act = {
      x: f('x', T * d),
      xn: f('xn', T * d),
      qkv,
      q: qP,
      k: kP,
      v: vP,
      att: f('att', T * qd),
      gu,
      gate: gateP,
      up: upP,
      ffn: f('ffn', T * cfg.dFF),
      hid: f('hid', slots * d),
      hidn: f('hidn', slots * d),
      logits: f('logits', slots * cfg.vocabSize),
      argmax: f('argmax', slots),
    };
    this.qkvBias = w.layers.map((L, l) => {
      if (!L.bq || !L.bk || !L.bv) return null;
      const b = mem.create(`qkv-bias.${l}`, (qd + 2 * kvd) * 4, 'weights');
      const enc = gpu.device.createCommandEncoder();
      enc.copyBufferToBuffer(L.bq, 0, b, 0, qd * 4);
      enc.copyBufferToBuffer(L.bk, 0, b, qd * 4, kvd * 4);
      enc.copyBufferToBuffer(L.bv, 0, b, (qd + kvd) * 4, kvd * 4);
      gpu.device.queue.submit([enc.finish()]);
      return b;
    });
    const kvWords = slots * maxContext * kvd;
    this.kCache = w.layers.map((_, l) => mem.create(`k-cache.${l}`, kvWords * 4, 'kv'));
    this.vCache = w.layers.map((_, l) => mem.create(`v-cache.${l}`, kvWords * 4, 'kv'));
    this.noInjected = f('no-injected', d);
    this.zeros = new Uint32Array(T);
    this.noInject = new Uint32Array(T).fill(NO_INJECT);
  }

  static async create(gpu: Gpu, kc: KernelCache, mem: GpuMemory, cfg: ModelConfig, w: ModelWeights, opts: TransformerOptions): Promise<Transformer> {
    const [embed, norm, mm, rope, attn, swiglu, rows, argmax, sampler, mv] = await Promise.all([
      Embedding.create(kc, [w.tokEmbd.type]),
      RmsNorm.create(kc),
      // Compile only the weight types this model has: each matmul pipeline is costly to build.
      Matmul.create(kc, [...new Set(matrices(w).map((t) => t.type))]),
      Rope.create(kc),
      Attention.create(kc),
      Swiglu.create(kc),
      Rows.create(kc),
      Argmax.create(kc),
      MixtureSampler.create(kc),
      DecodeMatvec.create(kc, decodeNeeds(w).needs),
    ]);
    const { fuse } = decodeNeeds(w);
    const tr = new Transformer(gpu, cfg, w, { embed, norm, mm, rope, attn, swiglu, rows, argmax, sampler, mv, fuse }, opts, mem);
    tr.kernelCache = kc;
    return tr;
  }

  /** Compiles the LoRA kernels once adapters are resident (a forward with adapters needs them). */
  async prepareAdapters(): Promise<void> {
    if (this.lora || this.adapters.size === 0) return;
    const kc = this.kernelCache!;
    const rope = this.gpu.limits.maxStorageBuffersPerShaderStage >= LORA_ROPE_BUFFERS;
    const needs = this.k.mv ? decodeNeeds(this.w).needs.filter(([, m]) => m !== 'norm' && (rope || m !== 'rope')) : [];
    const [mm, up, down, mv] = await Promise.all([
      Matmul.create(kc, [GgmlType.F32]),
      LoraUp.create(kc),
      LoraDown.create(kc),
      needs.length ? DecodeMatvec.create(kc, needs, { lora: true }) : null,
    ]);
    this.lora = { mm, up, down, mv, rope };
  }

  /** Runs the forward pass; afterwards `logitsBuffer` holds f32 [R, vocab] for `input.logitRows`. */
  run(input: ForwardInput): void {
    this.record(input);
    this.rec.submit();
  }

  /**
   * Records the forward pass, submitting all but the last chunk: the caller may record more work that
   * reads the logits (sampling) into the same submit, then calls `rec.submit()`.
   */
  record(input: ForwardInput): void {
    const T = input.ids.length;
    const R = input.logitRows.length;
    const { maxTokens, slots, maxContext } = this.opts;
    if (R > slots) throw new Error(`At most ${slots} logit rows per forward, got ${R}.`);
    for (let t = 0; t < T; t++) {
      if (input.slot[t] >= slots) throw new Error(`Slot ${input.slot[t]} out of range (${slots} slots).`);
      if (input.pos[t] >= maxContext) throw new Error(`Position ${input.pos[t]} exceeds the context of ${maxContext} tokens.`);
      const a = input.adapter?.[t] ?? NO_ADAPTER;
      if (a !== NO_ADAPTER && !this.adapters.has(a)) throw new Error(`Token ${t} asks for adapter slot ${a}, which holds no adapter.`);
    }
    const q = this.gpu.device.queue;
    for (let c0 = 0; c0 < T; c0 += maxTokens) {
      const c1 = Math.min(T, c0 + maxTokens);
      const n = c1 - c0;
      const part = (a: Uint32Array) => bytesOf(a.subarray(c0, c1));
      q.writeBuffer(this.meta.ids, 0, part(input.ids));
      q.writeBuffer(this.meta.slot.buffer, this.meta.slot.offset, part(input.slot));
      q.writeBuffer(this.meta.pos.buffer, this.meta.pos.offset, part(input.pos));
      q.writeBuffer(this.meta.start, 0, input.start ? part(input.start) : bytesOf(this.zeros.subarray(0, n)));
      q.writeBuffer(this.meta.inject, 0, input.inject ? part(input.inject) : bytesOf(this.noInject.subarray(0, n)));
      let lora = false;
      if (input.adapter) for (let t = c0; t < c1 && !lora; t++) lora = input.adapter[t] !== NO_ADAPTER;
      if (lora) {
        if (!this.lora) throw new Error('Adapters are resident but their kernels are not compiled: await prepareAdapters() first.');
        q.writeBuffer(this.meta.adapter, 0, part(input.adapter!));
      }
      // Decode-sized chunks take the fused projections (5 dispatches a layer, + 1 per adapted input).
      const fused = this.k.mv !== null && n <= MATVEC_MAX_M && (!lora || this.lora!.mv !== null);
      if (fused) this.fusedLayers(n, input.injected ?? this.noInjected, lora);
      else this.layers(n, input.injected ?? this.noInjected, lora);
      // One chunk whose every token wants its logits, in order (a decode step): the LM head reads the
      // residual stream itself, norm fused in, so no row gather and no separate final norm.
      if (fused && n === T && R === T && input.logitRows.every((r, i) => r === i)) {
        this.headFused(R);
        return;
      }
      // Rows of this chunk whose logits are wanted, in chunk-local indices, kept in input order.
      let nLocal = 0;
      let firstOut = -1;
      for (let r = 0; r < R; r++) {
        const t = input.logitRows[r];
        if (t >= c0 && t < c1) {
          if (firstOut < 0) firstOut = r;
          this.localRows[nLocal++] = t - c0;
        }
      }
      if (nLocal) {
        q.writeBuffer(this.meta.rows, 0, bytesOf(this.localRows.subarray(0, nLocal)));
        this.k.rows.gather(this.rec, { src: this.act.x, rows: this.meta.rows, out: this.act.hid, R: nLocal, d: this.cfg.dModel, outRow: firstOut });
      }
      if (c1 < T) this.rec.submit();
    }
    this.head(R);
  }

  /** Logits of the last run, f32 [R, vocab] (one GPU→CPU read). */
  async logits(R: number): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu, this.act.logits, 0, R * this.cfg.vocabSize * 4));
  }

  /** Greedy next tokens of the last run's R rows, computed on the GPU so only R ids are read back. */
  async argmax(R: number): Promise<Uint32Array> {
    this.k.argmax.forward(this.rec, { logits: this.act.logits, out: this.act.argmax, B: R, V: this.cfg.vocabSize });
    this.rec.submit();
    return new Uint32Array(await readBuffer(this.gpu, this.act.argmax, 0, R * 4));
  }

  /**
   * Chooses the next token of each group from the logits of the forward just recorded (record()),
   * in the same submit, and reads back only the ids and each member's probability of its group's id.
   * Returns views valid until the next call: ids u32 [G], p f32 [M] in plan member order.
   */
  async choose(groups: readonly PlanGroup[], needStats: boolean): Promise<{ ids: Uint32Array; p: Float32Array }> {
    const pk = this.pick;
    if (groups.length > this.opts.slots) throw new Error(`At most ${this.opts.slots} groups per step, got ${groups.length}.`);
    const plan = writePlan(groups, pk.words, pk.floats);
    if (plan.M > this.opts.slots) throw new Error(`At most ${this.opts.slots} member rows per step, got ${plan.M}.`);
    this.gpu.device.queue.writeBuffer(pk.plan, 0, pk.words, 0, plan.words);
    this.k.sampler.record(this.rec, { logits: this.act.logits, plan: pk.plan, stats: pk.stats, q: pk.q, out: pk.out, G: plan.G, M: plan.M, V: this.cfg.vocabSize, needStats });
    const bytes = (plan.G + plan.M) * 4;
    this.rec.copy(pk.out, 0, pk.readback, 0, bytes);
    this.rec.submit();
    try {
      await pk.readback.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      if (this.gpu.lostError) throw this.gpu.lostError;
      throw e;
    }
    new Uint8Array(pk.result, 0, bytes).set(new Uint8Array(pk.readback.getMappedRange(0, bytes)));
    pk.readback.unmap();
    return { ids: new Uint32Array(pk.result, 0, plan.G), p: new Float32Array(pk.result, plan.G * 4, plan.M) };
  }

  /** Final hidden states (after the last norm) of the last run's R logit rows, f32 [R, d]. */
  async hidden(R: number): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu, this.act.hidn, 0, R * this.cfg.dModel * 4));
  }

  /** A GPU copy of caller rows to inject in one run (freed with releaseInjected). */
  uploadInjected(rows: Float32Array): GPUBuffer {
    return this.mem.upload('injected-rows', rows, 'scratch');
  }

  releaseInjected(buf: GPUBuffer): void {
    this.rec.forget();
    this.mem.destroy(buf);
  }

  /**
   * Head-averaged attention probabilities of one sequence (slot 0), per layer f32 [T, T]. Captures each
   * layer's queries during a forward, then scores them against the KV cache on the CPU: a diagnostic
   * for the inspector, not a hot path.
   */
  async attentionMap(input: Omit<ForwardInput, 'slot' | 'pos' | 'logitRows'>): Promise<Float32Array[]> {
    const T = input.ids.length;
    const { cfg } = this;
    if (T > this.opts.maxTokens) throw new Error(`Attention maps take at most ${this.opts.maxTokens} tokens; the prompt has ${T}.`);
    const qd = cfg.nHeads * cfg.headDim;
    const kvd = cfg.nKvHeads * cfg.headDim;
    const cap = this.mem.create('q-capture', cfg.nLayers * T * qd * 4, 'scratch');
    try {
      this.captureQ = cap;
      this.run({ ...input, slot: new Uint32Array(T), pos: Uint32Array.from({ length: T }, (_, i) => i), logitRows: new Uint32Array(0) });
    } finally {
      this.captureQ = null;
    }
    const q = new Float32Array(await readBuffer(this.gpu, cap, 0, cfg.nLayers * T * qd * 4));
    this.mem.destroy(cap);
    this.rec.forget();
    const out: Float32Array[] = [];
    const scale = 1 / Math.sqrt(cfg.headDim);
    const group = cfg.nHeads / cfg.nKvHeads;
    for (let l = 0; l < cfg.nLayers; l++) {
      const k = new Float32Array(await readBuffer(this.gpu, this.kCache[l], 0, T * kvd * 4));
      const map = new Float32Array(T * T);
      for (let t = 0; t < T; t++) {
        const s0 = input.start?.[t] ?? 0;
        for (let h = 0; h < cfg.nHeads; h++) {
          const kh = Math.floor(h / group);
          const scores = new Float64Array(t + 1 - s0);
          let mx = -Infinity;
          for (let j = s0; j <= t; j++) {
            let dot = 0;
            for (let i = 0; i < cfg.headDim; i++) dot += q[((l * T + t) * cfg.nHeads + h) * cfg.headDim + i] * k[(j * cfg.nKvHeads + kh) * cfg.headDim + i];
            scores[j - s0] = dot * scale;
            mx = Math.max(mx, dot * scale);
          }
          let z = 0;
          for (let j = 0; j < scores.length; j++) z += Math.exp(scores[j] - mx);
          for (let j = s0; j <= t; j++) map[t * T + j] += Math.exp(scores[j - s0] - mx) / z / cfg.nHeads;
        }
      }
      out.push(map);
    }
    return out;
  }
  private captureQ: GPUBuffer | null = null;

  get logitsBuffer(): GPUBuffer {
    return this.act.logits;
  }

  /**
   * y_i += (α/r)·(x·A_iᵀ)·B_iᵀ for each token's adapter and each matrix i of group g that a resident
   * adapter adapts (ys in LORA_GROUPS order): one matmul for the group's stacked A, one up per matrix.
   */
  private loraGroup(l: number, g: LoraGroup, x: Binding, ys: Binding[], T: number): void {
    const pk = this.adapters.packed[l]?.[g];
    if (!pk || !this.lora) return;
    const u = this.adapters.u!;
    this.lora.mm.forward(this.rec, { x, w: pk.a, y: u, M: T });
    pk.parts.forEach((pt, i) => {
      if (!pt) return;
      const table = this.adapters.tables[pt.proj]!;
      this.lora!.up.forward(this.rec, { u, b: pt.b, adapter: this.meta.adapter, table, y: ys[i], T, N: pt.out, R: pt.R, uOff: pt.uOff, uStride: pk.R });
    });
  }

  /**
   * The fused decode kernels' LoRA input for group g of layer l, or undefined when no adapter adapts
   * the group (then the plain kernel runs and the group costs nothing extra): records lora_down, norm
   * included for q|k|v and gate|up (the fused kernels norm inside, so A·x needs the same x).
   */
  private loraDown(l: number, g: LoraGroup, x: Binding, K: number, T: number, norm?: Binding): { u: Binding; b: Binding } | undefined {
    const pk = this.adapters.packed[l]?.[g];
    if (!pk || !this.lora) return undefined;
    const u = this.adapters.u!;
    this.lora.down.forward(this.rec, { x, a: pk.a.buffer, owner: this.adapters.owners[g]!, adapter: this.meta.adapter, u, T, R: pk.R, K, norm: norm ? { weight: norm, eps: this.cfg.normEps } : undefined });
    return { u, b: pk.lb };
  }

  /** q, k, v [T, ·] = xn·W{q,k,v}ᵀ (+ biases): one stacked dispatch when the layer has one stack. */
  private projectQkv(l: number, T: number): void {
    const { k, rec, act } = this;
    const L = this.w.layers[l];
    const biased = !!(L.bq || L.bk || L.bv);
    if (stacked([L.wq, L.wk, L.wv]) && (!biased || this.qkvBias[l])) {
      const yOffsets = [act.q.offset, act.k.offset, act.v.offset];
      k.mm.forwardStacked(rec, { x: act.xn, ws: [L.wq, L.wk, L.wv], y: act.qkv, yOffsets, M: T, bias: this.qkvBias[l] ?? undefined });
    } else {
      k.mm.forward(rec, { x: act.xn, w: L.wq, y: act.q, M: T, bias: L.bq ?? undefined });
      k.mm.forward(rec, { x: act.xn, w: L.wk, y: act.k, M: T, bias: L.bk ?? undefined });
      k.mm.forward(rec, { x: act.xn, w: L.wv, y: act.v, M: T, bias: L.bv ?? undefined });
    }
  }

  /** gate, up [T, ff] = xn·W{gate,up}ᵀ. */
  private projectGateUp(l: number, T: number): void {
    const { k, rec, act } = this;
    const L = this.w.layers[l];
    if (stacked([L.wGate, L.wUp])) {
      k.mm.forwardStacked(rec, { x: act.xn, ws: [L.wGate, L.wUp], y: act.gu, yOffsets: [act.gate.offset, act.up.offset], M: T });
    } else {
      k.mm.forward(rec, { x: act.xn, w: L.wGate, y: act.gate, M: T });
      k.mm.forward(rec, { x: act.xn, w: L.wUp, y: act.up, M: T });
    }
  }

  private layers(T: number, injected: GPUBuffer, lora: boolean): void {
    const { cfg, w, k, rec, act, meta } = this;
    const ad = (l: number, g: LoraGroup, x: Binding, ys: Binding[]) => {
      if (lora) this.loraGroup(l, g, x, ys, T);
    };
    const d = cfg.dModel;
    const hd = cfg.headDim;
    k.embed.gather(rec, { ids: meta.ids, inject: meta.inject, injected, table: w.tokEmbd, out: act.x, T });
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      k.norm.forward(rec, { x: act.x, weight: L.attnNorm, out: act.xn, T, d, eps: cfg.normEps });
      this.projectQkv(l, T);
      ad(l, 'qkv', act.xn, [act.q, act.k, act.v]);
      const rope = { pos: meta.pos, T, headDim: hd, theta: cfg.ropeTheta, style: cfg.ropeStyle, scale: cfg.ropeScale };
      // q and k share the qkv buffer: one dispatch rotates both.
      k.rope.forward(rec, { ...rope, x: act.qkv, nHeads: cfg.nHeads, second: { nHeads: cfg.nKvHeads, offset: act.k.offset } });
      if (this.captureQ) rec.copy(act.q.buffer, act.q.offset, this.captureQ, l * T * cfg.nHeads * hd * 4, T * cfg.nHeads * hd * 4);
      const cache = { kCache: this.kCache[l], vCache: this.vCache[l], slot: meta.slot, pos: meta.pos, T, nKv: cfg.nKvHeads, hd, maxSeq: this.opts.maxContext };
      k.attn.kvWrite(rec, { ...cache, k: act.k, v: act.v });
      k.attn.forward(rec, { ...cache, q: act.q, start: meta.start, out: act.att, nHeads: cfg.nHeads, scale: 1 / Math.sqrt(hd) });
      k.mm.forward(rec, { x: act.att, w: L.wo, y: act.x, M: T, accumulate: true });
      ad(l, 'o', act.att, [act.x]);
      k.norm.forward(rec, { x: act.x, weight: L.ffnNorm, out: act.xn, T, d, eps: cfg.normEps });
      this.projectGateUp(l, T);
      ad(l, 'gu', act.xn, [act.gate, act.up]);
      k.swiglu.forward(rec, { gate: act.gate, up: act.up, out: act.ffn, n: T * cfg.dFF });
      k.mm.forward(rec, { x: act.ffn, w: L.wDown, y: act.x, M: T, accumulate: true });
      ad(l, 'down', act.ffn, [act.x]);
    }
  }

  /**
   * The layer stack of a decode-sized chunk (M ≤ MATVEC_MAX_M tokens), 5 dispatches a layer:
   * norm+q|k|v+rope+kv-write, attention, o-projection (+= residual), norm+gate|up+SwiGLU, down (+= residual).
   * The normed x, unrotated k, v and gate/up are never stored. With adapters (`lora`), each input that
   * some resident adapter adapts gets one lora_down (norm + A·x for that input's adapted matrices) and
   * its fused kernel's LoRA variant adds B·(A·x): at most 9 dispatches a layer.
   */
  private fusedLayers(T: number, injected: GPUBuffer, lora: boolean): void {
    const { cfg, w, k, rec, act, meta } = this;
    const mv = k.mv!;
    const lmv = this.lora?.mv ?? null;
    const hd = cfg.headDim;
    const eps = cfg.normEps;
    const d = cfg.dModel;
    const qd = cfg.nHeads * hd;
    const down = (l: number, g: LoraGroup, x: Binding, K: number, norm?: Binding) => (lora ? this.loraDown(l, g, x, K, T, norm) : undefined);
    const adapted = (l: number, g: LoraGroup) => lora && this.adapters.packed[l]?.[g] !== undefined;
    k.embed.gather(rec, { ids: meta.ids, inject: meta.inject, injected, table: w.tokEmbd, out: act.x, T });
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      const cache = { kCache: this.kCache[l], vCache: this.vCache[l], slot: meta.slot, pos: meta.pos, T, nKv: cfg.nKvHeads, hd, maxSeq: this.opts.maxContext };
      if (k.fuse[l].qkv && (!adapted(l, 'qkv') || this.lora!.rope)) {
        const lq = down(l, 'qkv', act.x, d, L.attnNorm);
        (lq ? lmv! : mv).rope(rec, {
          x: act.x, M: T, weight: L.attnNorm, eps, ws: [L.wq, L.wk, L.wv], bias: this.qkvBias[l] ?? undefined, q: act.q,
          kCache: this.kCache[l], vCache: this.vCache[l], slotPos: { buffer: meta.slot.buffer, offset: 0 }, posOffset: meta.pos.offset / 4,
          headDim: hd, theta: cfg.ropeTheta, style: cfg.ropeStyle, scale: cfg.ropeScale, maxSeq: this.opts.maxContext, lora: lq,
        });
      } else {
        // q, k, v of different types (llama.cpp's Q4_K_M gives some attn_v Q6_K), or an adapter on them
        // where the device allows too few storage buffers for the fused LoRA variant: the separate kernels.
        k.norm.forward(rec, { x: act.x, weight: L.attnNorm, out: act.xn, T, d, eps });
        this.projectQkv(l, T);
        if (lora) this.loraGroup(l, 'qkv', act.xn, [act.q, act.k, act.v], T);
        k.rope.forward(rec, { pos: meta.pos, T, headDim: hd, theta: cfg.ropeTheta, style: cfg.ropeStyle, scale: cfg.ropeScale, x: act.qkv, nHeads: cfg.nHeads, second: { nHeads: cfg.nKvHeads, offset: act.k.offset } });
        k.attn.kvWrite(rec, { ...cache, k: act.k, v: act.v });
      }
      if (this.captureQ) rec.copy(act.q.buffer, act.q.offset, this.captureQ, l * T * cfg.nHeads * hd * 4, T * cfg.nHeads * hd * 4);
      k.attn.forward(rec, { ...cache, q: act.q, start: meta.start, out: act.att, nHeads: cfg.nHeads, scale: 1 / Math.sqrt(hd) });
      const lo = down(l, 'o', act.att, qd);
      (lo ? lmv! : mv).plain(rec, { x: act.att, w: L.wo, y: act.x, M: T, accumulate: true, lora: lo });
      if (k.fuse[l].gu) {
        const lg = down(l, 'gu', act.x, d, L.ffnNorm);
        (lg ? lmv! : mv).glu(rec, { x: act.x, M: T, weight: L.ffnNorm, eps, gate: L.wGate, up: L.wUp, y: act.ffn, lora: lg });
      } else {
        k.norm.forward(rec, { x: act.x, weight: L.ffnNorm, out: act.xn, T, d, eps });
        this.projectGateUp(l, T);
        if (lora) this.loraGroup(l, 'gu', act.xn, [act.gate, act.up], T);
        k.swiglu.forward(rec, { gate: act.gate, up: act.up, out: act.ffn, n: T * cfg.dFF });
      }
      const ld = down(l, 'down', act.ffn, cfg.dFF);
      (ld ? lmv! : mv).plain(rec, { x: act.ffn, w: L.wDown, y: act.x, M: T, accumulate: true, lora: ld });
    }
  }

  /** Logits of all R = T tokens of a fused chunk: norm + LM head in one dispatch, also writing hidn. */
  private headFused(R: number): void {
    const { cfg, w, k, rec, act } = this;
    k.mv!.norm(rec, { x: act.x, M: R, weight: w.outNorm, eps: cfg.normEps, w: w.output, y: act.logits, xn: act.hidn });
  }

  private head(R: number): void {
    if (R === 0) return;
    const { cfg, w, k, rec, act } = this;
    k.norm.forward(rec, { x: act.hid, weight: w.outNorm, out: act.hidn, T: R, d: cfg.dModel, eps: cfg.normEps });
    k.mm.forward(rec, { x: act.hidn, w: w.output, y: act.logits, M: R });
  }
}

/** Storage buffers of matvec.wgsl's mv_rope_lora: x, W, bias, norm, q, k cache, v cache, slot|pos, u, B. */
const LORA_ROPE_BUFFERS = 10;

/**
 * The (weight type, fused mode) pairs the decode path needs, and per layer whether q|k|v and gate|up can
 * be fused: each must be one stack of one type (uploadWeights), with biases on all of q, k, v or none.
 * Layers that cannot keep the separate norm, projection, rope and SwiGLU kernels for that part.
 */
function decodeNeeds(w: ModelWeights): { needs: Array<[GgmlType, MatvecMode]>; fuse: { qkv: boolean; gu: boolean }[] } {
  const needs: Array<[GgmlType, MatvecMode]> = [[w.output.type, 'norm']];
  const ordered = (ws: GpuTensor[]) => stacked(ws) && ws.every((t, i) => t.type === ws[0].type && (i === 0 || t.offset! > ws[i - 1].offset!));
  const fuse = w.layers.map((L) => {
    const someBias = !!(L.bq || L.bk || L.bv);
    const qkv = ordered([L.wq, L.wk, L.wv]) && (!someBias || !!(L.bq && L.bk && L.bv));
    const gu = ordered([L.wGate, L.wUp]);
    if (qkv) needs.push([L.wq.type, 'rope']);
    if (gu) needs.push([L.wGate.type, 'glu']);
    needs.push([L.wo.type, 'plain'], [L.wDown.type, 'plain']);
    return { qkv, gu };
  });
  return { needs, fuse };
}
