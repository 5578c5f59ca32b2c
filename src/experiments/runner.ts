/**
 * The experiment runner: model × tasks × methods × seeds (+ Tag-LLM ablations and a tag-length
 * sweep), one cell at a time, with the same training budget (steps, batch, lr) for every trained run.
 *
 *   Tag-LLM          stage 1 for each domain tag on the task's unlabeled inputs (trained once per
 *                    task × tag × length × seed and shared by the cells that need it), then stage 2
 *                    (one dataset) or stage 3 (several: translation's language pairs), chaining the
 *                    tags through a TagLibrary
 *   baselines        the protocol's prompt tuning, LoRA (q, v), linear probe, domain in text (a PEFT
 *                    method with the domain names written in the prompt); on numeric tasks also
 *                    the plain PEFT rows (variant no-head: the number generated as text, parsed)
 *   extra baselines  nearest neighbour, direct prompting (baselines.ts)
 * A task with several domains (binding: <Protein> and <SMILES>) is cross-domain: its function tag
 * trains in stage 3 and its domain tags stay frozen (the enriched ablation does not apply).
 *
 * Numeric tasks are scored by the head on the task's test rows (placed into the protocol's held-out
 * set); text tasks and the no-head ablation by greedy generation. Results of finished cells are kept
 * (ExperimentResults), a run given `previous` results skips every cell whose configuration is
 * unchanged, progress is reported per step, and an AbortSignal stops the run between steps.
 */
import { fetchFromUrl, type FetchText } from '../data/builtin';
import type { Engine } from '../model/model';
import { TagLibrary } from '../tags/library';
import type { Tag } from '../tags/tag';
import { parseTemplate, type Template, type TemplateSegment } from '../tags/template';
import { corpusBleu, corpusChrf } from '../tasks/textmetrics';
import { loadRdkit, type RDKitModule } from '../tasks/rdkit';
import { accuracy, mae, mse, pearson } from '../train/metrics';
import { methodTemplate, parseLoraTargets, prepareRun, type Method, type Metrics, type PeftMethod, type RunSpec, type TaskData, type TaskOutput } from '../train/protocol';
import { epochOrder } from '../train/shuffle';
import { TrainingCancelled, type StepLog, type TrainHyper } from '../train/trainer';
import { directPromptTexts, nearestNeighbourPredict, parseAnswers } from './baselines';
import type { ExperimentDataset } from './dataset-task';
import { loadTask, sample, type DataContext, type LoadedTask, type Row } from './data';
import { parseExperiment } from './definition';
import { buildPrompt, generateAll, removeSegments, templateOf } from './generation';
import { inputFields, spacedFields } from './tasks';
import {
  RESULTS_FORMAT,
  type CellResult,
  type ExperimentDefinition,
  type ExperimentMethod,
  type ExperimentProgress,
  type ExperimentResults,
  type MetricName,
  type StageResult,
  type TaskCaps,
  type TaskDefinition,
  type TranslationScore,
  type Variant,
} from './types';

export interface RunExperimentOptions {
  signal?: AbortSignal;
  onProgress?: (p: ExperimentProgress) => void;
  /** Results of an earlier run of (a version of) this experiment: unchanged finished cells are kept. */
  previous?: ExperimentResults;
  /** After each cell (finished, failed, not applicable or reused), with the results so far. */
  onCell?: (cell: CellResult, results: ExperimentResults) => void | Promise<void>;
  /** The tag library a trained cell produced (tags, head, adapter), e.g. to save or merge it. */
  onLibrary?: (cellId: string, library: TagLibrary) => void | Promise<void>;
  /** Reads data files by path relative to the data folder (default: public/data in Node, /data/ in the browser). */
  fetchText?: FetchText;
  /** RDKit for QED labels (default: loadRdkit()). */
  rdkit?: () => Promise<RDKitModule>;
  /** Data sets that the definition's "dataset" tasks name (Data panel uploads and built-ins, CLI --data). */
  datasets?: readonly ExperimentDataset[];
}

export interface PlannedCell {
  id: string;
  task: TaskDefinition;
  method: ExperimentMethod;
  variant: Variant;
  tagLength: number;
  seed: number;
}

/** Methods whose cells depend on the tag length. */
const TAGGED: readonly ExperimentMethod[] = ['tag-llm', 'prompt-tuning', 'domain-in-text'];

export function cellId(task: string, method: ExperimentMethod, variant: Variant, tagLength: number, seed: number): string {
  return [task, method, variant, ...(TAGGED.includes(method) ? [`p${tagLength}`] : []), `s${seed}`].join('/');
}

/** Every cell of an experiment, grouped by task: methods, then ablations, then the tag-length sweep. */
/** Baselines that have a plain (no-head) row on numeric tasks. */
const PLAIN_PEFT: readonly ExperimentMethod[] = ['prompt-tuning', 'lora', 'domain-in-text'];

export function planCells(def: ExperimentDefinition): PlannedCell[] {
  const out: PlannedCell[] = [];
  const add = (task: TaskDefinition, method: ExperimentMethod, variant: Variant, p: number, seed: number) => {
    const id = cellId(task.id, method, variant, p, seed);
    if (!out.some((c) => c.id === id)) out.push({ id, task, method, variant, tagLength: p, seed });
  };
  for (const task of def.tasks) {
    for (const seed of def.seeds) {
      for (const m of def.methods) {
        add(task, m, 'full', def.tagLength, seed);
        if (PLAIN_PEFT.includes(m) && task.output.kind !== 'text' && def.plainPeft !== false) add(task, m, 'no-head', def.tagLength, seed);
      }
      if (def.methods.includes('tag-llm')) {
        for (const a of def.ablations) add(task, 'tag-llm', a, def.tagLength, seed);
        for (const p of def.tagLengths) add(task, 'tag-llm', 'full', p, seed);
      }
    }
  }
  return out;
}

export async function runExperiment(engine: Engine, definition: ExperimentDefinition | unknown, opts: RunExperimentOptions = {}): Promise<ExperimentResults> {
  // Data-set tasks are checked against their data before any cell runs (a bad mapping is one clear error).
  const def = parseExperiment(definition, { datasets: opts.datasets ?? [] });
  const model = { name: engine.name, arch: engine.config.arch, dModel: engine.config.dModel, vocabSize: engine.config.vocabSize };
  const now = () => new Date().toISOString();
  const planned = planCells(def);
  const results: ExperimentResults = {
    format: RESULTS_FORMAT,
    version: 1,
    name: def.name,
    model,
    definition: def,
    started: opts.previous?.started ?? now(),
    updated: now(),
    status: 'running',
    cells: [],
  };
  const previous = new Map((opts.previous?.cells ?? []).map((c) => [c.id, c]));
  let rdkit: Promise<RDKitModule> | null = null;
  const c: Ctx = {
    engine,
    def,
    signal: opts.signal,
    data: {
      fetchText: opts.fetchText ?? (await defaultFetchText(def.dataDir)),
      rdkit: opts.rdkit ?? (() => (rdkit ??= loadRdkit())),
      datasets: opts.datasets ?? [],
    },
    tasks: new Map(),
    stage1: new Map(),
    progress: () => {},
    onLibrary: opts.onLibrary,
  };

  for (const [i, p] of planned.entries()) {
    if (opts.signal?.aborted) {
      results.status = 'cancelled';
      break;
    }
    const base = { cell: p.id, index: i + 1, total: planned.length };
    c.progress = (x) => opts.onProgress?.({ ...base, ...x });
    const caps = capsOf(def, p.task);
    const configKey = hashOf({
      v: 2,
      model,
      task: p.task,
      caps,
      hyper: def.hyper,
      stage1Hyper: def.stage1Hyper,
      method: p.method,
      variant: p.variant,
      p: p.tagLength,
      seed: p.seed,
      isolate: def.isolate ?? false,
      lora: def.lora,
      evalBefore: def.evalBefore ?? false,
      peft: p.method === 'domain-in-text' ? (def.domainInTextPeft ?? 'lora') : undefined,
      paperEpochs: def.paperEpochs ?? false,
    });
    const old = previous.get(p.id);
    if (old && old.configKey === configKey && (old.status === 'done' || old.status === 'n/a')) {
      results.cells.push(old);
      c.progress({ phase: 'skipped', value: old.value, message: 'finished in an earlier run' });
      await opts.onCell?.(old, results);
      continue;
    }
    const t0 = performance.now();
    const cell: CellResult = {
      id: p.id,
      task: p.task.id,
      method: p.method,
      variant: p.variant,
      tagLength: p.tagLength,
      seed: p.seed,
      status: 'done',
      metric: p.task.metric,
      value: null,
      metrics: {},
      trainableParams: 0,
      trainRows: 0,
      evalRows: 0,
      stages: [],
      seconds: 0,
      configKey,
      finished: '',
    };
    try {
      c.progress({ phase: 'data', message: `loading ${p.task.id}` });
      const lt = await loadTaskCached(c, p.task, caps);
      cell.trainRows = lt.train.length;
      cell.evalRows = lt.test.length;
      const out = await runCell(c, p, lt, caps);
      if ('na' in out) {
        cell.status = 'n/a';
        cell.error = out.na;
      } else {
        Object.assign(cell, out);
        cell.value = Number.isFinite(out.metrics[p.task.metric]) ? out.metrics[p.task.metric] : null;
      }
    } catch (e) {
      if (opts.signal?.aborted || e instanceof TrainingCancelled) {
        results.status = 'cancelled';
        break;
      }
      cell.status = 'failed';
      cell.error = e instanceof Error ? e.message : String(e);
    }
    cell.seconds = (performance.now() - t0) / 1000;
    cell.finished = now();
    results.cells.push(cell);
    results.updated = now();
    c.progress({ phase: cell.status === 'failed' ? 'failed' : 'done', value: cell.value, message: cell.error });
    await opts.onCell?.(cell, results);
  }
  if (results.status === 'running') results.status = 'complete';
  results.updated = now();
  return results;
}

// ---------------------------------------------------------------------------------------------

interface Ctx {
  engine: Engine;
  def: ExperimentDefinition;
  signal?: AbortSignal;
  data: DataContext;
  tasks: Map<string, Promise<LoadedTask>>;
  stage1: Map<string, Promise<{ tag: Tag; stage: StageResult }>>;
  progress: (p: Omit<ExperimentProgress, 'cell' | 'index' | 'total'>) => void;
  onLibrary?: RunExperimentOptions['onLibrary'];
}

type Outcome =
  | { na: string }
  | {
      metrics: Record<string, number>;
      metricsBefore?: Record<string, number>;
      trainableParams: number;
      stages: StageResult[];
      translation?: TranslationScore[];
      unparsable?: number;
      samples?: CellResult['samples'];
    };

function capsOf(def: ExperimentDefinition, task: TaskDefinition): TaskCaps {
  return { ...def.caps, ...(task.caps ?? {}) };
}

function loadTaskCached(c: Ctx, task: TaskDefinition, caps: TaskCaps): Promise<LoadedTask> {
  const key = JSON.stringify([task, caps]);
  let p = c.tasks.get(key);
  if (!p) {
    p = loadTask(task, caps, c.data);
    c.tasks.set(key, p);
  }
  return p;
}

async function runCell(c: Ctx, p: PlannedCell, lt: LoadedTask, caps: TaskCaps): Promise<Outcome> {
  switch (p.method) {
    case 'tag-llm':
      return tagLlmCell(c, p, lt, caps);
    case 'nearest-neighbour':
      return nearestCell(c, p, lt);
    case 'direct-prompting':
      return directCell(c, p, lt);
    default:
      return baselineCell(c, p, lt);
  }
}

/** A run's hyperparameters: the experiment's, stage 1's overrides, or the task's paper epochs (paperEpochs). */
function hyperOf(c: Ctx, seed: number, stage1 = false, task?: TaskDefinition): Partial<TrainHyper> {
  const h: Partial<TrainHyper> = { ...c.def.hyper, ...(stage1 ? (c.def.stage1Hyper ?? {}) : {}), seed };
  if (!stage1 && c.def.paperEpochs && task?.epochs) h.epochs = task.epochs;
  return h;
}

function outputOf(task: TaskDefinition, kind = task.output.kind): TaskOutput {
  return { kind, field: task.output.field };
}

// ---------------------------------------------------------------------------------------------
// Training through the protocol

interface Trained {
  before?: Metrics;
  after: Metrics;
  stage: StageResult;
}

async function trainRun(c: Ctx, spec: RunSpec, stage: string): Promise<Trained> {
  const run = await prepareRun(c.engine, spec);
  try {
    const before = c.def.evalBefore ? await run.evaluate() : undefined;
    const steps = run.trainer.hyper.steps; // resolved from epochs when the run is given epochs
    await run.run({
      signal: c.signal,
      onStep: (s) => c.progress({ phase: 'train', stage, step: s.step, steps, loss: s.loss }),
    });
    c.progress({ phase: 'eval', stage });
    const after = await run.evaluate();
    const saved = await run.save(after);
    return {
      before,
      after,
      stage: { stage, tags: saved.tags, steps: run.trainer.step, trainableParams: run.trainableParams, log: cleanLog(run.trainer.log) },
    };
  } finally {
    run.dispose();
  }
}

/** Step logs without the per-example predictions of periodic evaluations (they can be large). */
function cleanLog(log: readonly StepLog[]): StepLog[] {
  return log.map((s) => (s.eval ? { ...s, eval: { nll: s.eval.nll, headLoss: s.eval.headLoss, preds: [], exampleNll: [] } } : { ...s }));
}

function finite(m: Metrics | Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
}

/**
 * Rows of one protocol dataset arranged so that its held-out set is exactly `held`: the protocol
 * holds out the first round(n·evalFraction) rows of a seeded permutation, so `held` goes to those
 * positions. One held-out row is asked for with a tiny fraction (max(1, round(n·1e-9)) = 1), which
 * is the same for every dataset of a stage-3 run whatever its size.
 */
export function arrangeRows(train: readonly Row[], held: readonly Row[], seed: number, datasetIndex: number): { rows: Row[]; evalFraction: number } {
  const n = train.length + held.length;
  const order = epochOrder(n, seed + 1000 + datasetIndex, 0);
  const rows: Row[] = new Array(n);
  held.forEach((r, j) => (rows[order[j]] = r));
  for (let j = held.length, k = 0; j < n; j++, k++) rows[order[j]] = train[k];
  return { rows, evalFraction: held.length === 1 ? 1e-9 : held.length / n };
}

// ---------------------------------------------------------------------------------------------
// Tag-LLM

/** Domain tags a task uses: literal ones in template order, then the names its <{field}>s take. */
function domainTagNames(lt: LoadedTask, tpl: Template): string[] {
  const fn = lt.task.tags.function;
  const names = tpl.tags.filter((n) => n !== fn);
  for (const seg of tpl.segments) {
    if (seg.kind !== 'tagFromField') continue;
    for (const r of [...lt.train, ...lt.test]) if (r[seg.field] && !names.includes(r[seg.field])) names.push(r[seg.field]);
  }
  return names;
}

/** The field a tag introduces: the first field after it, across blank text and other tags. */
function fieldAfter(segs: readonly TemplateSegment[], i: number): string | null {
  for (let j = i + 1; j < segs.length; j++) {
    const s = segs[j];
    if (s.kind === 'field') return s.name;
    if (s.kind === 'text' && s.text.trim() !== '') return null;
  }
  return null;
}

/** Unlabeled text for a domain tag: the values of the fields it introduces, over training (and unlabeled) rows. */
function domainTexts(lt: LoadedTask, tpl: Template, name: string): { texts: string[]; spaced: boolean } {
  const spans: Array<{ via: string | null; field: string }> = [];
  tpl.segments.forEach((s, i) => {
    const f = fieldAfter(tpl.segments, i);
    if (!f) return;
    if (s.kind === 'tag' && s.name === name) spans.push({ via: null, field: f });
    if (s.kind === 'tagFromField') spans.push({ via: s.field, field: f });
  });
  const seen = new Set<string>();
  for (const r of [...lt.train, ...lt.unlabeled]) {
    for (const sp of spans) {
      if (sp.via !== null && r[sp.via] !== name) continue;
      const v = r[sp.field];
      if (v) seen.add(v);
    }
  }
  const spaced = spacedFields(lt.task);
  return { texts: [...seen], spaced: spans.some((s) => spaced.includes(s.field)) };
}

async function stage1(c: Ctx, p: PlannedCell, lt: LoadedTask, tpl: Template, name: string, caps: TaskCaps): Promise<{ tag: Tag; stage: StageResult; reused: boolean }> {
  const hyper = hyperOf(c, p.seed, true);
  const key = JSON.stringify([lt.task.id, name, p.tagLength, p.seed, hyper, caps, c.def.isolate ?? false]);
  const cached = c.stage1.get(key);
  if (cached) return { ...(await cached), reused: true };
  const job = (async () => {
    const { texts, spaced } = domainTexts(lt, tpl, name);
    const rows = (caps.maxTrain ? sample(texts, caps.maxTrain, p.seed + 17) : texts).map((t) => ({ input: t }));
    if (rows.length < 2) throw new Error(`Stage 1 of <${name}>: ${lt.task.id} has ${rows.length} text${rows.length === 1 ? '' : 's'} for it; at least 2 are needed.`);
    const lib = new TagLibrary();
    const t = await trainRun(
      c,
      {
        method: 'stage1',
        tasks: [{ name: `${lt.task.id}:${name}`, template: `<${name}> {input}`, rows, output: { kind: 'text' } }],
        library: lib,
        tagLength: p.tagLength,
        isolate: c.def.isolate,
        spacedFields: spaced ? ['input'] : undefined,
        hyper,
      },
      `stage1:<${name}>`,
    );
    return { tag: lib.getTag(name)!, stage: t.stage };
  })();
  c.stage1.set(key, job);
  return { ...(await job), reused: false };
}

function cloneTag(t: Tag): Tag {
  return { ...t, data: Float32Array.from(t.data), provenance: structuredClone(t.provenance) };
}

async function tagLlmCell(c: Ctx, p: PlannedCell, lt: LoadedTask, caps: TaskCaps): Promise<Outcome> {
  const task = lt.task;
  const fn = task.tags.function;
  if (!fn) return { na: 'the task has no function tag' };
  if (p.variant !== 'full' && task.output.kind === 'text') return { na: `the ${p.variant} ablation applies to tasks with a head` };
  const tpl = parseTemplate(task.template);
  const domains = domainTagNames(lt, tpl);
  if ((p.variant === 'no-domain-tags' || p.variant === 'enriched') && domains.length === 0) return { na: 'the task has no domain tags' };
  const groups = [...new Set(lt.trainGroups)];
  const multi = groups.length > 1;
  // Several domains (binding: <Protein> + <SMILES>) or several datasets: a cross-domain, stage-3 function tag.
  const crossDomain = multi || domains.length > 1;
  if (p.variant === 'enriched' && crossDomain) {
    return { na: `a cross-domain task (${domains.map((d) => `<${d}>`).join(', ')}) trains its function tag in stage 3, where domain tags stay frozen (Tag-LLM §3.2): enriching does not apply` };
  }
  if (p.variant === 'no-function-tag' && task.output.kind === 'text') return { na: 'without a function tag there is nothing to train for a text output' };

  const lib = new TagLibrary();
  const stages: StageResult[] = [];
  if (p.variant !== 'no-domain-tags') {
    for (const name of domains) {
      const s1 = await stage1(c, p, lt, tpl, name, caps);
      lib.addTag(cloneTag(s1.tag));
      stages.push(s1.reused ? { ...s1.stage, shared: true } : s1.stage);
    }
  }

  // The variant's template and rows.
  let segs: TemplateSegment[] = tpl.segments;
  const extra: Row = {};
  let kind = task.output.kind;
  const out = task.output.field;
  if (p.variant === 'no-domain-tags') segs = removeSegments(segs, (s) => (s.kind === 'tag' && s.name !== fn) || s.kind === 'tagFromField');
  if (p.variant === 'no-function-tag') {
    // Domain tags become <{field}> references, so the protocol sees no function tag: only the head
    // (on the last prompt token) trains, over the frozen domain tags.
    segs = removeSegments(segs, (s) => s.kind === 'tag' && s.name === fn).map((s, i): TemplateSegment => {
      if (s.kind !== 'tag') return s;
      extra[`__tag${i}`] = s.name;
      return { kind: 'tagFromField', field: `__tag${i}` };
    });
  }
  if (p.variant === 'no-head') kind = 'text';
  const decimals = task.textDecimals ?? 3;
  const rowOf = (r: Row): Row => ({ ...r, ...extra, ...(p.variant === 'no-head' ? { [out]: Number(r[out]).toFixed(decimals) } : {}) });
  const template = templateOf(segs);
  const train = lt.train.map(rowOf);
  const test = lt.test.map(rowOf);

  // Stage 2 (one dataset, one domain) or stage 3 (several groups: translation's language pairs; or several domains).
  const tasks: TaskData[] = [];
  let evalFraction: number;
  if (multi) {
    evalFraction = 1e-9;
    groups.forEach((g, i) => {
      const rows = train.filter((_, j) => lt.trainGroups[j] === g);
      const langs = g.split('-');
      const held = test.find((_, j) => langs.every((l) => lt.testGroups[j].split('→').includes(l))) ?? rows[0];
      tasks.push({ name: `${task.id}:${g}`, template: template.source, rows: arrangeRows(rows, [held], p.seed, i).rows, output: outputOf(task, kind) });
    });
  } else {
    const a = arrangeRows(train, test, p.seed, 0);
    evalFraction = a.evalFraction;
    tasks.push({ name: task.id, template: template.source, rows: a.rows, output: outputOf(task, kind) });
  }
  const method: Method = crossDomain ? 'stage3' : 'stage2';
  const t = await trainRun(
    c,
    {
      method,
      tasks,
      library: lib,
      tagLength: p.tagLength,
      enrich: p.variant === 'enriched',
      isolate: c.def.isolate,
      spacedFields: spacedFields(task),
      hyper: hyperOf(c, p.seed, false, task),
      evalFraction,
      name: p.variant === 'no-function-tag' ? `${fn}_probe` : undefined,
    },
    method,
  );
  stages.push(t.stage);
  await c.onLibrary?.(p.id, lib);
  // Each tag counts once (an enriched domain tag trains in stages 1 and 2), plus the head.
  const tagSize = p.tagLength * c.engine.config.dModel;
  const trainableParams = new Set(stages.flatMap((s) => s.tags)).size * tagSize + stages.reduce((s, x) => s + x.trainableParams - x.tags.length * tagSize, 0);
  const metricsBefore = t.before ? finite(t.before) : undefined;
  if (kind !== 'text') return { metrics: finite(t.after), metricsBefore, trainableParams, stages };

  const texts = await generateFor(c, lt, test, template, lib.tagMap());
  const scored = scoreGenerated(lt, texts);
  return { ...scored, metrics: { ...finite(t.after), ...scored.metrics }, metricsBefore, trainableParams, stages };
}

// ---------------------------------------------------------------------------------------------
// The protocol's baselines

async function baselineCell(c: Ctx, p: PlannedCell, lt: LoadedTask): Promise<Outcome> {
  const task = lt.task;
  const method = p.method as Method;
  const peft: PeftMethod = method === 'domain-in-text' ? (c.def.domainInTextPeft ?? 'lora') : (method as PeftMethod);
  const plain = p.variant === 'no-head';
  const generated = task.output.kind === 'text' || plain;
  if (peft === 'linear-probe' && task.output.kind === 'text') return { na: 'a linear probe needs a numeric or class output' };
  if (peft === 'linear-probe' && plain) return { na: 'a linear probe is a head: it has no plain (no-head) row' };
  if (p.variant !== 'full' && !plain) return { na: `the ${p.variant} ablation is a Tag-LLM variant` };
  const tpl = parseTemplate(task.template);
  if (method === 'domain-in-text' && tpl.tags.every((n) => n === task.tags.function) && !tpl.segments.some((s) => s.kind === 'tagFromField')) {
    return { na: 'the task has no domain tags to write as text' };
  }
  // Plain rows: the label is text with the task's decimals, as the no-head ablation writes it.
  const decimals = task.textDecimals ?? 3;
  const out = task.output.field;
  const asText = (r: Row): Row => (plain && task.output.kind === 'regression' ? { ...r, [out]: Number(r[out]).toFixed(decimals) } : r);
  const lib = new TagLibrary();
  const a = arrangeRows(lt.train.map(asText), lt.test.map(asText), p.seed, 0);
  const t = await trainRun(
    c,
    {
      method,
      ...(method === 'domain-in-text' ? { peft } : {}),
      tasks: [{ name: task.id, template: task.template, rows: a.rows, output: outputOf(task) }],
      library: lib,
      tagLength: p.tagLength,
      isolate: c.def.isolate,
      spacedFields: spacedFields(task),
      hyper: hyperOf(c, p.seed, false, task),
      evalFraction: a.evalFraction,
      lora: peft === 'lora' ? loraOf(c.def) : undefined,
      name: method,
      ...(plain ? { head: false } : {}),
    },
    method,
  );
  await c.onLibrary?.(p.id, lib);
  const base = { trainableParams: t.stage.trainableParams, stages: [t.stage], metricsBefore: t.before ? finite(t.before) : undefined };
  if (!generated) return { ...base, metrics: finite(t.after) };
  const mt = methodTemplate(method, tpl, task.tags.function);
  const soft = peft === 'prompt-tuning' ? lib.getTag('__prompt') : undefined;
  const adapter = peft === 'lora' ? lib.getAdapter(method) : undefined;
  let texts: string[];
  if (adapter) {
    // Generation through the trained adapter: the engine holds it under a name of its own for this cell.
    const name = `experiment:${p.id}`;
    try {
      c.engine.setAdapter(name, adapter);
    } catch (e) {
      return { na: `scored on generations, and ${(e as Error).message}` };
    }
    try {
      texts = await generateFor(c, lt, lt.test, mt, lib.tagMap(), undefined, name);
    } finally {
      c.engine.removeAdapter(name);
    }
  } else texts = await generateFor(c, lt, lt.test, mt, lib.tagMap(), soft);
  const scored = scoreGenerated(lt, texts);
  return { ...base, ...scored, metrics: { ...finite(t.after), ...scored.metrics } };
}

/** The experiment's LoRA settings with targets resolved (q, v unless "all-linear" or a list). */
function loraOf(def: ExperimentDefinition): RunSpec['lora'] {
  return { ...(def.lora?.rank !== undefined ? { rank: def.lora.rank } : {}), ...(def.lora?.alpha !== undefined ? { alpha: def.lora.alpha } : {}), targets: parseLoraTargets(def.lora?.targets) };
}

// ---------------------------------------------------------------------------------------------
// Nearest neighbour and direct prompting (0 trainable parameters)

async function nearestCell(c: Ctx, p: PlannedCell, lt: LoadedTask): Promise<Outcome> {
  c.progress({ phase: 'eval', stage: 'nearest-neighbour' });
  const preds = nearestNeighbourPredict(lt.task, lt.train, lt.test);
  const scored = scoreGenerated(lt, preds);
  return { ...scored, unparsable: undefined, trainableParams: 0, stages: [] };
}

async function directCell(c: Ctx, p: PlannedCell, lt: LoadedTask): Promise<Outcome> {
  const texts = await directPromptTexts(c.engine, lt.task, lt.test, {
    maxNewTokens: maxNew(lt.task),
    signal: c.signal,
    isolate: c.def.isolate,
    onProgress: (done, of) => c.progress({ phase: 'generate', stage: 'direct-prompting', done, of }),
  });
  return { ...scoreGenerated(lt, texts), trainableParams: 0, stages: [] };
}

// ---------------------------------------------------------------------------------------------
// Scoring

const maxNew = (task: TaskDefinition) => task.maxNewTokens ?? (task.output.kind === 'text' ? 64 : 12);

async function generateFor(c: Ctx, lt: LoadedTask, rows: readonly Row[], template: Template, tags: Map<string, Tag>, softPrompt?: Tag, adapter?: string): Promise<string[]> {
  const task = lt.task;
  const prompts = rows.map((r) => buildPrompt(template, r, tags, c.engine.tokenizer, { omit: task.output.field, spacedFields: spacedFields(task), isolate: c.def.isolate, softPrompt }));
  return generateAll(c.engine, prompts, {
    adapter,
    maxNewTokens: maxNew(task),
    signal: c.signal,
    onProgress: (done, of) => c.progress({ phase: 'generate', done, of }),
  });
}

/** Metrics of answers (generated texts, or nearest-neighbour labels) against the test rows. */
export function scoreGenerated(
  lt: LoadedTask,
  answers: readonly string[],
): { metrics: Record<string, number>; translation?: TranslationScore[]; unparsable?: number; samples: NonNullable<CellResult['samples']> } {
  return { ...scoreAnswers(lt, answers), samples: samplesOf(lt, answers) };
}

const SAMPLES = 5;

function samplesOf(lt: LoadedTask, answers: readonly string[]): NonNullable<CellResult['samples']> {
  const fields = inputFields(lt.task);
  const cut = (s: string) => (s.length > 200 ? `${s.slice(0, 199)}…` : s);
  return lt.test.slice(0, SAMPLES).map((r, i) => ({
    input: cut(fields.map((f) => r[f]).join(' | ')),
    reference: cut(r[lt.task.output.field] ?? ''),
    output: cut(answers[i] ?? ''),
  }));
}

function scoreAnswers(lt: LoadedTask, answers: readonly string[]): { metrics: Record<string, number>; translation?: TranslationScore[]; unparsable?: number } {
  const task = lt.task;
  const out = task.output.field;
  if (task.output.kind === 'text') return scoreTexts(lt, answers);
  const parsed = parseAnswers(task, answers, lt.train);
  if (task.output.kind === 'classification') {
    const labels = lt.test.map((r) => parsed.classes!.indexOf(r[out]));
    return { metrics: { accuracy: accuracy(parsed.preds, labels) }, unparsable: parsed.unparsable };
  }
  const y = lt.test.map((r) => Number(r[out]));
  return { metrics: finite({ mse: mse(parsed.preds, y), mae: mae(parsed.preds, y), pearson: pearson(parsed.preds, y) }), unparsable: parsed.unparsable };
}

const BLEU = { smooth: 'exp' as const };

function scoreTexts(lt: LoadedTask, hyps: readonly string[]): { metrics: Record<string, number>; translation?: TranslationScore[] } {
  const out = lt.task.output.field;
  const refs = lt.test.map((r) => r[out]);
  const groups = [...new Set(lt.testGroups)];
  if (groups.length <= 1) {
    return { metrics: { bleu: corpusBleu(hyps, refs, BLEU).score, chrf: corpusChrf(hyps, refs).score } };
  }
  const trainPairs = [...new Set(lt.trainGroups)].map((g) => g.split('-'));
  const scores: TranslationScore[] = groups.map((g) => {
    const idx = lt.testGroups.flatMap((x, i) => (x === g ? [i] : []));
    const [src, tgt] = g.includes('→') ? g.split('→') : [g, ''];
    const h = idx.map((i) => hyps[i]);
    const r = idx.map((i) => refs[i]);
    return { pair: g, src, tgt, group: categoryOf(src, tgt, trainPairs), n: idx.length, bleu: corpusBleu(h, r, BLEU).score, chrf: corpusChrf(h, r).score };
  });
  const metrics: Record<string, number> = {};
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const grp of ['seen', 'unseen-pair', 'unseen-domain'] as const) {
    const s = scores.filter((x) => x.group === grp);
    if (!s.length) continue;
    const suffix = grp === 'seen' ? '' : `_${grp.replace('-', '_')}`;
    metrics[`bleu${suffix}`] = mean(s.map((x) => x.bleu));
    metrics[`chrf${suffix}`] = mean(s.map((x) => x.chrf));
  }
  if (metrics.bleu === undefined) {
    metrics.bleu = mean(scores.map((x) => x.bleu));
    metrics.chrf = mean(scores.map((x) => x.chrf));
  }
  return { metrics, translation: scores };
}

/** seen: a trained pair; unseen-pair: both languages trained, not together; unseen-domain: a language never trained on. */
export function categoryOf(src: string, tgt: string, trainPairs: readonly string[][]): TranslationScore['group'] {
  if (!tgt || trainPairs.some((p) => p.includes(src) && p.includes(tgt))) return 'seen';
  const langs = new Set(trainPairs.flat());
  return langs.has(src) && langs.has(tgt) ? 'unseen-pair' : 'unseen-domain';
}

// ---------------------------------------------------------------------------------------------

/**
 * A stable 64-bit hash of a JSON value with sorted keys: always 16 lower-case hex digits. Both halves
 * are kept unsigned (`>>> 0`): a bare `^=` leaves a signed int32, which printed as "-1a2b…". The
 * bits are the same as before that fix, so keys that printed correctly then still match.
 */
export function hashOf(x: unknown): string {
  const s = stableJson(x);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ ch, 0x5bd1e995) >>> 0;
    h2 = (h2 ^ (h2 >>> 15)) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (x && typeof x === 'object') {
    return `{${Object.keys(x)
      .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x) ?? 'null';
}

/** Node: files under dataDir (default public/data); browser: the app's /data/ folder. */
export async function defaultFetchText(dataDir?: string): Promise<FetchText> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
  if (isNode) {
    const fsName = 'node:fs/promises';
    const pathName = 'node:path';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const path = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
    const root = dataDir ?? 'public/data';
    return (p) => fs.readFile(path.resolve(root, p), 'utf8');
  }
  const base = (import.meta as { env?: { BASE_URL?: string } }).env?.BASE_URL ?? '/';
  return fetchFromUrl(dataDir ?? `${base}data/`);
}

export type { MetricName };
