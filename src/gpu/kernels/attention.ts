import code from './attention.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
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
  /** Optional f32 [T, nHeads]: log Σ_j exp(scale·q·k_j) per (t, h), for the backward pass. */
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

const ATTN_WG = 64;
/** Key positions per workgroup of the dk/dv kernel (KB in attention.wgsl). */
const DKV_KEYS = 4;

/**
 * Causal, grouped-query attention over a KV cache (see attention.wgsl). Storage buffers per dispatch:
 * forward 7 (8 with lse), backward dq 9 and dk/dv 10 — within the limit of desktop GPUs (≥ 10).
 */
export class Attention {
  private constructor(
    private readonly kvK: Kernel,
    private readonly fwdK: Kernel,
    private readonly fwdLseK: Kernel,
    private readonly prepK: Kernel,
    private readonly dqK: Kernel,
    private readonly dkvK: Kernel,
  ) {}

  static async create(kc: KernelCache): Promise<Attention> {
    const params = ['u32', 'u32', 'u32', 'u32', 'u32', 'f32', 'u32', 'u32', 'u32'] as const;
    const base = { code, params };
    const r = 'read' as const;
    const w = 'rw' as const;
    const fwdB = [r, r, r, r, r, r, w] as const;
    const ks = await Promise.all([
      kc.get({ ...base, label: 'kv_write', entry: 'kv_write', bindings: [r, r, w, w, r, r] }),
      kc.get({ ...base, label: 'attn_fwd', entry: 'attn_fwd', bindings: fwdB }),
      kc.get({ ...base, label: 'attn_fwd_lse', entry: 'attn_fwd_lse', bindings: [...fwdB, w] }),
      kc.get({ ...base, label: 'attn_bwd_prep', entry: 'attn_bwd_prep', bindings: [r, r, r, w] }),
      kc.get({ ...base, label: 'attn_bwd_dq', entry: 'attn_bwd_dq', bindings: [...fwdB, r, r] }),
      kc.get({ ...base, label: 'attn_bwd_dkv', entry: 'attn_bwd_dkv', bindings: [...fwdB, r, r, w] }),
    ]);
    return new Attention(ks[0], ks[1], ks[2], ks[3], ks[4], ks[5]);
  }

  /** Scatters the new tokens' keys and values into their cache rows. */
  kvWrite(rec: Recorder, a: KvWriteArgs): void {
    const n = a.T * a.nKv * a.hd;
    rec.dispatch(
      this.kvK,
      [a.k, a.v, a.kCache, a.vCache, a.slot, a.pos],
      [a.T, a.nKv, a.nKv, a.hd, a.maxSeq, 0, 0, 0, 0],
      grid(Math.ceil(n / 256)),
    );
  }

  /** out[t, h] = softmax_j(scale·q[t,h]·k_j) · v_j over keys j ∈ [start[t], pos[t]] of slot[t]. */
  forward(rec: Recorder, a: AttentionForwardArgs): void {
    check(a);
    const b = [a.q, a.kCache, a.vCache, a.slot, a.pos, a.start, a.out];
    const p = [a.T, a.nHeads, a.nKv, a.hd, a.maxSeq, a.scale, 0, 0, 0];
    const groups = grid(a.T * a.nHeads);
    if (a.lse) rec.dispatch(this.fwdLseK, [...b, a.lse], p, groups);
    else rec.dispatch(this.fwdK, b, p, groups);
  }

  /** dq, dk, dv from dOut (three dispatches; no atomics). Masking as in forward. */
  backward(rec: Recorder, a: AttentionBackwardArgs): void {
    check(a);
    const nKeys = a.nKeys ?? a.maxSeq;
    if (nKeys > a.maxSeq) throw new Error(`attention backward: nKeys ${nKeys} > maxSeq ${a.maxSeq}`);
    const p = [a.T, a.nHeads, a.nKv, a.hd, a.maxSeq, a.scale, nKeys, a.accumulate ? 1 : 0, a.slots];
    const rows = a.T * a.nHeads;
    const common = [a.q, a.kCache, a.vCache, a.slot, a.pos, a.start];
    rec.dispatch(this.prepK, [a.out, a.dOut, a.lse, a.stats], p, grid(Math.ceil(rows / ATTN_WG)));
    rec.dispatch(this.dqK, [...common, a.dq, a.dOut, a.stats], p, grid(rows));
    rec.dispatch(this.dkvK, [...common, a.dk, a.dOut, a.stats, a.dv], p, grid(a.slots * Math.ceil(nKeys / DKV_KEYS) * a.nKv));
  }
}

function check(a: { nHeads: number; nKv: number; hd: number }): void {
  if (a.hd > ATTN_MAX_HEAD_DIM) throw new Error(`attention: head dim ${a.hd} > ${ATTN_MAX_HEAD_DIM}`);
  if (a.nHeads % a.nKv !== 0) throw new Error(`attention: ${a.nHeads} heads are not a multiple of ${a.nKv} kv heads`);
}
