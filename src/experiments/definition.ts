/**
 * Experiment definitions from JSON: validation with every problem reported at once ("tasks[1].split.test:
 * must be a fraction in [0, 1)"), defaults filled in, task entries resolved to full definitions.
 */
import { parseLoraTargets, PEFT_METHODS, type PeftMethod } from '../train/protocol';
import { DEFAULT_HYPER, type TrainHyper } from '../train/trainer';
import { checkDatasetTask, type ExperimentDataset } from './dataset-task';
import { checkCaps, isObject, Problems, resolveTaskEntry, unknownKeys } from './tasks';
import { ABLATIONS, EXPERIMENT_METHODS, type Ablation, type ExperimentDefinition, type ExperimentMethod, type TaskDefinition } from './types';

const TOP_KEYS = ['name', 'model', 'dataDir', 'tasks', 'methods', 'seeds', 'hyper', 'stage1Hyper', 'tagLength', 'caps', 'ablations', 'tagLengths', 'isolate', 'lora', 'evalBefore', 'domainInTextPeft', 'plainPeft', 'paperEpochs', '$schema', 'description'];
const show = (x: unknown) => (x === undefined ? 'nothing' : JSON.stringify(x));

export class ExperimentDefinitionError extends Error {
  override name = 'ExperimentDefinitionError';
  constructor(readonly errors: string[]) {
    super(`The experiment definition has ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n  - ${errors.join('\n  - ')}`);
  }
}

export type ValidationResult = { ok: true; definition: ExperimentDefinition } | { ok: false; errors: string[] };

export interface ValidateOptions {
  /**
   * The data sets "dataset" tasks may name. Given, each such task is checked against its data (the
   * data set exists and is unchanged, its mapped columns exist, a regression target is numeric, the
   * split leaves training and test rows); absent, those checks wait until the run loads the data.
   */
  datasets?: readonly ExperimentDataset[];
}

/** Checks an experiment definition (parsed JSON) and returns it normalised, or every problem found. */
export function validateExperiment(json: unknown, opts: ValidateOptions = {}): ValidationResult {
  const p = new Problems();
  if (!isObject(json)) return { ok: false, errors: [`An experiment definition must be a JSON object, got ${show(json)}`] };
  const x = json;
  unknownKeys(p, '', x, TOP_KEYS);

  if (typeof x.name !== 'string' || x.name.trim() === '') p.add('name', 'is required: a short name for the experiment');

  let model: ExperimentDefinition['model'];
  if (x.model !== undefined) {
    if (!isObject(x.model) || typeof x.model.path !== 'string') p.add('model', `must be {"path": "…/model.bin", "tokenizer"?: "…", "maxContext"?: 256}, got ${show(x.model)}`);
    else {
      unknownKeys(p, 'model', x.model, ['path', 'tokenizer', 'maxContext']);
      if (x.model.tokenizer !== undefined && typeof x.model.tokenizer !== 'string') p.add('model.tokenizer', 'must be a path');
      if (x.model.maxContext !== undefined && !(Number.isInteger(x.model.maxContext) && (x.model.maxContext as number) >= 16)) p.add('model.maxContext', 'must be an integer ≥ 16');
      model = x.model as ExperimentDefinition['model'];
    }
  }
  if (x.dataDir !== undefined && typeof x.dataDir !== 'string') p.add('dataDir', 'must be a folder path');

  const tasks: TaskDefinition[] = [];
  if (!Array.isArray(x.tasks) || x.tasks.length === 0) p.add('tasks', 'must be a non-empty list of task ids (qed, descriptor, binding, synergy, translation) or task definitions (e.g. over a workbench data set: docs/experiments.md)');
  else {
    x.tasks.forEach((e, i) => {
      const t = resolveTaskEntry(e, `tasks[${i}]`, p);
      if (t) tasks.push(t);
      if (t && opts.datasets) checkDatasetTask(t, opts.datasets, `tasks[${i}]`, p);
    });
    const ids = tasks.map((t) => t.id);
    for (const id of new Set(ids)) if (ids.filter((i) => i === id).length > 1) p.add('tasks', `task id "${id}" appears twice; give each an "id" of its own`);
  }

  let methods: ExperimentMethod[] = [];
  if (!Array.isArray(x.methods) || x.methods.length === 0) p.add('methods', `must be a non-empty list of: ${EXPERIMENT_METHODS.join(', ')}`);
  else {
    x.methods.forEach((m, i) => {
      if (!EXPERIMENT_METHODS.includes(m as ExperimentMethod)) p.add(`methods[${i}]`, `unknown method ${show(m)} (known: ${EXPERIMENT_METHODS.join(', ')})`);
    });
    methods = [...new Set(x.methods as ExperimentMethod[])];
  }

  const ints = (k: string, v: unknown, min: number, max: number, allowEmpty = false): number[] => {
    if (!Array.isArray(v) || (v.length === 0 && !allowEmpty) || !v.every((s) => Number.isInteger(s) && s >= min && s <= max)) {
      p.add(k, `must be a ${allowEmpty ? '' : 'non-empty '}list of integers in ${min}–${max}, got ${show(v)}`);
      return [];
    }
    return [...new Set(v as number[])];
  };
  const seeds = x.seeds === undefined ? [0] : ints('seeds', x.seeds, 0, 2 ** 31 - 1);
  const tagLengths = x.tagLengths === undefined ? [] : ints('tagLengths', x.tagLengths, 1, 256, true);
  let tagLength = 10;
  if (x.tagLength !== undefined) {
    if (!(Number.isInteger(x.tagLength) && (x.tagLength as number) >= 1 && (x.tagLength as number) <= 256)) p.add('tagLength', `must be an integer 1–256, got ${show(x.tagLength)}`);
    else tagLength = x.tagLength as number;
  }

  const hyper = checkHyper(p, 'hyper', x.hyper) ?? {};
  const stage1Hyper = checkHyper(p, 'stage1Hyper', x.stage1Hyper);
  const caps = checkCaps(p, 'caps', x.caps) ?? {};

  let ablations: Ablation[] = [];
  if (x.ablations !== undefined) {
    if (!Array.isArray(x.ablations) || !x.ablations.every((a) => ABLATIONS.includes(a as Ablation))) p.add('ablations', `must be a list of: ${ABLATIONS.join(', ')} (got ${show(x.ablations)})`);
    else ablations = [...new Set(x.ablations as Ablation[])];
  }
  for (const k of ['isolate', 'evalBefore', 'plainPeft', 'paperEpochs'] as const) if (x[k] !== undefined && typeof x[k] !== 'boolean') p.add(k, 'must be true or false');
  let lora: ExperimentDefinition['lora'];
  if (x.lora !== undefined) {
    if (!isObject(x.lora)) p.add('lora', 'must be {"rank": 8, "alpha": 16}');
    else {
      unknownKeys(p, 'lora', x.lora, ['rank', 'alpha', 'targets']);
      if (x.lora.targets !== undefined) {
        try {
          if (typeof x.lora.targets !== 'string' && !(Array.isArray(x.lora.targets) && x.lora.targets.every((t) => typeof t === 'string'))) throw new Error('must be "all-linear" or a list like ["q", "v"]');
          parseLoraTargets(x.lora.targets as string | string[]);
        } catch (e) {
          p.add('lora.targets', (e as Error).message);
        }
      }
      if (x.lora.rank !== undefined && !(Number.isInteger(x.lora.rank) && (x.lora.rank as number) >= 1)) p.add('lora.rank', 'must be a positive integer');
      if (x.lora.alpha !== undefined && !(typeof x.lora.alpha === 'number' && x.lora.alpha > 0)) p.add('lora.alpha', 'must be a positive number');
      lora = x.lora as ExperimentDefinition['lora'];
    }
  }
  if (x.domainInTextPeft !== undefined && !PEFT_METHODS.includes(x.domainInTextPeft as PeftMethod)) p.add('domainInTextPeft', `must be one of ${PEFT_METHODS.join(', ')}, got ${show(x.domainInTextPeft)}`);
  if (x.paperEpochs === true) {
    for (const t of tasks) if (!(typeof t.epochs === 'number' && t.epochs > 0)) p.add('paperEpochs', `task "${t.id}" has no paper epochs: give it "epochs"`);
  }
  if ((ablations.length > 0 || tagLengths.length > 0) && !methods.includes('tag-llm')) p.add('methods', 'ablations and tagLengths are variants of Tag-LLM: add "tag-llm" to the methods');

  if (!p.ok) return { ok: false, errors: p.list };
  const definition: ExperimentDefinition = {
    name: (x.name as string).trim(),
    ...(model ? { model } : {}),
    ...(x.dataDir !== undefined ? { dataDir: x.dataDir as string } : {}),
    tasks,
    methods,
    seeds,
    hyper,
    ...(stage1Hyper ? { stage1Hyper } : {}),
    tagLength,
    caps,
    ablations,
    tagLengths,
    ...(x.isolate !== undefined ? { isolate: x.isolate as boolean } : {}),
    ...(lora ? { lora } : {}),
    ...(x.evalBefore !== undefined ? { evalBefore: x.evalBefore as boolean } : {}),
    ...(x.domainInTextPeft !== undefined ? { domainInTextPeft: x.domainInTextPeft as PeftMethod } : {}),
    ...(x.plainPeft !== undefined ? { plainPeft: x.plainPeft as boolean } : {}),
    ...(x.paperEpochs !== undefined ? { paperEpochs: x.paperEpochs as boolean } : {}),
  };
  return { ok: true, definition };
}

/** validateExperiment that throws an ExperimentDefinitionError listing every problem. */
export function parseExperiment(json: unknown, opts: ValidateOptions = {}): ExperimentDefinition {
  const r = validateExperiment(json, opts);
  if (!r.ok) throw new ExperimentDefinitionError(r.errors);
  return r.definition;
}

function checkHyper(p: Problems, path: string, v: unknown): Partial<TrainHyper> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) {
    p.add(path, `must be an object of training settings, e.g. {"steps": 100, "batch": 4, "lr": 1e-3}, got ${show(v)}`);
    return undefined;
  }
  const known = Object.keys(DEFAULT_HYPER);
  unknownKeys(p, path, v, known);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!known.includes(k)) continue;
    if (k === 'schedule') {
      if (!['cosine', 'constant', 'linear'].includes(val as string)) p.add(`${path}.schedule`, `must be cosine, constant or linear, got ${show(val)}`);
      else out[k] = val;
      continue;
    }
    const integer = ['steps', 'batch', 'accum', 'seed', 'evalEvery', 'evalLimit'].includes(k); // epochs may be fractional
    const okNum = typeof val === 'number' && Number.isFinite(val) && val >= 0 && (!integer || Number.isInteger(val));
    const positive = ['batch', 'accum', 'lr'].includes(k);
    if (!okNum || (positive && val === 0)) p.add(`${path}.${k}`, `must be a ${positive ? 'positive' : 'non-negative'} ${integer ? 'integer' : 'number'}, got ${show(val)}`);
    else out[k] = val;
  }
  if ('seed' in out) p.add(`${path}.seed`, 'is set per cell from "seeds"; leave it out');
  return out as Partial<TrainHyper>;
}
