import dequantCode from './dequant.wgsl?raw';
import matvecCode from './matvec.wgsl?raw';
import sharedCode from './matvec-shared.wgsl?raw';
import subgroupCode from './matvec-subgroups.wgsl?raw';
import angleCode from './rope-angle.wgsl?raw';
import type { Gpu } from '../device';
import { workgroupSize } from '../workgroup';
import type { Kernel, KernelCache, ParamType } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';
import { freqExponent } from './rope';
import { GgmlType, TYPE_LAYOUT, tensorBytes, type GpuTensor, type RopeStyle } from '../../model/types';

/** What a fused decode matvec folds around its projection (matvec.wgsl). */
export type MatvecMode = 'plain' | 'norm' | 'glu' | 'rope';
const MODES: Record<MatvecMode, number> = { plain: 0, norm: 1, glu: 2, rope: 3 };
const BINDINGS: Record<MatvecMode, ('read' | 'rw')[]> = {
  // x, W, bias, norm weight, y (+ xn | kCache, vCache, slot|pos)
  plain: ['read', 'read', 'read', 'read', 'rw'],
  norm: ['read', 'read', 'read', 'read', 'rw', 'rw'],
  glu: ['read', 'read', 'read', 'read', 'rw'],
  rope: ['read', 'read', 'read', 'read', 'rw', 'rw', 'rw', 'read'],
};
const PARAMS: ParamType[] = ['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'f32', 'u32', 'u32', 'f32', 'f32', 'f32', 'u32', 'u32'];

/** x rows per pass of the batched pipelines (MV_M in matvec.wgsl); M = 1 has its own pipeline. */
export const MATVEC_ROWS = 8;
/** Software adapters: invocations per workgroup of the *_sw kernels. */
const SWG = 16;
/** Software adapters, single-row decode: output slots per invocation (SW_R in matvec.wgsl), sharing x loads. */
export const SW_ROWS = 8;

/** Workgroup shape of the GPU variants: WGS = rows · tpr invocations, tpr threads per output. */
export interface MatvecShape {
  wgs: number;
  rows: number;
  tpr: number;
  subgroups: boolean;
}

const pow2floor = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * Workgroup size from the adapter's limits instead of constants: the largest power of two ≤ 256 that
 * maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX and the shared reduction buffer
 * (MATVEC_ROWS · WGS floats in maxComputeWorkgroupStorageSize) allow. Threads per output: 64 with the
 * workgroup-memory tree; with subgroups the largest subgroup size (at least MATVEC_ROWS), so most
 * outputs reduce inside one subgroup.
 */
export function matvecShape(gpu: Pick<Gpu, 'limits' | 'features'>, subgroups: boolean): MatvecShape {
  const l = gpu.limits;
  // The shared reduction buffer holds MATVEC_ROWS floats per invocation (+ MATVEC_ROWS² of padding).
  const wgs = workgroupSize(l, { preferred: 256, bytesPerInvocation: 4 * MATVEC_ROWS, fixedBytes: 4 * MATVEC_ROWS * MATVEC_ROWS });
  // Subgroups only with a known largest subgroup size: a row's threads must hold whole subgroups.
  const sg = l.subgroupMaxSize ?? 0;
  const useSg = subgroups && sg > 0 && sg <= wgs;
  const tpr = Math.min(wgs, useSg ? Math.max(MATVEC_ROWS, pow2floor(sg)) : 64);
  if (tpr < MATVEC_ROWS) throw new Error(`matvec: the adapter allows only ${wgs} invocations per workgroup (needs ${MATVEC_ROWS})`);
  return { wgs, rows: wgs / tpr, tpr, subgroups: useSg };
}

export interface MatvecCommon {
  /** f32 [M, K] */
  x: Binding;
  M: number;
}

/**
 * A LoRA adapter's low-rank term for a DecodeMatvec created with `lora: true` (plain, glu, rope):
 * each output row n of token m gets Σ_j u[m, uCol_i + j]·B_i[n − first_i, j] added before its bias,
 * SwiGLU, RoPE or the residual add, i the stacked part n falls in.
 */
export interface MatvecLora {
  /** f32 [M, uStride]: scale·A·x_in, zero outside each token's adapter (LoraDown) */
  u: Binding;
  /** the parts' B pack with its header (see matvec.wgsl, ResidentAdapters) */
  b: Binding;
}

export interface MatvecPlainArgs extends MatvecCommon {
  /** [N, K] */
  w: GpuTensor;
  /** f32 [M, N] */
  y: Binding;
  /** f32 [N] */
  bias?: Binding;
  /** y += x·Wᵀ */
  accumulate?: boolean;
  lora?: MatvecLora;
}

export interface MatvecNorm {
  /** f32 [K] RMSNorm weight: x is normed (x · rsqrt(mean(x²) + eps) · weight) before the projection. */
  weight: Binding;
  eps: number;
}

export interface MatvecNormArgs extends MatvecCommon, MatvecNorm {
  w: GpuTensor;
  /** f32 [M, N] */
  y: Binding;
  bias?: Binding;
  /** f32 [M, K]: also write the normed x here. */
  xn?: Binding;
}

export interface MatvecGluArgs extends MatvecCommon, MatvecNorm {
  /** gate [F, K] and up [F, K], stacked in one buffer (GpuTensor.offset), one type. */
  gate: GpuTensor;
  up: GpuTensor;
  /** f32 [M, F] silu(gate)·up */
  y: Binding;
  lora?: MatvecLora;
}

export interface MatvecRopeArgs extends MatvecCommon, MatvecNorm {
  /** Wq [nHeads·hd, K], Wk, Wv [nKv·hd, K], stacked in one buffer, one type. */
  ws: readonly [GpuTensor, GpuTensor, GpuTensor];
  /** f32 [nHeads·hd + 2·nKv·hd]: bq|bk|bv. */
  bias?: Binding;
  /** f32 [M, nHeads·hd]: rotated q. */
  q: Binding;
  /** f32 [slots, maxSeq, nKv·hd]: rotated k and v of row m land at (slot[m], pos[m]). */
  kCache: Binding;
  vCache: Binding;
  /** u32 buffer holding slot [M] at word 0 and pos [M] at word posOffset (one binding). */
  slotPos: Binding;
  posOffset: number;
  headDim: number;
  theta: number;
  style: RopeStyle;
  /** Positions are divided by this (1 = none). */
  scale: number;
  maxSeq: number;
  lora?: MatvecLora;
}

/**
 * The decode step's projections with their neighbours fused in (see matvec.wgsl): plain (+accumulate),
 * norm (RMSNorm prologue), glu (norm + gate|up + SwiGLU), rope (norm + q|k|v + RoPE + KV-cache write).
 * Pipelines per (weight type, mode) and for M = 1 and M ≤ 8 per pass. GPUs get workgroups shaped from
 * the adapter's limits (matvecShape), with subgroup reductions when the device has `subgroups`;
 * software adapters the barrier-free *_sw variants.
 */
export class DecodeMatvec {
  private constructor(
    private readonly kernels: Map<string, Kernel>,
    private readonly dummies: GPUBuffer[],
    readonly shape: MatvecShape | null,
    /** The *_lora variants (every call must then pass `lora`). */
    readonly lora: boolean,
    /** Output slots per invocation of the software single-row pipelines. */
    readonly swRows: number,
  ) {}

  /**
   * Compiles `needs` (weight type × mode). `subgroups: false` forces the workgroup-memory reduction on a
   * device that has subgroups (tests, benchmarks); on one without, subgroups are never used.
   * `lora: true` compiles the LoRA variants instead (plain, glu, rope; two more storage bindings each).
   * `swRows` (software adapters): output slots per single-row invocation, default SW_ROWS (LoRA
   * variants included). `stream` builds the dequantization ceiling instead (bench/roofline.ts):
   * single-row `plain` pipelines that take x as all ones and never read it, so y[n] = Σ_k W[n, k], the
   * decode loop's cost without x. `swUnits` (software adapters) keeps the batched rows (M > 1) on the
   * older 8-element unit loop instead of block-wise dequantization (acc_swm), for side-by-side timing.
   */
  static async create(kc: KernelCache, needs: ReadonlyArray<readonly [GgmlType, MatvecMode]>, opts: { subgroups?: boolean; lora?: boolean; swRows?: 1 | 2 | 4 | 8; swUnits?: boolean; stream?: boolean } = {}): Promise<DecodeMatvec> {
    const gpu = kc.gpu;
    const lora = opts.lora === true;
    if (lora && opts.stream) throw new Error('DecodeMatvec: stream (the dequantization ceiling) has no LoRA variant');
    if (lora && needs.some(([, m]) => m === 'norm')) throw new Error('DecodeMatvec: no LoRA variant of the norm mode (the LM head is never adapted)');
    const software = gpu.software === true;
    const shape = software ? null : matvecShape(gpu, gpu.features.subgroups && opts.subgroups !== false);
    const sg = shape?.subgroups === true;
    const swRows = opts.swRows ?? SW_ROWS;
    // `enable` must open the module, so the subgroup variant is its own module text.
    const code = (sg ? 'enable subgroups;\n' : '') + [dequantCode, angleCode, matvecCode, sg ? subgroupCode : sharedCode].join('\n');
    const kernels = new Map<string, Kernel>();
    const seen = new Set<string>();
    await Promise.all(
      needs.flatMap(([type, mode]) => {
        const key = `${mode}:${type}`;
        if (seen.has(key)) return [];
        seen.add(key);
        if (opts.stream && mode !== 'plain') throw new Error('DecodeMatvec: stream (the dequantization ceiling) is a plain matvec');
        return (opts.stream ? [1] : [1, MATVEC_ROWS]).map(async (m) => {
          const constants: Record<string, number> = { WTYPE: type, MODE: MODES[mode], MV_M: m };
          if (shape) Object.assign(constants, { MV_ROWS: shape.rows, MV_TPR: shape.tpr, WGS: shape.wgs });
          else Object.assign(constants, { SWG, SW_R: swRows }, opts.swUnits ? { SW_MB: 0 } : {});
          if (opts.stream) constants.STREAM = 1;
          const variant = software ? '_sw' : sg ? '_sg' : '';
          const l = lora ? '_lora' : '';
          const k = await kc.get({
            label: `matvec_${opts.stream ? 'stream' : mode}${l}${m === 1 ? '1' : ''}${variant}_${TYPE_LAYOUT[type].name}`,
            code,
            entry: `mv_${mode}${l}${software ? '_sw' : ''}`,
            params: PARAMS,
            bindings: lora ? [...BINDINGS[mode], 'read', 'read'] : BINDINGS[mode],
            constants,
          });
          kernels.set(`${key}:${m}`, k);
        });
      }),
    );
    // Unused bindings get dummies; writable ones must not alias each other.
    const dummies = [0, 1, 2].map((i) => gpu.device.createBuffer({ label: `matvec-dummy-${i}`, size: 16, usage: GPUBufferUsage.STORAGE }));
    return new DecodeMatvec(kernels, dummies, shape, lora, software ? swRows : 1);
  }

  /** y[M, N] = x·Wᵀ (+ bias), or y += … with `accumulate`. */
  plain(rec: Recorder, a: MatvecPlainArgs): void {
    const [N, K] = dims(a.w);
    const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
    const b = [a.x, weightBinding([a.w]), a.bias ?? this.dummies[0], this.dummies[0], a.y, ...this.loraBindings(a.lora)];
    this.run(rec, 'plain', a.w.type, a.M, N, b, [a.M, N, K, flags, N, N, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  }

  /** y[M, N] = rmsnorm(x)·Wᵀ (+ bias); xn = rmsnorm(x) when given. */
  norm(rec: Recorder, a: MatvecNormArgs): void {
    this.loraBindings(undefined);
    const [N, K] = dims(a.w);
    const flags = (a.bias ? 1 : 0) | (a.xn ? 4 : 0);
    const b = [a.x, weightBinding([a.w]), a.bias ?? this.dummies[0], a.weight, a.y, a.xn ?? this.dummies[1]];
    this.run(rec, 'norm', a.w.type, a.M, N, b, [a.M, N, K, flags, N, N, 0, 0, a.eps, 0, 0, 0, 0, 0, 0, 0]);
  }

  /** y[M, F] = silu(rmsnorm(x)·gateᵀ) · (rmsnorm(x)·upᵀ). */
  glu(rec: Recorder, a: MatvecGluArgs): void {
    const [F, K] = dims(a.gate);
    stackedWith(a.gate, [a.up], K);
    if (a.up.shape[0] !== F) throw new Error(`matvec glu: gate has ${F} rows, up ${a.up.shape[0]}`);
    const b = [a.x, weightBinding([a.gate, a.up]), this.dummies[0], a.weight, a.y, ...this.loraBindings(a.lora)];
    const wb1 = (a.up.offset ?? 0) - (a.gate.offset ?? 0);
    this.run(rec, 'glu', a.gate.type, a.M, F, b, [a.M, 2 * F, K, 0, F, 2 * F, wb1, 0, a.eps, 0, 0, 0, 0, 0, 0, 0]);
  }

  /** q = rope(rmsnorm(x)·Wqᵀ + bq); k, v likewise (k rotated) into the caches at (slot[m], pos[m]). */
  rope(rec: Recorder, a: MatvecRopeArgs): void {
    const [wq, wk, wv] = a.ws;
    const [qd, K] = dims(wq);
    stackedWith(wq, [wk, wv], K);
    const kvd = wk.shape[0];
    if (wv.shape[0] !== kvd) throw new Error(`matvec rope: k has ${kvd} rows, v ${wv.shape[0]}`);
    const hd = a.headDim;
    if (hd % 2 !== 0 || qd % hd !== 0 || kvd % hd !== 0) throw new Error(`matvec rope: head dim ${hd} must be even and divide ${qd} and ${kvd}`);
    const base = wq.offset ?? 0;
    const [cHi, cLo] = freqExponent(a.theta, hd);
    const N = qd + 2 * kvd;
    const b = [a.x, weightBinding(a.ws), a.bias ?? this.dummies[0], a.weight, a.q, a.kCache, a.vCache, a.slotPos, ...this.loraBindings(a.lora)];
    const params = [a.M, N, K, a.bias ? 1 : 0, qd, qd + kvd, (wk.offset ?? 0) - base, (wv.offset ?? 0) - base, a.eps, hd, a.style === 'neox' ? 1 : 0, 1 / a.scale, cHi, cLo, a.maxSeq, a.posOffset];
    this.run(rec, 'rope', wq.type, a.M, N / 2, b, params);
  }

  private loraBindings(l: MatvecLora | undefined): Binding[] {
    if (this.lora !== (l !== undefined)) throw new Error(`DecodeMatvec: ${this.lora ? 'the LoRA variants need `lora`' : '`lora` needs the LoRA variants (create with lora: true)'}`);
    return l ? [l.u, l.b] : [];
  }

  private run(rec: Recorder, mode: MatvecMode, type: GgmlType, M: number, outputs: number, bindings: Binding[], params: number[]): void {
    if (M <= 0 || outputs === 0) return;
    const one = M === 1;
    const k = this.kernels.get(`${mode}:${type}:${one ? 1 : MATVEC_ROWS}`);
    if (!k) throw new Error(`DecodeMatvec: ${mode} for weight type ${TYPE_LAYOUT[type]?.name ?? type} was not compiled`);
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    // Software: swRows output slots per single-row invocation (acc_sw1, LoRA variants included), one batched.
    const perGroup = this.shape ? this.shape.rows : SWG * (one ? this.swRows : 1);
    const [gx, gy] = grid(Math.ceil(outputs / perGroup), maxG);
    rec.dispatch(k, bindings, params, [gx, gy, one ? 1 : Math.ceil(M / MATVEC_ROWS)]);
  }
}

/** The bytes of matrices stacked in one buffer (from the first's offset to the end of the last). */
function weightBinding(ws: readonly GpuTensor[]): Binding {
  const first = ws[0];
  const last = ws[ws.length - 1];
  const offset = first.offset ?? 0;
  const end = (last.offset ?? 0) + tensorBytes(last.type, last.shape[0] * last.shape[1]);
  const size = Math.min(first.buffer.size - offset, Math.ceil((end - offset) / 4) * 4);
  return { buffer: first.buffer, offset, size };
}

function stackedWith(first: GpuTensor, rest: readonly GpuTensor[], K: number): void {
  for (const w of rest) {
    const [, k] = dims(w);
    if (w.buffer !== first.buffer || w.type !== first.type || k !== K || w.offset === undefined || (w.offset ?? 0) < (first.offset ?? 0)) {
      throw new Error(`DecodeMatvec: "${w.name}" is not stacked after "${first.name}" (one buffer, type and K)`);
    }
  }
}

/** [N, K] of a weight matrix, checked against its type's block size. */
function dims(w: GpuTensor): [number, number] {
  if (w.shape.length !== 2) throw new Error(`DecodeMatvec: weight "${w.name}" must be 2-D, got [${w.shape}]`);
  const [N, K] = w.shape;
  const be = TYPE_LAYOUT[w.type]?.blockElems;
  if (be === undefined) throw new Error(`DecodeMatvec: weight "${w.name}" has unsupported type ${w.type}`);
  if (K % be !== 0 || K % 4 !== 0) throw new Error(`DecodeMatvec: weight "${w.name}" [${N}, ${K}]: K must be a multiple of ${Math.max(be, 4)}`);
  return [N, K];
}
