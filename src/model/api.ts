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

export interface GenerateRequest extends SamplingOptions {
  /** One prompt, or several decoded in parallel (one KV-cache slot each). Strings are tokenized with BOS. */
  prompts: Array<string | number[]>;
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
  dispose(): void;
}
