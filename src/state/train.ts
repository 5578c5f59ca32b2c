/**
 * Train store: the run configuration (method, template, tag, dataset + field mapping,
 * hyperparameters), the live run (steps, validation metrics, phase), pause / resume / finish /
 * cancel, and checkpoints: every N steps the worker sends one, saved here in IndexedDB, so after a
 * page reload the last checkpoint of an interrupted run can be resumed.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { parseTemplate, type Template } from '../tags/template';
import type { Method, Metrics, TaskData } from '../train/protocol';
import { DEFAULT_SAMPLE_TOKENS, defaultSamplePrompt, functionTagOf } from '../train/protocol';
import type { StepLog, TrainHyper } from '../train/trainer';
import type { EngineClientLike, PendingCall } from '../worker/client';
import { isAbortError, type TrainEvent, type TrainPhase, type TrainReply, type TrainSpec } from '../worker/protocol';
import { datasetRows, type DatasetRows, type RowsRequest } from '../data/dataset-rows';
import { datasetView, splitView, type DataStore } from './data';
import { createRowsSource, SYNC_CHECK_ROWS, type RowsSource } from './mapping-check';
import type { CheckpointMeta, StoredDataset, WorkbenchDb } from './db';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

export type OutputKind = TaskData['output']['kind'];

export type HyperConfig = Pick<TrainHyper, 'steps' | 'batch' | 'accum' | 'lr' | 'weightDecay' | 'warmupFraction' | 'schedule' | 'maxGradNorm' | 'seed'>;

/** METHODS.md reference hyperparameters: AdamW, lr 1e-4, no weight decay, cosine with 3% warmup, batch 4 × accumulation 8. */
export const PAPER_HYPER: HyperConfig = {
  steps: 100,
  batch: 4,
  accum: 8,
  lr: 1e-4,
  weightDecay: 0,
  warmupFraction: 0.03,
  schedule: 'cosine',
  maxGradNorm: 1,
  seed: 0,
};

/** For tiny models (stories260K) and quick checks: few steps, a much higher learning rate. */
export const TINY_HYPER: HyperConfig = { ...PAPER_HYPER, steps: 10, batch: 2, accum: 1, lr: 3e-2 };

export interface TrainConfig {
  method: Method;
  template: string;
  /** Rows of each new tag (paper: 10). */
  tagLength: number;
  /** Datasets to train on (stage 3 may use several; other methods use the first). */
  datasetIds: string[];
  /** Template field → dataset field (defaults to the field of the same name). */
  fieldMap: Record<string, string>;
  outputKind: OutputKind;
  outputField: string;
  enrich: boolean;
  isolate: boolean;
  spacedFields: string[];
  hyper: HyperConfig;
  checkpointEvery: number;
  evalEvery: number;
  evalLimit: number;
  /** Greedy sample generations every N steps (0 = off), `sampleTokens` tokens each. */
  sampleEvery: number;
  sampleTokens: number;
  /** The sample prompt as template text; '' = the default (defaultSamplePromptOf). */
  samplePrompt: string;
  /**
   * LoRA: start from this library adapter (trained here or imported from PEFT) instead of a fresh
   * one; the result is saved as `<name>-continued`. null / absent = a fresh adapter.
   */
  initAdapter?: string | null;
}

export interface TemplatePreset {
  id: string;
  label: string;
  method: Method;
  template: string;
  outputKind: OutputKind;
  outputField: string;
  spacedFields?: string[];
}

/** The prompt templates of METHODS.md (editable after picking). */
export const TEMPLATE_PRESETS: readonly TemplatePreset[] = [
  { id: 'stage1', label: 'Stage 1: domain tag on text', method: 'stage1', template: '<SMILES> {input}', outputKind: 'text', outputField: 'input' },
  {
    id: 'qed',
    label: 'QED (regression)',
    method: 'stage2',
    template: '# # Input: The SMILES of the molecule is <SMILES> {input}.\n# # Output: The quantitative estimate of druglikeness is <QED> {output}',
    outputKind: 'regression',
    outputField: 'output',
  },
  {
    id: 'descriptor',
    label: 'Protein descriptor (regression)',
    method: 'stage2',
    template: '# # Input: The protein sequence is <Protein> {input}.\n# # Output: The descriptor value is <Descriptor> {output}',
    outputKind: 'regression',
    outputField: 'output',
    spacedFields: ['input'],
  },
  {
    id: 'bbbp',
    label: 'Blood–brain barrier (classification)',
    method: 'stage2',
    template: '# # Input: The SMILES of the molecule is <SMILES> {input}.\n# # Output: Blood-brain barrier penetration is <BBBP> {output}',
    outputKind: 'classification',
    outputField: 'output',
  },
  {
    id: 'translate',
    label: 'Translation (stage 3)',
    method: 'stage3',
    template: '# # Input: <{srcLang}> {source}\n# # Output: <{tgtLang}> <Translate> {target}',
    outputKind: 'text',
    outputField: 'target',
  },
];

export const METHOD_LABELS: Record<Method, string> = {
  stage1: 'Stage 1 — domain tag (next-token loss)',
  stage2: 'Stage 2 — function tag on one dataset',
  stage3: 'Stage 3 — function tag over several datasets',
  'prompt-tuning': 'Baseline — prompt tuning',
  'linear-probe': 'Baseline — linear probe',
  lora: 'Baseline — LoRA (r 8, α 16)',
  'domain-in-text': 'Baseline — domain names as text + PEFT (LoRA)',
};

export const DEFAULT_CONFIG: TrainConfig = {
  method: 'stage1',
  template: '<SMILES> {input}',
  tagLength: 10,
  datasetIds: [],
  fieldMap: {},
  outputKind: 'text',
  outputField: 'input',
  enrich: false,
  isolate: false,
  spacedFields: [],
  hyper: { ...PAPER_HYPER },
  checkpointEvery: 10,
  evalEvery: 0,
  evalLimit: 32,
  sampleEvery: 0,
  sampleTokens: DEFAULT_SAMPLE_TOKENS,
  samplePrompt: '',
};

export function tryParseTemplate(source: string): { template: Template | null; error: string | null } {
  try {
    return { template: parseTemplate(source), error: null };
  } catch (e) {
    return { template: null, error: (e as Error).message };
  }
}

/** The tag a run trains: stage 1's domain tag, else the function tag before the output field. */
export function trainedTagOf(method: Method, template: Template, outputField: string): string | null {
  if (method === 'stage1') return template.tags[0] ?? null;
  if (method === 'prompt-tuning' || method === 'linear-probe' || method === 'lora' || method === 'domain-in-text') return null; // PEFT baselines train no tag of the template
  return functionTagOf(template, outputField);
}

/**
 * What the training loss is, in its units: a regression head trains on standardised labels, so its
 * MSE is not the validation MSE (in the label's own units).
 */
export function lossLabel(kind: OutputKind | undefined): string {
  if (kind === 'regression') return 'Training loss (MSE on standardised labels)';
  if (kind === 'classification') return 'Training loss (cross-entropy, nats)';
  if (kind === 'text') return 'Training loss (next-token NLL, nats)';
  return 'Training loss';
}

/** The validation metric's name with its units. */
export function metricLabel(key: string | null): string {
  if (!key) return 'Validation metric';
  if (key === 'mse') return 'Validation MSE (label units²)';
  if (key === 'mae') return 'Validation MAE (label units)';
  if (key === 'rmse') return 'Validation RMSE (label units)';
  if (key === 'perplexity') return 'Validation perplexity';
  if (key === 'accuracy') return 'Validation accuracy';
  return `Validation ${key}`;
}

/** Renames every <from> in a template source to <to> (escaped text is left alone). */
export function renameTagInTemplate(source: string, from: string, to: string): string {
  const esc = from.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return source.replace(new RegExp(`(^|[^\\\\])<${esc}>`, 'g'), `$1<${to}>`);
}

export function validateHyper(h: HyperConfig): string | null {
  if (!Number.isInteger(h.steps) || h.steps < 1) return 'Steps must be a whole number ≥ 1.';
  if (!Number.isInteger(h.batch) || h.batch < 1) return 'Batch must be a whole number ≥ 1.';
  if (!Number.isInteger(h.accum) || h.accum < 1) return 'Gradient accumulation must be a whole number ≥ 1.';
  if (!(h.lr > 0) || !Number.isFinite(h.lr)) return 'The learning rate must be above 0.';
  if (!(h.weightDecay >= 0)) return 'Weight decay must be ≥ 0.';
  if (!(h.warmupFraction >= 0 && h.warmupFraction < 1)) return 'Warmup must be a fraction in [0, 1).';
  if (!(h.maxGradNorm >= 0)) return 'The gradient-norm bound must be ≥ 0 (0 = none).';
  if (!Number.isInteger(h.seed) || h.seed < 0) return 'The seed must be a whole number ≥ 0.';
  return null;
}

/**
 * The row the default sample prompt fills the template with: the first validation row of the first
 * dataset (the first training row without a validation split), its fields mapped as for training.
 * `rowsOf` gives the dataset's rows (by default mapped here: see sampleRowIn for a large upload).
 */
export function sampleRowOf(config: TrainConfig, ds: StoredDataset | undefined, rowsOf: (ds: StoredDataset, req: RowsRequest) => DatasetRows = datasetRows): Record<string, string> | null {
  const { template } = tryParseTemplate(config.template);
  if (!template || !ds) return null;
  const got = rowsOf(ds, { ...trainRowsRequest(template, config, ds), parts: ['validation', 'train'], limit: 1 });
  if (got.error) return null;
  return got.parts.validation![0] ?? got.parts.train![0] ?? null;
}

/** sampleRowOf with the rows from `source` (a large upload's from the mapping worker). */
export async function sampleRowIn(config: TrainConfig, ds: StoredDataset | undefined, source: RowsSource, o: { signal?: AbortSignal } = {}): Promise<Record<string, string> | null> {
  const { template } = tryParseTemplate(config.template);
  if (!template || !ds) return null;
  const got = await source(ds, { ...trainRowsRequest(template, config, ds), parts: ['validation', 'train'], limit: 1 }, o);
  return sampleRowOf(config, ds, () => got);
}

/** The default sample prompt (the template filled with `row`, from sampleRowOf, cut before the output), or ''. */
export function samplePromptOfRow(config: TrainConfig, row: Record<string, string> | null): string {
  if (!row) return '';
  try {
    return defaultSamplePrompt(config.template, row, config.method === 'stage1' ? '' : config.outputField);
  } catch {
    return '';
  }
}

/** The default sample prompt (the template filled with sampleRowOf, cut before the output), or ''. */
export function defaultSamplePromptOf(config: TrainConfig, ds: StoredDataset | undefined): string {
  return samplePromptOfRow(config, sampleRowOf(config, ds));
}

export interface BuiltSpec {
  spec: TrainSpec;
  label: string;
  /** Rows dropped because a label was not a number (regression). */
  dropped: number;
}

/** What a run takes of a dataset: its train and validation rows, template fields filled from the mapped fields. */
export function trainRowsRequest(template: Template, config: Pick<TrainConfig, 'fieldMap'>, ds: Pick<StoredDataset, 'split'>): RowsRequest {
  return { split: ds.split, parts: ['train', 'validation'], pick: Object.fromEntries(template.fields.map((f) => [f, config.fieldMap[f] || f])) };
}

/** The checks of a run that need no rows, then the template and the datasets it uses (their rows: trainRowsRequest). */
export function trainSpecHead(config: TrainConfig, datasets: StoredDataset[]): { template: Template; used: StoredDataset[] } | { error: string } {
  const { template, error } = tryParseTemplate(config.template);
  if (!template) return { error: error! };
  const bad = validateHyper(config.hyper);
  if (bad) return { error: bad };
  if (!Number.isInteger(config.tagLength) || config.tagLength < 1 || config.tagLength > 256) return { error: 'Tag length must be a whole number from 1 to 256.' };
  const sampleEvery = config.sampleEvery ?? 0;
  const sampleTokens = config.sampleTokens ?? DEFAULT_SAMPLE_TOKENS;
  if (!Number.isInteger(sampleEvery) || sampleEvery < 0) return { error: 'Sample every must be a whole number of steps ≥ 0 (0 = off).' };
  if (sampleEvery > 0 && (!Number.isInteger(sampleTokens) || sampleTokens < 1 || sampleTokens > 4096)) return { error: 'Sample tokens must be a whole number from 1 to 4096.' };
  if (!datasets.length) return { error: 'Choose a dataset (import one in the Data panel).' };
  const used = config.method === 'stage3' ? datasets : datasets.slice(0, 1);
  if (config.method !== 'stage1' && !template.fields.includes(config.outputField)) {
    return { error: `The output field {${config.outputField}} is not in the template (fields: ${template.fields.map((f) => `{${f}}`).join(', ') || 'none'}).` };
  }
  if (config.method !== 'stage1' && config.method !== 'linear-probe' && config.method !== 'lora' && config.method !== 'prompt-tuning' && !functionTagOf(template, config.outputField)) {
    return { error: `Put a function tag right before {${config.outputField}} (e.g. <QED> {${config.outputField}}).` };
  }
  return { template, used };
}

/**
 * The run the configuration describes over the given datasets, or the first problem with it.
 * `rowsOf` gives each used dataset's rows for trainRowsRequest; by default they are mapped here (the
 * train store fetches those of a large upload from the mapping worker first and passes them in).
 */
export function buildTrainSpec(config: TrainConfig, datasets: StoredDataset[], rowsOf: (ds: StoredDataset, req: RowsRequest) => DatasetRows = datasetRows): BuiltSpec | { error: string } {
  const head = trainSpecHead(config, datasets);
  if ('error' in head) return head;
  const { template, used } = head;
  const sampleEvery = config.sampleEvery ?? 0;
  const sampleTokens = config.sampleTokens ?? DEFAULT_SAMPLE_TOKENS;
  let dropped = 0;
  const tasks: TaskData[] = [];
  let nTrain = 0;
  let nVal = 0;
  /** The sample prompt's row (sampleRowOf): the first validation row of the first dataset, else its first training row. */
  let sampleRow: Record<string, string> | null = null;
  for (const ds of used) {
    const got = rowsOf(ds, trainRowsRequest(template, config, ds));
    if (got.error) return { error: `${ds.name}: ${got.error}` };
    const fields = Object.keys(ds.mapping);
    for (const f of template.fields) {
      const src = config.fieldMap[f] || f;
      if (!fields.includes(src)) {
        return { error: `${ds.name}: template field {${f}} takes dataset field "${src}", which it does not have (fields: ${fields.join(', ')}). Map it below or in the Data panel.` };
      }
    }
    const train = got.parts.train!;
    const validation = got.parts.validation!;
    if (ds === used[0]) sampleRow = validation[0] ?? train[0] ?? null;
    let rows = [...train, ...validation];
    if (config.method !== 'stage1' && config.outputKind === 'regression') {
      const ok = rows.filter((r) => r[config.outputField]?.trim() !== '' && Number.isFinite(Number(r[config.outputField])));
      dropped += rows.length - ok.length;
      rows = ok;
    }
    if (rows.length < 2) return { error: `${ds.name}: ${rows.length} usable row${rows.length === 1 ? '' : 's'} after the split; a run needs at least 2.` };
    nTrain += train.length;
    nVal += validation.length;
    tasks.push({
      name: ds.name,
      template: config.template,
      rows,
      output: config.method === 'stage1' ? { kind: 'text' } : { kind: config.outputKind, field: config.outputField },
      // Provenance: each template field's source column in the file (through the Data panel's mapping).
      fieldMapping: Object.fromEntries(template.fields.map((f) => [f, ds.mapping[config.fieldMap[f] || f] ?? (config.fieldMap[f] || f)])),
    });
  }
  const evalFraction = nVal > 0 ? Math.min(0.5, nVal / Math.max(1, nTrain + nVal)) : 0.1;
  const spec: TrainSpec = {
    method: config.method,
    tasks,
    tagLength: config.tagLength,
    enrich: config.method === 'stage2' ? config.enrich : undefined,
    isolate: config.isolate || undefined,
    spacedFields: config.spacedFields.length ? config.spacedFields : undefined,
    hyper: { ...config.hyper, evalLimit: config.evalLimit },
    evalFraction,
  };
  if (sampleEvery > 0) {
    // The default prompt renders the training template with the row the panel shows (exactly as the
    // training examples are tokenized); an edited prompt is sent as written.
    const row = sampleRow;
    spec.sample = { every: sampleEvery, tokens: sampleTokens, ...(config.samplePrompt?.trim() ? { prompt: config.samplePrompt } : row ? { row } : {}) };
  }
  const from = config.method === 'lora' && config.initAdapter ? config.initAdapter : null;
  if (from) Object.assign(spec, { continueAdapter: from, name: continuedAdapterName(from) });
  const tag = trainedTagOf(config.method, template, config.outputField);
  const label = `${config.method}${tag ? ` <${tag}>` : ''}${from ? ` from ${from}` : ''} · ${used.map((d) => d.name).join(' + ')}`;
  return { spec, label, dropped };
}

/** The library name of an adapter trained further from `from` (the original is kept). */
export function continuedAdapterName(from: string): string {
  return `${from}-continued`;
}

export type TrainStatus = 'idle' | 'starting' | 'running' | 'done' | 'cancelled' | 'error';

export interface RunInfo {
  runId: string;
  label: string;
  method: Method;
  totalSteps: number;
  trainableParams: number | null;
  heldOutCount: number | null;
  resumedFrom: number | null;
  /** What the loss measures (its units differ: see lossLabel). Unknown for runs resumed from older checkpoints. */
  outputKind?: OutputKind;
  options: CheckpointMeta['options'];
}

/**
 * Clock of a run in this page: when its first step here began (ms) and the step it began from, the
 * last step's end, and the time spent paused (pauses that ended, plus the start of the current one)
 * so that rates count training time only.
 */
export interface TrainClock {
  startMs: number;
  fromStep: number;
  lastMs: number;
  lastStep: number;
  /** Total ms of pauses that have ended. */
  pausedMs: number;
  /** When the current pause began; null while not paused. */
  pausedSince: number | null;
}

/** A clock after a phase change at `ms`: a pause starts on 'paused' and ends on any other phase. */
export function clockOnPhase(clock: TrainClock | null, phase: TrainPhase | null, ms: number): TrainClock | null {
  if (!clock) return clock;
  if (phase === 'paused') return clock.pausedSince === null ? { ...clock, pausedSince: ms } : clock;
  if (clock.pausedSince === null) return clock;
  return { ...clock, pausedMs: clock.pausedMs + Math.max(0, ms - clock.pausedSince), pausedSince: null };
}

export interface TrainState {
  config: TrainConfig;
  status: TrainStatus;
  phase: TrainPhase | null;
  run: RunInfo | null;
  log: StepLog[];
  evals: Array<{ step: number; metrics: Metrics }>;
  /** Sample generations of the current run (RunSpec.sample), oldest first. */
  samples: Array<{ step: number; text: string }>;
  /** Clock of the current run (TrainClock). */
  clock: TrainClock | null;
  result: TrainReply | null;
  error: string | null;
  /** Saved checkpoints of interrupted runs (newest first). */
  checkpoints: CheckpointMeta[];
  /** Every finished run with its configuration and loss curve, newest last (kept in localStorage). */
  history: RunRecord[];
  lastCheckpointStep: number | null;
  /** Rows mapped so far of the datasets of a run about to start (a large upload is mapped in the worker first), else null. */
  preparingRows: { done: number; total: number } | null;

  setConfig(patch: Partial<TrainConfig>): void;
  setHyper(patch: Partial<HyperConfig>): void;
  applyPreset(id: string): void;
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  finish(): Promise<void>;
  cancel(): void;
  loadCheckpoints(): Promise<void>;
  resumeCheckpoint(runId: string): Promise<void>;
  deleteCheckpoint(runId: string): Promise<void>;
  reset(): void;
}

export type TrainStore = StoreApi<TrainState>;

export interface TrainStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  data: DataStore;
  db: Promise<WorkbenchDb>;
  now?: () => Date;
  newRunId?: () => string;
  /** Where the configuration is remembered across reloads (localStorage in the app). */
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** The datasets' rows (the app maps large uploads in the mapping worker); default: mapped in place. */
  rows?: RowsSource;
}

const CONFIG_KEY = 'tag-workbench/train-config';

/** A finished run as the Train panel's history keeps it. */
export interface RunRecord {
  runId: string;
  label: string;
  finished: string;
  config: TrainConfig;
  datasetNames: string[];
  steps: number;
  saved: TrainReply['saved'];
  metrics: Record<string, number | null>;
  /** [step, loss] pairs, at most HISTORY_POINTS (evenly thinned). */
  loss: Array<[number, number]>;
}

export const HISTORY_KEY = 'tag-workbench-run-history';
const HISTORY_RUNS = 50;
const HISTORY_POINTS = 400;

function loadHistory(storage: TrainStoreDeps['storage']): RunRecord[] {
  try {
    const raw = storage?.getItem(HISTORY_KEY);
    const v: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(v) ? (v as RunRecord[]) : [];
  } catch {
    return [];
  }
}

/** The loss curve thinned to at most `n` points (first and last kept). */
export function thinCurve(points: ReadonlyArray<[number, number]>, n = HISTORY_POINTS): Array<[number, number]> {
  if (points.length <= n) return points.slice();
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) out.push(points[Math.round((i * (points.length - 1)) / (n - 1))]!);
  return out;
}

/** The latest run that trained `fn` (a function tag: as its head or one of its tags). */
export function runThatTrained(history: readonly RunRecord[], fn: string): RunRecord | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!;
    if (r.saved.head === fn || r.saved.tags.includes(fn)) return r;
  }
  return null;
}

function loadConfig(storage: TrainStoreDeps['storage']): TrainConfig {
  try {
    const raw = storage?.getItem(CONFIG_KEY);
    if (!raw) return { ...DEFAULT_CONFIG, hyper: { ...DEFAULT_CONFIG.hyper } };
    const saved = JSON.parse(raw) as Partial<TrainConfig>;
    return { ...DEFAULT_CONFIG, ...saved, hyper: { ...DEFAULT_CONFIG.hyper, ...saved.hyper } };
  } catch {
    return { ...DEFAULT_CONFIG, hyper: { ...DEFAULT_CONFIG.hyper } };
  }
}

/**
 * Elapsed seconds since the run's first step here (wall clock, pauses included), and the estimated
 * seconds left: the mean time of the steps taken so far, time spent paused excluded (a pause says
 * nothing about the speed of the steps to come), times the steps still to go; null before the first step.
 */
export function runTimes(clock: TrainClock | null, totalSteps: number, nowMs: number): { elapsed: number; eta: number | null } | null {
  if (!clock) return null;
  const elapsed = Math.max(0, (nowMs - clock.startMs) / 1000);
  const done = clock.lastStep - clock.fromStep;
  if (done <= 0) return { elapsed, eta: null };
  // Only pauses that ended before the last step lie inside [startMs, lastMs]; one going on now began after it.
  const pausedBeforeLast = clock.pausedMs + (clock.pausedSince !== null && clock.pausedSince < clock.lastMs ? clock.lastMs - clock.pausedSince : 0);
  const perStep = Math.max(0, clock.lastMs - clock.startMs - pausedBeforeLast) / 1000 / done;
  return { elapsed, eta: Math.max(0, perStep * (totalSteps - clock.lastStep)) };
}

export function primaryMetric(m: Metrics): { key: keyof Metrics; value: number } | null {
  for (const key of ['mse', 'accuracy', 'perplexity', 'loss'] as const) {
    const v = m[key];
    if (typeof v === 'number' && Number.isFinite(v)) return { key, value: v };
  }
  return null;
}

export function createTrainStore({ client, notices, model, data, db, now = () => new Date(), newRunId, storage = null, rows: rowsSource = createRowsSource(null) }: TrainStoreDeps): TrainStore {
  const clockNow = () => now().getTime();
  let call: PendingCall<TrainReply> | null = null;
  /** Cancels the mapping of the rows of a run about to start. */
  let preparing: AbortController | null = null;
  let n = 0;
  /** The "Check the run" warning on screen, dismissed as soon as the configuration builds. */
  let checkNotice: number | null = null;
  let checkMessage: string | null = null;
  /** The configuration the current run started with (the form may change while it trains). */
  let runConfig: TrainConfig | null = null;
  const runIdOf = newRunId ?? (() => `run-${Date.now().toString(36)}-${(n++).toString(36)}`);

  /** After a refused start: once the configuration (or the data's mapping) is fixed, the warning goes. */
  let rechecking: AbortController | null = null;
  const recheck = () => {
    if (checkNotice === null) return;
    rechecking?.abort();
    rechecking = null;
    const st = store.getState();
    const datasets = st.config.datasetIds.map((id) => data.getState().get(id)).filter((d): d is StoredDataset => !!d);
    const fixed = (built: ReturnType<typeof buildTrainSpec>) => {
      if ('error' in built || checkNotice === null) return;
      notices.getState().dismiss(checkNotice);
      checkNotice = null;
      if (store.getState().error === checkMessage) store.setState({ error: null });
    };
    const head = trainSpecHead(st.config, datasets);
    // Small datasets are checked here at once; a large upload's rows come from the mapping worker first.
    if ('error' in head || head.used.every((d) => d.rows.length <= SYNC_CHECK_ROWS)) return fixed(buildTrainSpec(st.config, datasets));
    const c = new AbortController();
    rechecking = c;
    void Promise.all(head.used.map(async (ds) => [ds, await rowsSource(ds, trainRowsRequest(head.template, st.config, ds), { signal: c.signal })] as const)).then(
      (got) => {
        if (c.signal.aborted) return;
        const rows = new Map(got);
        fixed(buildTrainSpec(st.config, datasets, (ds, req) => rows.get(ds) ?? datasetRows(ds, req)));
      },
      () => {},
    );
  };
  data.subscribe(() => recheck());

  const store = createStore<TrainState>()((set, get) => {
    const saveCheckpoint = async (e: Extract<TrainEvent, { kind: 'checkpoint' }>) => {
      const run = get().run;
      if (!run) return;
      const meta: CheckpointMeta = {
        runId: e.runId,
        label: run.label,
        method: run.method,
        modelName: e.file.model.name,
        step: e.step,
        totalSteps: run.totalSteps,
        created: now().toISOString(),
        options: run.options,
        evals: get().evals,
      };
      try {
        await (await db).putCheckpoint(meta, e.file);
        set({ lastCheckpointStep: e.step });
        await get().loadCheckpoints();
      } catch (err) {
        notices.getState().pushError(err, 'Saving the checkpoint');
      }
    };

    const onEvent = (c: () => PendingCall<TrainReply> | null) => (e: TrainEvent) => {
      if (call !== c()) return;
      switch (e.kind) {
        case 'phase':
          set({ phase: e.phase, clock: clockOnPhase(get().clock, e.phase, clockNow()) });
          break;
        case 'prepared': {
          const run = get().run;
          const ms = clockNow();
          set({
            status: 'running',
            log: e.log,
            clock: { startMs: ms, fromStep: e.step, lastMs: ms, lastStep: e.step, pausedMs: 0, pausedSince: null },
            run: run && { ...run, totalSteps: e.totalSteps, trainableParams: e.trainableParams, heldOutCount: e.heldOutCount },
          });
          break;
        }
        case 'step': {
          const clock = get().clock;
          set({ log: [...get().log, e.log], clock: clock && { ...clock, lastMs: clockNow(), lastStep: e.log.step } });
          break;
        }
        case 'sample':
          set({ samples: [...get().samples, { step: e.step, text: e.text }] });
          break;
        case 'eval':
          set({ evals: [...get().evals.filter((x) => x.step !== e.step), { step: e.step, metrics: e.metrics }].sort((a, b) => a.step - b.step) });
          break;
        case 'checkpoint':
          void saveCheckpoint(e);
          break;
      }
    };

    const follow = async (c: PendingCall<TrainReply>) => {
      try {
        const result = await c.result;
        if (call !== c) return;
        set({ status: 'done', phase: null, result });
        record(result);
        // The run ended and its tags are saved: its checkpoint has served.
        try {
          await (await db).deleteCheckpoint(result.runId);
          await get().loadCheckpoints();
        } catch {
          /* a stale checkpoint is harmless */
        }
        notices.getState().push({
          kind: 'info',
          title: result.outcome === 'finished' ? 'Training finished' : 'Training stopped early',
          message: `${get().run?.label ?? 'The run'}: ${result.steps} steps. Saved ${[...result.saved.tags.map((t) => `<${t}>`), result.saved.head ? `head ${result.saved.head}` : '', result.saved.adapter ?? ''].filter(Boolean).join(', ') || 'nothing'} to the library.`,
        });
      } catch (e) {
        if (call !== c) return;
        if (isAbortError(e)) set({ status: 'cancelled', phase: null });
        else {
          set({ status: 'error', phase: null, error: String((e as Error)?.message ?? e) });
          notices.getState().pushError(e, 'Training');
        }
      } finally {
        if (call === c) call = null;
      }
    };

    const record = (result: TrainReply) => {
      const { log, run } = get();
      const config = runConfig ?? get().config;
      const rec: RunRecord = {
        runId: result.runId,
        label: run?.label ?? result.runId,
        finished: now().toISOString(),
        config: structuredClone(config),
        datasetNames: config.datasetIds.map((id) => data.getState().get(id)?.name ?? id),
        steps: result.steps,
        saved: result.saved,
        metrics: Object.fromEntries(Object.entries(result.metrics).map(([k, v]) => [k, typeof v === 'number' && Number.isFinite(v) ? v : null])),
        loss: thinCurve(log.filter((l) => !l.skipped).map((l) => [l.step, l.loss] as [number, number])),
      };
      const history = [...get().history.filter((h) => h.runId !== rec.runId), rec].slice(-HISTORY_RUNS);
      set({ history });
      try {
        storage?.setItem(HISTORY_KEY, JSON.stringify(history));
      } catch {
        /* storage full or unavailable: the history lasts for this page */
      }
    };

    const needModel = (): boolean => {
      if (model.getState().model) return true;
      notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first.' });
      return false;
    };

    return {
      config: loadConfig(storage),
      status: 'idle',
      phase: null,
      run: null,
      log: [],
      evals: [],
      samples: [],
      clock: null,
      result: null,
      error: null,
      checkpoints: [],
      history: loadHistory(storage),
      lastCheckpointStep: null,
      preparingRows: null,

      setConfig(patch) {
        set({ config: { ...get().config, ...patch } });
        recheck();
      },
      setHyper(patch) {
        set({ config: { ...get().config, hyper: { ...get().config.hyper, ...patch } } });
        recheck();
      },
      applyPreset(id) {
        const p = TEMPLATE_PRESETS.find((x) => x.id === id);
        if (!p) return;
        set({
          config: {
            ...get().config,
            method: p.method,
            template: p.template,
            outputKind: p.outputKind,
            outputField: p.outputField,
            spacedFields: p.spacedFields ?? [],
            fieldMap: {},
          },
        });
      },

      async start() {
        if (call || preparing) return;
        if (!needModel()) return;
        const { config } = get();
        const datasets = config.datasetIds.map((id) => data.getState().get(id)).filter((d): d is StoredDataset => !!d);
        // The rows first (a large upload is mapped and split in the mapping worker, with progress and Cancel), then the spec from them.
        const head = trainSpecHead(config, datasets);
        const fetched = new Map<StoredDataset, DatasetRows>();
        if (!('error' in head)) {
          const c = new AbortController();
          preparing = c;
          const total = head.used.reduce((s, d) => s + d.rows.length, 0);
          let before = 0;
          set({ preparingRows: { done: 0, total } });
          try {
            for (const ds of head.used) {
              const onProgress = (done: number) => set({ preparingRows: { done: before + done, total } });
              fetched.set(ds, await rowsSource(ds, trainRowsRequest(head.template, config, ds), { signal: c.signal, onProgress }));
              before += ds.rows.length;
            }
          } catch (e) {
            if (!isAbortError(e)) {
              set({ error: String((e as Error)?.message ?? e) });
              notices.getState().pushError(e, 'Preparing the training rows');
            }
            return;
          } finally {
            preparing = null;
            set({ preparingRows: null });
          }
        }
        const built = buildTrainSpec(config, datasets, (ds, req) => fetched.get(ds) ?? datasetRows(ds, req));
        if ('error' in built) {
          set({ error: built.error });
          checkNotice = notices.getState().push({ kind: 'warning', title: 'Check the run', message: built.error });
          checkMessage = built.error;
          return;
        }
        // The configuration is fine now: the warning about the last attempt is stale.
        if (checkNotice !== null) notices.getState().dismiss(checkNotice);
        checkNotice = null;
        if (built.dropped) {
          notices.getState().push({ kind: 'info', title: 'Rows left out', message: `${built.dropped} rows have no numeric label and are not used.` });
        }
        const runId = runIdOf();
        runConfig = structuredClone(config);
        const options = { checkpointEvery: config.checkpointEvery, evalEvery: config.evalEvery, evalLimit: config.evalLimit };
        set({
          status: 'starting',
          phase: 'preparing',
          run: {
            runId,
            label: built.label,
            method: config.method,
            totalSteps: config.hyper.steps,
            trainableParams: null,
            heldOutCount: null,
            resumedFrom: null,
            options,
            outputKind: config.method === 'stage1' ? 'text' : config.outputKind,
          },
          log: [],
          evals: [],
          samples: [],
          clock: null,
          result: null,
          error: null,
          lastCheckpointStep: null,
        });
        const c: PendingCall<TrainReply> = client.start('trainStart', { spec: built.spec, runId, ...options }, { onEvent: onEvent(() => c) });
        call = c;
        await follow(c);
      },

      async pause() {
        if (!call) return;
        try {
          await client.request('trainControl', { action: 'pause' });
        } catch (e) {
          notices.getState().pushError(e, 'Pausing');
        }
      },
      async resume() {
        if (!call) return;
        try {
          await client.request('trainControl', { action: 'resume' });
        } catch (e) {
          notices.getState().pushError(e, 'Resuming');
        }
      },
      async finish() {
        if (!call) return;
        try {
          await client.request('trainControl', { action: 'finish' });
        } catch (e) {
          notices.getState().pushError(e, 'Finishing');
        }
      },
      cancel() {
        preparing?.abort();
        call?.cancel();
      },

      async loadCheckpoints() {
        try {
          set({ checkpoints: await (await db).listCheckpoints() });
        } catch (e) {
          notices.getState().pushError(e, 'Reading checkpoints');
        }
      },

      async resumeCheckpoint(runId) {
        if (call) {
          notices.getState().push({ kind: 'warning', title: 'A run is in progress', message: 'Finish or cancel it before resuming another.' });
          return;
        }
        if (!needModel()) return;
        const meta = get().checkpoints.find((c) => c.runId === runId);
        let file;
        try {
          file = await (await db).getCheckpointFile(runId);
        } catch (e) {
          notices.getState().pushError(e, 'Reading the checkpoint');
          return;
        }
        if (!meta || !file) {
          notices.getState().push({ kind: 'error', title: 'Checkpoint not found', message: `No saved checkpoint for ${runId}.` });
          return;
        }
        const options = meta.options;
        set({
          status: 'starting',
          phase: 'preparing',
          run: { runId, label: meta.label, method: meta.method as Method, totalSteps: meta.totalSteps, trainableParams: null, heldOutCount: null, resumedFrom: meta.step, options },
          log: [],
          samples: [],
          clock: null,
          evals: meta.evals,
          result: null,
          error: null,
          lastCheckpointStep: meta.step,
        });
        const c: PendingCall<TrainReply> = client.start('trainResume', { file, runId, ...options }, { onEvent: onEvent(() => c) });
        call = c;
        await follow(c);
      },

      async deleteCheckpoint(runId) {
        try {
          await (await db).deleteCheckpoint(runId);
        } catch (e) {
          notices.getState().pushError(e, 'Deleting the checkpoint');
        }
        await get().loadCheckpoints();
      },

      reset() {
        if (call) return;
        set({ status: 'idle', phase: null, run: null, log: [], evals: [], samples: [], clock: null, result: null, error: null, lastCheckpointStep: null });
      },
    };
  });

  if (storage) {
    let last = '';
    store.subscribe((s) => {
      const json = JSON.stringify(s.config);
      if (json === last) return;
      last = json;
      try {
        storage.setItem(CONFIG_KEY, json);
      } catch {
        /* storage full or blocked: the config just is not remembered */
      }
    });
  }
  return store;
}
