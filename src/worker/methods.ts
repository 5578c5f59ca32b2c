/**
 * The method layer as the worker uses it: training runs, checkpoints, embeddings, prompt rendering
 * and built-in datasets behind one interface, so that the request handlers can be unit-tested with a
 * fake (test/worker/fake-engine.ts) and run for real in the engine worker (`realMethods`).
 */
import { BUILTIN_DATASETS, fetchFromUrl, type LoadedDataset } from '../data/builtin';
import { runExperiment, type RunExperimentOptions } from '../experiments/runner';
import type { ExperimentDefinition, ExperimentResults } from '../experiments/types';
import type { LoadedModel, TaggedPrompt } from '../model/api';
import type { Engine } from '../model/model';
import type { Tokenizer } from '../model/tokenizer-api';
import { embeddingTable } from '../tags/embedding';
import type { TagLibrary } from '../tags/library';
import type { LibraryFile } from '../tags/library-format';
import { renderPrompt } from '../tags/prompt';
import type { RenderedExample } from '../tags/template';
import { loadRdkit, type RDKitModule } from '../tasks/rdkit';
import { checkpointOf, resumeRun, type CheckpointFile } from '../train/checkpoint';
import { prepareRun, type Metrics, type PreparedRun, type RunSpec } from '../train/protocol';
import type { StepLog, TrainState } from '../train/trainer';

/** A prepared training run, one optimizer step at a time. */
export interface RunHandle {
  readonly step: number;
  readonly totalSteps: number;
  readonly trainableParams: number;
  readonly heldOutCount: number;
  /** Every step so far (a resumed run includes the steps before the checkpoint). */
  readonly log: readonly StepLog[];
  evaluate(limit?: number): Promise<Metrics>;
  /** Takes one optimizer step; throws (AbortError / TrainingCancelled) if `signal` is aborted first. */
  trainStep(signal: AbortSignal): Promise<StepLog>;
  state(): Promise<TrainState>;
  /** Writes the learned tags / head / adapter to the run's library. */
  save(metrics: Metrics): Promise<{ tags: string[]; head: string | null; adapter: string | null }>;
  dispose(): void;
}

export interface RenderedPrompt {
  prompt: TaggedPrompt;
  rendered: RenderedExample;
}

export interface MethodDeps {
  prepareRun(model: LoadedModel, spec: RunSpec): Promise<RunHandle>;
  /** Rebuilds a run from a checkpoint; `library` receives the checkpoint's library snapshot. */
  resumeRun(model: LoadedModel, file: CheckpointFile, library: TagLibrary): Promise<{ run: RunHandle; spec: RunSpec }>;
  checkpoint(model: LoadedModel, spec: RunSpec, snapshot: LibraryFile, run: RunHandle): Promise<CheckpointFile>;
  /** f32 [vocab, d] token embeddings (cached per model). */
  embeddingTable(model: LoadedModel): Promise<Float32Array>;
  renderPrompt(
    template: string,
    fields: Record<string, string>,
    library: TagLibrary,
    tokenizer: Tokenizer,
    opts?: { omitFields?: string[]; isolate?: boolean; spacedFields?: string[] },
  ): RenderedPrompt;
  loadBuiltin(id: string, baseUrl: string): Promise<LoadedDataset>;
  /** Runs an experiment (src/experiments/runner.ts); data files are read from `dataBaseUrl`. */
  runExperiment(model: LoadedModel, definition: ExperimentDefinition, opts: ExperimentRunOptions): Promise<ExperimentResults>;
  /** RDKit (wasm, loaded on first use): imports check SMILES columns with it. Absent: not checked. */
  rdkit?(): Promise<RDKitModule>;
}

export type ExperimentRunOptions = Pick<RunExperimentOptions, 'signal' | 'onProgress' | 'onCell' | 'previous' | 'datasets'> & { dataBaseUrl: string };

class PreparedRunHandle implements RunHandle {
  constructor(readonly run: PreparedRun) {}
  get step() {
    return this.run.trainer.step;
  }
  get totalSteps() {
    return this.run.trainer.hyper.steps;
  }
  get trainableParams() {
    return this.run.trainableParams;
  }
  get heldOutCount() {
    return this.run.heldOutCount;
  }
  get log() {
    return this.run.trainer.log;
  }
  evaluate(limit?: number) {
    return this.run.evaluate(limit);
  }
  async trainStep(signal: AbortSignal): Promise<StepLog> {
    let last: StepLog | null = null;
    await this.run.run({ until: this.step + 1, signal, onStep: (s) => void (last = s) });
    if (!last) throw new Error('The trainer took no step (the run is already complete).');
    return last;
  }
  state() {
    return this.run.trainer.state();
  }
  save(metrics: Metrics) {
    return this.run.save(metrics);
  }
  dispose() {
    this.run.dispose();
  }
}

/** The real method layer (GPU engine). The model must be an Engine (what loadModel returns). */
export const realMethods: MethodDeps = {
  rdkit: () => loadRdkit(),
  async prepareRun(model, spec) {
    return new PreparedRunHandle(await prepareRun(model as Engine, spec));
  },
  async resumeRun(model, file, library) {
    const { run, spec } = await resumeRun(model as Engine, file, library);
    return { run: new PreparedRunHandle(run), spec };
  },
  async checkpoint(model, spec, snapshot, run) {
    return checkpointOf(model as Engine, spec, snapshot, await run.state());
  },
  embeddingTable(model) {
    return embeddingTable(model as Engine);
  },
  renderPrompt(template, fields, library, tokenizer, opts) {
    return renderPrompt(template, fields, library, tokenizer, opts);
  },
  async loadBuiltin(id, baseUrl) {
    const ds = BUILTIN_DATASETS.find((d) => d.id === id);
    if (!ds) throw new Error(`Unknown built-in dataset ${JSON.stringify(id)} (known: ${BUILTIN_DATASETS.map((d) => d.id).join(', ')}).`);
    return ds.load(fetchFromUrl(baseUrl));
  },
  runExperiment(model, definition, { dataBaseUrl, ...opts }) {
    return runExperiment(model as Engine, definition, { ...opts, fetchText: fetchFromUrl(dataBaseUrl) });
  },
};
