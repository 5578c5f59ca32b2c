/**
 * The shapes of experiments: declarative task definitions, experiment definitions (model × tasks ×
 * methods × seeds, ablations, tag-length sweep) and their results. Everything here is plain JSON so a
 * definition can be written by hand, and results survive structuredClone (worker → UI) and files.
 * Schema and meaning: docs/experiments.md.
 */
import type { StepLog, TrainHyper } from '../train/trainer';

// ---------------------------------------------------------------------------------------------
// Methods, ablations, metrics

/** Tag-LLM (stages 1 → 2, or 1 → 3 for multi-dataset tasks), the protocol's baselines, and two extra ones. */
export type ExperimentMethod =
  | 'tag-llm'
  | 'prompt-tuning'
  | 'lora'
  | 'linear-probe'
  | 'domain-in-text'
  | 'nearest-neighbour'
  | 'direct-prompting';

export const EXPERIMENT_METHODS: readonly ExperimentMethod[] = [
  'tag-llm',
  'prompt-tuning',
  'lora',
  'linear-probe',
  'domain-in-text',
  'nearest-neighbour',
  'direct-prompting',
];

export const METHOD_LABELS: Readonly<Record<ExperimentMethod, string>> = {
  'tag-llm': 'Tag-LLM',
  'prompt-tuning': 'Prompt tuning',
  lora: 'LoRA',
  'linear-probe': 'Linear probe',
  'domain-in-text': 'Domain in text',
  'nearest-neighbour': 'Nearest neighbour',
  'direct-prompting': 'Direct prompting',
};

/** Tag-LLM ablations (each a variant of the Tag-LLM cell). */
export type Ablation = 'no-domain-tags' | 'no-function-tag' | 'no-head' | 'enriched';
export const ABLATIONS: readonly Ablation[] = ['no-domain-tags', 'no-function-tag', 'no-head', 'enriched'];
export type Variant = 'full' | Ablation;

export const VARIANT_LABELS: Readonly<Record<Variant, string>> = {
  full: 'Tag-LLM (full)',
  'no-domain-tags': 'without domain tags',
  'no-function-tag': 'without function tag',
  'no-head': 'without head (number as text)',
  enriched: 'enriched domain tags',
};

export type MetricName = 'mse' | 'mae' | 'pearson' | 'accuracy' | 'bleu' | 'chrf';
export const METRICS: readonly MetricName[] = ['mse', 'mae', 'pearson', 'accuracy', 'bleu', 'chrf'];

export const METRIC_INFO: Readonly<Record<MetricName, { label: string; higherIsBetter: boolean }>> = {
  mse: { label: 'MSE', higherIsBetter: false },
  mae: { label: 'MAE', higherIsBetter: false },
  pearson: { label: 'Pearson r', higherIsBetter: true },
  accuracy: { label: 'Accuracy', higherIsBetter: true },
  bleu: { label: 'BLEU', higherIsBetter: true },
  chrf: { label: 'chrF', higherIsBetter: true },
};

// ---------------------------------------------------------------------------------------------
// Task definitions

/** Where a task's rows come from. Paths are relative to the data folder (public/data, served at /data). */
export type DataSource =
  /** Distinct molecules (RDKit canonical SMILES) of SMILES tables, labelled with their QED: { input, output }. */
  | { builder: 'qed'; files?: string[] }
  /** Protein sequences (JSON name → sequence) labelled with the mean BLOSUM1 value of the residues the model sees: { name, input, output }. */
  | { builder: 'descriptor'; proteins?: string; table?: string }
  /** Davis binding affinities with DeepDTA's setting-1 folds: { input0: protein, input1: SMILES, output: pKd }. */
  | { builder: 'davis'; dir?: string }
  /** O'Neil drug combinations (DeepSynergy folds): { name1, smiles1, name2, smiles2, cell, output: Loewe synergy }. */
  | { builder: 'synergy'; labels?: string; smiles?: string; testFold?: number }
  /**
   * Tatoeba sentence pairs: { srcLang, tgtLang, source, target } with tag-style language codes (EN, FR…).
   * Training rows: both directions of EN↔each of `trainPairs`; test rows: those directions plus the
   * `pivots` (derived through English, never trained on).
   */
  | { builder: 'tatoeba'; dir?: string; trainPairs?: string[]; pivots?: Array<[string, string]>; seed?: number; testFraction?: number }
  /** Any CSV/TSV/JSONL file: `columns` maps template fields to file columns (other columns are kept for split rules). */
  | { builder: 'table'; file: string; format?: 'csv' | 'tsv' | 'jsonl'; columns: Record<string, string> }
  /**
   * A data set of the workbench (Data panel, built-in or uploaded; CLI --data), given to the runner
   * beside the definition (RunExperimentOptions.datasets) and found by `name`. `columns` maps template
   * fields to its columns; `hash` (datasetHash of its rows) ties the definition and results to that data.
   */
  | { builder: 'dataset'; name: string; hash?: string; columns: Record<string, string> };

export type DataBuilder = DataSource['builder'];

/** How rows are split into train / test (validation rows are set aside, never used). */
export type SplitRule =
  /** The builder's own split (Davis folds, DeepSynergy fold 0, Tatoeba's shared English split). */
  | { kind: 'predefined' }
  /** Seeded shuffle: the first round(n·test) rows test, the next round(n·validation) validation, the rest train. */
  | { kind: 'random'; seed?: number; test: number; validation?: number }
  /** By the value of a column: values in `test` → test, in `validation` → validation, the rest train. */
  | { kind: 'column'; column: string; test: string[]; validation?: string[] };

export interface FieldRule {
  /** Write the value with a space between residues (one token per residue: proteins). */
  spaced?: boolean;
  /** A value longer than maxChars is cut to maxChars ('truncate') or its row left out ('drop', default). */
  overLength?: 'truncate' | 'drop';
  /** The field holds SMILES: rows are split by RDKit canonical SMILES, so one molecule never sits on both sides. */
  smiles?: boolean;
}

export interface TaskCaps {
  /** At most this many training rows (a seeded sample; translation: per language pair). */
  maxTrain?: number;
  /** At most this many evaluation rows (a seeded sample; translation: per direction). */
  maxEval?: number;
  /** At most this many characters per field (see FieldRule.overLength). */
  maxChars?: number;
}

export type OutputKind = 'regression' | 'classification' | 'text';

export interface TaskDefinition {
  /** Short name, unique within an experiment (letters, digits, -, _). */
  id: string;
  title: string;
  data: DataSource;
  split: SplitRule;
  /** METHODS.md template: <Tag> references, {field} slots, <{field}> tags named by a field's value. */
  template: string;
  tags: {
    /** Domain tag names (literal ones in the template, and names that <{field}> references take). */
    domain: string[];
    /** The function tag in front of the output, or null (then Tag-LLM does not apply). */
    function: string | null;
  };
  output: { kind: OutputKind; field: string };
  metric: MetricName;
  fields?: Record<string, FieldRule>;
  /** Decimals of labels written as text (the no-head ablation); default 3. */
  textDecimals?: number;
  /** Generation budget for methods evaluated by generating (direct prompting, no-head, translation). */
  maxNewTokens?: number;
  /**
   * Direct prompting's prompt: a template without tags that states the task (the quantity asked, the
   * target language). `{field}` slots as in `template`, plus `{<field>Name}` for a language-code field
   * (srcLang → srcLangName = "French"). Default: `template` with its tags removed and each <{field}>
   * written as its language name.
   */
  directTemplate?: string;
  /** The paper's training budget for this task in epochs (Table 5), used when the experiment asks for "paperEpochs". */
  epochs?: number;
  /** Task-specific caps; they override the experiment's. */
  caps?: TaskCaps;
}

/** A task entry of an experiment: a built-in id, a built-in with changes, or a whole definition. */
export type TaskEntry = string | (Partial<TaskDefinition> & { id: string; extends?: string });

// ---------------------------------------------------------------------------------------------
// Experiment definitions

export interface ExperimentDefinition {
  name: string;
  /** For the CLI (the app runs on the model it has loaded). Paths relative to the working directory. */
  model?: { path: string; tokenizer?: string; maxContext?: number };
  /** CLI: folder of the built-in data files (default public/data). */
  dataDir?: string;
  tasks: TaskDefinition[];
  methods: ExperimentMethod[];
  /** Training seeds (initialisation and data order); splits are the tasks' own. Default [0]. */
  seeds: number[];
  /** Hyperparameters of every training run (the same budget for every method). */
  hyper: Partial<TrainHyper>;
  /** Overrides for Tag-LLM's stage 1 (domain tags); default: `hyper`. */
  stage1Hyper?: Partial<TrainHyper>;
  /** Rows per tag (paper: 10). */
  tagLength: number;
  caps: TaskCaps;
  ablations: Ablation[];
  /** Tag-length sweep, e.g. [1, 5, 10, 20] (Tag-LLM only). */
  tagLengths: number[];
  /** Isolation mask for domain-tagged spans. */
  isolate?: boolean;
  /** LoRA baseline: rank 8, α 16, targets q and v (PEFT's default) unless "all-linear" or a list. */
  lora?: { rank?: number; alpha?: number; targets?: 'all-linear' | string[] };
  /** The PEFT method of the "domain in text" baseline (paper Table 3); default LoRA. */
  domainInTextPeft?: 'lora' | 'prompt-tuning' | 'linear-probe';
  /**
   * Numeric tasks: also run the plain PEFT rows of Table 2 (prompt tuning, LoRA, domain in text
   * without a head: the number is generated as text and parsed). Default true.
   */
  plainPeft?: boolean;
  /** Train each task for its paper epochs (TaskDefinition.epochs, Table 5) instead of hyper.steps / hyper.epochs. */
  paperEpochs?: boolean;
  /** Also evaluate before training (costs one more evaluation per cell). */
  evalBefore?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Results

export const RESULTS_FORMAT = 'tag-workbench/experiment-results';

export type CellStatus = 'done' | 'failed' | 'n/a';

/** One training stage of a cell, with its loss curve. */
export interface StageResult {
  /** 'stage1:<SMILES>', 'stage2', 'stage3', or the baseline's method. */
  stage: string;
  tags: string[];
  steps: number;
  trainableParams: number;
  /** True when the stage was trained once and reused by several cells (stage-1 domain tags). */
  shared?: boolean;
  log: StepLog[];
}

/** Scores of one translation direction. */
export interface TranslationScore {
  /** 'FR→EN'. */
  pair: string;
  src: string;
  tgt: string;
  group: 'seen' | 'unseen-pair' | 'unseen-domain';
  n: number;
  bleu: number;
  chrf: number;
}

export interface CellResult {
  /** `${task}/${method}/${variant}/p${tagLength}/s${seed}`. */
  id: string;
  task: string;
  method: ExperimentMethod;
  variant: Variant;
  tagLength: number;
  seed: number;
  status: CellStatus;
  /** Why a cell failed or does not apply. */
  error?: string;
  /** The task's metric and its value (null when failed / n/a). */
  metric: MetricName;
  value: number | null;
  /** Every metric measured (mse, mae, pearson, bleu, chrf, nll…). */
  metrics: Record<string, number>;
  metricsBefore?: Record<string, number>;
  trainableParams: number;
  trainRows: number;
  evalRows: number;
  /** Generated answers with no number in them (replaced by the training mean), out of evalRows. */
  unparsable?: number;
  stages: StageResult[];
  translation?: TranslationScore[];
  /** The first few answers of a cell scored on generations (or nearest-neighbour labels), for a look at what the model says. */
  samples?: Array<{ input: string; reference: string; output: string }>;
  seconds: number;
  /** Hash of everything the cell depends on: a resumed run reuses the cell only when it matches. */
  configKey: string;
  finished: string;
}

export interface ExperimentResults {
  format: typeof RESULTS_FORMAT;
  version: 1;
  name: string;
  model: { name: string; arch: string; dModel: number; vocabSize: number };
  definition: ExperimentDefinition;
  started: string;
  updated: string;
  status: 'running' | 'complete' | 'cancelled';
  cells: CellResult[];
}

export interface ExperimentProgress {
  cell: string;
  /** 1-based position of the cell and how many there are. */
  index: number;
  total: number;
  phase: 'data' | 'train' | 'eval' | 'generate' | 'done' | 'skipped' | 'failed';
  /** Training stage when phase = 'train' ('stage1:<Protein>', 'stage2', 'lora'…). */
  stage?: string;
  step?: number;
  steps?: number;
  loss?: number;
  /** Generated / evaluated so far, of how many (phase 'generate'). */
  done?: number;
  of?: number;
  value?: number | null;
  message?: string;
}
