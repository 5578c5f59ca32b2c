/**
 * The engine's public API: what the worker, the CLI and the method layer call.
 * Implemented in src/model/model.ts (loadModel) and src/model/generate.ts.
 */
import type { ModelConfig } from './types';
import type { Tokenizer } from './tokenizer-api';

export interface LoadProgress {
  phase: 'download' | 'parse' | 'upload' | 'compile' | 'ready';
  /** Bytes (download/upload) or steps done, and the total when known (else 0). */
  loaded: number;
  total: number;
  message?: string;
}

export interface MemoryReport {
  weights: number;
  kv: number;
  scratch: number;
  train: number;
  total: number;
}

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

/**
 * A prompt with injected embedding rows (tags): token ids, and per position the row of `injected`
 * that replaces the token's embedding (-1 = use the vocabulary). Built by src/tags/prompt.ts.
 */
export interface TaggedPrompt {
  ids: number[];
  inject: number[];
  /** f32 [rows, d] */
  injected: Float32Array;
  /** Per position: first key it may attend to (isolation mask); default 0. */
  start?: number[];
}

export interface GenerateRequest extends SamplingOptions {
  /** One prompt, or several decoded in parallel (one KV-cache slot each). Strings are tokenized with BOS. */
  prompts: Array<string | number[] | TaggedPrompt>;
  maxTokens?: number;
  stopTokens?: number[];
  stopStrings?: string[];
  signal?: AbortSignal;
  /**
   * Per prompt: the name of a resident LoRA adapter (LoadedModel.setAdapter) applied to that slot,
   * or null/undefined for the base model. Slots of one batch may use different adapters.
   */
  adapters?: Array<string | null | undefined>;
  /**
   * Mixture decoding (self-specialization §2.3): prompts with the same `group[i]` decode in lockstep and
   * share ONE continuation, the next token drawn from Σ_j weights[j] · softmax(logits_j / T) over the
   * group's members (weights per prompt, normalised within the group). Mixing and sampling run on the
   * GPU; only chosen ids (and each member's probability of the chosen token) come back.
   * All members of a group receive the same output; `posterior` reports per token the share of each member.
   */
  mixture?: { group: number[]; weights: number[] };
  /**
   * Contrastive decoding (Li et al. 2023) over pairs of prompts: prompts[expert[i]] and prompts[amateur[i]]
   * share one continuation; the next token maximises log p_exp − log p_ama over {t : p_exp(t) ≥ alpha · max p_exp}
   * (greedy when temperature is 0, else sampled from softmax((log p_exp − log p_ama)/T) over that set).
   * Usually expert = adapter/tags on, amateur = base. alpha defaults to 0.1.
   * With `mixture` too, expert[i] and amateur[i] are mixture GROUP ids of equal size: p_exp and p_ama are
   * then those groups' mixtures (each at T = 1), and every member's `posterior` is its share within its
   * own group (e.g. the same k passage prompts with the specialised adapter vs the base).
   */
  contrastive?: { expert: number[]; amateur: number[]; alpha?: number };
}

/** A LoRA adapter as the engine takes it (structurally the tag library's LoraAdapter). */
export interface AdapterWeights {
  rank: number;
  alpha: number;
  /** Subset of 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down'. */
  targets: string[];
  /** Per decoder layer: target → { A: f32 [r, in], B: f32 [out, r] }. */
  layers: Array<Record<string, { A: Float32Array; B: Float32Array }>>;
}

export interface GenerateResult {
  /** Per prompt: generated ids (prompt excluded) and text. */
  outputs: Array<{
    ids: number[];
    text: string;
    finish: 'stop' | 'length' | 'cancelled';
    /** Mixture decoding only: per generated token, this member's posterior share w_j·p_j(y_t) / Σ_i w_i·p_i(y_t). */
    posterior?: number[];
  }>;
  timings: { prefillTokens: number; prefillMs: number; decodeTokens: number; decodeMs: number };
}

/**
 * Streaming callback: one call per sequence per new token. `posterior` (mixture decoding only) is this
 * member's share for this token, the same number that ends up in `outputs[seq].posterior`.
 */
export type OnToken = (ev: { seq: number; id: number; text: string; posterior?: number }) => void;

export interface LoadedModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly name: string;
  /** What it was loaded for: decoding slots (prompts per generate()), KV positions per slot, tokens per forward chunk. */
  readonly shape: { slots: number; maxContext: number; maxTokens: number };
  memory(): MemoryReport;
  generate(req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult>;
  /** Makes an adapter resident on the GPU under `name` (replacing one of that name); the base weights are untouched. */
  setAdapter(name: string, weights: AdapterWeights): void;
  removeAdapter(name: string): void;
  adapterNames(): string[];
  /**
   * Final hidden states (after the last norm) at `positions` of a prompt, f32 [P, d]: what heads read.
   * `adapter`: a resident adapter (setAdapter) applied to every token, as generate() does; none = base.
   */
  hiddenAt(prompt: TaggedPrompt | number[], positions: number[], opts?: { adapter?: string | null }): Promise<Float32Array>;
  /** Head-averaged attention probabilities per layer, each f32 [T, T] (row = query, column = key), with `adapter` applied as hiddenAt. */
  attentionMap(prompt: TaggedPrompt | number[], opts?: { adapter?: string | null }): Promise<{ T: number; layers: Float32Array[] }>;
  dispose(): void;
}
