/**
 * The typed message protocol between the UI thread and the engine worker.
 *
 * Every request carries an `id` chosen by the client. The worker answers each request with exactly
 * one terminal message (`result` or `error`) and, before that, any number of `event` messages
 * carrying the same id (load progress, streamed tokens). Messages with `id: 0` are unsolicited
 * broadcasts (`fatal`, `deviceLost`).
 *
 * Everything here must survive structuredClone: plain data, Files, no functions, no class instances.
 */
import type { DataFormat, DataReport } from '../data/dataset';
import type { ExperimentDataset } from '../experiments/dataset-task';
import type { CellResult, ExperimentMethod, ExperimentProgress, ExperimentResults, Variant } from '../experiments/types';
import type { GenerateResult, LoadProgress, MemoryReport, SamplingOptions, TaggedPrompt } from '../model/api';
import type { ModelInspection } from '../model/preflight';
import type { ModelConfig } from '../model/types';
import type { MergeReport } from '../tags/library';
import type { SelfSpecEvent } from '../selfspec/events';
import type { SelfSpecRunMeta } from './selfspec-store';
import type { Scoring } from '../selfspec/evaluate';
import type { SpecMethod } from '../selfspec/specialise';
import type { ExportSelection, LibraryFile } from '../tags/library-format';
import type { TagKind, TagProvenance, TrainingRecord } from '../tags/tag';
import type { CheckpointFile } from '../train/checkpoint';
import type { Metrics, RunSpec } from '../train/protocol';
import type { StepLog } from '../train/trainer';

// ---------------------------------------------------------------------------------------------
// Payloads

/** Where the model comes from. URLs must be absolute (the worker's base URL is its script's). */
export type ModelSourceSpec =
  | { kind: 'url'; url: string; tokenizerUrl?: string; name?: string }
  | { kind: 'file'; file: File; tokenizerFile?: File };

export interface GpuInfo {
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: Record<string, number>;
}

export interface ModelInfo {
  name: string;
  config: ModelConfig;
  memory: MemoryReport;
  tokenizer: { vocabSize: number; bosId: number | null; eosId: number | null };
  /** Decoding slots (prompts decoded side by side), KV positions per slot and tokens per chunk it was loaded with. */
  shape: { slots: number; maxContext: number; maxTokens: number };
  /** Wall time of the whole load in ms, measured in the worker. */
  loadMs: number;
}

export interface LoadModelParams {
  source: ModelSourceSpec;
  maxContext?: number;
  slots?: number;
}

/**
 * Inspect a model before loading it: the worker reads only the header (HTTP Range requests for a
 * URL, slices of a File) and estimates the memory the load would allocate with these options.
 */
export interface InspectModelParams {
  source: ModelSourceSpec;
  maxContext?: number;
  slots?: number;
  maxTokens?: number;
}

export type { ModelInspection };

/** The engine's GenerateRequest minus the AbortSignal (cancel by request id instead). */
export interface GenerateParams extends SamplingOptions {
  prompts: Array<string | number[] | TaggedPrompt>;
  maxTokens?: number;
  stopTokens?: number[];
  stopStrings?: string[];
  /**
   * Per prompt: the name of a library LoRA adapter to apply (null / absent = the base model). The
   * worker makes it resident on the loaded model (and refuses a name the library lacks or an adapter
   * that does not fit it).
   */
  adapters?: Array<string | null>;
}

export interface TokenEvent {
  seq: number;
  id: number;
  text: string;
}

export interface GenerateReply extends GenerateResult {
  memory: MemoryReport;
}

/** An error as it crosses the worker boundary: name (for the UI to classify) and message. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

// ---------------------------------------------------------------------------------------------
// Datasets

export interface DatasetImportParams {
  text: string;
  /** File name: its extension picks the format when `format` is not given. */
  name: string;
  format?: DataFormat;
}

/** A parsed dataset: rows of named string fields and the report of what was skipped and why. */
export interface DatasetReply {
  name: string;
  format: DataFormat | 'builtin';
  columns: string[];
  rows: Array<Record<string, string>>;
  /** Source line of each row (uploads; empty for built-ins). */
  lines: number[];
  report: DataReport;
}

export interface BuiltinDatasetParams {
  id: string;
  /** Absolute URL of the data folder (public/data is served at <base>/data/). */
  baseUrl: string;
}

// ---------------------------------------------------------------------------------------------
// Tag library (the worker owns it; the UI gets summaries without the floats)

export interface HeadSummary {
  id: string;
  name: string;
  kind: 'regression' | 'classification';
  k: number;
  d: number;
  classes?: string[];
  labelMean: number[];
  labelStd: number[];
  /** How it was trained (absent for imported or older heads). */
  training?: TrainingRecord;
}

export interface TagSummary {
  id: string;
  name: string;
  kind: TagKind;
  p: number;
  d: number;
  provenance: TagProvenance;
  /** Mean L2 norm of the tag's rows. */
  meanNorm: number;
  /** The head this (function) tag owns, if any. */
  head: HeadSummary | null;
}

export interface AdapterSummary {
  id: string;
  name: string;
  rank: number;
  alpha: number;
  targets: string[];
  layers: number;
  params: number;
  /** How it was trained here (absent for PEFT imports and older adapters). */
  training?: TrainingRecord;
}

export interface LibrarySummary {
  tags: TagSummary[];
  /** Every head, including those of baselines that have no tag (linear probe…). */
  heads: HeadSummary[];
  adapters: AdapterSummary[];
}

export type LibraryItemKind = 'tag' | 'head' | 'adapter';

export interface LibraryImportParams {
  text: string;
  /** Accept tags trained against another embedding table (the answer was needs-confirmation). */
  confirm?: boolean;
  /**
   * What to do with tags that clash with the library (same id or name, other content). Without it a
   * clash is not resolved silently: the answer is `conflicts` and the UI asks.
   */
  onConflict?: 'rename' | 'replace';
}

/** A tag of the file that clashes with one in the library. */
export interface ImportConflict {
  name: string;
  /** Same id (the same tag, changed since) or only the same name (another tag). */
  sameId: boolean;
  existing: string;
}

/** Library items as files other tools read: a PEFT adapter zip, or tags.safetensors + sidecar zipped. */
export type LibraryExportFilesParams = { format: 'peft'; adapter: string } | { format: 'safetensors'; selection?: ExportSelection };

/**
 * Files to import besides the JSON library: a PEFT adapter (a zip, or adapter_config.json +
 * adapter_model.safetensors; or `url`: a Hugging Face repository, folder URL or .zip URL), or tags
 * (tags.safetensors + its tags.json sidecar, or a zip of them).
 */
export interface LibraryImportFilesParams {
  files?: Array<{ name: string; bytes: Uint8Array }>;
  url?: string;
  /** Name of an imported adapter (default: from the file or URL). */
  name?: string;
  confirm?: boolean;
  onConflict?: 'rename' | 'replace';
}

export type LibraryImportReply =
  | {
      status: 'ok';
      warnings: string[];
      report: MergeReport;
      added: { tags: string[]; heads: string[]; adapters: string[] };
      /** Tags of the file identical to ones in the library (same id or name, same rows and head): not added again. */
      alreadyPresent: string[];
      summary: LibrarySummary;
    }
  | { status: 'needs-confirmation'; warning: string }
  | { status: 'conflicts'; conflicts: ImportConflict[] }
  | { status: 'refused'; error: string };

// ---------------------------------------------------------------------------------------------
// Training

/** A run as the UI describes it: the method layer's RunSpec without the library (the worker's). */
export type TrainSpec = Omit<RunSpec, 'library'>;

export interface TrainOptions {
  /** The UI's handle for the run (checkpoints are stored under it). */
  runId: string;
  /** Send a checkpoint every N optimizer steps (0 = only on pause). */
  checkpointEvery: number;
  /** Evaluate on up to `evalLimit` held-out examples every N steps (0 = only before and after). */
  evalEvery: number;
  evalLimit: number;
}

export interface TrainStartParams extends TrainOptions {
  spec: TrainSpec;
}

export interface TrainResumeParams extends TrainOptions {
  file: CheckpointFile;
}

export type TrainPhase = 'preparing' | 'evaluating' | 'running' | 'paused' | 'saving';

export type TrainEvent =
  | {
      kind: 'prepared';
      runId: string;
      trainableParams: number;
      heldOutCount: number;
      totalSteps: number;
      /** Steps already taken (a resumed run) and their log. */
      step: number;
      log: StepLog[];
    }
  | { kind: 'phase'; phase: TrainPhase }
  | { kind: 'step'; log: StepLog }
  /** A greedy sample from the run's sample prompt after `step` (RunSpec.sample), decoded. */
  | { kind: 'sample'; step: number; text: string }
  | { kind: 'eval'; step: number; metrics: Metrics }
  | { kind: 'checkpoint'; runId: string; step: number; file: CheckpointFile };

export interface TrainReply {
  runId: string;
  /** finished: all steps; stopped: "Finish now" saved the tags early. */
  outcome: 'finished' | 'stopped';
  steps: number;
  trainableParams: number;
  metrics: Metrics;
  saved: { tags: string[]; head: string | null; adapter: string | null };
}

export type TrainControlAction = 'pause' | 'resume' | 'finish';

// ---------------------------------------------------------------------------------------------
// Composer, composition matrix, inspector

export interface ComposeParams extends SamplingOptions {
  /**
   * One prompt template per variant (1 or 2, shown side by side): text with tags written <Name>
   * and literal <, {, }, \ escaped (see tags/template.ts). No {fields}.
   */
  variants: string[];
  mode: 'generate' | 'head';
  maxTokens?: number;
  /**
   * Per variant: a library LoRA adapter (null / absent = the base model), as GenerateParams.adapters.
   * Head mode applies it too: the head reads the hidden state of the model with the adapter.
   */
  adapters?: Array<string | null>;
}

export interface PromptInfo {
  tokens: number;
  tagRows: number;
  /** The function tag whose last row a head reads, if the prompt has one. */
  functionTag: string | null;
}

export interface HeadPrediction {
  variant: number;
  head: string;
  /** The library adapter applied to the model the head read (null = the base model). */
  adapter: string | null;
  kind: 'regression' | 'classification';
  /** Position whose final hidden state the head read. */
  position: number;
  /** Raw head outputs (standardised units / logits). */
  raw: number[];
  /** Regression: the prediction in label units. */
  value?: number;
  /** Classification: class probabilities, most likely first. */
  classes?: Array<{ name: string; p: number }>;
}

export type ComposeReply =
  | {
      mode: 'generate';
      outputs: Array<{ text: string; finish: 'stop' | 'length' | 'cancelled'; tokens: number }>;
      prompts: PromptInfo[];
      timings: GenerateResult['timings'];
    }
  | { mode: 'head'; predictions: HeadPrediction[]; prompts: PromptInfo[] };

export interface MatrixCellParams {
  domain: string;
  fn: string;
  /** The cell's template, tags already substituted (e.g. "<SMILES> {input} <QED> {output}"). */
  template: string;
  datasetName: string;
  /** Rows with the template's fields. */
  rows: Array<Record<string, string>>;
  /** The field holding the label / target text (default "output"). */
  outputField?: string;
  /** Examples to evaluate at most. */
  limit: number;
  spacedFields?: string[];
  /** Batch prediction: rows need no label; every row gets the head's prediction (a head is required). */
  predictOnly?: boolean;
  /**
   * A library LoRA adapter applied to the model the head reads (null / absent = the base model).
   * Head cells only: a cell without a head (LM loss through the training graph) refuses one.
   */
  adapter?: string | null;
}

/** One row's head prediction (row = index into the request's rows). */
export interface RowPrediction {
  row: number;
  /** The label as written in the row ('' when it has none). */
  label: string;
  /** Regression: the value; classification: the class name. */
  prediction: number | string;
}

export interface MatrixCellReply {
  /** head: the function tag's head read at its last row; lm: next-token loss on the output field. */
  mode: 'head' | 'lm';
  /** The metric the cell shows, e.g. "mse", "accuracy", "perplexity". */
  metric: string;
  value: number;
  metrics: Metrics;
  n: number;
  skipped: number;
  /** Head mode: each evaluated row's prediction, for predicted-vs-true plots and downloads. */
  predictions?: RowPrediction[];
  /** The library adapter the cell was evaluated with (null = the base model). */
  adapter: string | null;
}

export interface InspectParams {
  name: string;
  /** Nearest vocabulary tokens per row (default 5). */
  neighbours?: number;
  /** Vocabulary rows in the PCA (default 400). */
  sample?: number;
  /** Other tags whose rows join the same PCA (one basis for all, so they can be compared). */
  with?: string[];
}

export interface InspectReply {
  name: string;
  kind: TagKind;
  p: number;
  d: number;
  rowNorms: number[];
  vocabNorm: { mean: number; min: number; max: number };
  nearest: Array<Array<{ id: number; token: string; cos: number }>>;
  pca: {
    points: Array<{ x: number; y: number; label: string; tag: boolean; row?: number; /** The tag a row belongs to. */ tagName?: string }>;
    /** Share of the variance along each component. */
    explained: [number, number];
  };
}

export interface AttentionReply {
  tokens: Array<{ text: string; tag: string | null }>;
  T: number;
  /** Per layer, f32 [T, T] head-averaged attention (row = query). */
  layers: Float32Array[];
}

// ---------------------------------------------------------------------------------------------
// Experiments (src/experiments: model × tasks × methods × seeds, run cell by cell in the worker)

export interface ExperimentRunParams {
  /** The definition as JSON (docs/experiments.md); the worker validates it and reports every problem. */
  definition: unknown;
  /** Results of an earlier run: finished cells whose configuration is unchanged are kept, not re-run. */
  previous?: ExperimentResults;
  /** Absolute URL of the data folder (public/data is served at <base>/data/). */
  dataBaseUrl: string;
  /** Workbench data sets (Data panel) that the definition's "dataset" tasks name, with their rows. */
  datasets?: ExperimentDataset[];
}

/** One planned cell (what the progress view lists before the cell runs). */
export interface ExperimentCellPlan {
  id: string;
  task: string;
  method: ExperimentMethod;
  variant: Variant;
  tagLength: number;
  seed: number;
}

export type ExperimentEvent =
  /** First: the validated definition, its cells in run order, and the model they run on. */
  | { kind: 'plan'; name: string; cells: ExperimentCellPlan[]; model: ExperimentResults['model']; started: string }
  /** Per training step / generation batch / phase change of the current cell. */
  | { kind: 'progress'; progress: ExperimentProgress }
  /** A cell ended (done, failed, n/a, or reused from `previous`). */
  | { kind: 'cell'; cell: CellResult; updated: string };

// ---------------------------------------------------------------------------------------------
// Self-specialization (src/selfspec's pipeline in the worker; files in IndexedDB, see selfspec-store.ts)

/** The Self-specialization panel's settings: the subset of PipelineConfig it exposes. */
export interface SelfSpecSettings {
  name: string;
  domain: string;
  seed: number;
  /** Accepted instructions per round. */
  instructions: number;
  /** Passages per response (0 = no retrieval). */
  k: number;
  methods: SpecMethod[];
  epochs: number;
  batch: number;
  accum: number;
  lr: number;
  tagLength: number;
  domainTag: string;
  rounds: number;
  /** PubMedQA test questions evaluated (0 = none). */
  evalN: number;
  shots: number[];
  scorings: Scoring[];
  rougeN: number;
  instructionTokens: number;
  responseTokens: number;
  /** The brainstorm prompt ({domain}, {examples}, {next}); default: the paper's (instructions.ts). */
  instructionTemplate?: string;
  seedsPerPrompt?: number;
  /** Prompt batches without an accepted instruction before the stage gives up (default 20). */
  maxBarrenBatches?: number;
  /** Rounds ≥ 2 generate a fresh instruction set (default) or reuse round 1's. */
  freshInstructions?: boolean;
  /** An adapter of the library (e.g. an imported PEFT adapter) that LoRA specialisation starts from; copied into the run at start. */
  initAdapter?: string | null;
  /** LoRA shape of the specialisation (default r 8, α 16, all projections); the panel sets the start adapter's. */
  lora?: { rank: number; alpha: number; targets: string[] };
}

/** Seeds or corpus: a built-in file under public/data/biomed, or an upload (bytes: decoded in the worker, UTF-8 checked). */
export type SelfSpecSource =
  | { kind: 'builtin'; id: string }
  | { kind: 'file'; name: string; bytes: ArrayBuffer }
  /** A corpus folder: .txt documents, split into passages `<file>#<n>` (corpus.ts splitDocuments) in the worker. */
  | { kind: 'folder'; name: string; files: Array<{ name: string; bytes: ArrayBuffer }> };

export interface SelfSpecStartParams {
  runId: string;
  settings: SelfSpecSettings;
  seeds: SelfSpecSource;
  /** null: no corpus (k must be 0). */
  corpus: SelfSpecSource | null;
  /** A ready instruction set for round 1 (JSON lines with instruction, input) instead of generating one. */
  instructions?: SelfSpecSource | null;
  /** Absolute URL of the data folder (public/data is served at <base>/data/). */
  dataBaseUrl: string;
}

export interface SelfSpecReply {
  runId: string;
  /** paused / cancelled: stopped on request; the files so far are kept and the run can be resumed. */
  outcome: 'done' | 'paused' | 'cancelled';
}

export type { SelfSpecEvent };
export type { SelfSpecRunMeta };

// ---------------------------------------------------------------------------------------------
// The request table: params, result and streamed event type of each request kind.

export interface RequestMap {
  gpuInfo: { params: Record<string, never>; result: GpuInfo; event: never };
  loadModel: { params: LoadModelParams; result: ModelInfo; event: LoadProgress };
  /** Header only (no GPU, no download of the weights): config, memory estimate, largest tensor. */
  inspectModel: { params: InspectModelParams; result: ModelInspection; event: never };
  unloadModel: { params: Record<string, never>; result: { unloaded: boolean }; event: never };
  /** The model the worker holds now (null: none). After a refused or failed load the UI asks this instead of guessing. */
  currentModel: { params: Record<string, never>; result: ModelInfo | null; event: never };
  generate: { params: GenerateParams; result: GenerateReply; event: TokenEvent };
  /** Aborts the request `target` (its AbortController in the worker). */
  cancel: { params: { target: number }; result: { cancelled: boolean }; event: never };

  /** embeddingFingerprint of the loaded model's token embeddings (what tags are checked against). */
  modelFingerprint: { params: Record<string, never>; result: { fingerprint: string; dModel: number }; event: never };

  datasetImport: { params: DatasetImportParams; result: DatasetReply; event: never };
  datasetBuiltin: { params: BuiltinDatasetParams; result: DatasetReply; event: never };

  /** Liveness check: answered at once, whatever the worker is doing. */
  ping: { params: Record<string, never>; result: { ok: true }; event: never };

  /** Replaces the worker's library with a saved one (page start). */
  libraryRestore: { params: { file: LibraryFile | null }; result: LibrarySummary; event: never };
  libraryList: { params: Record<string, never>; result: LibrarySummary; event: never };
  libraryRename: { params: { kind: 'tag' | 'adapter'; from: string; to: string }; result: LibrarySummary; event: never };
  libraryDelete: { params: { kind: LibraryItemKind; name: string }; result: LibrarySummary; event: never };
  /** Without a selection: everything. Returns the file as JSON text. */
  libraryExport: { params: { selection?: ExportSelection }; result: { json: string; tags: number; heads: number; adapters: number }; event: never };
  libraryImport: { params: LibraryImportParams; result: LibraryImportReply; event: never };
  libraryExportFiles: { params: LibraryExportFilesParams; result: { fileName: string; bytes: Uint8Array }; event: never };
  libraryImportFiles: { params: LibraryImportFilesParams; result: LibraryImportReply; event: never };

  /** Prepares and runs a training run; events until it ends. Cancel = abort without saving. */
  trainStart: { params: TrainStartParams; result: TrainReply; event: TrainEvent };
  /** Continues a run from a checkpoint (after a reload). */
  trainResume: { params: TrainResumeParams; result: TrainReply; event: TrainEvent };
  /** Pause (after the current step, state kept), resume, or finish now (stop and save). */
  trainControl: { params: { action: TrainControlAction }; result: { ok: boolean; phase: TrainPhase | null }; event: never };

  compose: { params: ComposeParams; result: ComposeReply; event: TokenEvent };
  matrixCell: { params: MatrixCellParams; result: MatrixCellReply; event: never };
  inspectTag: { params: InspectParams; result: InspectReply; event: never };
  /** `adapter`: a library adapter applied to every token of the prompt (none = the base model). */
  attention: { params: { template: string; adapter?: string | null }; result: AttentionReply; event: never };

  /**
   * Runs an experiment on the loaded model, cell by cell. The result has status "complete", or
   * "cancelled" when the request was cancelled (the cells finished so far are in it).
   */
  experimentRun: { params: ExperimentRunParams; result: ExperimentResults; event: ExperimentEvent };

  /** Starts a self-specialization run on the loaded model; its events stream until it ends, pauses or is cancelled. */
  selfspecStart: { params: SelfSpecStartParams; result: SelfSpecReply; event: SelfSpecEvent };
  /** Continues a stored run where its files stop (after Pause, Cancel, an error or a reload). */
  selfspecResume: { params: { runId: string; dataBaseUrl: string }; result: SelfSpecReply; event: SelfSpecEvent };
  /** Pause (stop after the current step; resumable) or cancel the running run. */
  selfspecControl: { params: { action: 'pause' | 'cancel' }; result: { ok: boolean }; event: never };
  selfspecRuns: { params: Record<string, never>; result: SelfSpecRunMeta[]; event: never };
  /** A run's files (all, or those named), as text. */
  selfspecFiles: { params: { runId: string; names?: string[] }; result: { files: Record<string, string> }; event: never };
  selfspecDelete: { params: { runId: string }; result: { deleted: boolean }; event: never };
}

export type RequestType = keyof RequestMap;
export type ParamsOf<T extends RequestType> = RequestMap[T]['params'];
export type ResultOf<T extends RequestType> = RequestMap[T]['result'];
export type EventOf<T extends RequestType> = RequestMap[T]['event'];

export const REQUEST_TYPES: readonly RequestType[] = [
  'gpuInfo',
  'loadModel',
  'inspectModel',
  'unloadModel',
  'currentModel',
  'generate',
  'cancel',
  'modelFingerprint',
  'datasetImport',
  'datasetBuiltin',
  'ping',
  'libraryRestore',
  'libraryList',
  'libraryRename',
  'libraryDelete',
  'libraryExport',
  'libraryImport',
  'libraryExportFiles',
  'libraryImportFiles',
  'trainStart',
  'trainResume',
  'trainControl',
  'compose',
  'matrixCell',
  'inspectTag',
  'attention',
  'experimentRun',
  'selfspecStart',
  'selfspecResume',
  'selfspecControl',
  'selfspecRuns',
  'selfspecFiles',
  'selfspecDelete',
];

// ---------------------------------------------------------------------------------------------
// Messages

export type RequestMessage = {
  [T in RequestType]: { id: number; type: T; params: ParamsOf<T> };
}[RequestType];

export type ResponseMessage =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; error: SerializedError }
  | { id: number; type: 'event'; event: unknown };

export type BroadcastMessage =
  | { id: 0; type: 'fatal'; error: SerializedError }
  | { id: 0; type: 'deviceLost'; error: SerializedError }
  | NotifyMessage;

/** Unsolicited state updates (not errors). */
export type NotifyMessage = {
  id: 0;
  type: 'library';
  summary: LibrarySummary;
  /** The whole library as a file, for the UI to persist (null if it could not be exported). */
  file: LibraryFile | null;
};

export type WorkerMessage = ResponseMessage | BroadcastMessage;

// ---------------------------------------------------------------------------------------------
// Errors

/** Turns anything thrown into a cloneable {name, message}. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) {
    const err = e as Error;
    const name = typeof err.name === 'string' && err.name ? err.name : 'Error';
    const message = typeof err.message === 'string' && err.message ? err.message : String(e);
    const out: SerializedError = { name, message };
    if (typeof err.stack === 'string') out.stack = err.stack;
    return out;
  }
  return { name: 'Error', message: typeof e === 'string' ? e : safeString(e) };
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** An error rebuilt on the UI side: `name` is the worker-side class name (ModelFormatError, AbortError…). */
export class EngineError extends Error {
  constructor(name: string, message: string, readonly remoteStack?: string) {
    super(message);
    this.name = name;
  }
  static from(e: SerializedError): EngineError {
    return new EngineError(e.name, e.message, e.stack);
  }
}

export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** An AbortError that works in browsers, workers and Node. */
export function abortError(message = 'Cancelled'): Error {
  if (typeof DOMException !== 'undefined') return new DOMException(message, 'AbortError');
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}
