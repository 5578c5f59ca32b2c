/**
 * User-facing notices: every error the app meets ends up here and is shown in a banner
 * (never a crash, never only in the console).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';

export type NoticeKind = 'error' | 'warning' | 'info';

export interface Notice {
  id: number;
  kind: NoticeKind;
  title: string;
  message: string;
  /** The error's class name (ModelFormatError, GpuUnavailableError…), when it came from one. */
  errorName?: string;
}

export interface NoticesState {
  notices: Notice[];
  push(n: Omit<Notice, 'id'>): number;
  /** Shows an error with a title derived from its name. `context` says what was being done. */
  pushError(e: unknown, context?: string): number;
  dismiss(id: number): void;
  clear(): void;
}

export type NoticesStore = StoreApi<NoticesState>;

const TITLES: Record<string, string> = {
  GpuUnavailableError: 'WebGPU is not available',
  GpuDeviceLostError: 'The GPU device was lost',
  GpuOutOfMemoryError: 'Not enough GPU memory',
  GpuPipelineError: 'A GPU kernel failed to compile',
  ModelFormatError: 'The model file could not be read',
  TokenizerError: 'The tokenizer could not be read',
  NetworkError: 'Download failed',
  WorkerError: 'The engine stopped',
  ProtocolError: 'Engine communication error',
  AbortError: 'Cancelled',
};

export function errorTitle(name: string | undefined, context?: string): string {
  if (name && TITLES[name]) return TITLES[name];
  return context ? `${context} failed` : 'Something went wrong';
}

export function errorMessage(e: unknown): { name: string; message: string } {
  if (typeof e === 'object' && e !== null) {
    const name = String((e as { name?: unknown }).name ?? 'Error') || 'Error';
    const message = String((e as { message?: unknown }).message ?? '') || String(e);
    return { name, message };
  }
  return { name: 'Error', message: String(e) };
}

const MAX_NOTICES = 5;

export function createNoticesStore(): NoticesStore {
  let nextId = 1;
  return createStore<NoticesState>()((set, get) => ({
    notices: [],
    push(n) {
      const id = nextId++;
      // Identical repeats replace the older one instead of stacking up.
      const rest = get().notices.filter((o) => !(o.title === n.title && o.message === n.message));
      set({ notices: [...rest, { ...n, id }].slice(-MAX_NOTICES) });
      return id;
    },
    pushError(e, context) {
      const { name, message } = errorMessage(e);
      return get().push({ kind: 'error', title: errorTitle(name, context), message, errorName: name });
    },
    dismiss(id) {
      set({ notices: get().notices.filter((n) => n.id !== id) });
    },
    clear() {
      set({ notices: [] });
    },
  }));
}
