/**
 * The panel registry: the left nav and the main area are built from this list. A new panel
 * (Data, Train, Composer, Matrix, Inspector, Library…) is one entry here.
 */
import type { ComponentType } from 'react';
import { useStore } from 'zustand';
import { createUiStore } from '../state/ui';
import { GeneratePanel } from './generate/GeneratePanel';
import { ModelPanel } from './model/ModelPanel';

export interface PanelDef {
  id: string;
  label: string;
  /** One line under the title and in the nav tooltip. */
  description: string;
  /** A short glyph shown in the nav. */
  icon: string;
  component: ComponentType;
}

export const PANELS: readonly PanelDef[] = [
  { id: 'model', label: 'Model', description: 'GPU, model loading and memory', icon: '◆', component: ModelPanel },
  { id: 'generate', label: 'Generate', description: 'Sample text from the loaded model', icon: '▶', component: GeneratePanel },
];

export const uiStore = createUiStore(
  PANELS.map((p) => p.id),
  'model',
);

export function useUi<T>(selector: (s: ReturnType<typeof uiStore.getState>) => T): T {
  return useStore(uiStore, selector);
}
