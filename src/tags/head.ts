/**
 * Regression / classification heads of function tags (METHODS.md §1), and the LoRA adapter type of
 * the LoRA baseline. Numbers are not generated digit by digit: the head maps the final hidden state
 * (after the last norm) at the last row of the function tag to k outputs. Training lives elsewhere;
 * this file holds the data and the arithmetic shared by training and inference.
 */
import type { Rng } from '../model/sampling';
import { projShape } from '../model/adapters';
import type { ModelConfig } from '../model/types';
import { newId } from './id';
import type { TrainingRecord } from './tag';

export type HeadKind = 'regression' | 'classification';

export interface Head {
  id: string;
  /** The function tag it belongs to (or a baseline's name, e.g. a linear probe). */
  name: string;
  kind: HeadKind;
  /** Outputs: 1 for scalar regression, the number of classes for classification. */
  k: number;
  d: number;
  W: Float32Array<ArrayBuffer>; // [k, d]
  b: Float32Array<ArrayBuffer>; // [k]
  /**
   * Regression: the head predicts (y − labelMean) / labelStd, per output; training labels are
   * standardised with these and predictions mapped back. Stored with the head so a prediction is
   * meaningful wherever the head goes. Classification: zeros and ones (unused).
   */
  labelMean: number[];
  labelStd: number[];
  /** Classification: class names, index = output. */
  classes?: string[];
  /** How it was trained (absent for imported or older heads). */
  training?: TrainingRecord;
}

/** Training labels: numbers (k = 1), number vectors of length k, or class names. */
export type HeadLabels = readonly number[] | readonly (readonly number[])[] | readonly string[];

/**
 * A head with W ~ N(0, (0.1/√d)²) and b = 0. The 1/√d keeps the initial output near ±0.1
 * standardised units whatever d is (the normed hidden state has entries of size ~1), so early
 * gradients do not blow up the tags; b = 0 because standardised labels have mean 0.
 * `labels` (optional) give the standardisation (regression) or the class names (classification).
 */
export function createHead(kind: HeadKind, k: number, d: number, rng: Rng, labels?: HeadLabels, name = ''): Head {
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(d) || d < 1) throw new Error(`createHead: k and d must be positive integers (got k=${k}, d=${d}).`);
  const std = 0.1 / Math.sqrt(d);
  const W = new Float32Array(k * d);
  for (let i = 0; i < W.length; i++) W[i] = std * gaussian(rng);
  const head: Head = { id: newId('head'), name, kind, k, d, W, b: new Float32Array(k), labelMean: Array(k).fill(0), labelStd: Array(k).fill(1) };
  if (!labels || labels.length === 0) return head;
  if (kind === 'classification') {
    if (labels.every((l) => typeof l === 'string')) {
      const classes = [...new Set(labels as readonly string[])].sort();
      if (classes.length !== k) throw new Error(`createHead: ${classes.length} classes in the labels (${classes.join(', ')}), but k = ${k}.`);
      head.classes = classes;
    }
    return head;
  }
  const { mean, std: s } = labelStats(labels, k);
  head.labelMean = mean;
  head.labelStd = s;
  return head;
}

/** Per-output mean and standard deviation of numeric labels; a constant output gets std 1 (nothing to scale). */
function labelStats(labels: HeadLabels, k: number): { mean: number[]; std: number[] } {
  const rows = labels.map((l, i) => {
    const v = typeof l === 'number' ? [l] : Array.isArray(l) ? (l as number[]) : null;
    if (!v || v.length !== k || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new Error(`createHead: label ${i} (${typeof l === 'number' ? l : JSON.stringify(l)}) is not ${k === 1 ? 'a finite number' : `${k} finite numbers`}.`);
    }
    return v;
  });
  const mean = Array.from({ length: k }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const std = mean.map((m, j) => {
    const sd = Math.sqrt(rows.reduce((s, r) => s + (r[j] - m) ** 2, 0) / rows.length);
    return sd > 0 ? sd : 1;
  });
  return { mean, std };
}

/** Labels in the head's units: (y − mean) / std per output. `y` has k entries. */
export function standardize(head: Head, y: readonly number[]): number[] {
  return y.map((v, j) => (v - head.labelMean[j]) / head.labelStd[j]);
}

/** Head outputs back in label units: z · std + mean per output. */
export function unstandardize(head: Head, z: ArrayLike<number>): number[] {
  return Array.from(z, (v, j) => v * head.labelStd[j] + head.labelMean[j]);
}

/** Raw outputs W·h + b (standardised units / logits) for one hidden state h [d]. */
export function applyHead(head: Head, hidden: ArrayLike<number>): Float32Array<ArrayBuffer> {
  if (hidden.length !== head.d) throw new Error(`Head ${head.name}: hidden state has ${hidden.length} values, expected d = ${head.d}.`);
  const out = new Float32Array(head.k);
  for (let c = 0; c < head.k; c++) {
    let s = head.b[c];
    const o = c * head.d;
    for (let j = 0; j < head.d; j++) s += head.W[o + j] * hidden[j];
    out[c] = s;
  }
  return out;
}

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** The linear layers of a decoder block that LoRA can adapt. */
export type LoraTarget = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export const LORA_TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** One adapted matrix: W' = W + (alpha / rank) · B·A. */
export interface LoraPair {
  A: Float32Array<ArrayBuffer>; // [r, in]
  B: Float32Array<ArrayBuffer>; // [out, r]
}

/** The LoRA baseline (rank 8, α 16 in the paper). Trained elsewhere; stored in the tag library. */
export interface LoraAdapter {
  id: string;
  name: string;
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  /** Per decoder layer: target name (a LoraTarget) → its pair; every target of `targets` in every layer. */
  layers: Array<Record<string, LoraPair>>;
  /** Dropout it was trained with (PEFT's lora_dropout), when known. */
  dropout?: number;
  /** The base model it was trained on (PEFT's base_model_name_or_path), when known. */
  baseModel?: string;
  /** How it was trained here (absent for PEFT imports and older adapters). */
  training?: TrainingRecord;
}

/** [in, out] of each adaptable matrix of a model (the engine's projShape, keyed by target). */
export function loraShapes(cfg: ModelConfig): Record<LoraTarget, { in: number; out: number }> {
  return Object.fromEntries(
    LORA_TARGETS.map((t) => {
      const [out, inFeatures] = projShape(cfg, t);
      return [t, { in: inFeatures, out }];
    }),
  ) as Record<LoraTarget, { in: number; out: number }>;
}
