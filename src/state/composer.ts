/**
 * Composer store: prompts made of text and tag chips, run as streaming generation or as a head
 * prediction, optionally side by side (the same prompt without its tags, or a second variant).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Template } from '../tags/template';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type ComposeReply, type HeadPrediction, type PromptInfo } from '../worker/protocol';
import { DEFAULT_OPTIONS, validateOptions, type GenerationOptions } from './generation';
import { validateSplit } from './data';
import type { StoredDataset } from './db';
import type { RowsSource } from './mapping-check';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

export type Segment = { kind: 'text'; text: string } | { kind: 'tag'; name: string };

/** Text for a template: the characters the template syntax reserves are escaped. */
export function escapeTemplateText(text: string): string {
  return text.replace(/[\\<{}]/g, (c) => `\\${c}`);
}

/** Segments → a template source (tags as <Name>, text escaped, no fields). */
export function segmentsToTemplate(segs: readonly Segment[]): string {
  return segs.map((s) => (s.kind === 'tag' ? `<${s.name}>` : escapeTemplateText(s.text))).join('');
}

/** Adjacent text segments merged, empty ones dropped. */
export function normalizeSegments(segs: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    if (s.kind === 'text') {
      if (!s.text) continue;
      const last = out[out.length - 1];
      if (last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + s.text };
      else out.push({ ...s });
    } else out.push({ ...s });
  }
  return out;
}

export function withoutTags(segs: readonly Segment[]): Segment[] {
  return normalizeSegments(segs.filter((s) => s.kind === 'text'));
}

/** Inserts a tag at a character offset of the prompt's text (tags count as one character). */
export function insertTagAt(segs: readonly Segment[], name: string, offset: number): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  let done = false;
  for (const s of segs) {
    const len = s.kind === 'text' ? s.text.length : 1;
    if (!done && offset <= pos + len && s.kind === 'text') {
      const k = Math.max(0, offset - pos);
      out.push({ kind: 'text', text: s.text.slice(0, k) }, { kind: 'tag', name }, { kind: 'text', text: s.text.slice(k) });
      done = true;
    } else if (!done && offset <= pos) {
      out.push({ kind: 'tag', name }, s);
      done = true;
    } else out.push(s);
    pos += len;
  }
  if (!done) out.push({ kind: 'tag', name });
  return normalizeSegments(out);
}

/**
 * A training template as a prompt: its tags as chips, its fields filled from `row` (template field ←
 * row[fieldMap[field] ?? field]), cut before `outputField` so the model (or the head) supplies it.
 */
export function prefillSegments(template: Template, row: Record<string, string>, outputField: string, fieldMap: Record<string, string> = {}): Segment[] {
  const value = (f: string) => row[fieldMap[f] || f] ?? '';
  const out: Segment[] = [];
  for (const seg of template.segments) {
    if (seg.kind === 'field' && seg.name === outputField) break;
    if (seg.kind === 'text') out.push({ kind: 'text', text: seg.text });
    else if (seg.kind === 'tag') out.push({ kind: 'tag', name: seg.name });
    else if (seg.kind === 'tagFromField') out.push({ kind: 'tag', name: value(seg.field) });
    else out.push({ kind: 'text', text: value(seg.name) });
  }
  const segs = normalizeSegments(out);
  const last = segs[segs.length - 1];
  if (last?.kind === 'text') segs[segs.length - 1] = { kind: 'text', text: last.text.replace(/\s+$/, '') };
  return normalizeSegments(segs);
}

/** Side by side: off, the prompt without its tags, a second prompt, or the prompt's adapter vs the base model. */
export type CompareMode = 'off' | 'no-tags' | 'variant' | 'adapter';
export type ComposeMode = 'generate' | 'head';
export type ComposerStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface ComposerColumn {
  title: string;
  template: string;
  output: string;
  info: PromptInfo | null;
  prediction: HeadPrediction | null;
  finish: string | null;
  /** The library LoRA adapter this column ran with, generating or under its head (null = the base model). */
  adapter: string | null;
}

export interface ComposerState {
  a: Segment[];
  b: Segment[];
  compare: CompareMode;
  mode: ComposeMode;
  options: GenerationOptions;
  /** Library LoRA adapter per prompt (null = base), for generation and head prediction alike. */
  adapters: { a: string | null; b: string | null };
  status: ComposerStatus;
  columns: ComposerColumn[];
  error: string | null;

  setSegments(which: 'a' | 'b', segs: Segment[]): void;
  /** The library renamed tags: chips follow their tag (`rename(old)` → new name). */
  renameTags(rename: (name: string) => string): void;
  /** Appends a tag (keyboard insertion without a caret position) or inserts it at `offset`. */
  insertTag(which: 'a' | 'b', name: string, offset?: number): void;
  setCompare(c: CompareMode): void;
  setMode(m: ComposeMode): void;
  setAdapter(which: 'a' | 'b', name: string | null): void;
  setOptions(patch: Partial<GenerationOptions>): void;
  run(): Promise<void>;
  stop(): void;
  /** Empties the prompt(s) and the outputs. */
  clear(): void;
}

export type ComposerStore = StoreApi<ComposerState>;

export interface ComposerStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  random?: () => number;
}

export function createComposerStore({ client, notices, model, random = Math.random }: ComposerStoreDeps): ComposerStore {
  let controller: AbortController | null = null;

  return createStore<ComposerState>()((set, get) => ({
    a: [{ kind: 'text', text: 'Once upon a time' }],
    b: [{ kind: 'text', text: 'Once upon a time' }],
    compare: 'off',
    mode: 'generate',
    options: { ...DEFAULT_OPTIONS, maxTokens: 48, temperature: 0, seed: 0 },
    adapters: { a: null, b: null },
    status: 'idle',
    columns: [],
    error: null,

    setSegments(which, segs) {
      set({ [which]: normalizeSegments(segs) } as Pick<ComposerState, 'a' | 'b'>);
    },
    renameTags(rename) {
      const map = (segs: Segment[]) => segs.map((s) => (s.kind === 'tag' ? { kind: 'tag' as const, name: rename(s.name) } : s));
      set({ a: map(get().a), b: map(get().b) });
    },
    insertTag(which, name, offset) {
      const segs = get()[which];
      const total = segs.reduce((s, x) => s + (x.kind === 'text' ? x.text.length : 1), 0);
      set({ [which]: insertTagAt(segs, name, offset ?? total) } as Pick<ComposerState, 'a' | 'b'>);
    },
    setCompare(compare) {
      if (compare === 'no-tags' && get().mode === 'head') return;
      set({ compare });
    },
    setMode(mode) {
      // Without its tags a prompt has no function tag, so no head to read: that comparison is generation-only.
      set(mode === 'head' && get().compare === 'no-tags' ? { mode, compare: 'off' } : { mode });
    },
    setAdapter(which, name) {
      set({ adapters: { ...get().adapters, [which]: name || null } });
    },
    setOptions(patch) {
      set({ options: { ...get().options, ...patch } });
    },

    async run() {
      if (get().status === 'running') return;
      const loaded = model.getState().model;
      if (!loaded) {
        notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
        return;
      }
      const { a, b, compare, mode, options, adapters } = get();
      const invalid = validateOptions(options, loaded.config.maxSeqLen);
      if (invalid) {
        set({ error: invalid });
        notices.getState().push({ kind: 'warning', title: 'Check the options', message: invalid });
        return;
      }
      if (compare === 'adapter' && !adapters.a) {
        set({ error: 'Choose an adapter to compare with the base model.' });
        return;
      }
      const adapterA = adapters.a;
      const firstTitle = compare === 'variant' ? 'Prompt A' : compare === 'no-tags' ? 'With tags' : compare === 'adapter' ? 'With the adapter' : 'Output';
      const variants: Array<{ title: string; segs: Segment[]; adapter: string | null }> = [{ title: firstTitle, segs: a, adapter: adapterA }];
      if (compare === 'no-tags') variants.push({ title: 'Without tags', segs: withoutTags(a), adapter: adapterA });
      if (compare === 'variant') variants.push({ title: 'Prompt B', segs: b, adapter: adapters.b });
      if (compare === 'adapter') variants.push({ title: 'Base model', segs: a, adapter: null });
      if (variants.some((v) => v.segs.length === 0)) {
        set({ error: 'A prompt is empty.' });
        return;
      }
      const useAdapters = variants.some((v) => v.adapter);
      const templates = variants.map((v) => segmentsToTemplate(v.segs));
      const seed = options.seed ?? Math.floor(random() * 0x7fffffff);
      const c = new AbortController();
      controller = c;
      set({
        status: 'running',
        error: null,
        columns: variants.map((v, i) => ({ title: v.title, template: templates[i], output: '', info: null, prediction: null, finish: null, adapter: v.adapter })),
      });
      try {
        const res: ComposeReply = await client.request(
          'compose',
          {
            variants: templates,
            mode,
            maxTokens: options.maxTokens,
            temperature: options.temperature,
            topK: options.topK,
            topP: options.topP,
            seed,
            ...(useAdapters ? { adapters: variants.map((v) => v.adapter) } : {}),
          },
          {
            signal: c.signal,
            onEvent: (ev) => {
              if (controller !== c) return;
              const cols = get().columns.slice();
              const col = cols[ev.seq];
              if (!col) return;
              cols[ev.seq] = { ...col, output: col.output + ev.text };
              set({ columns: cols });
            },
          },
        );
        if (controller !== c) return;
        const cols = get().columns.map((col, i) => ({
          ...col,
          info: res.prompts[i] ?? null,
          output: res.mode === 'generate' ? (res.outputs[i]?.text ?? col.output) : col.output,
          finish: res.mode === 'generate' ? (res.outputs[i]?.finish ?? null) : null,
          prediction: res.mode === 'head' ? (res.predictions.find((p) => p.variant === i) ?? null) : null,
          // What the engine applied (the same as asked; the reply is the record).
          adapter: res.mode === 'head' ? (res.predictions.find((p) => p.variant === i)?.adapter ?? null) : col.adapter,
        }));
        const cancelled = res.mode === 'generate' && res.outputs.some((o) => o.finish === 'cancelled');
        set({ columns: cols, status: cancelled ? 'cancelled' : 'done' });
      } catch (e) {
        if (controller !== c) return;
        if (isAbortError(e) || c.signal.aborted) set({ status: 'cancelled' });
        else {
          set({ status: 'error', error: String((e as Error)?.message ?? e) });
          notices.getState().pushError(e, 'The composer run');
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
      set({ a: [], b: [], columns: [], status: 'idle', error: null });
    },
  }));
}

/**
 * The row a pre-fill fills a training template with: the dataset's first test row through its mapping
 * (its first usable row when the split is not valid, {} when the mapping is wrong). A large upload is
 * mapped and split in the mapping worker (`rowsOf`), not on the page.
 */
export async function prefillRow(ds: StoredDataset, rowsOf: RowsSource, o: { signal?: AbortSignal } = {}): Promise<Record<string, string>> {
  const got = await rowsOf(ds, validateSplit(ds.split) ? { parts: ['all'], limit: 1 } : { split: ds.split, parts: ['test', 'all'], limit: 1 }, o);
  return got.parts.test?.[0] ?? got.parts.all?.[0] ?? {};
}
