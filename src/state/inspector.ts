/**
 * Tag-inspector store: one tag's row norms, nearest vocabulary tokens and PCA view, and the
 * attention heatmap of a prompt.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EngineClientLike } from '../worker/client';
import type { AttentionReply, InspectReply } from '../worker/protocol';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

export interface InspectorState {
  tag: string | null;
  neighbours: number;
  sample: number;
  /** Other tags shown in the same PCA. */
  withTags: string[];
  data: InspectReply | null;
  status: 'idle' | 'running' | 'done' | 'error';
  error: string | null;

  /** Attention prompt (a template: tags as <Name>). */
  prompt: string;
  /** Library adapter applied to the attention prompt (null = the base model). */
  adapter: string | null;
  attention: AttentionReply | null;
  attentionStatus: 'idle' | 'running' | 'done' | 'error';
  attentionError: string | null;
  /** Layer shown, or -1 for the mean over layers. */
  layer: number;

  inspect(tag: string): Promise<void>;
  setOptions(patch: Partial<Pick<InspectorState, 'neighbours' | 'sample' | 'withTags'>>): void;
  setPrompt(p: string): void;
  setAdapter(a: string | null): void;
  setLayer(l: number): void;
  runAttention(): Promise<void>;
}

export type InspectorStore = StoreApi<InspectorState>;

/** The heatmap of one layer, or the mean over layers (layer = -1), as [T, T]. */
export function attentionLayer(a: AttentionReply, layer: number): Float32Array {
  if (layer >= 0 && layer < a.layers.length) return a.layers[layer];
  const out = new Float32Array(a.T * a.T);
  for (const l of a.layers) for (let i = 0; i < out.length; i++) out[i] += l[i] / a.layers.length;
  return out;
}

export function createInspectorStore({ client, notices, model }: { client: EngineClientLike; notices: NoticesStore; model: ModelStore }): InspectorStore {
  let seq = 0;
  let attnSeq = 0;
  return createStore<InspectorState>()((set, get) => ({
    tag: null,
    neighbours: 5,
    sample: 400,
    withTags: [],
    data: null,
    status: 'idle',
    error: null,
    prompt: 'Once upon a time',
    adapter: null,
    attention: null,
    attentionStatus: 'idle',
    attentionError: null,
    layer: -1,

    async inspect(tag) {
      const my = ++seq;
      set({ tag, status: 'running', error: null });
      if (!model.getState().model) {
        set({ status: 'error', error: 'Load a model first: the inspector compares the tag with its vocabulary.' });
        return;
      }
      try {
        const data = await client.request('inspectTag', { name: tag, neighbours: get().neighbours, sample: get().sample, with: get().withTags.filter((t) => t !== tag) });
        if (my === seq) set({ data, status: 'done' });
      } catch (e) {
        if (my === seq) set({ status: 'error', error: String((e as Error)?.message ?? e), data: null });
      }
    },

    setOptions(patch) {
      set(patch);
      // A different set of tags in the PCA: recompute what is shown.
      const tag = get().tag;
      if ('withTags' in patch && tag && get().status !== 'running') void get().inspect(tag);
    },
    setPrompt(prompt) {
      set({ prompt });
    },
    setAdapter(adapter) {
      set({ adapter });
    },
    setLayer(layer) {
      set({ layer });
    },

    async runAttention() {
      const my = ++attnSeq;
      if (!model.getState().model) {
        notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
        return;
      }
      set({ attentionStatus: 'running', attentionError: null });
      try {
        const attention = await client.request('attention', { template: get().prompt, adapter: get().adapter });
        if (my === attnSeq) set({ attention, attentionStatus: 'done', layer: Math.min(get().layer, attention.layers.length - 1) });
      } catch (e) {
        if (my === attnSeq) set({ attentionStatus: 'error', attentionError: String((e as Error)?.message ?? e) });
      }
    },
  }));
}
