/**
 * GPU memory a training run needs, computed from shapes alone (no allocation): the check a user gets
 * before starting a run on a big model, and the benchmark's "7B fits in 6 GB" accounting. It mirrors
 * TrainGraph's buffers one for one; a test compares it with what a real graph allocates.
 */
import type { ModelConfig } from '../model/types';
import type { GraphOptions } from './graph';

const bytes = (floats: number) => Math.max(4, floats * 4);

/** Offset alignment of planar parts: 256 bytes, a multiple of every adapter's minStorageBufferOffsetAlignment. */
export const PLANE_ALIGN = 256;

/** Bytes TrainGraph allocates, plus the trainer's tag moment buffers (one shared pair) when `trainableTags` > 0. */
export function trainGraphBytes(cfg: ModelConfig, o: GraphOptions, trainableTags = 0): number {
  const T = o.maxTokens;
  const B = o.maxSeqs;
  const S = o.maxSeqLen;
  const d = cfg.dModel;
  const L = cfg.nLayers;
  const qd = cfg.nHeads * cfg.headDim;
  const kvd = cfg.nKvHeads * cfg.headDim;
  const ff = cfg.dFF;
  const V = cfg.vocabSize;
  const tPad = Math.ceil(T / 64) * 64;
  const r = o.lora?.rank ?? 0;
  const targets = o.lora?.targets ?? [];
  const ko = Math.max(1, o.headOutputs ?? 1);
  const C = o.lmChunk ?? Math.max(64, Math.min(256, 64 * Math.floor((16 << 20) / (V * 4 * 64))));
  const sum = (xs: number[]) => xs.reduce((a, x) => a + bytes(x), 0);
  const meta = sum([T, T, T, T, T, tPad, B, T, tPad]);
  const injectedRows = Math.max(1, o.injectedRows);
  const injected = 2 * bytes(injectedRows * d);
  const xIn = (L + 1) * bytes(tPad * d);
  const layer = sum([T * d, T * qd, T * qd, T * cfg.nHeads, T * ff, T * ff, B * S * kvd, B * S * kvd, ...targets.map(() => T * r)]);
  const acts = (o.recompute ? 1 : L) * layer;
  const scratch = sum([
    T * d, T * kvd, T * kvd, T * ff, tPad * d, T * d, T * qd, B * S * kvd, B * S * kvd,
    T * ff, T * cfg.nHeads * 2, C * d, C * d, C * d, C * V, Math.max(1, T * r), Math.max(1, T * r),
    B * d, B * d, B * d, B * ko,
    ...(o.lora?.dropout ? [0, 0, 0].map(() => T * Math.max(d, qd, ff)) : []),
  ]);
  // The planar input gradients dq|dk|dv and dgate|dup (TrainGraph's planes, parts at 256-byte offsets).
  const planes = (words: number[]) => words.reduce((size, n) => Math.ceil((size + bytes(n)) / PLANE_ALIGN) * PLANE_ALIGN, 0);
  const grads = planes([T * qd, T * kvd, T * kvd]) + planes([T * ff, T * ff]);
  const losses = sum([tPad, B, B * ko, B * ko, 4]);
  const head = (o.headOutputs ?? 0) > 0 ? 4 * (bytes(ko * d) + bytes(ko)) : 0;
  const projShape = (p: string): [number, number] =>
    ({ q: [qd, d], k: [kvd, d], v: [kvd, d], o: [d, qd], gate: [ff, d], up: [ff, d], down: [d, ff] })[p] as [number, number];
  const lora = L * targets.reduce((a, p) => {
    const [N, K] = projShape(p);
    return a + 4 * (bytes(r * K) + bytes(N * r));
  }, 0);
  const moments = trainableTags > 0 ? 2 * bytes(injectedRows * d) : 0;
  return meta + injected + xIn + acts + scratch + grads + losses + head + lora + moments;
}
