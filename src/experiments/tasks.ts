/**
 * Declarative task definitions: the paper's five tasks (METHODS.md templates) as data, and the
 * validation of task definitions written by users as JSON (same schema; clear errors naming the
 * offending field). Loading a task's rows lives in data.ts.
 */
import { tagNameProblem } from '../tags/tag';
import { parseTemplate, type Template } from '../tags/template';
import { functionTagOf, PAPER_EPOCHS } from '../train/protocol';
import {
  METRIC_INFO,
  type DataBuilder,
  type MetricName,
  type OutputKind,
  type TaskCaps,
  type TaskDefinition,
  type TaskEntry,
} from './types';

export const BUILTIN_TASKS: readonly TaskDefinition[] = [
  {
    id: 'qed',
    title: 'QED',
    data: { builder: 'qed' },
    split: { kind: 'random', seed: 0, test: 0.1, validation: 0.1 },
    template: '# # Input: The SMILES of the molecule is <SMILES> {input}.\n# # Output: The quantitative estimate of druglikeness is <QED> {output}',
    tags: { domain: ['SMILES'], function: 'QED' },
    output: { kind: 'regression', field: 'output' },
    metric: 'mse',
    fields: { input: { overLength: 'drop' } },
    textDecimals: 3,
    directTemplate:
      '# # Input: The SMILES of the molecule is {input}.\n# # Output: The quantitative estimate of druglikeness (QED, a number between 0 and 1) of this molecule is {output}',
    epochs: PAPER_EPOCHS.qed,
  },
  {
    id: 'descriptor',
    title: 'Descriptor',
    data: { builder: 'descriptor' },
    split: { kind: 'random', seed: 0, test: 0.1, validation: 0.1 },
    template: '# # Input: The protein sequence is <Protein> {input}.\n# # Output: The descriptor value is <Descriptor> {output}',
    tags: { domain: ['Protein'], function: 'Descriptor' },
    output: { kind: 'regression', field: 'output' },
    metric: 'mse',
    fields: { input: { spaced: true, overLength: 'truncate' } },
    textDecimals: 3,
    directTemplate:
      '# # Input: The protein sequence is {input}.\n# # Output: The descriptor value (the mean BLOSUM1 descriptor of its residues, a number) of this protein is {output}',
    epochs: PAPER_EPOCHS.descriptor,
  },
  {
    id: 'binding',
    title: 'Binding affinity',
    data: { builder: 'davis' },
    split: { kind: 'predefined' },
    template:
      '# # Input: The protein sequence is <Protein> {input0}.\nThe SMILES of the drug is <SMILES> {input1}.\n# # Output: The binding affinity is <BA> {output}',
    tags: { domain: ['Protein', 'SMILES'], function: 'BA' },
    output: { kind: 'regression', field: 'output' },
    metric: 'pearson',
    fields: { input0: { spaced: true, overLength: 'truncate' }, input1: { overLength: 'truncate', smiles: true } },
    textDecimals: 2,
    directTemplate:
      '# # Input: The protein sequence is {input0}.\nThe SMILES of the drug is {input1}.\n# # Output: The binding affinity of the drug to the protein (pKd, a number) is {output}',
    epochs: PAPER_EPOCHS.binding,
  },
  {
    id: 'synergy',
    title: 'Drug combination',
    data: { builder: 'synergy' },
    split: { kind: 'predefined' },
    template:
      '# # Input: Drug 1 is {name1}. Its SMILES is <SMILES> {smiles1}.\nDrug 2 is {name2}. Its SMILES is <SMILES> {smiles2}.\nThe cell line is {cell}.\n# # Output: The drug combination sensitivity score is <DC> {output}',
    tags: { domain: ['SMILES'], function: 'DC' },
    output: { kind: 'regression', field: 'output' },
    metric: 'mae',
    fields: { smiles1: { overLength: 'truncate', smiles: true }, smiles2: { overLength: 'truncate', smiles: true } },
    textDecimals: 1,
    directTemplate:
      '# # Input: Drug 1 is {name1}. Its SMILES is {smiles1}.\nDrug 2 is {name2}. Its SMILES is {smiles2}.\nThe cell line is {cell}.\n# # Output: The drug combination sensitivity score (Loewe synergy, a number) of the two drugs is {output}',
    epochs: PAPER_EPOCHS.synergy,
  },
  {
    id: 'translation',
    title: 'Translation',
    data: { builder: 'tatoeba' },
    split: { kind: 'predefined' },
    template: '# # Input: <{srcLang}> {source}\n# # Output: <{tgtLang}> <Translate> {target}',
    tags: { domain: ['EN', 'FR', 'RU', 'DE', 'IT', 'EL', 'ES', 'PT'], function: 'Translate' },
    output: { kind: 'text', field: 'target' },
    metric: 'bleu',
    fields: { source: { overLength: 'drop' }, target: { overLength: 'drop' } },
    maxNewTokens: 64,
    directTemplate: 'Translate the following {srcLangName} sentence into {tgtLangName}.\n# # Input: {source}\n# # Output: {target}',
    epochs: PAPER_EPOCHS.translation,
  },
];

export function builtinTask(id: string): TaskDefinition | undefined {
  const t = BUILTIN_TASKS.find((x) => x.id === id);
  return t ? structuredClone(t) : undefined;
}

/** Fields each builder writes into a row. */
export const BUILDER_FIELDS: Readonly<Record<Exclude<DataBuilder, 'table' | 'dataset'>, readonly string[]>> = {
  qed: ['input', 'output'],
  descriptor: ['name', 'input', 'output'],
  davis: ['input0', 'input1', 'output'],
  synergy: ['name1', 'smiles1', 'name2', 'smiles2', 'cell', 'output'],
  tatoeba: ['srcLang', 'tgtLang', 'source', 'target'],
};

const PREDEFINED_SPLITS: readonly DataBuilder[] = ['davis', 'synergy', 'tatoeba'];
const METRICS_OF: Readonly<Record<OutputKind, readonly MetricName[]>> = {
  regression: ['mse', 'mae', 'pearson'],
  classification: ['accuracy'],
  text: ['bleu', 'chrf'],
};
const TASK_KEYS = ['id', 'extends', 'title', 'data', 'split', 'template', 'tags', 'output', 'metric', 'fields', 'textDecimals', 'maxNewTokens', 'caps', 'directTemplate', 'epochs'];
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** A checker that collects problems as "path: message". */
export class Problems {
  readonly list: string[] = [];
  add(path: string, msg: string): void {
    this.list.push(path ? `${path}: ${msg}` : msg);
  }
  get ok(): boolean {
    return this.list.length === 0;
  }
}

export const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown) => (x === undefined ? 'nothing' : JSON.stringify(x));

export function unknownKeys(p: Problems, path: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) p.add(path, `unknown key "${k}" (known: ${known.join(', ')})`);
}

export function checkCaps(p: Problems, path: string, x: unknown): TaskCaps | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) {
    p.add(path, `must be an object like {"maxTrain": 64, "maxEval": 16, "maxChars": 40}, got ${show(x)}`);
    return undefined;
  }
  unknownKeys(p, path, x, ['maxTrain', 'maxEval', 'maxChars']);
  const caps: TaskCaps = {};
  for (const k of ['maxTrain', 'maxEval', 'maxChars'] as const) {
    const v = x[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) p.add(`${path}.${k}`, `must be a positive integer, got ${show(v)}`);
    else caps[k] = v;
  }
  return caps;
}

const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/**
 * Resolves one task entry of an experiment (a built-in id, a built-in with changes, or a whole
 * definition) into a full definition, checking every field. Returns null when there were problems.
 */
export function resolveTaskEntry(entry: unknown, path: string, p: Problems): TaskDefinition | null {
  const before = p.list.length;
  if (typeof entry === 'string') {
    const t = builtinTask(entry);
    if (!t) p.add(path, `unknown task "${entry}" (built-in tasks: ${BUILTIN_TASKS.map((x) => x.id).join(', ')}; or give a whole definition)`);
    return t ?? null;
  }
  if (!isObject(entry)) {
    p.add(path, `must be a task id or a task definition object, got ${show(entry)}`);
    return null;
  }
  unknownKeys(p, path, entry, TASK_KEYS);
  const e = entry as Partial<TaskDefinition> & { id?: unknown; extends?: unknown };
  if (typeof e.id !== 'string' || !ID.test(e.id)) {
    p.add(`${path}.id`, `must be a short name of letters, digits, - or _ (got ${show(e.id)})`);
    return null;
  }
  let base: TaskDefinition | undefined;
  if (e.extends !== undefined) {
    if (typeof e.extends !== 'string' || !(base = builtinTask(e.extends))) {
      p.add(`${path}.extends`, `must name a built-in task (${BUILTIN_TASKS.map((x) => x.id).join(', ')}), got ${show(e.extends)}`);
      return null;
    }
  } else base = builtinTask(e.id);
  const { extends: _x, ...own } = e;
  void _x;
  const merged = {
    ...(base ?? {}),
    ...own,
    title: own.title ?? (base && base.id === e.id ? base.title : e.id),
    caps: own.caps === undefined ? base?.caps : isObject(own.caps) ? { ...(base?.caps ?? {}), ...own.caps } : own.caps,
    fields: own.fields === undefined || isObject(own.fields) ? mergeFields(base, own) : own.fields,
  } as Record<string, unknown>;
  const t = checkTask(merged, path, p);
  return p.list.length === before ? t : null;
}

/** Field rules inherited from the base (only for fields an overriding template still has), then the entry's own. */
function mergeFields(base: TaskDefinition | undefined, own: Partial<TaskDefinition>): TaskDefinition['fields'] {
  let inherited = base?.fields ?? {};
  if (typeof own.template === 'string') {
    try {
      const fields = parseTemplate(own.template).fields;
      inherited = Object.fromEntries(Object.entries(inherited).filter(([f]) => fields.includes(f)));
    } catch {
      // The template's own error is reported by checkTask.
    }
  }
  const merged = { ...inherited, ...((own.fields as TaskDefinition['fields']) ?? {}) };
  return Object.keys(merged).length ? merged : undefined;
}

/** Checks a full task definition (after merging with its base). */
export function checkTask(x: Record<string, unknown>, path: string, p: Problems): TaskDefinition {
  const t = x as unknown as TaskDefinition;
  for (const k of ['title', 'data', 'split', 'template', 'tags', 'output', 'metric'] as const) {
    if (x[k] === undefined) p.add(`${path}.${k}`, 'is required (or "extends" a built-in task to inherit it)');
  }
  if (x.title !== undefined && typeof x.title !== 'string') p.add(`${path}.title`, `must be a string, got ${show(x.title)}`);

  // Data source.
  let builder: DataBuilder | null = null;
  let builderFields: readonly string[] | null = null;
  const d = x.data;
  if (d !== undefined) {
    if (!isObject(d) || typeof d.builder !== 'string' || !['qed', 'descriptor', 'davis', 'synergy', 'tatoeba', 'table', 'dataset'].includes(d.builder)) {
      p.add(`${path}.data`, `must be an object with "builder": one of qed, descriptor, davis, synergy, tatoeba, table, dataset (got ${show(d)})`);
    } else {
      builder = d.builder as DataBuilder;
      const dp = `${path}.data`;
      const str = (k: string) => {
        if (d[k] !== undefined && typeof d[k] !== 'string') p.add(`${dp}.${k}`, `must be a path string, got ${show(d[k])}`);
      };
      switch (builder) {
        case 'qed':
          unknownKeys(p, dp, d, ['builder', 'files']);
          if (d.files !== undefined && (!strings(d.files) || d.files.length === 0)) p.add(`${dp}.files`, 'must be a non-empty list of SMILES table paths, e.g. ["molecules/freesolv.csv"]');
          break;
        case 'descriptor':
          unknownKeys(p, dp, d, ['builder', 'proteins', 'table']);
          str('proteins');
          str('table');
          break;
        case 'davis':
          unknownKeys(p, dp, d, ['builder', 'dir']);
          str('dir');
          break;
        case 'synergy':
          unknownKeys(p, dp, d, ['builder', 'labels', 'smiles', 'testFold']);
          str('labels');
          str('smiles');
          if (d.testFold !== undefined && !(Number.isInteger(d.testFold) && (d.testFold as number) >= 0)) p.add(`${dp}.testFold`, `must be a fold number ≥ 0, got ${show(d.testFold)}`);
          break;
        case 'tatoeba': {
          unknownKeys(p, dp, d, ['builder', 'dir', 'trainPairs', 'pivots', 'seed', 'testFraction']);
          str('dir');
          const lang = /^[A-Za-z]{2}$/;
          if (d.trainPairs !== undefined && (!strings(d.trainPairs) || !d.trainPairs.every((l) => lang.test(l)) || d.trainPairs.length === 0)) {
            p.add(`${dp}.trainPairs`, 'must be a non-empty list of two-letter language codes paired with English, e.g. ["fr", "de"]');
          }
          if (d.pivots !== undefined && (!Array.isArray(d.pivots) || !d.pivots.every((q) => strings(q) && q.length === 2 && q.every((l) => lang.test(l))))) {
            p.add(`${dp}.pivots`, 'must be a list of two-letter code pairs, e.g. [["it", "fr"], ["es", "pt"]]');
          }
          if (d.seed !== undefined && !Number.isInteger(d.seed)) p.add(`${dp}.seed`, `must be an integer, got ${show(d.seed)}`);
          if (d.testFraction !== undefined && !(typeof d.testFraction === 'number' && d.testFraction > 0 && d.testFraction < 1)) {
            p.add(`${dp}.testFraction`, `must be a number in (0, 1), got ${show(d.testFraction)}`);
          }
          break;
        }
        case 'table':
          unknownKeys(p, dp, d, ['builder', 'file', 'format', 'columns']);
          if (typeof d.file !== 'string' || d.file === '') p.add(`${dp}.file`, 'is required: the path of a CSV/TSV/JSONL file (relative to the data folder)');
          if (d.format !== undefined && !['csv', 'tsv', 'jsonl'].includes(d.format as string)) p.add(`${dp}.format`, `must be csv, tsv or jsonl, got ${show(d.format)}`);
          if (!isObject(d.columns) || !Object.values(d.columns).every((c) => typeof c === 'string') || Object.keys(d.columns).length === 0) {
            p.add(`${dp}.columns`, 'must map template fields to file columns, e.g. {"input": "smiles", "output": "logp"}');
          } else builderFields = Object.keys(d.columns);
          break;
        case 'dataset':
          unknownKeys(p, dp, d, ['builder', 'name', 'hash', 'columns']);
          if (typeof d.name !== 'string' || d.name === '') p.add(`${dp}.name`, 'is required: the name of a data set in the workbench (Data panel) or given with --data');
          if (d.hash !== undefined && (typeof d.hash !== 'string' || !/^[0-9a-f]{16}$/.test(d.hash))) p.add(`${dp}.hash`, `must be the data set's 16-digit hex hash, got ${show(d.hash)}`);
          if (!isObject(d.columns) || !Object.values(d.columns).every((c) => typeof c === 'string') || Object.keys(d.columns).length === 0) {
            p.add(`${dp}.columns`, 'must map template fields to the data set\'s columns, e.g. {"input": "smiles", "output": "logp"}');
          } else builderFields = Object.keys(d.columns);
          break;
      }
      if (builder !== 'table' && builder !== 'dataset') builderFields = BUILDER_FIELDS[builder];
    }
  }

  // Split rule.
  const s = x.split;
  if (s !== undefined) {
    const sp = `${path}.split`;
    if (!isObject(s) || !['predefined', 'random', 'column'].includes(s.kind as string)) {
      p.add(sp, `must be {"kind": "predefined"}, {"kind": "random", "test": 0.1, "seed": 0} or {"kind": "column", "column": "fold", "test": ["0"]} (got ${show(s)})`);
    } else if (s.kind === 'predefined') {
      unknownKeys(p, sp, s, ['kind']);
      if (builder && !PREDEFINED_SPLITS.includes(builder)) p.add(sp, `the ${builder} data has no predefined split; use {"kind": "random", "test": 0.1}`);
    } else if (s.kind === 'random') {
      unknownKeys(p, sp, s, ['kind', 'seed', 'test', 'validation']);
      const frac = (k: 'test' | 'validation', required: boolean) => {
        const v = s[k];
        if (v === undefined && !required) return 0;
        if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
          p.add(`${sp}.${k}`, `must be a fraction in [0, 1), got ${show(v)}`);
          return 0;
        }
        return v;
      };
      const sum = frac('test', true) + frac('validation', false);
      if (sum >= 1) p.add(sp, 'test + validation must leave rows for training (sum < 1)');
      if (s.test === 0) p.add(`${sp}.test`, 'must be > 0: a task needs evaluation rows');
      if (s.seed !== undefined && !Number.isInteger(s.seed)) p.add(`${sp}.seed`, `must be an integer, got ${show(s.seed)}`);
      if (builder === 'tatoeba') p.add(sp, 'Tatoeba splits its shared English sentences itself: use {"kind": "predefined"} (and data.seed / data.testFraction)');
    } else {
      unknownKeys(p, sp, s, ['kind', 'column', 'test', 'validation']);
      if (typeof s.column !== 'string' || s.column === '') p.add(`${sp}.column`, 'must name a column of the data file');
      if (!strings(s.test) || s.test.length === 0) p.add(`${sp}.test`, 'must be a non-empty list of column values, e.g. ["0"]');
      if (s.validation !== undefined && !strings(s.validation)) p.add(`${sp}.validation`, 'must be a list of column values');
      if (builder && builder !== 'table' && builder !== 'dataset') p.add(sp, `a column split needs "builder": "table" or "dataset" (the ${builder} builder keeps no extra columns)`);
    }
  }

  // Output and metric.
  const o = x.output;
  let kind: OutputKind | null = null;
  if (o !== undefined) {
    if (!isObject(o) || !['regression', 'classification', 'text'].includes(o.kind as string) || typeof o.field !== 'string') {
      p.add(`${path}.output`, `must be {"kind": "regression" | "classification" | "text", "field": "output"} (got ${show(o)})`);
    } else {
      unknownKeys(p, `${path}.output`, o, ['kind', 'field']);
      kind = o.kind as OutputKind;
    }
  }
  if (x.metric !== undefined) {
    if (typeof x.metric !== 'string' || !(x.metric in METRIC_INFO)) p.add(`${path}.metric`, `must be one of ${Object.keys(METRIC_INFO).join(', ')}, got ${show(x.metric)}`);
    else if (kind && !METRICS_OF[kind].includes(x.metric as MetricName)) p.add(`${path}.metric`, `${x.metric} does not fit a ${kind} output (use ${METRICS_OF[kind].join(' or ')})`);
  }
  if (builder === 'tatoeba' && kind && kind !== 'text') p.add(`${path}.output.kind`, 'translation outputs are text');

  // Template and tags.
  let tpl: Template | null = null;
  if (x.template !== undefined) {
    if (typeof x.template !== 'string') p.add(`${path}.template`, `must be a string, got ${show(x.template)}`);
    else {
      try {
        tpl = parseTemplate(x.template);
      } catch (err) {
        p.add(`${path}.template`, (err as Error).message);
      }
    }
  }
  const tg = x.tags;
  if (tg !== undefined && (!isObject(tg) || !strings(tg.domain) || !(tg.function === null || typeof tg.function === 'string'))) {
    p.add(`${path}.tags`, `must be {"domain": ["SMILES"], "function": "QED"} ("function" may be null), got ${show(tg)}`);
  } else if (tg !== undefined) {
    unknownKeys(p, `${path}.tags`, tg, ['domain', 'function']);
    for (const n of [...(tg.domain as string[]), ...(tg.function ? [tg.function as string] : [])]) {
      const bad = tagNameProblem(n);
      if (bad) p.add(`${path}.tags`, bad);
    }
    if (tg.function && (tg.domain as string[]).includes(tg.function as string)) p.add(`${path}.tags`, `<${tg.function}> cannot be both a domain and the function tag`);
    if (tpl) {
      const fromField = tpl.segments.some((g) => g.kind === 'tagFromField');
      for (const n of tpl.tags) {
        if (n !== tg.function && !(tg.domain as string[]).includes(n)) p.add(`${path}.tags`, `the template uses <${n}>, which is neither listed in "domain" nor the function tag`);
      }
      for (const n of tg.domain as string[]) {
        if (!tpl.tags.includes(n) && !fromField) p.add(`${path}.tags.domain`, `<${n}> is not in the template`);
      }
      if (tg.function && o && isObject(o) && typeof o.field === 'string') {
        if (!tpl.tags.includes(tg.function as string)) p.add(`${path}.tags.function`, `<${tg.function}> is not in the template`);
        else if (functionTagOf(tpl, o.field) !== tg.function) p.add(`${path}.tags.function`, `<${tg.function}> must be the last tag before {${o.field}}`);
      }
    }
  }
  if (tpl && o && isObject(o) && typeof o.field === 'string') {
    if (!tpl.fields.includes(o.field)) p.add(`${path}.template`, `has no {${o.field}} slot for the output`);
    else {
      const last = [...tpl.segments].reverse().find((g) => g.kind === 'field' || g.kind === 'tagFromField');
      if (!(last?.kind === 'field' && last.name === o.field)) p.add(`${path}.template`, `{${o.field}} must be the last field (generation and heads read what comes before it)`);
    }
  }
  if (tpl && builderFields) {
    for (const f of tpl.fields) {
      if (!builderFields.includes(f)) p.add(`${path}.template`, `uses {${f}}, but the ${builder} data gives only ${builderFields.map((b) => `{${b}}`).join(', ')}`);
    }
  }

  // Field rules, generation, caps.
  if (x.fields !== undefined) {
    if (!isObject(x.fields)) p.add(`${path}.fields`, `must map field names to rules like {"spaced": true, "overLength": "truncate"}, got ${show(x.fields)}`);
    else {
      for (const [f, r] of Object.entries(x.fields)) {
        const fp = `${path}.fields.${f}`;
        if (tpl && !tpl.fields.includes(f)) p.add(fp, `the template has no {${f}}`);
        if (!isObject(r)) {
          p.add(fp, `must be an object like {"spaced": true}, got ${show(r)}`);
          continue;
        }
        unknownKeys(p, fp, r, ['spaced', 'overLength', 'smiles']);
        if (r.spaced !== undefined && typeof r.spaced !== 'boolean') p.add(`${fp}.spaced`, 'must be true or false');
        if (r.smiles !== undefined && typeof r.smiles !== 'boolean') p.add(`${fp}.smiles`, 'must be true or false');
        if (r.overLength !== undefined && r.overLength !== 'truncate' && r.overLength !== 'drop') p.add(`${fp}.overLength`, `must be "truncate" or "drop", got ${show(r.overLength)}`);
      }
    }
  }
  if (x.textDecimals !== undefined && !(Number.isInteger(x.textDecimals) && (x.textDecimals as number) >= 0 && (x.textDecimals as number) <= 10)) {
    p.add(`${path}.textDecimals`, `must be an integer 0–10, got ${show(x.textDecimals)}`);
  }
  if (x.maxNewTokens !== undefined && !(Number.isInteger(x.maxNewTokens) && (x.maxNewTokens as number) >= 1 && (x.maxNewTokens as number) <= 1024)) {
    p.add(`${path}.maxNewTokens`, `must be an integer 1–1024, got ${show(x.maxNewTokens)}`);
  }
  if (x.epochs !== undefined && !(typeof x.epochs === 'number' && Number.isFinite(x.epochs) && x.epochs > 0)) p.add(`${path}.epochs`, `must be a positive number of epochs, got ${show(x.epochs)}`);
  if (x.directTemplate !== undefined) {
    if (typeof x.directTemplate !== 'string') p.add(`${path}.directTemplate`, `must be a string, got ${show(x.directTemplate)}`);
    else {
      try {
        const dt = parseTemplate(x.directTemplate);
        if (dt.tags.length || dt.segments.some((g) => g.kind === 'tagFromField')) p.add(`${path}.directTemplate`, 'must not use tags: the frozen model has none');
        if (o && isObject(o) && typeof o.field === 'string' && !dt.fields.includes(o.field)) p.add(`${path}.directTemplate`, `has no {${o.field}} slot for the output`);
      } catch (err) {
        p.add(`${path}.directTemplate`, (err as Error).message);
      }
    }
  }
  const caps = checkCaps(p, `${path}.caps`, x.caps);
  return { ...t, caps };
}

/** Validates one task definition on its own (e.g. a user's JSON file). */
export function validateTaskDefinition(json: unknown): { ok: true; task: TaskDefinition } | { ok: false; errors: string[] } {
  const p = new Problems();
  const t = resolveTaskEntry(json as TaskEntry, 'task', p);
  return t && p.ok ? { ok: true, task: t } : { ok: false, errors: p.list };
}

/** Fields of a task's template whose values name tags (`<{srcLang}>`). */
export function tagFields(t: Template): string[] {
  return [...new Set(t.segments.flatMap((s) => (s.kind === 'tagFromField' ? [s.field] : [])))];
}

/** The input fields (what a model reads): template fields other than the output and tag-name fields. */
export function inputFields(task: TaskDefinition, t: Template = parseTemplate(task.template)): string[] {
  const tf = new Set(tagFields(t));
  return t.fields.filter((f) => f !== task.output.field && !tf.has(f));
}

/** English names of the language codes tags use (EN, FR…): direct prompting names the languages. */
export const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  EN: 'English', FR: 'French', RU: 'Russian', DE: 'German', IT: 'Italian', EL: 'Greek', ES: 'Spanish', PT: 'Portuguese',
  NL: 'Dutch', PL: 'Polish', TR: 'Turkish', JA: 'Japanese', ZH: 'Chinese', AR: 'Arabic', HE: 'Hebrew', FI: 'Finnish', SV: 'Swedish', UK: 'Ukrainian',
};

export function spacedFields(task: TaskDefinition): string[] {
  return Object.entries(task.fields ?? {}).flatMap(([f, r]) => (r.spaced ? [f] : []));
}
