/**
 * The app's store instances and React hooks, wired to the real engine worker.
 * (Tests build their own stores with the create* factories and a fake client.)
 */
import { useStore } from 'zustand';
import { EngineClient, createEngineWorker } from '../worker/client';
import { createGenerationStore, type GenerationState } from './generation';
import { createModelStore, type ModelState } from './model';
import { createNoticesStore, type NoticesState } from './notices';

export const client = new EngineClient(createEngineWorker());
export const noticesStore = createNoticesStore();
export const modelStore = createModelStore({ client, notices: noticesStore });
export const generationStore = createGenerationStore({ client, notices: noticesStore, model: modelStore });

client.onBroadcast(({ type, error }) => {
  noticesStore.getState().pushError(error, type === 'deviceLost' ? 'GPU' : 'Engine');
  if (type === 'deviceLost') {
    modelStore.getState().deviceLost(error.message);
    void modelStore.getState().queryGpu();
  }
});

export function useModel<T>(selector: (s: ModelState) => T): T {
  return useStore(modelStore, selector);
}
export function useGeneration<T>(selector: (s: GenerationState) => T): T {
  return useStore(generationStore, selector);
}
export function useNotices<T>(selector: (s: NoticesState) => T): T {
  return useStore(noticesStore, selector);
}

/** Errors that escape everything else still reach the banner. */
export function installGlobalErrorHandlers(win: Window = window): void {
  win.addEventListener('error', (ev) => {
    noticesStore.getState().pushError(ev.error ?? new Error(ev.message), 'The app');
  });
  win.addEventListener('unhandledrejection', (ev) => {
    noticesStore.getState().pushError(ev.reason, 'The app');
  });
}
