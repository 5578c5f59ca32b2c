import code from './attention.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** Largest head dimension the kernels support (4 dims per invocation × 64 invocations). */
export const ATTN_MAX_HEAD_DIM = 256;

export interface KvWriteArgs {
  /** f32 [T, nKv, hd] keys (after RoPE) and values of the new tokens. */
  k: Binding;
  v: Binding;
  /** f32 [slots, maxSeq, nKv, hd] */
  kCache: Binding;
  vCache: Binding;
  /** u32 [T]: cache slot and position each token's row is written to (positions ≥ maxSeq are dropped). */
  slot: Binding;
  pos: Binding;
  T: number;
  nKv: number;
  hd: number;
  maxSeq: number;
}

export interface KvGatherArgs {
  /** f32 [slots, maxSeq, nKv, hd]: gradients of the caches (e.g. dk, dv of backward). */
  dkCache: Binding;
  dvCache: Binding;
  /** f32 [T, nKv, hd], overwritten: the gradients of kvWrite's k and v (0 for positions ≥ maxSeq). */
  dk: Binding;
  dv: Binding;
  slot: Binding;
  pos: Binding;
  T: number;
  nKv: number;
  hd: number;
  maxSeq: number;
}

export interface AttentionForwardArgs {
  /** f32 [T, nHeads, hd] (after RoPE). */
  q: Binding;
  /** f32 [slots, maxSeq, nKv, hd] */
  kCache: Binding;
  vCache: Binding;
  /** u32 [T] cache slot of each query. */
  slot: Binding;
  /** u32 [T] position of each query; it sees keys up to and including this position. */
  pos: Binding;
  /** u32 [T] first key position each query may see (0 = plain causal): keys [start[t], pos[t]]. */
  start: Binding;
  /** f32 [T, nHeads, hd]; a buffer of its own. */
  out: Binding;
  /** Optional f32 [T, nHeads]: log Σ_j exp(scale·q·k_j) per (t, h), for the backward pass (needs `{ backward: true }`). */
  lse?: Binding;
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  maxSeq: number;
  /** Usually 1/sqrt(hd). */
  scale: number;
}

export interface AttentionBackwardArgs {
  q: Binding;
  kCache: Binding;
  vCache: Binding;
  slot: Binding;
  pos: Binding;
  start: Binding;
  /** f32 [T, nHeads, hd]: the forward output and its gradient. */
  out: Binding;
  dOut: Binding;
  /** f32 [T, nHeads], written by forward with `lse`. */
  lse: Binding;
  /** Scratch f32 [T, nHeads, 2]: (lse, Σ dOut·out) per (t, h). */
  stats: Binding;
  /** f32 [T, nHeads, hd]: overwritten. */
  dq: Binding;
  /**
   * f32 [slots, maxSeq, nKv, hd]: rows [0, nKeys) of every slot are overwritten (or added to, with
   * `accumulate`) with the gradient summed over all queries and query heads; other rows are untouched.
   */
  dk: Binding;
  dv: Binding;
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  maxSeq: number;
  scale: number;
  /** Cache slots to produce dk/dv for (slots 0..slots−1). */
  slots: number;
  /** Key positions per slot to produce dk/dv for, [0, nKeys) (default maxSeq): keep it to max(pos)+1. */
  nKeys?: number;
  accumulate?: boolean;
}

/**
 * Invocations of the GPU row kernels (attn_fwd, attn_bwd_dq, attn_bwd_dkv): fixed by their tiling (WG,
 * TK, LN in attention.wgsl); every WebGPU adapter allows it (the spec's minimum is 256), and create()
 * refuses one that does not. The per-element kernels take their size from the limits (EWG).
 */
const ATTN_WG = 64;
/** Key positions per workgroup of the dk/dv kernel (KB in attention.wgsl). */
const DKV_KEYS = 4;
/** Software adapters: rows (one per invocation) per workgroup of the *_sw kernels. */
const SWG = 8;

export interface AttentionOptions {
  /**
   * Also compile what training needs: the forward variant that stores lse, and the backward kernels
   * (these bind up to 10 storage buffers, so they need maxStorageBuffersPerShaderStage ≥ 10, which
   * desktop GPUs have; inference needs 7). Off by default: inference compiles less.
   */
  backward?: boolean;
}

interface BackwardKernels {
  gather: Kernel;
  fwdLse: Kernel;
  prep: Kernel;
  dq: Kernel;
  dkv: Kernel;
  /** Software dk/dv (attn_bwd_dkv_sw) and its per-slot query ranges; null: the GPU dk/dv kernel. */
  ranges: Kernel | null;
}

/** Storage buffers attn_bwd_dkv_sw binds (the GPU kernel: 10). */
const DKV_SW_BUFFERS = 11;

/**
 * Causal, grouped-query attention over a KV cache (see attention.wgsl). On software adapters
 * (Gpu.software) the forward, dq and dk/dv kernels are the barrier-free *_sw variants: one invocation
 * per output row instead of a 64-invocation workgroup per row.
 */
export class Attention {
  private constructor(
    private readonly kvK: Kernel,
    private readonly fwdK: Kernel,
    private readonly bwd: BackwardKernels | null,
    private readonly software: boolean,
    /** Invocations per workgroup of kv_write, kv_gather and attn_bwd_prep (src/gpu/workgroup.ts). */
    readonly ewg: number,
  ) {}

  /** u32 [2·slots] scratch of the software dk/dv kernel, grown on demand. */
  private rangesBuf: GPUBuffer | null = null;

  static async create(kc: KernelCache, opts: AttentionOptions = {}): Promise<Attention> {
    const software = kc.gpu.software === true;
    const params = ['u32', 'u32', 'u32', 'u32', 'u32', 'f32', 'u32', 'u32', 'u32'] as const;
    if (!software) workgroupSize(kc.gpu.limits, { preferred: ATTN_WG, min: ATTN_WG });
    const ewg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const base = { code, params, constants: { EWG: ewg } };
    const r = 'read' as const;
    const w = 'rw' as const;
    const fwdB = [r, r, r, r, r, r, w] as const;
    const kernels = (entry: string, bindings: readonly ('read' | 'rw')[]) => kc.get({ ...base, label: entry, entry, bindings });
    /** The row kernels: forward, dq, dk/dv. */
    const rowKernels = (entry: string, bindings: readonly ('read' | 'rw')[]) =>
      software ? kc.get({ ...base, label: `${entry}_sw`, entry: `${entry}_sw`, bindings, constants: { SWG } }) : kernels(entry, bindings);
    const bwd = async (): Promise<BackwardKernels | null> => {
      if (!opts.backward) return null;
      const need = 10;
      if (kc.gpu.limits.maxStorageBuffersPerShaderStage < need) {
        throw new Error(
          `Attention backward needs ${need} storage buffers per shader stage; this GPU allows ${kc.gpu.limits.maxStorageBuffersPerShaderStage}.`,
        );
      }
      // The software dk/dv kernel also binds the slots' query ranges; with fewer buffers, the GPU kernel.
      const dkvSw = software && kc.gpu.limits.maxStorageBuffersPerShaderStage >= DKV_SW_BUFFERS;
      const sw = (entry: string, bindings: readonly ('read' | 'rw')[]) =>
        kc.get({ ...base, label: entry, entry, bindings, constants: { SWG } });
      const [gather, fwdLse, prep, dq, dkv, ranges] = await Promise.all([
        kernels('kv_gather', [r, r, w, w, r, r]),
        rowKernels('attn_fwd_lse', [...fwdB, w]),
        kernels('attn_bwd_prep', [r, r, r, w]),
        rowKernels('attn_bwd_dq', [...fwdB, r, r]),
        dkvSw ? sw('attn_bwd_dkv_sw', [...fwdB, r, r, w, r]) : kernels('attn_bwd_dkv', [...fwdB, r, r, w]),
        dkvSw ? sw('attn_slot_ranges_sw', [r, w]) : null,
      ]);
      return { gather, fwdLse, prep, dq, dkv, ranges };
    };
    const [kv, fwd, b] = await Promise.all([kernels('kv_write', [r, r, w, w, r, r]), rowKernels('attn_fwd', fwdB), bwd()]);
    return new Attention(kv, fwd, b, software, ewg);
  }

  /** Scatters the new tokens' keys and values into their cache rows. */
  kvWrite(rec: Recorder, a: KvWriteArgs): void {
    const n = a.T * a.nKv * a.hd;
    rec.dispatch(
      this.kvK,
      [a.k, a.v, a.kCache, a.vCache, a.slot, a.pos],
      [a.T, a.nKv, a.nKv, a.hd, a.maxSeq, 0, 0, 0, 0],
      grid(Math.ceil(n / this.ewg)),
    );
  }

  /**
   * The backward of kvWrite: dk[t], dv[t] = rows (slot[t], pos[t]) of the cache gradients. (If a row
   * is written by several tokens, only the last writer's value was attended; gather gives the gradient
   * to each of them: avoid duplicate (slot, pos) pairs in one step when training.)
   */
  kvGather(rec: Recorder, a: KvGatherArgs): void {
    const k = this.training('kvGather');
    rec.dispatch(
      k.gather,
      [a.dkCache, a.dvCache, a.dk, a.dv, a.slot, a.pos],
      [a.T, a.nKv, a.nKv, a.hd, a.maxSeq, 0, 0, 0, 0],
      grid(Math.ceil((a.T * a.nKv * a.hd) / this.ewg)),
    );
  }

  /** out[t, h] = softmax_j(scale·q[t,h]·k_j) · v_j over keys j ∈ [start[t], pos[t]] of slot[t]. */
  forward(rec: Recorder, a: AttentionForwardArgs): void {
    check(a);
    const b = [a.q, a.kCache, a.vCache, a.slot, a.pos, a.start, a.out];
    const p = [a.T, a.nHeads, a.nKv, a.hd, a.maxSeq, a.scale, 0, 0, 0];
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    const groups = grid(this.software ? Math.ceil((a.T * a.nHeads) / SWG) : a.T * a.nHeads, maxG);
    if (a.lse) rec.dispatch(this.training('forward with lse').fwdLse, [...b, a.lse], p, groups);
    else rec.dispatch(this.fwdK, b, p, groups);
  }

  /** dq, dk, dv from dOut (three dispatches; no atomics). Masking as in forward. */
  backward(rec: Recorder, a: AttentionBackwardArgs): void {
    const k = this.training('backward');
    check(a);
    const nKeys = a.nKeys ?? a.maxSeq;
    if (nKeys > a.maxSeq) throw new Error(`attention backward: nKeys ${nKeys} > maxSeq ${a.maxSeq}`);
    const p = [a.T, a.nHeads, a.nKv, a.hd, a.maxSeq, a.scale, nKeys, a.accumulate ? 1 : 0, a.slots];
    const rows = a.T * a.nHeads;
    const common = [a.q, a.kCache, a.vCache, a.slot, a.pos, a.start];
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    rec.dispatch(k.prep, [a.out, a.dOut, a.lse, a.stats], p, grid(Math.ceil(rows / this.ewg), maxG));
    rec.dispatch(k.dq, [...common, a.dq, a.dOut, a.stats], p, grid(this.software ? Math.ceil(rows / SWG) : rows, maxG));
    if (k.ranges) {
      const ranges = this.ranges(rec, a.slots);
      rec.dispatch(k.ranges, [a.slot, ranges], p, grid(Math.ceil(a.slots / SWG), maxG));
      rec.dispatch(k.dkv, [...common, a.dk, a.dOut, a.stats, a.dv, ranges], p, grid(Math.ceil((a.slots * nKeys * a.nKv) / SWG), maxG));
    } else {
      rec.dispatch(k.dkv, [...common, a.dk, a.dOut, a.stats, a.dv], p, grid(a.slots * Math.ceil(nKeys / DKV_KEYS) * a.nKv, maxG));
    }
  }

  private ranges(rec: Recorder, slots: number): GPUBuffer {
    const size = Math.max(16, 8 * slots);
    if (!this.rangesBuf || this.rangesBuf.size < size) {
      // The old buffer stays alive while recorded work uses it (it is dropped, not destroyed).
      this.rangesBuf = rec.gpu.device.createBuffer({ label: 'attn-slot-ranges', size: Math.max(size, 256), usage: GPUBufferUsage.STORAGE });
    }
    return this.rangesBuf;
  }

  private training(what: string): BackwardKernels {
    if (!this.bwd) throw new Error(`Attention ${what}: create the kernels with { backward: true }`);
    return this.bwd;
  }
}

function check(a: { nHeads: number; nKv: number; hd: number }): void {
  if (a.hd > ATTN_MAX_HEAD_DIM) throw new Error(`attention: head dim ${a.hd} > ${ATTN_MAX_HEAD_DIM}`);
  if (a.nHeads % a.nKv !== 0) throw new Error(`attention: ${a.nHeads} heads are not a multiple of ${a.nKv} kv heads`);
}
