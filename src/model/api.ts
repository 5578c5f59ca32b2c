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
}

export interface GenerateResult {
  /** Per prompt: generated ids (prompt excluded) and text. */
  outputs: Array<{ ids: number[]; text: string; finish: 'stop' | 'length' | 'cancelled' }>;
  timings: { prefillTokens: number; prefillMs: number; decodeTokens: number; decodeMs: number };
}

/** Streaming callback: one call per sequence per new token. */
export type OnToken = (ev: { seq: number; id: number; text: string }) => void;

export interface LoadedModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly name: string;
  memory(): MemoryReport;
  generate(req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult>;
  /** Final hidden states (after the last norm) at `positions` of a prompt, f32 [P, d]: what heads read. */
  hiddenAt(prompt: TaggedPrompt | number[], positions: number[]): Promise<Float32Array>;
  /** Head-averaged attention probabilities per layer, each f32 [T, T] (row = query, column = key). */
  attentionMap(prompt: TaggedPrompt | number[]): Promise<{ T: number; layers: Float32Array[] }>;
  dispose(): void;
}
