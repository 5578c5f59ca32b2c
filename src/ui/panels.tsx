/**
 * The panel registry: the left nav and the main area are built from this list. A new panel
 * (Data, Train, Composer, Matrix, Inspector, Library…) is one entry here.
 */
import type { ComponentType } from 'react';
import { useStore } from 'zustand';
import { createUiStore } from '../state/ui';
import { ComposerPanel } from './composer/ComposerPanel';
import { DataPanel } from './data/DataPanel';
import { ExperimentsPanel } from './experiments/ExperimentsPanel';
import { GeneratePanel } from './generate/GeneratePanel';
import { InspectorPanel } from './inspector/InspectorPanel';
import { LibraryPanel } from './library/LibraryPanel';
import { MatrixPanel } from './matrix/MatrixPanel';
import { ModelPanel } from './model/ModelPanel';
import { SelfSpecPanel } from './selfspec/SelfSpecPanel';
import { TrainPanel } from './train/TrainPanel';

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
  { id: 'data', label: 'Data', description: 'Import datasets, map columns to template fields, split', icon: '▤', component: DataPanel },
  { id: 'train', label: 'Train', description: 'Train tags and heads: stages 1–3 and the baselines', icon: '◭', component: TrainPanel },
  { id: 'composer', label: 'Composer', description: 'Compose tags in prompts; generate or predict with a head', icon: '✎', component: ComposerPanel },
  { id: 'matrix', label: 'Matrix', description: 'Domain × function tag combinations, trained and zero-shot', icon: '▦', component: MatrixPanel },
  { id: 'inspector', label: 'Inspector', description: 'Row norms, nearest tokens, PCA and attention of a tag', icon: '◎', component: InspectorPanel },
  { id: 'library', label: 'Library', description: 'All tags, heads and adapters; rename, delete, export, import', icon: '❏', component: LibraryPanel },
  { id: 'selfspec', label: 'Self-specialization', description: 'Seeds → instructions → retrieval responses → LoRA / tag specialisation → PubMedQA, live', icon: '⟲', component: SelfSpecPanel },
  { id: 'experiments', label: 'Experiments', description: 'Tasks × methods × seeds: run in the worker, resumable; tables, charts and curves', icon: '⚗', component: ExperimentsPanel },
];

export const uiStore = createUiStore(
  PANELS.map((p) => p.id),
  'model',
);

export function useUi<T>(selector: (s: ReturnType<typeof uiStore.getState>) => T): T {
  return useStore(uiStore, selector);
}
