/**
 * The roofline half of the benchmarks: the adapter's own ceilings (streaming copy GB/s, FMA GFLOP/s in
 * f32 and, with shader-f16, f16), FLOP and byte models of a model's prefill, decode and training step,
 * a dispatch tracer on the Recorder, and the docs/perf.md writer. Every speed figure the benches
 * print is also given as a fraction of these ceilings, so runs on different adapters compare.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import type { Gpu } from '../src/gpu/device';
import { KernelCache } from '../src/gpu/kernel';
import { Recorder, bufferOf } from '../src/gpu/recorder';
import { GpuMemory } from '../src/gpu/memory';
import { Ceilings, FMA_CHAINS } from '../src/gpu/kernels/ceilings';
import { DecodeMatvec } from '../src/gpu/kernels/matvec';
import { quantize } from '../src/model/quant';
import { GgmlType, tensorBytes, type GpuTensor, type ModelConfig } from '../src/model/types';
import type { ModelWeights } from '../src/model/weights';

export interface CeilingResult {
  /** (bytes read + bytes written) / s of a streaming vec4 copy, in GB/s (1e9). */
  copy_gbps: number;
  /** f32 FMA throughput, GFLOP/s (an FMA = 2 FLOPs). */
  fma_gflops: number;
  /** f16 FMA throughput where shader-f16 exists, else null. */
  fma_f16_gflops: number | null;
  copy_mib: number;
}

/** Best seconds per run of `record` (recorded `n` times in one submit), doubling n until a run takes ≥ minMs. */
export async function bestSeconds(gpu: Gpu, rec: Recorder, record: () => void, minMs: number, reps = 3): Promise<{ s: number; n: number }> {
  let n = 1;
  const run = async () => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) record();
    rec.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run(); // warm-up: first use of the pipeline and bind groups
  for (;;) {
    const ms = await run();
    if (ms >= minMs || n >= 1 << 14) break;
    n *= Math.min(16, Math.max(2, Math.ceil(minMs / Math.max(ms, 0.01))));
  }
  let best = Infinity;
  for (let i = 0; i < reps; i++) best = Math.min(best, await run());
  return { s: best / 1000 / n, n };
}

/** Measures the adapter's ceilings. `software` adapters get smaller problems (they are CPUs). */
export async function measureCeilings(gpu: Gpu, opts: { minMs?: number } = {}): Promise<CeilingResult> {
  const kc = new KernelCache(gpu);
  const rec = new Recorder(gpu);
  const mem = new GpuMemory(gpu);
  const minMs = opts.minMs ?? 100;
  try {
    const k = await Ceilings.create(kc);
    // Copy: far larger than any cache (64 MiB on a CPU, 256 MiB on a GPU), within the buffer limit.
    const bytes = Math.min(gpu.software ? 64 << 20 : 256 << 20, Math.floor(gpu.limits.maxBufferSize / 16) * 16);
    const n4 = bytes / 16;
    const src = mem.create('ceil-src', bytes, 'scratch');
    const dst = mem.create('ceil-dst', bytes, 'scratch');
    const copy = await bestSeconds(gpu, rec, () => k.copy(rec, { src, dst, n4 }), minMs);
    // FMA: enough invocations to fill any GPU, a loop long enough that the memory traffic is noise.
    const n = gpu.software ? 16 * k.wg : 1024 * k.wg;
    const iters = gpu.software ? 512 : 4096;
    const fsrc = mem.create('ceil-fsrc', n * 16, 'scratch');
    const fdst = mem.create('ceil-fdst', n * 16, 'scratch');
    const flops = 2 * FMA_CHAINS * iters * n;
    const f32 = await bestSeconds(gpu, rec, () => k.fma(rec, { src: fsrc, dst: fdst, n, iters, mul: 0.999, add: 0.001 }), minMs);
    const f16 = k.hasF16 ? await bestSeconds(gpu, rec, () => k.fma(rec, { src: fsrc, dst: fdst, n, iters, mul: 0.999, add: 0.001, precision: 'f16' }), minMs) : null;
    return {
      copy_gbps: round((2 * bytes) / copy.s / 1e9, 3),
      fma_gflops: round(flops / f32.s / 1e9, 3),
      fma_f16_gflops: f16 ? round(flops / f16.s / 1e9, 3) : null,
      copy_mib: bytes / 2 ** 20,
    };
  } finally {
    rec.destroy();
    mem.destroyAll();
  }
}

// ── dequantization ceilings ──────────────────────────────────────────────

export interface DequantCeiling {
  /** Quantized bytes/s (GB/s) of the decode matvec's own loop with x taken as ones and never read (stream). */
  stream_gbps: number;
  stream_copy_fraction: number;
  /** The same matrix through the real single-row decode matvec (x read): one projection in isolation. */
  matvec_gbps: number;
  matvec_copy_fraction: number;
  /** The copy ceiling measured interleaved with these two (the denominator of their fractions). */
  copy_gbps: number;
}

/**
 * Per weight type, what this adapter can dequantize at all: DecodeMatvec's `stream` pipeline reads a
 * quantized [N, K] matrix and sums each row (no x), and the real single-row `plain` matvec on the same
 * matrix, as quantized bytes/s and as fractions of a copy measured interleaved with them (rounds of
 * copy, stream, matvec; best of each), so load swings on shared machines hit numerator and denominator
 * alike. On a CPU-emulated GPU dequantizing is compute, not a copy: decode ÷ stream is the part of the
 * gap the kernels can still close; stream ÷ copy the part no decode kernel can.
 */
export async function measureDequantCeilings(gpu: Gpu, types: GgmlType[] = [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K], opts: { minMs?: number; rounds?: number } = {}): Promise<Record<string, DequantCeiling>> {
  const kc = new KernelCache(gpu);
  const rec = new Recorder(gpu);
  const mem = new GpuMemory(gpu);
  const minMs = opts.minMs ?? 100;
  // 4096 columns (a 7B model's d), rows so that the matrix is beyond any CPU cache (16–36 MiB) on a
  // software adapter and 4× that on a GPU.
  const K = 4096;
  const N = gpu.software ? 8192 : 32768;
  const out: Record<string, DequantCeiling> = {};
  try {
    const ceil = await Ceilings.create(kc);
    const copyBytes = Math.min(gpu.software ? 64 << 20 : 256 << 20, Math.floor(gpu.limits.maxBufferSize / 16) * 16);
    const src = mem.create('dq-ceil-src', copyBytes, 'scratch');
    const dst = mem.create('dq-ceil-dst', copyBytes, 'scratch');
    const x = mem.upload('dq-ceil-x', new Float32Array(K).map((_, i) => Math.sin(i)), 'scratch');
    const y = mem.create('dq-ceil-y', N * 4, 'scratch');
    for (const type of types) {
      // 64 quantized random rows repeated: real scales and quants (no NaN or denormal paths), cheap to make.
      const tile = quantize(type, new Float32Array(64 * K).map((_, i) => Math.sin(i * 0.618) * Math.cos(i * 0.0137)));
      const bytes = tensorBytes(type, N * K);
      const all = new Uint8Array(Math.ceil(bytes / 4) * 4);
      for (let o = 0; o < bytes; o += tile.byteLength) all.set(tile.subarray(0, Math.min(tile.byteLength, bytes - o)), o);
      const buffer = mem.upload(`dq-ceil-w-${GgmlType[type]}`, all, 'scratch');
      const w: GpuTensor = { name: 'dq-ceil', type, shape: [N, K], buffer, offset: 0 };
      const stream = await DecodeMatvec.create(kc, [[type, 'plain']], { stream: true });
      const plain = await DecodeMatvec.create(kc, [[type, 'plain']]);
      const best = { copy: Infinity, stream: Infinity, matvec: Infinity };
      for (let r = 0; r < (opts.rounds ?? 3); r++) {
        best.copy = Math.min(best.copy, (await bestSeconds(gpu, rec, () => ceil.copy(rec, { src, dst, n4: copyBytes / 16 }), minMs, 1)).s);
        best.stream = Math.min(best.stream, (await bestSeconds(gpu, rec, () => stream.plain(rec, { x, w, y, M: 1 }), minMs, 1)).s);
        best.matvec = Math.min(best.matvec, (await bestSeconds(gpu, rec, () => plain.plain(rec, { x, w, y, M: 1 }), minMs, 1)).s);
      }
      const copyGbps = (2 * copyBytes) / best.copy / 1e9;
      const gbps = (t: number) => bytes / t / 1e9;
      out[GgmlType[type]] = {
        stream_gbps: round(gbps(best.stream), 3),
        stream_copy_fraction: round(gbps(best.stream) / copyGbps, 4),
        matvec_gbps: round(gbps(best.matvec), 3),
        matvec_copy_fraction: round(gbps(best.matvec) / copyGbps, 4),
        copy_gbps: round(copyGbps, 3),
      };
      mem.destroy(buffer);
    }
    return out;
  } finally {
    rec.destroy();
    mem.destroyAll();
  }
}

// ── FLOP and byte models ──────────────────────────────────────────────────

/** Elements of one layer's matrices (q, k, v, o, gate, up, down). */
export function layerMatrixElems(cfg: ModelConfig): number {
  const q = cfg.nHeads * cfg.headDim;
  const kv = cfg.nKvHeads * cfg.headDim;
  return cfg.dModel * (q + 2 * kv) + q * cfg.dModel + 3 * cfg.dModel * cfg.dFF;
}

/** Attention FLOPs of one query over `ctx` keys in one layer: QKᵀ and PV, 2 FLOPs per multiply-add. */
function attnFlops(cfg: ModelConfig, ctx: number): number {
  return 4 * cfg.nHeads * cfg.headDim * ctx;
}

/** FLOPs of a prefill of T tokens (one sequence from position 0) with logits for R rows. */
export function prefillFlops(cfg: ModelConfig, T: number, R = 1): number {
  const mats = 2 * T * cfg.nLayers * layerMatrixElems(cfg);
  const attn = cfg.nLayers * attnFlops(cfg, 1) * ((T * (T + 1)) / 2);
  return mats + attn + 2 * R * cfg.vocabSize * cfg.dModel;
}

/** FLOPs of one decoded token at context `ctx`. */
export function decodeFlops(cfg: ModelConfig, ctx: number): number {
  return 2 * cfg.nLayers * layerMatrixElems(cfg) + cfg.nLayers * attnFlops(cfg, ctx) + 2 * cfg.vocabSize * cfg.dModel;
}

/**
 * FLOPs of a tag training step over `seqs` sequences of `len` tokens with the loss on every token:
 * the forward (logits for all T rows) and, through the frozen weights, input gradients only (one more
 * matmul per matrix, the LM head included) and twice the attention work (dQ, and dK·dV).
 */
export function trainStepFlops(cfg: ModelConfig, seqs: number, len: number): { forward: number; backward: number } {
  const T = seqs * len;
  const fwd = prefillFlops(cfg, len, len) * seqs;
  const mats = 2 * T * (cfg.nLayers * layerMatrixElems(cfg) + cfg.vocabSize * cfg.dModel);
  const attn = seqs * cfg.nLayers * attnFlops(cfg, 1) * ((len * (len + 1)) / 2);
  return { forward: fwd, backward: mats + 2 * attn };
}

/** Bytes of every weight buffer (matrices in their file type, f32 norms and biases). */
export function weightBytes(w: ModelWeights): number {
  const seen = new Set<GPUBuffer>();
  let n = 0;
  const add = (b: GPUBuffer | null) => {
    if (b && !seen.has(b)) {
      seen.add(b);
      n += b.size;
    }
  };
  add(w.tokEmbd.buffer);
  add(w.output.buffer);
  add(w.outNorm);
  for (const L of w.layers) for (const b of [L.attnNorm, L.ffnNorm, L.bq, L.bk, L.bv, L.wq.buffer, L.wk.buffer, L.wv.buffer, L.wo.buffer, L.wGate.buffer, L.wUp.buffer, L.wDown.buffer]) add(b);
  return n;
}

/** Bytes of one embedding row in the table's type (what a gather reads per token). */
export function embeddingRowBytes(w: ModelWeights): number {
  return tensorBytes(w.tokEmbd.type, w.tokEmbd.shape[1]);
}

// ── dispatch tracing ──────────────────────────────────────────────────────

export interface TraceCounts {
  dispatches: number;
  submits: number;
  /** Bytes of weight buffers bound read-only, embedding gathers excluded (they read rows, not the table). */
  weightBytes: number;
  byKernel: Record<string, number>;
}

/**
 * Counts what `fn` records on `rec`: dispatches per kernel, submits, and the weight bytes its
 * dispatches bind for reading (a matmul reads its whole matrix; an embedding gather only its rows,
 * which the caller adds as tokens × row bytes).
 */
export async function traced<T>(rec: Recorder, mem: GpuMemory, fn: () => Promise<T>): Promise<{ result: T; counts: TraceCounts }> {
  const counts: TraceCounts = { dispatches: 0, submits: 0, weightBytes: 0, byKernel: {} };
  const d0 = rec.dispatches;
  const s0 = rec.submits;
  rec.trace = (k, bindings) => {
    counts.byKernel[k.spec.label] = (counts.byKernel[k.spec.label] ?? 0) + 1;
    if (k.spec.label.startsWith('embedding_')) return;
    bindings.forEach((b, i) => {
      if (k.spec.bindings[i] !== 'read') return;
      const buf = bufferOf(b);
      if (mem.categoryOf(buf) !== 'weights') return;
      const range = buf === b ? null : (b as { offset?: number; size?: number });
      counts.weightBytes += range?.size ?? buf.size - (range?.offset ?? 0);
    });
  };
  try {
    const result = await fn();
    counts.dispatches = rec.dispatches - d0;
    counts.submits = rec.submits - s0;
    return { result, counts };
  } finally {
    rec.trace = null;
  }
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

// ── docs/perf.md ──────────────────────────────────────────────────────────

const DOC = 'docs/perf.md';

/**
 * Replaces (or appends) the section between `<!-- name -->` and `<!-- /name -->` in docs/perf.md, so
 * each bench rewrites only its own table and hand-written text around it is kept.
 */
export function writePerfSection(name: string, markdown: string): void {
  const open = `<!-- ${name} -->`;
  const close = `<!-- /${name} -->`;
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Performance\n\nWritten by `npm run bench -- --write-docs`; see README.md § Benchmarks.\n';
  const block = `${open}\n${markdown.trim()}\n${close}`;
  const i = doc.indexOf(open);
  const j = doc.indexOf(close);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + close.length) : doc.trimEnd() + '\n\n' + block + '\n';
  writeFileSync(DOC, doc);
}

export function adapterName(gpu: Gpu): string {
  const a = gpu.adapterInfo;
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export function mdTable(rows: Array<Record<string, unknown>>, cols: string[]): string {
  const fmt = (v: unknown) => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(round(v, 3)) : String(v));
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n');
}
