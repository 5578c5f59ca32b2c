/**
 * The Experiments panel's store instance, wired to the app's engine client, model and notices.
 * (It lives here rather than in state/app.ts so the panel stays one folder; tests build their own
 * with createExperimentsStore and a fake client.)
 */
import { useStore } from 'zustand';
import { client, dataStore, modelStore, noticesStore } from '../../state/app';
import { resolveUrl } from '../../state/catalog';
import { createExperimentsStore, openExperimentsDb, type ExperimentsState } from '../../state/experiments';

export const experimentsStore = createExperimentsStore({
  client,
  notices: noticesStore,
  model: modelStore,
  db: openExperimentsDb(),
  dataBaseUrl: resolveUrl('data/'),
  data: dataStore,
});

void experimentsStore.getState().loadSaved();

export function useExperiments<T>(selector: (s: ExperimentsState) => T): T {
  return useStore(experimentsStore, selector);
}
