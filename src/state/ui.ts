/** UI navigation state: which panel is open, kept in the URL hash (#/model, #/generate…). */
import { createStore, type StoreApi } from 'zustand/vanilla';

export interface UiState {
  panel: string;
  setPanel(id: string): void;
}

export type UiStore = StoreApi<UiState>;

export function panelFromHash(hash: string, known: readonly string[], fallback: string): string {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return known.includes(id) ? id : fallback;
}

/** `known` are the panel ids; the hash is only followed when it names one. */
export function createUiStore(known: readonly string[], fallback: string, win: Window | undefined = globalThis.window): UiStore {
  const store = createStore<UiState>()((set) => ({
    panel: win ? panelFromHash(win.location.hash, known, fallback) : fallback,
    setPanel(id) {
      if (!known.includes(id)) return;
      set({ panel: id });
      if (win && panelFromHash(win.location.hash, known, '') !== id) win.history.replaceState(null, '', `#/${id}`);
    },
  }));
  win?.addEventListener('hashchange', () => {
    const id = panelFromHash(win.location.hash, known, store.getState().panel);
    if (id !== store.getState().panel) store.setState({ panel: id });
  });
  return store;
}
