/**
 * Generation store: prompt, sampling options, the streaming output and its speed, Stop.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { GenerateResult } from '../model/api';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type GenerateParams } from '../worker/protocol';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

export interface GenerationOptions {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** 0 = no top-k cut. */
  topK: number;
  /** null = a fresh random seed each run (shown after the run). */
  seed: number | null;
}

export const DEFAULT_OPTIONS: GenerationOptions = {
  maxTokens: 128,
  temperature: 0.8,
  topP: 0.9,
  topK: 40,
  seed: null,
};

export type GenerationStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface GenerationStats {
  tokens: number;
  /** Decode speed: live while streaming, then from the engine's timings. */
  tokensPerSec: number | null;
  prefillTokens?: number;
  prefillMs?: number;
  decodeMs?: number;
  /** Time from Generate to the first token (ms). */
  firstTokenMs?: number;
  finish?: GenerateResult['outputs'][number]['finish'];
}

export interface GenerationState {
  prompt: string;
  options: GenerationOptions;
  /** The library LoRA adapter to generate with (null = the base model). */
  adapter: string | null;
  /** The adapter of the current/last run (null = base), shown with its output. */
  runAdapter: string | null;
  status: GenerationStatus;
  /** The prompt of the current/last run, shown before the output. */
  runPrompt: string;
  /** Generated text of the current/last run (prompt excluded). */
  output: string;
  /** Seed actually used by the last run. */
  seedUsed: number | null;
  stats: GenerationStats;
  error: string | null;

  setPrompt(prompt: string): void;
  setAdapter(name: string | null): void;
  setOptions(patch: Partial<GenerationOptions>): void;
  resetOptions(): void;
  /** Starts a run with the current prompt and options; resolves when it ends. */
  generate(): Promise<void>;
  stop(): void;
  clear(): void;
}

export type GenerationStore = StoreApi<GenerationState>;

export interface GenerationStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  now?: () => number;
  random?: () => number;
}

/** Returns a message for the first invalid option, or null. */
export function validateOptions(o: GenerationOptions, maxContext?: number): string | null {
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) return 'Max tokens must be a whole number ≥ 1.';
  if (maxContext && o.maxTokens > maxContext) return `Max tokens must be at most the context length (${maxContext}).`;
  if (!Number.isFinite(o.temperature) || o.temperature < 0) return 'Temperature must be ≥ 0 (0 = greedy).';
  if (!Number.isFinite(o.topP) || o.topP <= 0 || o.topP > 1) return 'Top-p must be in (0, 1].';
  if (!Number.isInteger(o.topK) || o.topK < 0) return 'Top-k must be a whole number ≥ 0 (0 = off).';
  if (o.seed !== null && (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff))
    return 'Seed must be a whole number between 0 and 4294967295, or empty for random.';
  return null;
}

const EMPTY_STATS: GenerationStats = { tokens: 0, tokensPerSec: null };

export function createGenerationStore({
  client,
  notices,
  model,
  now = () => performance.now(),
  random = Math.random,
}: GenerationStoreDeps): GenerationStore {
  let controller: AbortController | null = null;

  return createStore<GenerationState>()((set, get) => ({
    prompt: 'Once upon a time',
    options: { ...DEFAULT_OPTIONS },
    adapter: null,
    runAdapter: null,
    status: 'idle',
    runPrompt: '',
    output: '',
    seedUsed: null,
    stats: { ...EMPTY_STATS },
    error: null,

    setPrompt(prompt) {
      set({ prompt });
    },
    setAdapter(adapter) {
      set({ adapter: adapter || null });
    },
    setOptions(patch) {
      set({ options: { ...get().options, ...patch } });
    },
    resetOptions() {
      set({ options: { ...DEFAULT_OPTIONS } });
    },

    async generate() {
      const { prompt, options, status, adapter } = get();
      if (status === 'running') return;
      const loaded = model.getState().model;
      if (!loaded) {
        notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
        return;
      }
      const invalid = validateOptions(options, loaded.config.maxSeqLen);
      if (invalid) {
        set({ error: invalid });
        notices.getState().push({ kind: 'warning', title: 'Check the generation options', message: invalid });
        return;
      }
      const seed = options.seed ?? Math.floor(random() * 0x7fffffff);
      const params: GenerateParams = {
        prompts: [prompt],
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        topP: options.topP,
        topK: options.topK,
        seed,
        ...(adapter ? { adapters: [adapter] } : {}),
      };
      const c = new AbortController();
      controller = c;
      const t0 = now();
      let firstAt: number | null = null;
      let tokens = 0;
      set({ status: 'running', runPrompt: prompt, runAdapter: adapter, output: '', seedUsed: seed, stats: { ...EMPTY_STATS }, error: null });
      try {
        const res = await client.request('generate', params, {
          signal: c.signal,
          onEvent: (ev) => {
            if (controller !== c || ev.seq !== 0) return;
            const t = now();
            tokens++;
            if (firstAt === null) firstAt = t;
            // Live decode speed excludes the first token (it carries the prefill).
            const tps = tokens > 1 && t > firstAt ? ((tokens - 1) * 1000) / (t - firstAt) : null;
            set({
              output: get().output + ev.text,
              stats: { tokens, tokensPerSec: tps, firstTokenMs: firstAt - t0 },
            });
          },
        });
        if (controller !== c) return;
        const out = res.outputs[0];
        const tm = res.timings;
        set({
          status: out?.finish === 'cancelled' ? 'cancelled' : 'done',
          // The engine's final text is authoritative (pieces of multi-byte characters get merged).
          output: out ? out.text : get().output,
          stats: {
            tokens: out ? out.ids.length : tokens,
            tokensPerSec: tm.decodeMs > 0 ? (tm.decodeTokens * 1000) / tm.decodeMs : get().stats.tokensPerSec,
            prefillTokens: tm.prefillTokens,
            prefillMs: tm.prefillMs,
            decodeMs: tm.decodeMs,
            firstTokenMs: firstAt !== null ? firstAt - t0 : undefined,
            finish: out?.finish,
          },
        });
        model.getState().setMemory(res.memory);
      } catch (e) {
        if (controller !== c) return;
        if (isAbortError(e) || c.signal.aborted) {
          set({ status: 'cancelled', stats: { ...get().stats, finish: 'cancelled' } });
        } else {
          set({ status: 'error', error: String((e as Error)?.message ?? e) });
          notices.getState().pushError(e, 'Generation');
        }
      } finally {
        if (controller === c) controller = null;
      }
    },

    stop() {
      controller?.abort();
    },

    clear() {
      if (get().status === 'running') get().stop();
      set({ runPrompt: '', runAdapter: null, output: '', stats: { ...EMPTY_STATS }, status: 'idle', error: null, seedUsed: null });
    },
  }));
}
