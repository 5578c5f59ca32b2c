/**
 * A Tag-LLM tag (METHODS.md §1): a p × d block of input embeddings spliced into the sequence of a
 * frozen model. It has no vocabulary id; it exists only as rows of floats, plus the record of where
 * those floats came from, so a tag can be checked against the model it is loaded into.
 */
import type { Rng } from '../model/sampling';
import { newId } from './id';

export { embeddingFingerprint, embeddingTable } from './embedding';

/** Domain tags precede a span of specialised data; function tags end the input and may own a head. */
export type TagKind = 'domain' | 'function';

/**
 * How far a tag has been trained: 'init' = freshly initialised; 'stage1'..'stage3' = the Tag-LLM
 * protocol stages; 'prompt-tuning' = the soft-prompt baseline; 'expert' = trained on
 * self-specialization data.
 */
export type TagStage = 'init' | 'stage1' | 'stage2' | 'stage3' | 'prompt-tuning' | 'expert';
export const TAG_STAGES: readonly TagStage[] = ['init', 'stage1', 'stage2', 'stage3', 'prompt-tuning', 'expert'];

/** Where a tag's numbers came from: enough to refuse or warn when it meets another model. */
export interface TagProvenance {
  modelArch: string;
  modelName: string;
  dModel: number;
  vocabSize: number;
  /** embeddingFingerprint() of the model's token embedding table the tag was trained against. */
  embeddingFingerprint: string;
  stage: TagStage;
  /** Optimizer steps taken so far (0 for an untrained tag). */
  steps: number;
  /** Name of the dataset(s) trained on ('' when none). */
  dataset: string;
  /** Final metrics, e.g. { mse: 0.008 } or { pearson: 0.52 }. */
  metrics: Record<string, number>;
  /** ISO 8601 time the tag was created. */
  created: string;
  notes: string;
  /** How the tag was last trained (absent for untrained or older tags). */
  training?: TrainingRecord;
}

/** Everything needed to say how a tag was trained, and to train it again. */
export interface TrainingRecord {
  /** Protocol method: stage1 … stage3, prompt-tuning, lora, linear-probe, domain-in-text. */
  method: string;
  /** domain-in-text: the PEFT method that trained. */
  peft?: string;
  /** The template(s) as written (one per distinct template of a multi-task run). */
  templates: string[];
  /** Template field → data column it was mapped from ({} when the columns already had the field names). */
  fieldMapping: Record<string, string>;
  /** Every training hyperparameter (TrainHyper), steps resolved from epochs. */
  hyper: Record<string, number | string>;
  seed: number;
  tagLength: number;
  enrich: boolean;
  /** Each data set: its name, row count and datasetHash() of its rows. */
  datasets: Array<{ name: string; rows: number; hash: string }>;
  /** The model by name (a file name, never a URL) and the fingerprint of its weights (token embedding table). */
  model: { name: string; arch: string; weightsFingerprint: string };
}

export interface Tag {
  id: string;
  /** Written as <name> in templates. */
  name: string;
  kind: TagKind;
  /** Rows (tokens) the tag occupies in the sequence. */
  p: number;
  /** Embedding width = the model's d_model. */
  d: number;
  data: Float32Array<ArrayBuffer>; // [p, d] row-major
  provenance: TagProvenance;
}

/** Letters, digits, _ and -, starting with a letter or _: what a <Name> reference in a template can hold. */
const TAG_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Why `name` cannot be a tag name, or null if it can. */
export function tagNameProblem(name: string): string | null {
  if (TAG_NAME.test(name)) return null;
  return `"${name}" is not a valid tag name: use 1–64 letters, digits, _ or -, starting with a letter or _ (it is written <${name}> in templates).`;
}

/** Provenance for a tag about to be trained on `model` (the engine's config) with the given fingerprint. */
export function newProvenance(
  model: { arch: string; name: string; dModel: number; vocabSize: number },
  fingerprint: string,
  rest: Partial<Pick<TagProvenance, 'stage' | 'steps' | 'dataset' | 'metrics' | 'notes' | 'training'>> = {},
): TagProvenance {
  return {
    modelArch: model.arch,
    modelName: model.name,
    dModel: model.dModel,
    vocabSize: model.vocabSize,
    embeddingFingerprint: fingerprint,
    stage: rest.stage ?? 'init',
    steps: rest.steps ?? 0,
    dataset: rest.dataset ?? '',
    metrics: { ...(rest.metrics ?? {}) },
    created: new Date().toISOString(),
    notes: rest.notes ?? '',
    ...(rest.training ? { training: structuredClone(rest.training) } : {}),
  };
}

/** A validated tag with a fresh id. Throws on a bad name, non-positive shape, wrong data length or non-finite data. */
export function createTag(opts: { name: string; kind: TagKind; p: number; d: number; data: Float32Array<ArrayBuffer>; provenance: TagProvenance }): Tag {
  const { name, kind, p, d, data } = opts;
  const bad = tagNameProblem(name);
  if (bad) throw new Error(bad);
  if (!Number.isInteger(p) || p < 1 || !Number.isInteger(d) || d < 1) throw new Error(`Tag <${name}>: p and d must be positive integers (got p=${p}, d=${d}).`);
  if (data.length !== p * d) throw new Error(`Tag <${name}>: data has ${data.length} values, expected p·d = ${p}·${d} = ${p * d}.`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`Tag <${name}>: value ${data[i]} at row ${Math.floor(i / d)}, column ${i % d} is not finite.`);
  }
  return { id: newId('tag'), name, kind, p, d, data, provenance: opts.provenance };
}

/**
 * METHODS.md initialisation: v̄ = mean row of the embedding table, rescaled so that its norm equals
 * the mean row norm, repeated p times. The tag thus starts "in distribution" — the size of a typical
 * token, pointing at the average token — instead of somewhere the model has never seen.
 * Sums run in f64 so a 32k × 4096 table loses no precision. If the mean row is exactly zero its
 * direction is undefined and the rows stay zero.
 */
export function initTagRows(embedding: Float32Array, vocab: number, d: number, p: number): Float32Array<ArrayBuffer> {
  if (embedding.length < vocab * d) throw new Error(`Embedding table has ${embedding.length} values, expected vocab·d = ${vocab * d}.`);
  if (vocab < 1 || d < 1 || p < 1) throw new Error(`initTagRows: vocab, d and p must be positive (got ${vocab}, ${d}, ${p}).`);
  const mean = new Float64Array(d);
  let normSum = 0;
  for (let v = 0; v < vocab; v++) {
    const o = v * d;
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const x = embedding[o + j];
      mean[j] += x;
      sq += x * x;
    }
    normSum += Math.sqrt(sq);
  }
  let meanSq = 0;
  for (let j = 0; j < d; j++) {
    mean[j] /= vocab;
    meanSq += mean[j] * mean[j];
  }
  const meanNorm = normSum / vocab;
  const scale = meanSq > 0 ? meanNorm / Math.sqrt(meanSq) : 0;
  const out = new Float32Array(p * d);
  for (let r = 0; r < p; r++) for (let j = 0; j < d; j++) out[r * d + j] = mean[j] * scale;
  return out;
}

/** Rows drawn from N(0, std²) (Box–Muller on `rng`): the random init of the prompt-tuning baseline. */
export function randomTagRows(p: number, d: number, std: number, rng: Rng): Float32Array<ArrayBuffer> {
  const out = new Float32Array(p * d);
  for (let i = 0; i < out.length; i += 2) {
    // 1 − u keeps the log argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const a = 2 * Math.PI * rng.next();
    out[i] = std * r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(a);
  }
  return out;
}
