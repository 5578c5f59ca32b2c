/**
 * Plain float64 CPU forward of a Llama-family decoder — the yardstick the GPU engine is checked
 * against. It reads the same ModelDescription + bytes, dequantizes with test/reference/dequant.ts (written from the GGML block layouts, not quant.ts), and composes the
 * per-kernel references, so a layout bug in a loader or kernel cannot hide in both paths at once.
 */
import { dequantRef } from './dequant';
import type { ByteSource } from '../../src/model/source';
import { TensorNames, type ModelConfig, type ModelDescription } from '../../src/model/types';
import { dropoutThreshold } from '../../src/gpu/kernels/elementwise';
import { dropoutRef } from '../kernels/elementwise.ref';
import { matmulRef } from '../kernels/matmul.ref';
import { rmsnormRef } from '../kernels/rmsnorm.ref';
import { ropeRef } from '../kernels/rope.ref';
import { swigluRef } from '../kernels/swiglu.ref';

type Vec = Float64Array;

export interface RefLayer {
  attnNorm: Vec; wq: Vec; wk: Vec; wv: Vec; bq?: Vec; bk?: Vec; bv?: Vec; wo: Vec;
  ffnNorm: Vec; wGate: Vec; wUp: Vec; wDown: Vec;
}

export interface RefModel {
  cfg: ModelConfig;
  tokEmbd: Vec; // [vocab, d]
  layers: RefLayer[];
  outNorm: Vec; // [d]
  output: Vec; // [vocab, d]
}

export async function refModel(desc: ModelDescription, src: ByteSource): Promise<RefModel> {
  const get = async (name: string): Promise<Vec> => {
    const t = desc.tensors.get(name)!;
    const bytes = await src.read(t.offset, t.bytes);
    const n = t.shape.reduce((a, b) => a * b, 1);
    return dequantRef(t.type, bytes, n);
  };
  const opt = async (name: string) => (desc.tensors.has(name) ? get(name) : undefined);
  const cfg = desc.config;
  const layers: RefLayer[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    layers.push({
      attnNorm: await get(TensorNames.attnNorm(l)),
      wq: await get(TensorNames.wq(l)),
      wk: await get(TensorNames.wk(l)),
      wv: await get(TensorNames.wv(l)),
      bq: await opt(TensorNames.bq(l)),
      bk: await opt(TensorNames.bk(l)),
      bv: await opt(TensorNames.bv(l)),
      wo: await get(TensorNames.wo(l)),
      ffnNorm: await get(TensorNames.ffnNorm(l)),
      wGate: await get(TensorNames.wGate(l)),
      wUp: await get(TensorNames.wUp(l)),
      wDown: await get(TensorNames.wDown(l)),
    });
  }
  const tokEmbd = await get(TensorNames.tokEmbd);
  const output = desc.tensors.has(TensorNames.output) && !cfg.tiedEmbeddings ? await get(TensorNames.output) : tokEmbd;
  return { cfg, tokEmbd, layers, outNorm: await get(TensorNames.outNorm), output };
}

export interface RefInput {
  ids: number[]; // [T] one sequence, positions 0..T-1
  /** Rows replacing the embedding at given positions (tags). */
  injected?: Map<number, ArrayLike<number>>;
  /** [T] first key position each query may attend to (default 0). */
  start?: number[];
  /** LoRA adapters per layer: y += scale·(x·Aᵀ)·Bᵀ on the named projections. */
  lora?: Array<Partial<Record<RefProj, { A: ArrayLike<number>; B: ArrayLike<number>; rank: number; scale: number; dropout?: { p: number; seed: number } }>>>;
  /** Also return each layer's head-averaged attention probabilities. */
  attention?: boolean;
}

export type RefProj = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

export interface RefOutput {
  logits: Vec; // [T, vocab]
  hidden: Vec; // [T, d] after the final norm
  /** With input.attention: per layer [T, T] head-averaged probabilities (row = query). */
  attention?: Vec[];
}

export function refForward(m: RefModel, input: RefInput): RefOutput {
  const { cfg } = m;
  const T = input.ids.length;
  const d = cfg.dModel;
  const hd = cfg.headDim;
  const qd = cfg.nHeads * hd;
  const kvd = cfg.nKvHeads * hd;
  const x = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const row = input.injected?.get(t) ?? m.tokEmbd.subarray(input.ids[t] * d, (input.ids[t] + 1) * d);
    for (let i = 0; i < d; i++) x[t * d + i] = row[i];
  }
  const pos = Array.from({ length: T }, (_, t) => t);
  const maps: Vec[] = [];
  for (const [l, L] of m.layers.entries()) {
    const proj = (p: RefProj, xin: Vec, w: Vec, N: number, K: number, bias?: Vec): Vec => {
      const y = matmulRef(xin, w, T, N, K, bias);
      const a = input.lora?.[l]?.[p];
      if (a) {
        // Dropout on the adapter input with the kernel's mask (flat index over [T, K]).
        const xa = a.dropout ? dropoutRef(xin, a.dropout.p, a.dropout.seed, dropoutThreshold(a.dropout.p)) : xin;
        const u = matmulRef(xa, a.A, T, a.rank, K);
        const z = matmulRef(u, a.B, T, N, a.rank);
        for (let i = 0; i < y.length; i++) y[i] += a.scale * z[i];
      }
      return y;
    };
    const xn = rmsnormRef(x, L.attnNorm, T, d, cfg.normEps);
    let q = proj('q', xn, L.wq, qd, d, L.bq);
    let k = proj('k', xn, L.wk, kvd, d, L.bk);
    const v = proj('v', xn, L.wv, kvd, d, L.bv);
    q = ropeRef(q, pos, T, cfg.nHeads, hd, cfg.ropeTheta, cfg.ropeStyle, cfg.ropeScale);
    k = ropeRef(k, pos, T, cfg.nKvHeads, hd, cfg.ropeTheta, cfg.ropeStyle, cfg.ropeScale);
    const map = input.attention ? new Float64Array(T * T) : undefined;
    if (map) maps.push(map);
    const att = causalAttention(q, k, v, T, cfg.nHeads, cfg.nKvHeads, hd, input.start, map);
    addInto(x, proj('o', att, L.wo, d, qd));
    const xn2 = rmsnormRef(x, L.ffnNorm, T, d, cfg.normEps);
    const g = proj('gate', xn2, L.wGate, cfg.dFF, d);
    const u = proj('up', xn2, L.wUp, cfg.dFF, d);
    addInto(x, proj('down', swigluRef(g, u), L.wDown, d, cfg.dFF));
  }
  const hidden = rmsnormRef(x, m.outNorm, T, d, cfg.normEps);
  return { hidden, logits: matmulRef(hidden, m.output, T, cfg.vocabSize, d), ...(input.attention ? { attention: maps } : {}) };
}

/** One sequence, keys [start[t], t] for query t; GQA maps head h to kv head h / (nHeads / nKv). */
function causalAttention(q: Vec, k: Vec, v: Vec, T: number, nH: number, nKv: number, hd: number, start?: number[], map?: Float64Array): Vec {
  const out = new Float64Array(T * nH * hd);
  const scale = 1 / Math.sqrt(hd);
  const group = nH / nKv;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nH; h++) {
      const kh = Math.floor(h / group);
      const s0 = start?.[t] ?? 0;
      const scores: number[] = [];
      for (let j = s0; j <= t; j++) {
        let s = 0;
        for (let i = 0; i < hd; i++) s += q[(t * nH + h) * hd + i] * k[(j * nKv + kh) * hd + i];
        scores.push(s * scale);
      }
      const mx = Math.max(...scores);
      const p = scores.map((s) => Math.exp(s - mx));
      const z = p.reduce((a, b) => a + b, 0);
      for (let j = s0; j <= t; j++) {
        const a = p[j - s0] / z;
        if (map) map[t * T + j] += a / nH;
        for (let i = 0; i < hd; i++) out[(t * nH + h) * hd + i] += a * v[(j * nKv + kh) * hd + i];
      }
    }
  }
  return out;
}

function addInto(x: Vec, y: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** Σ over positions with a target of −log softmax(logits[t])[target]; null targets are skipped. */
export function refNll(logits: Vec, V: number, targets: Array<number | null>): number {
  let total = 0;
  targets.forEach((y, t) => {
    if (y === null) return;
    const row = logits.subarray(t * V, (t + 1) * V);
    let mx = -Infinity;
    for (const z of row) mx = Math.max(mx, z);
    let s = 0;
    for (const z of row) s += Math.exp(z - mx);
    total += mx + Math.log(s) - row[y];
  });
  return total;
}
