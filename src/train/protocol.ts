/**
 * The Tag-LLM protocol and its baselines (METHODS.md §1) as data preparation over the Trainer:
 * which tags exist and which train, how each example is rendered, where its loss applies.
 *   stage1          domain tag, next-token loss on the data span        `<SMILES> {input}`
 *   stage2          function tag (+ head) on one labeled dataset; domain tags frozen, or enriched
 *                   with the stage-1 loss on the same inputs added
 *   stage3          one function tag over several datasets at once; domain tags frozen
 *   prompt-tuning   a random soft prompt of the same total length at the start, tags removed
 *   linear-probe    a head on the last input token, nothing else trains
 *   lora            LoRA (r 8, α 16, on q and v as PEFT's defaults; all-linear optional), tags removed
 *   domain-in-text  a PEFT method (`peft`: LoRA, prompt tuning or linear probe) with every domain
 *                   tag written as its name in the text (`<Protein>` as words) and no function tag
 *                   (paper Table 3)
 * Baselines with a numeric output train a head unless `head: false` (the paper's plain PEFT rows of
 * Table 2): then the label is written as text, trained with the LM loss and parsed from a generation.
 */
import type { Engine } from '../model/model';
import { Rng } from '../model/sampling';
import type { ModelConfig } from '../model/types';
import { createHead, loraShapes, standardize, unstandardize, type Head } from '../tags/head';
import type { TagLibrary } from '../tags/library';
import { createTag, embeddingFingerprint, embeddingTable, initTagRows, newProvenance, randomTagRows, type Tag, type TagStage, type TrainingRecord } from '../tags/tag';
import { parseTemplate, renderExample, type RenderContext, type RenderedExample, type Template, type TemplateSegment } from '../tags/template';
import { ALL_PROJS, type LoraConfig, type Proj } from './graph';
import { numericLabel } from './labels';
import { accuracy, mae, mse, pearson } from './metrics';
import { epochOrder } from './shuffle';
import { alignedRows, carriesLoss, checkHyper, DEFAULT_HYPER, Trainer, type EvalResult, type Example, type InjectedRange, type SampleSetup, type StepLog, type TrainHyper } from './trainer';

export type Method = 'stage1' | 'stage2' | 'stage3' | 'prompt-tuning' | 'linear-probe' | 'lora' | 'domain-in-text';
export const METHODS: readonly Method[] = ['stage1', 'stage2', 'stage3', 'prompt-tuning', 'linear-probe', 'lora', 'domain-in-text'];

/** The parameter-efficient methods "domain in text" can be paired with. */
export type PeftMethod = 'lora' | 'prompt-tuning' | 'linear-probe';
export const PEFT_METHODS: readonly PeftMethod[] = ['lora', 'prompt-tuning', 'linear-probe'];

/** LoRA targets: PEFT's default for Llama (q and v: ~1M parameters at 7B, rank 8) or every linear layer. */
export const LORA_DEFAULT_TARGETS: readonly Proj[] = ['q', 'v'];
export const LORA_ALL_LINEAR: readonly Proj[] = ALL_PROJS;

/** `q,v`, `all-linear` or a comma list of projections → targets, with a message naming the known ones. */
export function parseLoraTargets(s: string | readonly string[] | undefined): Proj[] {
  if (s === undefined) return [...LORA_DEFAULT_TARGETS];
  const list = typeof s === 'string' ? s.split(',').map((x) => x.trim()).filter(Boolean) : [...s];
  if (list.length === 1 && list[0] === 'all-linear') return [...LORA_ALL_LINEAR];
  const bad = list.filter((x) => !ALL_PROJS.includes(x as Proj));
  if (bad.length || list.length === 0) throw new Error(`LoRA targets must be "all-linear" or a list of ${ALL_PROJS.join(', ')} (got "${list.join(',')}").`);
  return [...new Set(list as Proj[])];
}

/**
 * The paper's training budget per task in epochs (Tag-LLM Table 5); steps stay available. Keys are
 * the built-in task ids (src/experiments/tasks.ts).
 */
export const PAPER_EPOCHS: Readonly<Record<string, number>> = { translation: 1, descriptor: 4, qed: 2, synergy: 2, binding: 4 };

export type TaskOutput =
  | { kind: 'text'; field?: string } // LM loss on this field (default 'output'; translation: 'target'), or on every field for stage 1
  | { kind: 'regression'; field?: string } // numeric label in `field` (default 'output')
  | { kind: 'classification'; field?: string };

export interface TaskData {
  name: string;
  template: string;
  rows: Array<Record<string, string>>;
  output: TaskOutput;
  /** Template field → data column it was mapped from (provenance; the rows already carry the fields). */
  fieldMapping?: Record<string, string>;
}

export interface RunSpec {
  method: Method;
  /** One dataset (stages 1–2, baselines) or several (stage 3: batches mix them). */
  tasks: TaskData[];
  library: TagLibrary;
  /** Rows of each new tag (paper: 10). */
  tagLength?: number;
  /** Stage 2: train the domain tags further, with the stage-1 loss on the inputs added. */
  enrich?: boolean;
  /** Isolation mask for domain-tagged spans. */
  isolate?: boolean;
  /** Space-separate residues of these fields (proteins). */
  spacedFields?: string[];
  hyper?: Partial<TrainHyper>;
  /** Held-out share of each dataset (default 0.1). */
  evalFraction?: number;
  lora?: Partial<LoraConfig>;
  /**
   * LoRA: go on training this library adapter (one trained here or imported from PEFT) instead of a
   * fresh one; its rank, alpha and targets win over `lora`. The result is saved under `name`.
   */
  continueAdapter?: string;
  recompute?: boolean;
  /** Name for the head / adapter of baselines (default: the method's name). */
  name?: string;
  /** domain-in-text: the PEFT method that trains (default LoRA). */
  peft?: PeftMethod;
  /**
   * Baselines (prompt tuning, LoRA, domain in text) on a numeric output: false = no head, the label
   * is text under the LM loss (Table 2's plain PEFT rows). Default true.
   */
  head?: boolean;
  /**
   * Sample generations while training: after every `every`-th step (0 = off), `tokens` greedy tokens
   * (default 16) from `prompt`, a template of text and <Tag>s without {fields}. Without a prompt: the
   * training template filled with `row` (default: the first held-out row, or training row), cut
   * before the output, rendered exactly as the training examples are.
   */
  sample?: { every: number; tokens?: number; prompt?: string; row?: Record<string, string> };
}

export const DEFAULT_SAMPLE_TOKENS = 16;

/**
 * The default sample prompt as template text (what the Train panel shows, editable): `template` with
 * the fields of `row` filled in, up to the output field (stage 1, which has none: up to the first
 * field). Literal characters the template syntax uses are escaped, so rendering it gives the same text.
 */
export function defaultSamplePrompt(template: string, row: Record<string, string>, outField = 'output'): string {
  const t = parseTemplate(template);
  const cut = t.fields.includes(outField) ? outField : t.fields[0];
  const esc = (x: string) => x.replace(/[\\<{}]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  let out = '';
  for (const seg of t.segments) {
    if (seg.kind === 'text') out += esc(seg.text);
    else if (seg.kind === 'tag') out += `<${seg.name}>`;
    else {
      const field = seg.kind === 'field' ? seg.name : seg.field;
      if (field === cut) break;
      out += seg.kind === 'field' ? esc(row[field] ?? '') : `<${row[field] ?? ''}>`;
    }
  }
  return out.replace(/ +$/, '');
}

export interface Metrics {
  loss: number;
  nll?: number;
  perplexity?: number;
  mse?: number;
  mae?: number;
  pearson?: number;
  accuracy?: number;
}

export interface RunResult {
  method: Method;
  trainableParams: number;
  evalBefore: Metrics;
  evalAfter: Metrics;
  steps: number;
  skippedSteps: number;
  log: StepLog[];
  /** Tags, head and adapter written to the library. */
  saved: { tags: string[]; head: string | null; adapter: string | null };
}

export interface BadRow {
  task: string;
  /** Index of the row in the task's rows (0-based). */
  row: number;
  reason: string;
}

/** A prepared run: the trainer plus what is needed to evaluate and to write results back. */
export class PreparedRun {
  /** Rows left out because their label is not usable (empty, not a finite number), with the reason. */
  badRows: BadRow[] = [];

  constructor(
    readonly spec: RunSpec,
    readonly trainer: Trainer,
    private readonly ctx: {
      engine: Engine;
      tags: Tag[]; // every tag in the injected buffer, in layout order
      offsets: Map<string, number>;
      trainableTags: Tag[];
      head: Head | null;
      heldOut: Example[];
      heldOutLabels: number[][];
      /** The rows behind heldOut / train, in the same order (for baselines computed on the same split). */
      heldOutRows: Array<Record<string, string>>;
      trainRows: Array<Record<string, string>>;
      kind: TaskOutput['kind'];
      fingerprint: string;
      trainableParams: number;
    },
  ) {}

  get trainableParams(): number {
    return this.ctx.trainableParams;
  }

  get heldOutCount(): number {
    return this.ctx.heldOut.length;
  }

  /** The held-out rows the metrics are computed on, and the rows trained on. */
  get split(): { train: ReadonlyArray<Record<string, string>>; heldOut: ReadonlyArray<Record<string, string>> } {
    return { train: this.ctx.trainRows, heldOut: this.ctx.heldOutRows };
  }

  async evaluate(limit?: number): Promise<Metrics> {
    const ex = limit ? this.ctx.heldOut.slice(0, limit) : this.ctx.heldOut;
    return this.metrics(await this.trainer.evaluate(ex), this.ctx.heldOutLabels.slice(0, ex.length));
  }

  metrics(r: EvalResult, labels: number[][]): Metrics {
    const m: Metrics = { loss: NaN };
    if (Number.isFinite(r.nll)) {
      m.nll = r.nll;
      m.perplexity = Math.exp(r.nll);
      m.loss = r.nll;
    }
    const head = this.ctx.head;
    if (head && r.preds.length) {
      m.loss = r.headLoss;
      if (head.kind === 'regression') {
        const p = r.preds.map((z) => unstandardize(head, z)[0]);
        const y = labels.map((l) => l[0]);
        m.mse = mse(p, y);
        m.mae = mae(p, y);
        m.pearson = pearson(p, y);
      } else {
        m.accuracy = accuracy(
          r.preds.map(argmax),
          labels.map((l) => l[0]),
        );
      }
    }
    return m;
  }

  /** Trains to the end (or `until`), then writes tags/head/adapter to the library. */
  async run(opts: { signal?: AbortSignal; onStep?: (s: StepLog) => void | Promise<void>; until?: number } = {}): Promise<void> {
    await this.trainer.run(opts);
  }

  /** Reads the learned parameters back and stores them in the library with provenance. */
  async save(final: Metrics): Promise<RunResult['saved']> {
    const { engine, trainableTags, head } = this.ctx;
    const st = await this.trainer.state();
    const lib = this.spec.library;
    const stage: TagStage = this.spec.method === 'prompt-tuning' || (this.spec.method === 'domain-in-text' && this.spec.peft === 'prompt-tuning') ? 'prompt-tuning' : this.spec.method.startsWith('stage') ? (this.spec.method as TagStage) : 'stage2';
    const metrics = Object.fromEntries(Object.entries(final).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
    const dataset = this.spec.tasks.map((t) => t.name).join(', ');
    const training = trainingRecord(this.spec, this.trainer.hyper, engine, this.ctx.fingerprint);
    const savedTags: string[] = [];
    for (const t of trainableTags) {
      const data = st.tensors[`tag.${t.name}`];
      const prov = newProvenance(modelInfo(engine), this.ctx.fingerprint, { stage, steps: t.provenance.steps + this.trainer.step, dataset, metrics, training });
      lib.addTag(createTag({ name: t.name, kind: t.kind, p: t.p, d: t.d, data: Float32Array.from(data), provenance: prov }), { replace: true });
      savedTags.push(t.name);
    }
    let headName: string | null = null;
    if (head) {
      head.W = Float32Array.from(st.tensors['head.W']);
      head.b = Float32Array.from(st.tensors['head.b']);
      head.training = training;
      lib.setHead(head);
      headName = head.name;
    }
    let adapter: string | null = null;
    const lo = this.trainer.graph.opts.lora;
    if (lo) {
      adapter = this.spec.name ?? (this.spec.method === 'domain-in-text' ? 'domain-in-text' : 'lora');
      lib.addAdapter(
        {
          id: `lora-${Date.now().toString(36)}`,
          name: adapter,
          rank: lo.rank,
          alpha: lo.alpha,
          targets: [...lo.targets],
          dropout: lo.dropout ?? 0,
          training,
          layers: this.trainer.graph.lora.map((layer, l) =>
            Object.fromEntries(
              Object.keys(layer).map((p) => [p, { A: Float32Array.from(st.tensors[`lora.${l}.${p}.A`]), B: Float32Array.from(st.tensors[`lora.${l}.${p}.B`]) }]),
            ),
          ),
        },
        { replace: true },
      );
    }
    return { tags: savedTags, head: headName, adapter };
  }

  dispose(): void {
    this.trainer.dispose();
  }
}

/** Runs a whole experiment cell: eval before, train, eval after, save. */
export async function runProtocol(
  engine: Engine,
  spec: RunSpec,
  opts: { signal?: AbortSignal; onStep?: (s: StepLog) => void | Promise<void> } = {},
): Promise<RunResult> {
  const run = await prepareRun(engine, spec);
  try {
    const evalBefore = await run.evaluate();
    await run.run(opts);
    const evalAfter = await run.evaluate();
    const saved = await run.save(evalAfter);
    return {
      method: spec.method,
      trainableParams: run.trainableParams,
      evalBefore,
      evalAfter,
      steps: run.trainer.step,
      skippedSteps: run.trainer.skipped,
      log: run.trainer.log,
      saved,
    };
  } finally {
    run.dispose();
  }
}

/** Tag names an example set uses: literal <Name>s and the values of <{field}> references. */
export function tagNamesOf(t: Template, rows: ReadonlyArray<Record<string, string>>): string[] {
  const names = new Set(t.tags);
  for (const seg of t.segments) if (seg.kind === 'tagFromField') for (const r of rows) if (r[seg.field]) names.add(r[seg.field]);
  return [...names];
}

/** The function tag: the last literal tag before the output field (or the template's last tag). */
export function functionTagOf(t: Template, outField: string): string | null {
  let last: string | null = null;
  for (const seg of t.segments) {
    if (seg.kind === 'field' && seg.name === outField) return last;
    if (seg.kind === 'tag') last = seg.name;
  }
  return last;
}

/**
 * The template a method renders. Baselines without tags drop every tag; domain-in-text writes each
 * domain tag as its literal name, so the tokenizer sees the text "<Protein>" instead of learned rows,
 * and drops the function tag (a PEFT method has none).
 */
export function methodTemplate(method: Method, t: Template, fnTag: string | null): Template {
  const strip = method === 'prompt-tuning' || method === 'linear-probe' || method === 'lora';
  if (!strip && method !== 'domain-in-text') return t;
  // Removed tags leave a hole: the text around it merges with one space, not two ("is <SMILES> {input}" → "is {input}").
  const segments: TemplateSegment[] = [];
  let hole = false;
  const pushText = (text: string) => {
    const prev = segments[segments.length - 1];
    if (prev?.kind === 'text') segments[segments.length - 1] = { kind: 'text', text: prev.text + (hole && /\s$/.test(prev.text) ? text.replace(/^ +/, '') : text) };
    else segments.push({ kind: 'text', text });
    hole = false;
  };
  for (const seg of t.segments) {
    const isTag = seg.kind === 'tag' || seg.kind === 'tagFromField';
    if (!isTag) {
      if (seg.kind === 'text') pushText(seg.text);
      else {
        segments.push(seg);
        hole = false;
      }
    } else if (strip || (seg.kind === 'tag' && seg.name === fnTag)) hole = true;
    else if (seg.kind === 'tag') pushText(`<${seg.name}>`);
    else {
      pushText('<');
      segments.push({ kind: 'field', name: seg.field });
      pushText('>');
    }
  }
  return {
    source: segments.map((x) => (x.kind === 'text' ? x.text.replace(/\\/g, '\\\\').replace(/[<{}]/g, (c) => `\\${c}`) : x.kind === 'field' ? `{${x.name}}` : '')).join(''),
    segments,
    tags: [],
    fields: t.fields,
  };
}

export async function prepareRun(engine: Engine, spec: RunSpec): Promise<PreparedRun> {
  checkRunSpec(spec);
  const badRows: BadRow[] = [];
  spec = { ...spec, tasks: spec.tasks.map((t) => usableRows(t, spec.method, badRows)) };
  for (const t of spec.tasks) {
    if (t.rows.length === 0) {
      throw new Error(`${t.name}: no usable example (${badRows.filter((b) => b.task === t.name).length} rows had unusable labels); nothing to train or evaluate on.`);
    }
  }
  const cfg = engine.config;
  const d = cfg.dModel;
  const tok = engine.tokenizer;
  const hyperSeed = spec.hyper?.seed ?? 0;
  const rng = new Rng(hyperSeed * 7919 + 17);
  const p = spec.tagLength ?? 10;
  const lib = spec.library;
  const method = spec.method;
  // What trains: domain-in-text is its PEFT method over a template with the domain names as text.
  const base: Method = method === 'domain-in-text' ? (spec.peft ?? 'lora') : method;
  if (method === 'domain-in-text' && !PEFT_METHODS.includes(base as PeftMethod)) throw new Error(`domain-in-text trains with ${PEFT_METHODS.join(', ')}; got "${spec.peft}".`);
  const isBaseline = method === 'domain-in-text' || PEFT_METHODS.includes(method as PeftMethod);
  if (spec.tasks.length === 0) throw new Error('A run needs at least one dataset.');
  if (method !== 'stage3' && spec.tasks.length > 1) throw new Error(`${method} trains on one dataset; stage 3 takes several.`);
  if (spec.enrich && method !== 'stage2') {
    throw new Error(
      method === 'stage3'
        ? 'Enriched domain tags are a stage-2 option: stage 3 (cross-domain) keeps the domain tags frozen (Tag-LLM §3.2). Turn "enrich" off.'
        : `"enrich" applies to stage 2 only; ${method} does not train domain tags with a function tag.`,
    );
  }
  if (spec.head === false && base === 'linear-probe') throw new Error('A linear probe is a head; it cannot train without one (head: false). Use LoRA or prompt tuning for the plain PEFT rows.');
  if (spec.head === false && !isBaseline) throw new Error('head: false is for the PEFT baselines; Tag-LLM writes numbers as text with a text output instead.');
  const declared = spec.tasks[0].output.kind;
  if (spec.tasks.some((t) => t.output.kind !== declared)) throw new Error('All datasets of a multi-task run must have the same output kind.');
  // Plain PEFT (no head): the label is text under the LM loss.
  const kind: TaskOutput['kind'] = spec.head === false ? 'text' : declared;
  const table = await embeddingTable(engine);
  const fingerprint = await embeddingFingerprint(table, cfg.vocabSize, d);

  // Which tags exist, which are created, which train.
  const runTags = new Map<string, Tag>(lib.tagMap());
  const trainable = new Set<string>();
  const outField = (t: TaskData) => (t.output.kind === 'text' ? (t.output.field ?? 'output') : (t.output.field ?? 'output'));
  const parsed = spec.tasks.map((t) => parseTemplate(t.template));
  const fnTags = spec.tasks.map((t, i) => (method === 'stage1' ? null : functionTagOf(parsed[i], outField(t))));
  const templates = parsed.map((t, i) => methodTemplate(method, t, fnTags[i]));
  const newTag = (name: string, kindOf: 'domain' | 'function', rows: number, random: boolean) => {
    const data = random ? randomTagRows(rows, d, 0.5 * rmsOfTable(table), rng) : initTagRows(table, cfg.vocabSize, d, rows);
    const t = createTag({ name, kind: kindOf, p: rows, d, data, provenance: newProvenance(modelInfo(engine), fingerprint) });
    runTags.set(name, t);
    return t;
  };
  for (const [i, task] of spec.tasks.entries()) {
    const domainNames = tagNamesOf(templates[i], task.rows).filter((n) => n !== fnTags[i]);
    if (method === 'stage2' && spec.enrich && domainNames.length > 1) {
      throw new Error(
        `${task.name}: enriched domain tags would update ${domainNames.map((n) => `<${n}>`).join(' and ')} together: a task across several domains is a cross-domain (stage 3) task, where domain tags stay frozen (Tag-LLM §3.2). Train it as stage 3, or without "enrich".`,
      );
    }
    for (const name of tagNamesOf(templates[i], task.rows)) {
      const existing = runTags.get(name);
      if (method === 'stage1') {
        if (!existing) newTag(name, 'domain', p, false);
        trainable.add(name);
      } else if (name === fnTags[i]) {
        if (!existing) newTag(name, 'function', p, false);
        trainable.add(name);
      } else if (!existing) {
        throw new Error(`${task.name}: domain tag <${name}> is not in the library. Train it with stage 1 first (or import it).`);
      } else if (method === 'stage2' && spec.enrich) {
        trainable.add(name);
      }
    }
  }
  let promptTag: Tag | null = null;
  if (base === 'prompt-tuning') {
    // Same total length as the tags Tag-LLM would use in this template.
    const rows = tagNamesOf(parsed[0], spec.tasks[0].rows.slice(0, 1)).reduce((s, n) => s + (lib.getTag(n)?.p ?? p), 0) || p;
    promptTag = newTag('__prompt', 'function', rows, true);
    trainable.add('__prompt');
  }

  // Layout of the injected buffer: every tag the run uses, each starting on a binding boundary.
  const used = [...new Set(templates.flatMap((t, i) => tagNamesOf(t, spec.tasks[i].rows))), ...(promptTag ? ['__prompt'] : [])];
  const offsets = new Map<string, number>();
  let rows = 0;
  for (const name of used) {
    offsets.set(name, rows);
    rows += alignedRows(runTags.get(name)!.p, d);
  }
  const injected = new Float32Array(Math.max(1, rows) * d);
  for (const name of used) injected.set(runTags.get(name)!.data, offsets.get(name)! * d);
  const ranges: InjectedRange[] = [...trainable].filter((n) => offsets.has(n)).map((n) => ({ name: n, row0: offsets.get(n)!, rows: runTags.get(n)!.p }));

  // The held-out split: the first evalFraction of a seeded order of each dataset's rows.
  const evalFraction = spec.evalFraction ?? 0.1;
  const splitOf = (t: TaskData, i: number) => {
    const order = epochOrder(t.rows.length, hyperSeed + 1000 + i, 0);
    return { order, nEval: Math.max(1, Math.round(t.rows.length * evalFraction)) };
  };
  const trainRowsOf = (t: TaskData, i: number) => {
    const { order, nEval } = splitOf(t, i);
    return order.slice(nEval).map((j) => t.rows[j]);
  };

  // Head for numeric outputs.
  let head: Head | null = null;
  if (kind !== 'text' && method !== 'stage1') {
    const fnTag = fnTags[0] && !isBaseline ? fnTags[0] : (spec.name ?? method);
    // Label statistics from the training rows only: the held-out rows must not leak into the head.
    const all = spec.tasks.flatMap((t, i) => trainRowsOf(t, i).map((r) => r[outField(t)]));
    const existing = lib.getHead(fnTag);
    if (existing && existing.kind === kind && existing.d === d) {
      // Continue (or evaluate) the head trained earlier, with its label standardisation.
      head = { ...existing, W: Float32Array.from(existing.W), b: Float32Array.from(existing.b) };
    } else if (kind === 'regression') head = createHead('regression', 1, d, rng, all.map(Number).filter(Number.isFinite), fnTag);
    else {
      const classes = [...new Set(all)].sort();
      head = createHead('classification', classes.length, d, rng, all, fnTag);
    }
  }

  // Examples.
  const renderCtx = (omit: string | null) => ({
    tokenizer: tok,
    tags: runTags,
    isolate: spec.isolate,
    spaceResidues: (spec.spacedFields?.length ?? 0) > 0,
    spacedFields: spec.spacedFields,
    omitFields: omit ? [omit] : undefined,
    eos: !omit && tok.eosId !== null,
  });
  const toExample = (r: RenderedExample, group: string, label?: number[], lmFields?: Set<string>): Example => {
    const n = r.ids.length;
    const inject = new Array<number>(n).fill(-1);
    for (const a of r.tagAt) inject[a.pos] = offsets.get(a.tag)! + a.row;
    if (promptTag) {
      // The soft prompt sits right after BOS: shift everything by its rows.
      const at = tok.bosId !== null ? 1 : 0;
      const k = promptTag.p;
      const ids = [...r.ids.slice(0, at), ...new Array<number>(k).fill(0), ...r.ids.slice(at)];
      const inj = [...inject.slice(0, at), ...Array.from({ length: k }, (_, i) => offsets.get('__prompt')! + i), ...inject.slice(at)];
      const field = [...r.field.slice(0, at), ...new Array<string | null>(k).fill(null), ...r.field.slice(at)];
      return finish({ ids, inject: inj, field, start: new Array(ids.length).fill(0) }, group, label, lmFields);
    }
    return finish({ ids: r.ids, inject, field: r.field, start: r.start }, group, label, lmFields, r.functionTagLastPos);
  };
  const finish = (
    x: { ids: number[]; inject: number[]; field: Array<string | null>; start: number[] },
    group: string,
    label: number[] | undefined,
    lmFields: Set<string> | undefined,
    fnPos: number | null = null,
  ): Example => {
    const n = x.ids.length;
    const targets: Array<number | null> = new Array(n).fill(null);
    if (lmFields) {
      // Position t predicts token t+1: a target wherever the next token belongs to a loss field
      // (the EOS after the span counts: it carries the field of the text before it).
      for (let t = 0; t + 1 < n; t++) {
        const f = x.field[t + 1];
        if (f !== null && lmFields.has(f) && x.inject[t + 1] < 0) targets[t] = x.ids[t + 1];
      }
    }
    const headPos = label ? (fnPos ?? n - 1) : null;
    return { ids: x.ids, inject: x.inject, start: x.start, targets, headPos, label, group };
  };

  const train: Example[] = [];
  const heldOut: Example[] = [];
  const heldOutLabels: number[][] = [];
  const heldOutRows: Array<Record<string, string>> = [];
  const trainRows: Array<Record<string, string>> = [];
  const aux: Example[] = [];
  for (const [i, task] of spec.tasks.entries()) {
    const { order, nEval } = splitOf(task, i);
    const trainedBefore = train.length;
    for (const [j, idx] of order.entries()) {
      const row = task.rows[idx];
      const isEval = j < nEval;
      let ex: Example;
      let rawLabel: number[] | undefined;
      if (kind === 'text' || method === 'stage1') {
        const lm = new Set(method === 'stage1' ? templates[i].fields : [outField(task)]);
        ex = toExample(renderExample(templates[i], row, renderCtx(null)), task.name, undefined, lm);
      } else {
        const v = row[outField(task)];
        rawLabel = kind === 'regression' ? [Number(v)] : [head!.classes!.indexOf(v)];
        const label = kind === 'regression' ? standardize(head!, rawLabel) : rawLabel;
        ex = toExample(renderExample(templates[i], row, renderCtx(outField(task))), task.name, label);
      }
      if (isEval) {
        heldOut.push(ex);
        heldOutLabels.push(rawLabel ?? []);
        heldOutRows.push(row);
      } else {
        train.push(ex);
        trainRows.push(row);
      }
      if (!isEval && method === 'stage2' && spec.enrich) {
        // Stage-1 loss on this example's domain spans: `<Domain> {field}` for each domain tag.
        for (const name of ranges.map((r) => r.name).filter((n) => runTags.get(n)!.kind === 'domain')) {
          const field = fieldAfterTag(templates[i], name);
          if (!field) continue;
          aux.push(toExample(renderExample(`<${name}> {${field}}`, row, renderCtx(null)), `${task.name}:aux`, undefined, new Set([field])));
        }
      }
    }
    let carries = false;
    for (let j = trainedBefore; j < train.length && !carries; j++) carries = carriesLoss(train[j]);
    if (!carries && train.length > trainedBefore && (spec.hyper?.steps ?? DEFAULT_HYPER.steps) + (spec.hyper?.epochs ?? 0) > 0) throw new Error(noLossMessage(task, templates[i], method === 'stage1' ? null : outField(task)));
  }
  // Every example, tags and template included, must fit the context the model was loaded with.
  const context = Math.min(engine.transformer.opts.maxContext, cfg.maxSeqLen || Infinity);
  let longest = 0;
  for (const x of [...train, ...heldOut, ...aux]) longest = Math.max(longest, x.ids.length);
  if (longest > context) {
    throw new Error(
      `The longest example is ${longest} tokens (template + tags of ${p} rows + data), but the model's context holds ${context}. ` +
        'Use a shorter --tag-length, shorter examples, or load the model with a larger context.',
    );
  }
  const sample = sampleSetup(spec, templates[0], spec.sample?.row ?? heldOutRows[0] ?? trainRows[0], renderCtx, toExample, outField(spec.tasks[0]), new Set(used));
  const trainer = await Trainer.create({
    engine,
    sample,
    train,
    aux: aux.length ? aux : undefined,
    heldOut,
    hyper: spec.hyper ?? {},
    injected,
    trainable: ranges,
    head: head ? { k: head.k, kind: head.kind, W: head.W, b: head.b } : undefined,
    lora: base === 'lora' ? loraSetup(spec, engine.config) : undefined,
    recompute: spec.recompute,
  });
  const trainableParams = trainer.params().reduce((s, x) => s + x.n, 0);
  const trainableTags = ranges.map((r) => runTags.get(r.name)!).filter((t) => t.name !== '__prompt' || base === 'prompt-tuning');
  const prepared = new PreparedRun(spec, trainer, { engine, tags: used.map((n) => runTags.get(n)!), offsets, trainableTags, head, heldOut, heldOutLabels, heldOutRows, trainRows, kind, fingerprint, trainableParams });
  prepared.badRows = badRows;
  return prepared;
}

/** The run's sample prompt rendered like its examples (same tag rows, same tokenization). */
function sampleSetup(
  spec: RunSpec,
  template: Template,
  row: Record<string, string> | undefined,
  renderCtx: (omit: string | null) => RenderContext,
  toExample: (r: RenderedExample, group: string) => Example,
  outField: string,
  usedTags: ReadonlySet<string>,
): SampleSetup | undefined {
  const sm = spec.sample;
  if (!sm || !(sm.every > 0)) return undefined;
  const tokens = sm.tokens ?? DEFAULT_SAMPLE_TOKENS;
  let r: RenderedExample;
  if (sm.prompt !== undefined) {
    let t: Template;
    try {
      t = parseTemplate(sm.prompt);
    } catch (e) {
      throw new Error(`Sample prompt: ${(e as Error).message}`);
    }
    if (t.fields.length) throw new Error(`The sample prompt has ${t.fields.map((f) => `{${f}}`).join(', ')}: write the text itself (a sample has no data row), or escape the braces as \\{ \\}.`);
    try {
      r = renderExample(t, {}, { ...renderCtx(null), eos: false });
    } catch (e) {
      throw new Error(`Sample prompt: ${(e as Error).message}`);
    }
    const unused = r.tagAt.find((a) => !usedTags.has(a.tag));
    if (unused) throw new Error(`The sample prompt uses <${unused.tag}>, which this run does not use; use the run's tags (${[...usedTags].map((n) => `<${n}>`).join(' ') || 'none'}).`);
  } else {
    if (!row) return undefined;
    for (const f of template.fields) if (typeof row[f] !== 'string' && f !== outField) throw new Error(`The sample row has no value for {${f}}; it has ${Object.keys(row).map((k) => `{${k}}`).join(', ') || 'no fields'}.`);
    const omit = template.fields.includes(outField) ? outField : (template.fields[0] ?? null);
    r = renderExample(template, row, { ...renderCtx(omit), eos: false });
  }
  const x = toExample(r, 'sample');
  return { prompt: { ids: x.ids, inject: x.inject, start: x.start }, every: sm.every, tokens };
}

/** Bounds of a run spec (a checkpoint's spec is untrusted too): fails with the field and value. */
export function checkRunSpec(spec: RunSpec): void {
  const bad = (field: string, v: unknown, allowed: string) => new Error(`Run spec: ${field} is ${JSON.stringify(v)}; it must be ${allowed}.`);
  if (!METHODS.includes(spec.method)) throw bad('method', spec.method, `one of ${METHODS.join(', ')}`);
  if (!Array.isArray(spec.tasks)) throw bad('tasks', spec.tasks, 'a list of datasets');
  const p = spec.tagLength ?? 10;
  if (!Number.isSafeInteger(p) || p < 1 || p > 4096) throw bad('tagLength', p, 'a whole number from 1 to 4096');
  const ef = spec.evalFraction ?? 0.1;
  if (typeof ef !== 'number' || !(ef >= 0 && ef <= 1)) throw bad('evalFraction', ef, 'a number from 0 to 1');
  for (const [i, t] of spec.tasks.entries()) {
    if (!t || typeof t.template !== 'string' || !Array.isArray(t.rows)) throw bad(`tasks[${i}]`, typeof t, 'a dataset with a template and rows');
  }
  if (spec.lora) {
    const r = spec.lora.rank ?? 8;
    if (!Number.isSafeInteger(r) || r < 1 || r > 4096) throw bad('lora.rank', r, 'a whole number from 1 to 4096');
    const al = spec.lora.alpha ?? 16;
    if (!Number.isFinite(al) || al <= 0) throw bad('lora.alpha', al, 'a finite number > 0');
    for (const t of spec.lora.targets ?? []) if (!(ALL_PROJS as readonly string[]).includes(t)) throw bad('lora.targets', t, `one of ${ALL_PROJS.join(', ')}`);
  }
  if (spec.sample) {
    const sm = spec.sample;
    if (!Number.isSafeInteger(sm.every) || sm.every < 0 || sm.every > 10_000_000) throw bad('sample.every', sm.every, 'a whole number from 0 (off) to 10000000');
    const n = sm.tokens ?? DEFAULT_SAMPLE_TOKENS;
    if (!Number.isSafeInteger(n) || n < 1 || n > 4096) throw bad('sample.tokens', n, 'a whole number from 1 to 4096');
    if (sm.prompt !== undefined && typeof sm.prompt !== 'string') throw bad('sample.prompt', sm.prompt, 'text');
    if (sm.row !== undefined && (typeof sm.row !== 'object' || sm.row === null || Object.values(sm.row).some((v) => typeof v !== 'string'))) throw bad('sample.row', sm.row, 'a row of text fields');
  }
  checkHyper({ ...DEFAULT_HYPER, ...(spec.hyper ?? {}) });
}

/** A task's rows with unusable labels removed (and reported): numbers for regression, non-empty classes. */
function usableRows(t: TaskData, method: Method, bad: BadRow[]): TaskData {
  if (t.output.kind === 'text' || method === 'stage1') return t;
  const field = t.output.field ?? 'output';
  const rows = t.rows.filter((r, i) => {
    const v = Object.hasOwn(r, field) ? r[field] : undefined;
    const reason =
      v === undefined
        ? `no "${field}" value`
        : t.output.kind === 'regression'
          ? numericLabel(v) === null
            ? `label ${JSON.stringify(String(v).slice(0, 40))} is not a finite number`
            : null
          : String(v).trim() === ''
            ? 'empty class label'
            : null;
    if (reason) bad.push({ task: t.name, row: i, reason });
    return reason === null;
  });
  return rows.length === t.rows.length ? t : { ...t, rows };
}

/** The LoRA of a run: fresh, or a library adapter to continue (checked against the model). */
function loraSetup(spec: RunSpec, cfg: ModelConfig): LoraConfig & { init?: Map<string, Float32Array> } {
  const fresh = {
    rank: spec.lora?.rank ?? 8,
    alpha: spec.lora?.alpha ?? 16,
    dropout: spec.lora?.dropout ?? 0.05,
    targets: spec.lora?.targets ?? LORA_DEFAULT_TARGETS,
  };
  if (!spec.continueAdapter) return fresh;
  const a = spec.library.getAdapter(spec.continueAdapter);
  if (!a) throw new Error(`The library has no adapter "${spec.continueAdapter}" to continue training.`);
  const shapes = loraShapes(cfg);
  if (a.layers.length !== cfg.nLayers) throw new Error(`Adapter "${a.name}" has ${a.layers.length} layers; the loaded model has ${cfg.nLayers}.`);
  const init = new Map<string, Float32Array>();
  a.layers.forEach((layer, l) => {
    for (const t of a.targets) {
      const pair = layer[t];
      if (!pair || pair.A.length !== a.rank * shapes[t].in || pair.B.length !== shapes[t].out * a.rank) {
        throw new Error(`Adapter "${a.name}" does not fit the loaded model (layer ${l} ${t}); it was made for another model.`);
      }
      init.set(`lora.${l}.${t}.A`, pair.A);
      init.set(`lora.${l}.${t}.B`, pair.B);
    }
  });
  return { rank: a.rank, alpha: a.alpha, dropout: spec.lora?.dropout ?? a.dropout ?? fresh.dropout, targets: [...a.targets] as Proj[], init };
}

/** The field right after a tag (`<SMILES> {input}` → input): the tag's data span. */
function fieldAfterTag(t: Template, tag: string): string | null {
  const i = t.segments.findIndex((s) => s.kind === 'tag' && s.name === tag);
  const next = t.segments.slice(i + 1).find((s) => !(s.kind === 'text' && s.text.trim() === ''));
  return i >= 0 && next?.kind === 'field' ? next.name : null;
}

function modelInfo(e: Engine) {
  return { arch: e.config.arch, name: modelDisplayName(e.name), dModel: e.config.dModel, vocabSize: e.config.vocabSize };
}

/** A model's name without where it was loaded from: the file name of a URL or path (no localhost address). */
export function modelDisplayName(name: string): string {
  const noQuery = name.split(/[?#]/)[0];
  const last = noQuery.split(/[\\/]/).filter(Boolean).pop();
  return /^[a-z]+:\/\//i.test(name) || /[\\/]/.test(noQuery) ? (last ?? name) : name;
}

/** A stable hash (16 hex digits) of a dataset's rows, in order: which data a tag was trained on. */
export function datasetHash(rows: ReadonlyArray<Record<string, string>>): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x5bd1e995;
  const feed = (str: string) => {
    for (let i = 0; i < str.length; i++) {
      const c = str.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
      h2 = (h2 ^ (h2 >>> 15)) >>> 0;
    }
  };
  for (const r of rows) {
    for (const k of Object.keys(r).sort()) {
      feed(k);
      feed('\u0001');
      feed(r[k]);
      feed('\u0002');
    }
    feed('\u0003');
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** What a run's tags were trained with (tag library provenance). */
function trainingRecord(spec: RunSpec, hyper: TrainHyper, engine: Engine, fingerprint: string): TrainingRecord {
  const h: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(hyper)) if (typeof v === 'number' || typeof v === 'string') h[k] = v;
  return {
    method: spec.method,
    ...(spec.method === 'domain-in-text' ? { peft: spec.peft ?? 'lora' } : {}),
    templates: [...new Set(spec.tasks.map((t) => t.template))],
    fieldMapping: Object.assign({}, ...spec.tasks.map((t) => t.fieldMapping ?? {})),
    hyper: h,
    seed: hyper.seed,
    tagLength: spec.tagLength ?? 10,
    enrich: !!spec.enrich,
    datasets: spec.tasks.map((t) => ({ name: t.name, rows: t.rows.length, hash: datasetHash(t.rows) })),
    model: { name: modelDisplayName(engine.name), arch: engine.config.arch, weightsFingerprint: fingerprint },
  };
}

/** Why a task's examples carry no loss, and how to fix it. */
function noLossMessage(task: TaskData, t: Template, out: string | null): string {
  const tpl = JSON.stringify(task.template);
  if (out === null) {
    return `${task.name}: no token of the template ${tpl} carries the loss: stage 1 trains on the text of its fields and the rows leave them empty (or the template has none). Use a template like "<Domain> {input}" with a non-empty input column.`;
  }
  if (!t.fields.includes(out)) {
    return `${task.name}: no token of the template ${tpl} carries the loss: the output field {${out}} is not in it, so training would run at loss 0. Add {${out}} where the answer goes, e.g. ${JSON.stringify(`${task.template} {${out}}`)}, or map the label column to "${out}".`;
  }
  return `${task.name}: no token carries the loss: every row's {${out}} is empty, or it is written only through tags. Map a column with the answers to "${out}".`;
}

function argmax(z: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
  return best;
}

function rmsOfTable(table: Float32Array): number {
  let s = 0;
  for (let i = 0; i < table.length; i++) s += table[i] * table[i];
  return Math.sqrt(s / table.length);
}
