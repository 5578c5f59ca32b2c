import dequantCode from './dequant.wgsl?raw';
import matmulCode from './matmul.wgsl?raw';
import type { Gpu } from '../device';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';
import { tilePlan, type TilePlan } from '../tiles';
import { workgroupSize } from '../workgroup';
import { matvecShape } from './matvec';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../../model/types';

/** The module with the tiled kernels' staging/product type TH in f32, and in f16 (needs shader-f16). */
const code = 'alias TH = f32;\n' + dequantCode + '\n' + matmulCode;
const codeF16 = 'enable f16;\nalias TH = f16;\n' + dequantCode + '\n' + matmulCode;


/** Every weight type the matmul kernels read. */
export const MATMUL_TYPES: readonly GgmlType[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_K,
  GgmlType.Q6_K,
];

/** x rows handled per matrix-vector pass (MV_M / MV_MAX in matmul.wgsl). */
const MV_M = 8;

/**
 * Workgroup shapes of the GPU matrix-vector kernels, from the adapter's limits (src/gpu/workgroup.ts).
 * mv_fwd: `rows` W rows per workgroup, `tpr` threads per row (the decode matvecs' matvecShape without
 * subgroups: MV_M floats of shared memory per invocation). mv_bwd: `cg` groups of 4 dx columns × `ns`
 * threads splitting N (one vec4 of shared memory per invocation); column groups first, for coalescing.
 */
export interface MatvecShapes {
  fwd: { rows: number; tpr: number };
  bwd: { cg: number; ns: number };
}

export function matmulMatvecShapes(gpu: Pick<Gpu, 'limits' | 'features'>): MatvecShapes {
  const { rows, tpr } = matvecShape(gpu, false);
  const wgs = workgroupSize(gpu.limits, { preferred: 256, bytesPerInvocation: 16 });
  const cg = Math.min(32, wgs);
  return { fwd: { rows, tpr }, bwd: { cg, ns: wgs / cg } };
}
/** Software adapters: invocations per workgroup of the *_sw kernels, and 4-wide blocks. */
const SWG = 16;
const SW_BLOCK = 4;
/** Software adapters: dx rows per invocation of tile_bwd_sw / tile_bwd_q_sw. */
const SW_BWD_ROWS = 8;
/**
 * Default block of y per tile_fwd_sw invocation: 8 x rows × 8 W rows. Loads bound it on SwiftShader, and
 * 8 × 8 did the fewest per FMA without spilling (same-process prefill at 512 tokens, docs/perf.md).
 */
const SW_FWD_ROWS: SwBlock = 8;
const SW_FWD_COLS: SwBlock = 8;

/** M at or below which forward and backwardInput use the matrix-vector kernels. */
export const MATVEC_MAX_M = 8;

export type MatmulPath = 'matvec' | 'tiled';

export interface MatmulForwardArgs {
  /** f32 [M, K] */
  x: Binding;
  /** [N, K], any supported type */
  w: GpuTensor;
  /** f32 [M, N] */
  y: Binding;
  M: number;
  /** f32 [N] */
  bias?: Binding;
  /** y += x·Wᵀ instead of y = x·Wᵀ */
  accumulate?: boolean;
  /** Force a kernel (tests, benchmarks); default: matvec when M ≤ MATVEC_MAX_M. */
  path?: MatmulPath;
}

/**
 * Several projections of the same x in one dispatch (fused q|k|v, gate|up): the weights are parts of one
 * buffer (stackMatrices), the outputs planar parts of one buffer.
 */
export interface MatmulStackedArgs {
  /** f32 [M, K] */
  x: Binding;
  /** 2 or 3 matrices [N_i, K] of one type, views into the same buffer (GpuTensor.offset). */
  ws: readonly GpuTensor[];
  /** The output buffer: part i is f32 [M, N_i] at byte yOffsets[i] (multiples of 4). */
  y: GPUBuffer;
  yOffsets: readonly number[];
  M: number;
  /** f32 [ΣN_i]: the parts' biases, concatenated. */
  bias?: Binding;
  path?: MatmulPath;
}

export interface MatmulBackwardInputArgs {
  /** f32 [M, N] */
  dy: Binding;
  /** [N, K], any supported type */
  w: GpuTensor;
  /** f32 [M, K] */
  dx: Binding;
  M: number;
  /** dx += dy·W instead of dx = dy·W */
  accumulate?: boolean;
  path?: MatmulPath;
}

/** dx = Σ_i dy_i·W_i in one dispatch: the input gradient of a stacked projection (q|k|v, gate|up). */
export interface MatmulStackedBackwardArgs {
  /** The gradient buffer: part i is f32 [M, N_i] at byte dyOffsets[i] (multiples of 4, the first 0). */
  dy: GPUBuffer;
  dyOffsets: readonly number[];
  /** 2 or 3 matrices [N_i, K] of one type, views into the same buffer (as forwardStacked). */
  ws: readonly GpuTensor[];
  /** f32 [M, K] */
  dx: Binding;
  M: number;
  /** dx += Σ_i dy_i·W_i */
  accumulate?: boolean;
  path?: MatmulPath;
}

export interface MatmulOptions {
  /**
   * Stage tiles and multiply in f16 (accumulating in f32) in the tiled forward kernel (prefill). Default
   * off: the f16 module has never been compiled on a device with shader-f16 (SwiftShader lacks it), and a
   * shader that fails to compile there would break every prefill — turn it on once a real-GPU run of
   * test/kernels/matmul-tiles.test.ts has passed. Forcing it on without shader-f16 throws.
   * The backward kernels always stay f32: gradients underflow f16 without loss scaling.
   */
  f16?: boolean;
  /** Override the tile shape (tests of the small-limit fallback); default tilePlan(limits). */
  plan?: TilePlan;
  /**
   * Software adapters: the block of y one tile_fwd_sw invocation owns, x rows × W rows; default 8 × 8.
   * Tests and benchmarks pick the others to check and compare them.
   */
  swRows?: SwBlock;
  swCols?: SwBlock;
}

/** x rows or y columns per invocation of the software prefill kernel (SW_MB, SW_NB in matmul.wgsl). */
export type SwBlock = 4 | 8;

type Entry = 'mv_fwd1' | 'mv_fwd' | 'tile_fwd' | 'mv_bwd' | 'tile_bwd';
/** Pipelines per type; mv_fwd1 is mv_fwd specialised for one x row (MV_M = 1). */
const ENTRIES: readonly Entry[] = ['mv_fwd1', 'mv_fwd', 'tile_fwd', 'mv_bwd', 'tile_bwd'];

/**
 * y = x·Wᵀ (+ bias) and dx = dy·W with W [N, K] kept in its GGUF type and dequantized inside the kernels.
 * K must be a multiple of the type's block size and of 4. One pipeline per (type, kernel). On software
 * adapters (Gpu.software) each kernel is replaced by its barrier-free *_sw variant (see matmul.wgsl).
 */
export class Matmul {
  private constructor(
    private readonly kernels: Map<string, Kernel>,
    private readonly dummy: GPUBuffer,
    private readonly software: boolean,
    /** Tile shapes of tile_fwd and tile_bwd (GPU profile). */
    readonly plans: { readonly forward: TilePlan; readonly backward: TilePlan },
    /** Whether tile_fwd stages and multiplies in f16. */
    readonly f16: boolean,
    /** Shapes of mv_fwd and mv_bwd (GPU profile). */
    readonly matvec: MatvecShapes,
    /** x rows and y columns per tile_fwd_sw invocation (software adapters). */
    readonly swRows: SwBlock,
    readonly swCols: SwBlock,
  ) {}

  /** Compiles the kernels of `types` (default: all); using another type later throws. */
  static async create(kc: KernelCache, types: readonly GgmlType[] = MATMUL_TYPES, opts: MatmulOptions = {}): Promise<Matmul> {
    const software = kc.gpu.software === true;
    if (opts.f16 && !kc.gpu.features.shaderF16) {
      throw new Error('Matmul: f16 tiles were requested but this device has no shader-f16; leave `f16` unset to use it only where available.');
    }
    const f16 = opts.f16 ?? false;
    const plans = {
      forward: opts.plan ?? tilePlan(kc.gpu.limits, f16 ? 2 : 4),
      backward: opts.plan ?? tilePlan(kc.gpu.limits, 4),
    };
    const swRows = opts.swRows ?? SW_FWD_ROWS;
    const swCols = opts.swCols ?? SW_FWD_COLS;
    if (![4, 8].includes(swRows) || ![4, 8].includes(swCols)) throw new Error(`Matmul: swRows and swCols must be 4 or 8, got ${swRows} × ${swCols}`);
    const mvs = matmulMatvecShapes(kc.gpu);
    const kernels = new Map<string, Kernel>();
    await Promise.all(
      types.flatMap((type) =>
        ENTRIES.map(async (entry) => {
          const constants: Record<string, number> = { WTYPE: type };
          const mv = entry === 'mv_fwd' || entry === 'mv_fwd1';
          const tiled = entry === 'tile_fwd' || entry === 'tile_bwd';
          const half = entry === 'tile_fwd' && f16 && !software;
          if (mv) Object.assign(constants, { MV_M: entry === 'mv_fwd1' ? 1 : MV_M });
          if (software) Object.assign(constants, entry === 'tile_fwd' ? { SWG, SW_MB: swRows, SW_NB: swCols } : { SWG });
          else if (mv) Object.assign(constants, { MV_ROWS: mvs.fwd.rows, MV_TPR: mvs.fwd.tpr });
          else if (entry === 'mv_bwd') Object.assign(constants, { BV_CG: mvs.bwd.cg, BV_NS: mvs.bwd.ns });
          else if (tiled) {
            const p = entry === 'tile_fwd' ? plans.forward : plans.backward;
            Object.assign(constants, { TT: p.tile, TKC: p.chunk, TWG: p.threads });
          }
          const base = entry === 'mv_fwd1' ? 'mv_fwd' : entry;
          // Software tiled backward: quantized types take the dq_pair variant (matmul.wgsl).
          const sw = entry === 'tile_bwd' && swPairBackward(type) ? 'tile_bwd_q_sw' : `${base}_sw`;
          const k = await kc.get({
            label: `matmul_${entry}${software ? (sw === 'tile_bwd_q_sw' ? '_q_sw' : '_sw') : half ? '_f16' : ''}_${TYPE_LAYOUT[type].name}`,
            code: half ? codeF16 : code,
            entry: software ? sw : base,
            params: ['u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32'],
            bindings: ['read', 'read', 'read', 'rw'],
            constants,
          });
          kernels.set(`${entry}:${type}`, k);
        }),
      ),
    );
    const dummy = kc.gpu.device.createBuffer({ label: 'matmul-dummy', size: 16, usage: GPUBufferUsage.STORAGE });
    return new Matmul(kernels, dummy, software, plans, f16 && !software, mvs, swRows, swCols);
  }

  /** y[M, N] = x[M, K]·Wᵀ (+ bias), or y += … with `accumulate`. */
  forward(rec: Recorder, a: MatmulForwardArgs): void {
    const [N, K] = dims(a.w);
    const { M } = a;
    if (M <= 0 || N === 0) return;
    const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
    this.dispatchForward(rec, a.w, [a.x, weightBinding(a.w), a.bias ?? this.dummy, a.y], [M, N, K, flags, N, N, 0, 0, 0, 0], a.path);
  }

  /** Each y part i [M, N_i] = x·W_iᵀ (+ its bias) in one dispatch. */
  forwardStacked(rec: Recorder, a: MatmulStackedArgs): void {
    const st = stackParams('forwardStacked', a.ws, a.yOffsets, a.M, a.bias ? 1 : 0);
    if (!st) return;
    this.dispatchForward(rec, a.ws[0], [a.x, st.w, a.bias ?? this.dummy, a.y], st.params, a.path);
  }

  /** dx[M, K] = Σ_i dy_i[M, N_i]·W_i (or dx += …) in one dispatch: the sum over N runs through the parts. */
  backwardInputStacked(rec: Recorder, a: MatmulStackedBackwardArgs): void {
    const st = stackParams('backwardInputStacked', a.ws, a.dyOffsets, a.M, a.accumulate ? 2 : 0);
    if (!st) return;
    this.dispatchBackward(rec, a.ws[0], [a.dy, st.w, this.dummy, a.dx], st.params, a.path);
  }

  private dispatchForward(rec: Recorder, w: GpuTensor, bindings: Binding[], params: number[], force?: MatmulPath): void {
    const [M, N] = params;
    const a = { w };
    const path = force ?? (M <= MATVEC_MAX_M ? 'matvec' : 'tiled');
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (path === 'matvec') {
      // GPU: MV_ROWS rows of W per workgroup; software: one row per invocation.
      const [gx, gy] = grid(Math.ceil(N / (this.software ? SWG : this.matvec.fwd.rows)), maxG);
      if (M === 1) rec.dispatch(this.kernel('mv_fwd1', a.w), bindings, params, [gx, gy, 1]);
      else rec.dispatch(this.kernel('mv_fwd', a.w), bindings, params, [gx, gy, Math.ceil(M / MV_M)]);
    } else if (this.software) {
      const blocks = Math.ceil(N / this.swCols) * Math.ceil(M / this.swRows);
      rec.dispatch(this.kernel('tile_fwd', a.w), bindings, params, grid(Math.ceil(blocks / SWG), maxG));
    } else {
      const T = this.plans.forward.tile;
      const tiles = Math.ceil(N / T) * Math.ceil(M / T);
      rec.dispatch(this.kernel('tile_fwd', a.w), bindings, params, grid(tiles, maxG));
    }
  }

  /** dx[M, K] = dy[M, N]·W, or dx += … with `accumulate`. */
  backwardInput(rec: Recorder, a: MatmulBackwardInputArgs): void {
    const [N, K] = dims(a.w);
    this.dispatchBackward(rec, a.w, [a.dy, weightBinding(a.w), this.dummy, a.dx], [a.M, N, K, a.accumulate ? 2 : 0, N, N, 0, 0, 0, 0], a.path);
  }

  private dispatchBackward(rec: Recorder, w: GpuTensor, bindings: Binding[], params: number[], force?: MatmulPath): void {
    const [M, , K] = params;
    const a = { w };
    if (M <= 0 || K === 0) return;
    const path = force ?? (M <= MATVEC_MAX_M ? 'matvec' : 'tiled');
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (path === 'matvec') {
      // GPU: 4·BV_CG columns of dx per workgroup; software: 4 columns per invocation.
      const [gx, gy] = grid(Math.ceil(K / (this.software ? 4 * SWG : 4 * this.matvec.bwd.cg)), maxG);
      rec.dispatch(this.kernel('mv_bwd', a.w), bindings, params, [gx, gy, Math.ceil(M / MV_M)]);
    } else if (this.software) {
      // One invocation per 8 rows × 4 columns of dx, or × 8 columns (a dq_pair unit) for quantized types.
      const blocks = (K / (swPairBackward(a.w.type) ? 8 : 4)) * Math.ceil(M / SW_BWD_ROWS);
      rec.dispatch(this.kernel('tile_bwd', a.w), bindings, params, grid(Math.ceil(blocks / SWG), maxG));
    } else {
      const T = this.plans.backward.tile;
      const tiles = Math.ceil(K / T) * Math.ceil(M / T);
      rec.dispatch(this.kernel('tile_bwd', a.w), bindings, params, grid(tiles, maxG));
    }
  }

  private kernel(entry: Entry, w: GpuTensor): Kernel {
    const k = this.kernels.get(`${entry}:${w.type}`);
    if (!k) throw new Error(`Matmul: weight "${w.name}" has type ${TYPE_LAYOUT[w.type]?.name ?? w.type}, which was not compiled`);
    return k;
  }
}

/**
 * The Params words of a stacked matmul (matmul.wgsl: s1, s2, wb1, wb2, o1, o2) and the binding of its
 * weights, or null when there is nothing to compute. `offsets`: the planar parts of y (forward) or dy
 * (backward), in bytes.
 */
function stackParams(fn: string, ws: readonly GpuTensor[], offsets: readonly number[], M: number, flags: number): { w: Binding; params: number[] } | null {
  if (ws.length < 2 || ws.length > 3 || offsets.length !== ws.length) throw new Error(`Matmul.${fn}: 2 or 3 matrices, one planar offset each`);
  const K = dims(ws[0])[1];
  const base = ws[0].offset ?? 0;
  const rows: number[] = [];
  const wb: number[] = [];
  for (const w of ws) {
    const [n, k] = dims(w);
    if (w.buffer !== ws[0].buffer || w.type !== ws[0].type || k !== K) throw new Error(`Matmul.${fn}: "${w.name}" is not stacked with "${ws[0].name}" (one buffer, type and K)`);
    rows.push(n);
    wb.push((w.offset ?? 0) - base);
  }
  const o = offsets.map((b) => b / 4);
  if (o[0] !== 0) throw new Error(`Matmul.${fn}: the first planar part starts at offset 0`);
  const N = rows.reduce((s, n) => s + n, 0);
  if (M <= 0 || N === 0) return null;
  const s1 = rows[0];
  const s2 = ws.length === 3 ? s1 + rows[1] : N;
  return { w: { buffer: ws[0].buffer, offset: base }, params: [M, N, K, flags, s1, s2, wb[1], wb[2] ?? 0, o[1], o[2] ?? 0] };
}

/** Whether the software tiled backward of `type` is tile_bwd_q_sw (8 rows × 8 columns per invocation). */
function swPairBackward(type: GgmlType): boolean {
  return TYPE_LAYOUT[type].blockElems >= 32;
}

/** A matrix's bytes: its whole buffer, or its part of a stacked buffer. */
function weightBinding(w: GpuTensor): Binding {
  return w.offset ? { buffer: w.buffer, offset: w.offset } : w.buffer;
}

/** [N, K] of a weight matrix, checked against its type's block size. */
function dims(w: GpuTensor): [number, number] {
  if (w.shape.length !== 2) throw new Error(`Matmul: weight "${w.name}" must be 2-D, got [${w.shape}]`);
  const [N, K] = w.shape;
  const be = TYPE_LAYOUT[w.type]?.blockElems;
  if (be === undefined) throw new Error(`Matmul: weight "${w.name}" has unsupported type ${w.type}`);
  if (K % be !== 0 || K % 4 !== 0) {
    throw new Error(`Matmul: weight "${w.name}" [${N}, ${K}]: K must be a multiple of ${Math.max(be, 4)}`);
  }
  return [N, K];
}
