/**
 * The Self-specialization panel's store instance, wired to the app's engine client, model and
 * notices (tests build their own with createSelfSpecStore and a fake client).
 */
import { useStore } from 'zustand';
import { client, modelStore, noticesStore } from '../../state/app';
import { resolveUrl } from '../../state/catalog';
import { createSelfSpecStore, type SelfSpecState } from '../../state/selfspec';

export const selfspecStore = createSelfSpecStore({ client, notices: noticesStore, model: modelStore, dataBaseUrl: resolveUrl('data/') });

export function useSelfSpec<T>(selector: (s: SelfSpecState) => T): T {
  return useStore(selfspecStore, selector);
}
