/** Cached-models store: the model files the worker keeps in the Cache API, listed with delete buttons. */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { clearModelCache, deleteCachedModel, listCachedModels, type CachedModelEntry } from '../worker/model-cache';
import type { NoticesStore } from './notices';

export interface ModelCacheApi {
  list(): Promise<CachedModelEntry[]>;
  remove(url: string): Promise<boolean>;
  clear(): Promise<boolean>;
}

export const browserModelCache: ModelCacheApi = { list: listCachedModels, remove: deleteCachedModel, clear: clearModelCache };

export interface ModelCacheState {
  entries: CachedModelEntry[];
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
  refresh(): Promise<void>;
  remove(url: string): Promise<void>;
  clear(): Promise<void>;
}

export type ModelCacheStore = StoreApi<ModelCacheState>;

export function createModelCacheStore({ api = browserModelCache, notices }: { api?: ModelCacheApi; notices: NoticesStore }): ModelCacheStore {
  return createStore<ModelCacheState>()((set, get) => ({
    entries: [],
    status: 'idle',
    error: null,
    async refresh() {
      set({ status: 'loading' });
      try {
        set({ entries: await api.list(), status: 'ready', error: null });
      } catch (e) {
        set({ status: 'error', error: String((e as Error)?.message ?? e) });
      }
    },
    async remove(url) {
      try {
        await api.remove(url);
      } catch (e) {
        notices.getState().pushError(e, 'Deleting the cached file');
      }
      await get().refresh();
    },
    async clear() {
      try {
        await api.clear();
      } catch (e) {
        notices.getState().pushError(e, 'Clearing the model cache');
      }
      await get().refresh();
    },
  }));
}
