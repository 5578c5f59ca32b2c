/**
 * Training checkpoints: everything needed to continue a run exactly — the run's spec (datasets,
 * template, hyperparameters), the tag library as it was when the run started, and the trainer's
 * state (parameters, Adam moments, step, data order, loss log). Resuming rebuilds the run from the
 * spec (same seeded split and order), restores the state, and continues the same loss curve.
 */
import { z } from 'zod';
import type { Engine } from '../model/model';
import { base64ToF32, f32ToBase64 } from '../tags/f32-base64';
import { TagLibrary } from '../tags/library';
import { exportLibrary, importLibrary, type LibraryFile } from '../tags/library-format';
import { checkRunSpec, prepareRun, type PreparedRun, type RunSpec } from './protocol';
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
  const head = validateHead(file);
  // The model first: a checkpoint of another model is refused with that reason, whatever else it holds.
  if (head.model.dModel !== engine.config.dModel || head.model.vocabSize !== engine.config.vocabSize) {
    throw new Error(
      `This checkpoint was made with ${head.model.name} (d_model ${head.model.dModel}, vocabulary ${head.model.vocabSize}); ` +
        `the loaded model has d_model ${engine.config.dModel}, vocabulary ${engine.config.vocabSize}. Load the model it was trained on.`,
    );
  }
  const { file: cp, tensors } = checkCheckpointFile(file);
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
  try {
    run.trainer.restore({ ...cp.state, tensors });
  } catch (e) {
    run.dispose();
    throw e;
  }
  return { run, spec };
}

const nat = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const cursor = z.object({ epoch: nat, index: nat });
/** Shapes and bounds of a checkpoint (the spec is checked again by prepareRun, the library by importLibrary). */
const CHECKPOINT_SCHEMA = z.object({
  model: z.object({ name: z.string(), arch: z.string(), dModel: z.number().int().min(1), vocabSize: z.number().int().min(1) }),
  spec: z.object({ method: z.string(), tasks: z.array(z.object({ name: z.string(), template: z.string(), rows: z.array(z.record(z.string(), z.string())) })).min(1) }).loose(),
  library: z.object({}).loose(),
  state: z.object({
    version: z.literal(1),
    step: nat,
    cursor,
    auxCursor: cursor,
    skipped: nat,
    tensors: z.record(z.string(), z.object({ n: z.number().int().min(0).max(1 << 28), data: z.string() })),
    log: z.array(z.object({ step: nat }).loose()).max(10_000_000),
  }),
});

/**
 * Everything about a checkpoint that can be checked without a model: format, shapes and bounds
 * (field paths in messages), the run spec, every tensor's base64 against its declared size.
 */
export function checkCheckpointFile(file: unknown): { file: CheckpointFile; tensors: Record<string, Float32Array> } {
  const cp = validate(file);
  checkRunSpec({ ...cp.spec, library: new TagLibrary() });
  const tensors: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(cp.state.tensors)) {
    try {
      tensors[k] = base64ToF32(v.data, v.n);
    } catch (e) {
      throw new Error(`Checkpoint state.tensors.${k}: ${(e as Error).message}`);
    }
  }
  return { file: cp, tensors };
}

/** Format, version and the model it was made with. */
function validateHead(file: unknown): Pick<CheckpointFile, 'model'> {
  const f = file as Partial<CheckpointFile> | null;
  if (!f || typeof f !== 'object' || f.format !== CHECKPOINT_FORMAT) throw new Error('Not a Tag Workbench checkpoint (missing format "tag-workbench/checkpoint").');
  if (f.version !== 1) throw new Error(`Checkpoint version ${String(f.version)} is not supported (this workbench reads version 1).`);
  fail(CHECKPOINT_SCHEMA.pick({ model: true }).safeParse(f, { reportInput: true }));
  return f as Pick<CheckpointFile, 'model'>;
}

function fail(r: { success: boolean; error?: z.ZodError }): void {
  if (r.success) return;
  const i = r.error!.issues[0]!;
  const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const got = typeof i.input === 'number' || i.input === undefined ? String(i.input) : (JSON.stringify(i.input) ?? typeof i.input).slice(0, 60);
  throw new Error(`Checkpoint ${path} is ${got}: ${i.message}`);
}

function validate(file: unknown): CheckpointFile {
  validateHead(file);
  const f = file as CheckpointFile;
  if (!f.spec || !f.state || !f.library || !f.model) throw new Error('Checkpoint is incomplete: spec, state, library and model are required.');
  fail(CHECKPOINT_SCHEMA.safeParse(f, { reportInput: true }));
  if (f.state.skipped > f.state.step) throw new Error(`Checkpoint state.skipped is ${f.state.skipped}, more than its ${f.state.step} steps.`);
  return f as CheckpointFile;
}
