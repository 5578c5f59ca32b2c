/**
 * The typed message protocol between the UI thread and the engine worker.
 *
 * Every request carries an `id` chosen by the client. The worker answers each request with exactly
 * one terminal message (`result` or `error`) and, before that, any number of `event` messages
 * carrying the same id (load progress, streamed tokens). Messages with `id: 0` are unsolicited
 * broadcasts (`fatal`, `deviceLost`).
 *
 * Everything here must survive structuredClone: plain data, Files, no functions, no class instances.
 */
import type { GenerateResult, LoadProgress, MemoryReport, SamplingOptions } from '../model/api';
import type { ModelConfig } from '../model/types';

// ---------------------------------------------------------------------------------------------
// Payloads

/** Where the model comes from. URLs must be absolute (the worker's base URL is its script's). */
export type ModelSourceSpec =
  | { kind: 'url'; url: string; tokenizerUrl?: string; name?: string }
  | { kind: 'file'; file: File; tokenizerFile?: File };

export interface GpuInfo {
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: Record<string, number>;
}

export interface ModelInfo {
  name: string;
  config: ModelConfig;
  memory: MemoryReport;
  tokenizer: { vocabSize: number; bosId: number | null; eosId: number | null };
  /** Wall time of the whole load in ms, measured in the worker. */
  loadMs: number;
}

export interface LoadModelParams {
  source: ModelSourceSpec;
  maxContext?: number;
  slots?: number;
}

/** The engine's GenerateRequest minus the AbortSignal (cancel by request id instead). */
export interface GenerateParams extends SamplingOptions {
  prompts: Array<string | number[]>;
  maxTokens?: number;
  stopTokens?: number[];
  stopStrings?: string[];
}

export interface TokenEvent {
  seq: number;
  id: number;
  text: string;
}

export interface GenerateReply extends GenerateResult {
  memory: MemoryReport;
}

/** An error as it crosses the worker boundary: name (for the UI to classify) and message. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

// ---------------------------------------------------------------------------------------------
// The request table: params, result and streamed event type of each request kind.

export interface RequestMap {
  gpuInfo: { params: Record<string, never>; result: GpuInfo; event: never };
  loadModel: { params: LoadModelParams; result: ModelInfo; event: LoadProgress };
  unloadModel: { params: Record<string, never>; result: { unloaded: boolean }; event: never };
  generate: { params: GenerateParams; result: GenerateReply; event: TokenEvent };
  /** Aborts the request `target` (its AbortController in the worker). */
  cancel: { params: { target: number }; result: { cancelled: boolean }; event: never };
}

export type RequestType = keyof RequestMap;
export type ParamsOf<T extends RequestType> = RequestMap[T]['params'];
export type ResultOf<T extends RequestType> = RequestMap[T]['result'];
export type EventOf<T extends RequestType> = RequestMap[T]['event'];

export const REQUEST_TYPES: readonly RequestType[] = ['gpuInfo', 'loadModel', 'unloadModel', 'generate', 'cancel'];

// ---------------------------------------------------------------------------------------------
// Messages

export type RequestMessage = {
  [T in RequestType]: { id: number; type: T; params: ParamsOf<T> };
}[RequestType];

export type ResponseMessage =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; error: SerializedError }
  | { id: number; type: 'event'; event: unknown };

export type BroadcastMessage =
  | { id: 0; type: 'fatal'; error: SerializedError }
  | { id: 0; type: 'deviceLost'; error: SerializedError };

export type WorkerMessage = ResponseMessage | BroadcastMessage;

// ---------------------------------------------------------------------------------------------
// Errors

/** Turns anything thrown into a cloneable {name, message}. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
    const err = e as Error;
    const name = typeof err.name === 'string' && err.name ? err.name : 'Error';
    const message = typeof err.message === 'string' && err.message ? err.message : String(e);
    const out: SerializedError = { name, message };
    if (typeof err.stack === 'string') out.stack = err.stack;
    return out;
  }
  return { name: 'Error', message: typeof e === 'string' ? e : safeString(e) };
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** An error rebuilt on the UI side: `name` is the worker-side class name (ModelFormatError, AbortError…). */
export class EngineError extends Error {
  constructor(name: string, message: string, readonly remoteStack?: string) {
    super(message);
    this.name = name;
  }
  static from(e: SerializedError): EngineError {
    return new EngineError(e.name, e.message, e.stack);
  }
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** An AbortError that works in browsers, workers and Node. */
export function abortError(message = 'Cancelled'): Error {
  if (typeof DOMException !== 'undefined') return new DOMException(message, 'AbortError');
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}
