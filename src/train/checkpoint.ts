/**
 * Training checkpoints: everything needed to continue a run exactly — the run's spec (datasets,
 * template, hyperparameters), the tag library as it was when the run started, and the trainer's
 * state (parameters, Adam moments, step, data order, loss log). Resuming rebuilds the run from the
 * spec (same seeded split and order), restores the state, and continues the same loss curve.
 */
import type { Engine } from '../model/model';
import { base64ToF32, f32ToBase64 } from '../tags/f32-base64';
import { TagLibrary } from '../tags/library';
import { exportLibrary, importLibrary, type LibraryFile } from '../tags/library-format';
import { prepareRun, type PreparedRun, type RunSpec } from './protocol';
import type { TrainState } from './trainer';

export const CHECKPOINT_FORMAT = 'tag-workbench/checkpoint';

export interface CheckpointFile {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  created: string;
  model: { name: string; arch: string; dModel: number; vocabSize: number };
  spec: Omit<RunSpec, 'library'>;
  library: LibraryFile;
  state: Omit<TrainState, 'tensors'> & { tensors: Record<string, { n: number; data: string }> };
}

/** The library snapshot must be taken when the run is prepared (before training changes it). */
export function checkpointOf(engine: Engine, spec: RunSpec, librarySnapshot: LibraryFile, state: TrainState): CheckpointFile {
  const { library: _omit, ...rest } = spec;
  void _omit;
  return {
    format: CHECKPOINT_FORMAT,
    version: 1,
    created: new Date().toISOString(),
    model: { name: engine.name, arch: engine.config.arch, dModel: engine.config.dModel, vocabSize: engine.config.vocabSize },
    spec: rest,
    library: librarySnapshot,
    state: {
      ...state,
      tensors: Object.fromEntries(Object.entries(state.tensors).map(([k, v]) => [k, { n: v.length, data: f32ToBase64(v) }])),
    },
  };
}

/** Snapshot of a library for checkpointing (call before training starts). */
export function snapshotLibrary(lib: TagLibrary): LibraryFile {
  return exportLibrary(lib);
}

/**
 * Rebuilds the run a checkpoint came from and restores its state. The library given is filled with the
 * checkpoint's snapshot (its tags as they were when the run began), so stages chain the same way.
 */
export async function resumeRun(engine: Engine, file: unknown, library = new TagLibrary()): Promise<{ run: PreparedRun; spec: RunSpec }> {
  const cp = validate(file);
  if (cp.model.dModel !== engine.config.dModel || cp.model.vocabSize !== engine.config.vocabSize) {
    throw new Error(
      `This checkpoint was made with ${cp.model.name} (d_model ${cp.model.dModel}, vocabulary ${cp.model.vocabSize}); ` +
        `the loaded model has d_model ${engine.config.dModel}, vocabulary ${engine.config.vocabSize}. Load the model it was trained on.`,
    );
  }
  const imported = importLibrary(cp.library, { dModel: engine.config.dModel, fingerprint: '' }, { acceptFingerprintMismatch: true });
  if (imported.status === 'refused') throw new Error(`Checkpoint library: ${imported.error}`);
  if (imported.status === 'ok') library.merge({ tags: imported.tags, heads: imported.heads, adapters: imported.adapters }, 'replace');
  const spec: RunSpec = { ...cp.spec, library };
  const run = await prepareRun(engine, spec);
  const tensors: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(cp.state.tensors)) {
    try {
      tensors[k] = base64ToF32(v.data, v.n);
    } catch (e) {
      run.dispose();
      throw new Error(`Checkpoint tensor ${k}: ${(e as Error).message}`);
    }
  }
  try {
    run.trainer.restore({ ...cp.state, tensors });
  } catch (e) {
    run.dispose();
    throw e;
  }
  return { run, spec };
}

function validate(file: unknown): CheckpointFile {
  const f = file as Partial<CheckpointFile> | null;
  if (!f || typeof f !== 'object' || f.format !== CHECKPOINT_FORMAT) throw new Error('Not a Tag Workbench checkpoint (missing format "tag-workbench/checkpoint").');
  if (f.version !== 1) throw new Error(`Checkpoint version ${String(f.version)} is not supported (this workbench reads version 1).`);
  if (!f.spec || !f.state || !f.library || !f.model) throw new Error('Checkpoint is incomplete: spec, state, library and model are required.');
  return f as CheckpointFile;
}
