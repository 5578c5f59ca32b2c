/**
 * Experiments on any data set of the workbench (a built-in or an upload in the Data panel; the
 * CLI's --data file): a column mapping — input column(s), target column, task kind — becomes an
 * ordinary task definition (data builder "dataset"), so the same grid, split, methods and tables
 * apply. The rows themselves travel beside the definition (RunExperimentOptions.datasets), found by
 * name; the definition keeps the rows' hash, so saved results are reused only for the same data.
 *
 * A mapping that cannot work is an error naming what to change: a column the data set lacks, a
 * regression target that is not numeric, too few rows for a training and a test side.
 */
import { splitByKey } from '../data/split';
import { datasetHash } from '../train/protocol';
import { BUILTIN_TASKS, Problems } from './tasks';
import type { OutputKind, SplitRule, TaskDefinition } from './types';

export type Row = Record<string, string>;

/** A data set handed to an experiment: its name (what tasks refer to), columns and rows. */
export interface ExperimentDataset {
  name: string;
  columns: string[];
  rows: Row[];
}

/** What a user picks: which columns are read, which is predicted, and how. */
export interface DatasetMapping {
  inputs: string[];
  target: string;
  /** Default (or 'auto'): inferred from the target column (inferKind). */
  kind?: OutputKind | 'auto';
  /** Fractions of the distinct inputs for test and validation (default 0.2, 0) and the split's seed (0). */
  test?: number;
  validation?: number;
  seed?: number;
  /** Task id (default: from the data set's name). */
  id?: string;
}

/** At least this many training rows and one test row after the split. */
export const MIN_TRAIN_ROWS = 2;
/** A regression target may have at most this share of values that are not numbers (those rows are left out). */
export const MAX_NON_NUMERIC = 0.1;

const hashes = new WeakMap<readonly Row[], string>();

/** datasetHash of a data set's rows, computed once per rows array (the form re-checks on every edit). */
export function rowsHash(rows: readonly Row[]): string {
  let h = hashes.get(rows);
  if (h === undefined) {
    h = datasetHash(rows);
    hashes.set(rows, h);
  }
  return h;
}

export const isNumber = (v: string): boolean => v.trim() !== '' && Number.isFinite(Number(v));

/**
 * The task kind a target column suggests: numbers → regression, except a few distinct integers
 * (0/1 labels, ratings) → classification; text with few distinct values relative to the rows →
 * classification; other text → generation ('text').
 */
export function inferKind(values: readonly string[]): OutputKind {
  const vs = values.map((v) => v.trim()).filter((v) => v !== '');
  if (vs.length === 0) return 'text';
  const distinct = new Set(vs);
  const numeric = vs.filter(isNumber).length;
  if (numeric >= vs.length * (1 - MAX_NON_NUMERIC)) {
    const ints = [...distinct].every((v) => !isNumber(v) || Number.isInteger(Number(v)));
    return ints && distinct.size <= 10 ? 'classification' : 'regression';
  }
  return distinct.size <= Math.max(2, Math.min(50, vs.length / 4)) ? 'classification' : 'text';
}

const METRIC_OF = { regression: 'mse', classification: 'accuracy', text: 'bleu' } as const;
const isSmiles = (column: string) => /smiles/i.test(column);

/** A name usable as a tag (<Name>): letters, digits, _ or -, starting with a letter or _, capitalised. */
export function tagNameOf(s: string): string {
  let t = s.trim().replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[A-Za-z_]/.test(t)) t = `_${t}`;
  t = t.slice(0, 64);
  return t === '_' ? 'Data' : t[0].toUpperCase() + t.slice(1);
}

/** A task id (letters, digits, - or _, ≤ 40) from a data set's name, never a built-in task's id. */
export function taskIdOf(name: string): string {
  let id = name.replace(/\.[A-Za-z0-9]{1,6}$/, '').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '').slice(0, 34) || 'data';
  if (BUILTIN_TASKS.some((t) => t.id === id)) id = `${id}-data`;
  return id;
}

/** Column names as template text: the template's special characters escaped. */
const text = (s: string) => s.replace(/[\\<>{}]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');

const inputField = (i: number, n: number) => (n === 1 ? 'input' : `input${i}`);

/** The rows of a data set that a task over it can use, and why the others cannot. */
export function usableRows(task: TaskDefinition, ds: ExperimentDataset): { rows: Row[]; empty: number; nonNumeric: number; nonNumericExample?: { row: number; value: string } } {
  const src = task.data;
  if (src.builder !== 'dataset') throw new Error(`${task.id}: not a data-set task`);
  const out = task.output.field;
  const regression = task.output.kind === 'regression';
  const rows: Row[] = [];
  let empty = 0;
  let nonNumeric = 0;
  let nonNumericExample: { row: number; value: string } | undefined;
  const map = Object.entries(src.columns);
  const splitColumn = task.split.kind === 'column' ? task.split.column : null;
  const vals: string[] = new Array(map.length);
  // Plain loops: this reads every row of data sets with hundreds of thousands of them.
  rowLoop: for (let i = 0; i < ds.rows.length; i++) {
    const r = ds.rows[i];
    for (let j = 0; j < map.length; j++) {
      const v = (r[map[j][1]] ?? '').trim();
      if (v === '') {
        empty++;
        continue rowLoop;
      }
      vals[j] = v;
    }
    // Only what the task reads: its fields, and the split's column (a copy of every column costs too much on large data).
    const row: Row = {};
    if (splitColumn !== null) row[splitColumn] = r[splitColumn] ?? '';
    for (let j = 0; j < map.length; j++) row[map[j][0]] = vals[j];
    if (regression && !isNumber(row[out])) {
      nonNumeric++;
      nonNumericExample ??= { row: i + 1, value: row[out] };
      continue;
    }
    rows.push(row);
  }
  return { rows, empty, nonNumeric, nonNumericExample };
}

const tasks = new WeakMap<readonly Row[], Map<string, TaskDefinition>>();

/** A task definition over a data set: a Tag-LLM-style template with a domain tag per input column and a function tag for the target. */
export function datasetTask(ds: ExperimentDataset, m: DatasetMapping): TaskDefinition {
  // Remembered per rows array and mapping (the form asks again on every edit; the kind and labels read every row).
  const key = JSON.stringify([ds.name, ds.columns, m]);
  let byMapping = tasks.get(ds.rows);
  if (!byMapping) tasks.set(ds.rows, (byMapping = new Map()));
  let t = byMapping.get(key);
  if (!t) byMapping.set(key, (t = makeDatasetTask(ds, m)));
  return structuredClone(t);
}

function makeDatasetTask(ds: ExperimentDataset, m: DatasetMapping): TaskDefinition {
  const kind: OutputKind = !m.kind || m.kind === 'auto' ? inferKind(ds.rows.map((r) => r[m.target] ?? '')) : m.kind;
  const n = m.inputs.length;
  const columns: Record<string, string> = {};
  m.inputs.forEach((c, i) => (columns[inputField(i, n)] = c));
  columns.output = m.target;
  const domain = [...new Set(m.inputs.map((c) => (isSmiles(c) ? 'SMILES' : tagNameOf(c))))];
  let fn = tagNameOf(m.target);
  while (domain.includes(fn)) fn = `${fn}_`;
  const lines = m.inputs.map((c, i) => `The ${text(c)} is <${isSmiles(c) ? 'SMILES' : tagNameOf(c)}> {${inputField(i, n)}}.`);
  const template = `# # Input: ${lines.join('\n')}\n# # Output: The ${text(m.target)} is <${fn}> {output}`;
  const classes = kind === 'classification' ? [...new Set(ds.rows.map((r) => (r[m.target] ?? '').trim()).filter(Boolean))].sort() : [];
  const hint = classes.length > 0 && classes.length <= 10 ? ` (one of: ${text(classes.join(', '))})` : kind === 'regression' ? ' (a number)' : '';
  const directLines = m.inputs.map((c, i) => `The ${text(c)} is {${inputField(i, n)}}.`);
  const directTemplate = `# # Input: ${directLines.join('\n')}\n# # Output: The ${text(m.target)}${hint} is {output}`;
  const fields: NonNullable<TaskDefinition['fields']> = {};
  m.inputs.forEach((c, i) => (fields[inputField(i, n)] = { overLength: 'truncate', ...(isSmiles(c) ? { smiles: true } : {}) }));
  if (kind === 'text') fields.output = { overLength: 'truncate' };
  // A loop, not Math.max(...rows): a data set can have more rows than a call takes arguments.
  let decimals: number | undefined;
  if (kind === 'regression') {
    decimals = 0;
    for (const r of ds.rows) decimals = Math.max(decimals, /\.(\d+)/.exec(r[m.target] ?? '')?.[1].length ?? 0);
    decimals = Math.min(3, decimals);
  }
  const split: SplitRule = { kind: 'random', seed: m.seed ?? 0, test: m.test ?? 0.2, ...(m.validation ? { validation: m.validation } : {}) };
  return {
    id: m.id ?? taskIdOf(ds.name),
    title: `${ds.name}: ${m.target}`,
    data: { builder: 'dataset', name: ds.name, hash: rowsHash(ds.rows), columns },
    split,
    template,
    tags: { domain, function: fn },
    output: { kind, field: 'output' },
    metric: METRIC_OF[kind],
    fields,
    ...(decimals !== undefined ? { textDecimals: decimals } : {}),
    directTemplate,
  };
}

/** The mapping a data-set task was made from (inputs in field order), or null for another task. */
export function mappingOf(task: TaskDefinition): DatasetMapping | null {
  if (task.data.builder !== 'dataset' || task.split.kind !== 'random') return null;
  const cols = task.data.columns;
  const inputs = Object.keys(cols)
    .filter((f) => f !== task.output.field)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => cols[f]);
  if (!cols[task.output.field]) return null;
  return { id: task.id, inputs, target: cols[task.output.field], kind: task.output.kind, test: task.split.test, validation: task.split.validation ?? 0, seed: task.split.seed ?? 0 };
}

/**
 * Problems of a data-set task against the data it names, each "path: what is wrong and what to do":
 * the data set is missing or changed, a mapped column does not exist, a regression target is not
 * numeric, or too few rows are left for a training and a test side.
 */
export function checkDatasetTask(task: TaskDefinition, datasets: readonly ExperimentDataset[], path: string, p: Problems): void {
  const src = task.data;
  if (src.builder !== 'dataset') return;
  const ds = findDataset(datasets, src.name);
  if (!ds) {
    const have = datasets.map((d) => JSON.stringify(d.name)).join(', ');
    p.add(`${path}.data.name`, `no data set named ${JSON.stringify(src.name)} in the workbench${have ? ` (there are ${have})` : ''}: import it in the Data panel (CLI: --data <file>)`);
    return;
  }
  const missing = Object.entries(src.columns).filter(([, c]) => !ds.columns.includes(c));
  for (const [field, col] of missing) {
    p.add(`${path}.data.columns.${field}`, `the data set ${JSON.stringify(ds.name)} has no column ${JSON.stringify(col)} (its columns: ${ds.columns.join(', ')})`);
  }
  if (missing.length) return;
  if (src.hash !== undefined && src.hash !== rowsHash(ds.rows)) {
    p.add(`${path}.data.hash`, `the data set ${JSON.stringify(ds.name)} has changed since this definition was written (hash ${src.hash}, now ${rowsHash(ds.rows)}): pick it again in the form, or remove "hash"`);
  }
  for (const [suffix, msg] of rowProblems(task, ds)) p.add(`${path}${suffix}`, msg);
}

/**
 * The checks that read every row (numeric target, rows per side), remembered per rows array and
 * task: the form re-checks on every edit, and a large data set must not be re-read each time.
 */
const rowChecks = new WeakMap<readonly Row[], Map<string, Array<[string, string]>>>();

function rowProblems(task: TaskDefinition, ds: ExperimentDataset): Array<[string, string]> {
  const key = JSON.stringify([ds.name, task.data, task.output, task.split]);
  let byTask = rowChecks.get(ds.rows);
  if (!byTask) rowChecks.set(ds.rows, (byTask = new Map()));
  let out = byTask.get(key);
  if (!out) {
    const found: Array<[string, string]> = [];
    checkRows(task, ds, (suffix, msg) => found.push([suffix, msg]));
    byTask.set(key, (out = found));
  }
  return out;
}

/** The row checks' problems, with paths relative to the task ("" or ".output.kind"). */
function checkRows(task: TaskDefinition, ds: ExperimentDataset, add: (suffix: string, msg: string) => void): void {
  const src = task.data as Extract<TaskDefinition['data'], { builder: 'dataset' }>;
  const u = usableRows(task, ds);
  const target = src.columns[task.output.field];
  if (task.output.kind === 'regression' && u.nonNumeric > (u.rows.length + u.nonNumeric) * MAX_NON_NUMERIC) {
    const ex = u.nonNumericExample!;
    add(
      '.output.kind',
      `the target column ${JSON.stringify(target)} is not numeric (${u.nonNumeric} of ${u.rows.length + u.nonNumeric} values are not numbers, e.g. ${JSON.stringify(ex.value.slice(0, 40))} in row ${ex.row}): a regression needs numbers — choose classification or generation, or another target column`,
    );
    return;
  }
  const { train, test } = splitCounts(task, u.rows);
  if (train < MIN_TRAIN_ROWS || test < 1) {
    const why = [u.empty ? `${u.empty} with an empty mapped column` : '', u.nonNumeric ? `${u.nonNumeric} with a target that is not a number` : ''].filter(Boolean).join(', ');
    add(
      '',
      `too few rows: ${ds.name} has ${u.rows.length} usable row${u.rows.length === 1 ? '' : 's'}${why ? ` (${ds.rows.length - u.rows.length} left out: ${why})` : ''}, which split into ${train} training and ${test} test row${test === 1 ? '' : 's'}; an experiment needs at least ${MIN_TRAIN_ROWS} training rows and 1 test row — add rows or change the test fraction`,
    );
  }
}

/** Rows per side of the task's split (by distinct input, as loadTask splits; SMILES compared as written). */
function splitCounts(task: TaskDefinition, rows: readonly Row[]): { train: number; test: number } {
  const s = task.split;
  if (s.kind === 'column') {
    const test = rows.filter((r) => s.test.includes((r[s.column] ?? '').trim())).length;
    const val = rows.filter((r) => (s.validation ?? []).includes((r[s.column] ?? '').trim())).length;
    return { train: rows.length - test - val, test };
  }
  if (s.kind !== 'random') return { train: rows.length, test: 0 };
  const inputs = Object.keys(task.data.builder === 'dataset' ? task.data.columns : {}).filter((f) => f !== task.output.field);
  const parts = splitByKey(rows, (r) => (inputs.length === 1 ? r[inputs[0]] : inputs.map((f) => r[f]).join('\u0000')), {
    seed: s.seed ?? 0,
    fractions: { train: 1 - s.test - (s.validation ?? 0), validation: s.validation ?? 0, test: s.test },
  });
  return { train: parts.train.length, test: parts.test.length };
}

/** The data set of that name (the last one given wins: the newest import). */
export function findDataset(datasets: readonly ExperimentDataset[], name: string): ExperimentDataset | undefined {
  for (let i = datasets.length - 1; i >= 0; i--) if (datasets[i].name === name) return datasets[i];
  return undefined;
}

/** Problems of a mapping before it becomes a task: no input, the target among the inputs, unknown columns. */
export function mappingProblems(ds: ExperimentDataset, m: DatasetMapping): string[] {
  const out: string[] = [];
  if (m.inputs.length === 0) out.push('pick at least one input column');
  if (!m.target) out.push('pick the target column');
  if (m.target && m.inputs.includes(m.target)) out.push(`the target column ${JSON.stringify(m.target)} cannot also be an input`);
  for (const c of [...m.inputs, ...(m.target ? [m.target] : [])]) {
    if (!ds.columns.includes(c)) out.push(`the data set ${JSON.stringify(ds.name)} has no column ${JSON.stringify(c)} (its columns: ${ds.columns.join(', ')})`);
  }
  return out;
}
