/**
 * The worker's side of the workbench requests: datasets, the tag library (owned here), training runs
 * with pause / resume / finish / cancel and periodic checkpoints, the composer, composition-matrix
 * cells and the tag inspector. handler.ts routes these request types here; the method layer is
 * reached through `MethodDeps` so all of this runs against a fake in unit tests.
 */
import { noRecords, notADataset, parseDataset } from '../data/parse';
import { dropInvalidSmiles, smilesColumns } from '../tasks/smiles-columns';
import { ExperimentDefinitionError, validateExperiment } from '../experiments/definition';
import { planCells } from '../experiments/runner';
import type { ExperimentResults } from '../experiments/types';
import type { LoadedModel } from '../model/api';
import { applyHead, unstandardize, type Head } from '../tags/head';
import { embeddingFingerprint } from '../tags/embedding';
import { TagLibrary } from '../tags/library';
import type { Tag } from '../tags/tag';
import { exportLibrary, importLibrary, type LibraryFile } from '../tags/library-format';
import { parseTemplate } from '../tags/template';
import { snapshotLibrary, type CheckpointFile } from '../train/checkpoint';
import { accuracy, mae, mse, pearson } from '../train/metrics';
import { tagNamesOf, type Metrics, type RunSpec } from '../train/protocol';
import type { StepLog } from '../train/trainer';
import { evenSample, nearestByCosine, normStats, pca2, rowNorms } from './inspect';
import { exportFiles, readImportFiles } from './library-exchange';
import { cloneLibrary, restoreLibrary, summarizeLibrary } from './library-io';
import { createResidentAdapters } from './resident-adapters';
import type { MethodDeps, RunHandle } from './methods';
import {
  abortError,
  type AttentionReply,
  type ComposeParams,
  type ComposeReply,
  type DatasetReply,
  type ExperimentEvent,
  type ExperimentRunParams,
  type HeadPrediction,
  type InspectParams,
  type InspectReply,
  type RowPrediction,
  type ImportConflict,
  type LibraryImportFilesParams,
  type LibraryImportParams,
  type LibraryImportReply,
  type MatrixCellParams,
  type MatrixCellReply,
  type PromptInfo,
  type RequestMessage,
  type TrainControlAction,
  type TrainEvent,
  type TrainOptions,
  type TrainPhase,
  type TrainReply,
  type WorkerMessage,
} from './protocol';

export interface WorkbenchContext {
  methods: MethodDeps;
  /** The loaded model, or null. */
  model(): LoadedModel | null;
  post(msg: WorkerMessage): void;
  /** Shared with plain generation: one forward-heavy generation at a time. */
  busy: { generating: boolean };
}

/** Request types this module answers. */
export const WORKBENCH_REQUESTS = new Set<RequestMessage['type']>([
  'modelFingerprint',
  'datasetImport',
  'datasetBuiltin',
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
]);

/** The most tokens an attention map is drawn for (the payload grows with T²). */
export const MAX_ATTENTION_TOKENS = 192;

interface ActiveRun {
  requestId: number;
  runId: string;
  phase: TrainPhase;
  pause: boolean;
  finish: boolean;
  wake: (() => void) | null;
}

export function createWorkbench(ctx: WorkbenchContext) {
  const library = new TagLibrary();
  let active: ActiveRun | null = null;
  /** The request id of the experiment being run, if any (one at a time; it excludes training runs). */
  let experiment: number | null = null;
  let notifyQueued = false;
  const fingerprints = new WeakMap<LoadedModel, Promise<string>>();
  const resident = createResidentAdapters(library);

  // Every change of the library reaches the UI once per turn (summary + file to persist).
  library.onChange(() => {
    if (notifyQueued) return;
    notifyQueued = true;
    setTimeout(() => {
      notifyQueued = false;
      let file: LibraryFile | null = null;
      try {
        file = exportLibrary(library);
      } catch (e) {
        console.warn('library export for persistence failed:', e);
      }
      ctx.post({ id: 0, type: 'library', summary: summarizeLibrary(library), file });
    }, 0);
  });

  function needModel(): LoadedModel {
    const m = ctx.model();
    if (!m) throw new Error('No model is loaded. Load one in the Model panel first.');
    return m;
  }

  function fingerprintOf(m: LoadedModel): Promise<string> {
    let p = fingerprints.get(m);
    if (!p) {
      p = ctx.methods.embeddingTable(m).then((t) => embeddingFingerprint(t, m.config.vocabSize, m.config.dModel));
      fingerprints.set(m, p);
      p.catch(() => fingerprints.delete(m));
    }
    return p;
  }

  function needTag(name: string, m: LoadedModel) {
    const tag = library.getTag(name);
    if (!tag) throw new Error(`The library has no tag <${name}>.`);
    if (tag.d !== m.config.dModel) {
      throw new Error(`<${name}> was made for d_model ${tag.d} (${tag.provenance.modelName || 'another model'}); the loaded model has d_model ${m.config.dModel}.`);
    }
    return tag;
  }

  // ---------------------------------------------------------------------------------------------
  // Training

  function setPhase(run: ActiveRun, phase: TrainPhase) {
    run.phase = phase;
    ctx.post({ id: run.requestId, type: 'event', event: { kind: 'phase', phase } satisfies TrainEvent });
  }

  function stripEval(s: StepLog): StepLog {
    // Samples travel decoded, as their own events.
    const { eval: _e, sample: _s, ...rest } = s;
    void _e;
    void _s;
    return rest;
  }

  /** Runs a prepared run to its end; owns (and disposes) it. */
  async function drive(
    id: number,
    run: RunHandle,
    spec: RunSpec,
    snapshot: LibraryFile,
    opts: TrainOptions,
    signal: AbortSignal,
    scratch: TagLibrary,
  ): Promise<TrainReply> {
    const me = active!;
    const emit = (event: TrainEvent) => ctx.post({ id, type: 'event', event });
    const model = needModel();
    const checkpoint = async () => {
      const file: CheckpointFile = await ctx.methods.checkpoint(model, spec, snapshot, run);
      emit({ kind: 'checkpoint', runId: opts.runId, step: run.step, file });
    };
    try {
      emit({
        kind: 'prepared',
        runId: opts.runId,
        trainableParams: run.trainableParams,
        heldOutCount: run.heldOutCount,
        totalSteps: run.totalSteps,
        step: run.step,
        log: run.log.map(stripEval),
      });
      if (run.step === 0 && run.heldOutCount > 0) {
        setPhase(me, 'evaluating');
        emit({ kind: 'eval', step: 0, metrics: await run.evaluate(opts.evalLimit || undefined) });
      }
      setPhase(me, 'running');
      while (run.step < run.totalSteps) {
        if (signal.aborted) throw abortError('Training was cancelled.');
        if (me.finish) break;
        if (me.pause) {
          await checkpoint();
          setPhase(me, 'paused');
          await new Promise<void>((resolve) => {
            me.wake = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
          me.wake = null;
          me.pause = false;
          if (signal.aborted) throw abortError('Training was cancelled.');
          if (!me.finish) setPhase(me, 'running');
          continue;
        }
        const log = await run.trainStep(signal);
        emit({ kind: 'step', log: stripEval(log) });
        if (log.sample) emit({ kind: 'sample', step: log.step, text: model.tokenizer.decode(log.sample, { skipSpecial: true }) });
        const step = run.step;
        if (opts.evalEvery > 0 && step % opts.evalEvery === 0 && step < run.totalSteps && run.heldOutCount > 0) {
          setPhase(me, 'evaluating');
          emit({ kind: 'eval', step, metrics: await run.evaluate(opts.evalLimit || undefined) });
          setPhase(me, 'running');
        }
        if (opts.checkpointEvery > 0 && step % opts.checkpointEvery === 0 && step < run.totalSteps) await checkpoint();
      }
      let metrics: Metrics = { loss: NaN };
      if (run.heldOutCount > 0) {
        setPhase(me, 'evaluating');
        metrics = await run.evaluate();
        emit({ kind: 'eval', step: run.step, metrics });
      }
      if (signal.aborted) throw abortError('Training was cancelled.');
      setPhase(me, 'saving');
      const saved = await run.save(metrics);
      // Results go from the run's scratch library into the real one.
      const domains = new Set<string>();
      for (const t of spec.tasks) for (const n of tagNamesOf(parseTemplate(t.template), t.rows)) domains.add(n);
      for (const name of saved.tags) {
        const tag = scratch.getTag(name);
        if (!tag) continue;
        const others = [...domains].filter((n) => n !== name && !saved.tags.includes(n));
        if (tag.kind === 'function' && others.length) {
          const line = `trained with: ${others.map((n) => `<${n}>`).join(' ')}`;
          tag.provenance = { ...tag.provenance, notes: tag.provenance.notes ? `${tag.provenance.notes}\n${line}` : line };
        }
        library.addTag(tag, { replace: true });
      }
      if (saved.head) {
        const h = scratch.getHead(saved.head);
        if (h) library.setHead(h);
      }
      if (saved.adapter) {
        const a = scratch.getAdapter(saved.adapter);
        if (a) library.addAdapter(a, { replace: true });
      }
      return {
        runId: opts.runId,
        outcome: run.step >= run.totalSteps ? 'finished' : 'stopped',
        steps: run.step,
        trainableParams: run.trainableParams,
        metrics,
        saved,
      };
    } finally {
      run.dispose();
      if (active === me) active = null;
    }
  }

  function beginRun(id: number, runId: string): ActiveRun {
    if (active) throw new Error('A training run is already in progress. Pause, finish or cancel it first.');
    if (experiment !== null) throw new Error('An experiment is running. Cancel it or wait for it to finish before training.');
    active = { requestId: id, runId, phase: 'preparing', pause: false, finish: false, wake: null };
    ctx.post({ id, type: 'event', event: { kind: 'phase', phase: 'preparing' } satisfies TrainEvent });
    return active;
  }

  function withoutEval(spec: RunSpec): RunSpec {
    // The worker evaluates on its own schedule (evalEvery) so metrics arrive as Metrics.
    return { ...spec, hyper: { ...spec.hyper, evalEvery: 0 } };
  }

  function control(action: TrainControlAction): { ok: boolean; phase: TrainPhase | null } {
    const run = active;
    if (!run) return { ok: false, phase: null };
    if (action === 'pause') {
      if (run.phase === 'paused' || run.pause) return { ok: false, phase: run.phase };
      run.pause = true;
    } else if (action === 'resume') {
      if (!run.pause && run.phase !== 'paused') return { ok: false, phase: run.phase };
      run.pause = false;
      run.wake?.();
    } else {
      run.finish = true;
      run.wake?.();
    }
    return { ok: true, phase: run.phase };
  }

  // ---------------------------------------------------------------------------------------------
  // Composer, matrix, inspector

  function promptInfo(r: ReturnType<MethodDeps['renderPrompt']>): PromptInfo {
    const pos = r.rendered.functionTagLastPos;
    const fn = pos === null ? null : (r.rendered.tagAt.find((a) => a.pos === pos)?.tag ?? null);
    return { tokens: r.prompt.ids.length, tagRows: r.rendered.tagAt.length, functionTag: fn };
  }

  function predict(head: Head, raw: Float32Array): Pick<HeadPrediction, 'raw' | 'value' | 'classes'> {
    const out: Pick<HeadPrediction, 'raw' | 'value' | 'classes'> = { raw: Array.from(raw) };
    if (head.kind === 'regression') out.value = unstandardize(head, raw)[0];
    else {
      const max = Math.max(...raw);
      const ex = Array.from(raw, (z) => Math.exp(z - max));
      const sum = ex.reduce((a, b) => a + b, 0);
      out.classes = ex
        .map((e, i) => ({ name: head.classes?.[i] ?? String(i), p: e / sum }))
        .sort((a, b) => b.p - a.p);
    }
    return out;
  }

  async function compose(id: number, p: ComposeParams, signal: AbortSignal): Promise<ComposeReply> {
    const m = needModel();
    if (!p.variants.length || p.variants.length > 4) throw new Error('Give one to four prompts.');
    const rendered = p.variants.map((t, i) => {
      try {
        return ctx.methods.renderPrompt(t, {}, library, m.tokenizer);
      } catch (e) {
        throw new Error(`${p.variants.length > 1 ? `Prompt ${String.fromCharCode(65 + i)}: ` : ''}${(e as Error).message}`);
      }
    });
    for (const r of rendered) {
      for (const a of r.rendered.tagAt) needTag(a.tag, m);
      if (r.prompt.ids.length === 0) throw new Error('The prompt is empty.');
    }
    const prompts = rendered.map(promptInfo);
    // Library names → engine names (uploaded once); heads read the hidden states with the adapter applied.
    const adapters = p.adapters?.some((a) => a) ? resident.resolve(m, rendered.map((_, i) => p.adapters?.[i] ?? null)) : undefined;
    if (p.mode === 'head') {
      const predictions: HeadPrediction[] = [];
      for (const [i, r] of rendered.entries()) {
        const info = prompts[i];
        const label = p.variants.length > 1 ? `Prompt ${String.fromCharCode(65 + i)}: ` : '';
        if (!info.functionTag) throw new Error(`${label}put a function tag that has a head into the prompt (head prediction reads its last row).`);
        const head = library.getHead(info.functionTag);
        if (!head) throw new Error(`${label}<${info.functionTag}> has no head: train it on a regression or classification dataset first.`);
        if (signal.aborted) throw abortError();
        const pos = r.rendered.functionTagLastPos!;
        const hidden = await m.hiddenAt(r.prompt, [pos], { adapter: adapters?.[i] ?? null });
        const adapter = adapters?.[i] ? p.adapters![i]! : null;
        predictions.push({ variant: i, head: head.name, adapter, kind: head.kind, position: pos, ...predict(head, applyHead(head, hidden)) });
      }
      return { mode: 'head', predictions, prompts };
    }
    if (ctx.busy.generating) throw new Error('A generation is already running. Stop it or wait for it to finish.');
    ctx.busy.generating = true;
    try {
      const res = await m.generate(
        {
          prompts: rendered.map((r) => r.prompt),
          ...(adapters ? { adapters } : {}),
          maxTokens: p.maxTokens,
          temperature: p.temperature,
          topK: p.topK,
          topP: p.topP,
          seed: p.seed,
          signal,
        },
        (ev) => ctx.post({ id, type: 'event', event: { seq: ev.seq, id: ev.id, text: ev.text } }),
      );
      return {
        mode: 'generate',
        outputs: res.outputs.map((o) => ({ text: o.text, finish: o.finish, tokens: o.ids.length })),
        prompts,
        timings: res.timings,
      };
    } finally {
      ctx.busy.generating = false;
    }
  }

  async function matrixCell(p: MatrixCellParams, signal: AbortSignal): Promise<MatrixCellReply> {
    const m = needModel();
    needTag(p.domain, m);
    needTag(p.fn, m);
    const outField = p.outputField ?? 'output';
    const head = library.getHead(p.fn);
    const rows = p.rows.filter((r) => typeof r[outField] === 'string');
    if (p.predictOnly && !head) throw new Error(`<${p.fn}> has no head: batch prediction needs a function tag trained with a regression or classification head.`);
    const adapter = p.adapter || null;
    if (head) {
      const engineAdapter = adapter ? resident.resolve(m, [adapter])[0] : null;
      const preds: number[] = [];
      const labels: number[] = [];
      const predictions: RowPrediction[] = [];
      let skipped = 0;
      const source = p.predictOnly ? p.rows : rows;
      for (let i = 0; i < source.length; i++) {
        const row = source[i]!;
        if (predictions.length >= p.limit) break;
        if (signal.aborted) throw abortError();
        const v = (row[outField] ?? '').trim();
        const label = head.kind === 'regression' ? Number(v) : (head.classes ?? []).indexOf(v);
        const labelled = v !== '' && Number.isFinite(label) && label >= (head.kind === 'regression' ? -Infinity : 0);
        if (!labelled && !p.predictOnly) {
          skipped++;
          continue;
        }
        const r = ctx.methods.renderPrompt(p.template, row, library, m.tokenizer, { omitFields: [outField], spacedFields: p.spacedFields });
        const pos = r.rendered.functionTagLastPos;
        if (pos === null) throw new Error(`The cell template has no function tag before {${outField}}: write <${p.fn}> right before it.`);
        const raw = applyHead(head, await m.hiddenAt(r.prompt, [pos], { adapter: engineAdapter }));
        let best = 0;
        for (let c = 1; c < raw.length; c++) if (raw[c]! > raw[best]!) best = c;
        const pred = head.kind === 'regression' ? unstandardize(head, raw)[0]! : best;
        predictions.push({ row: p.predictOnly ? i : p.rows.indexOf(row), label: v, prediction: head.kind === 'regression' ? pred : (head.classes?.[pred] ?? String(pred)) });
        if (labelled) {
          preds.push(pred);
          labels.push(label);
        }
      }
      if (p.predictOnly) {
        if (!predictions.length) throw new Error('There is nothing to predict: paste or upload at least one input.');
        if (!preds.length) return { mode: 'head', metric: 'predictions', value: NaN, metrics: { loss: NaN }, n: predictions.length, skipped, predictions, adapter };
      }
      if (!preds.length) throw new Error(`None of the rows of ${p.datasetName} has a usable {${outField}} for the head of <${p.fn}> (${head.kind}${head.classes ? `: ${head.classes.join(', ')}` : ''}).`);
      if (head.kind === 'regression') {
        const metrics: Metrics = { loss: mse(preds, labels), mse: mse(preds, labels), mae: mae(preds, labels), pearson: pearson(preds, labels) };
        return { mode: 'head', metric: 'mse', value: metrics.mse!, metrics, n: preds.length, skipped, predictions, adapter };
      }
      const acc = accuracy(preds, labels);
      return { mode: 'head', metric: 'accuracy', value: acc, metrics: { loss: NaN, accuracy: acc }, n: preds.length, skipped, predictions, adapter };
    }
    // No head: next-token loss on the output field, through the training graph (nothing is trained).
    // That graph evaluates tags on the base weights only, so an adapter is refused rather than ignored.
    if (adapter) throw new Error(`<${p.fn}> has no head: a cell without one is scored by next-token loss on the base model, which cannot apply the adapter "${adapter}". Choose no adapter for it, or train a head for <${p.fn}>.`);
    const fnTag = library.getTag(p.fn)!;
    if (rows.length < 2) throw new Error(`${p.datasetName} needs at least 2 rows with {${outField}}.`);
    const spec: RunSpec = {
      method: 'stage2',
      tasks: [{ name: p.datasetName, template: p.template, rows: rows.slice(0, Math.max(2, p.limit * 2)), output: { kind: 'text', field: outField } }],
      library: cloneLibrary(library),
      tagLength: fnTag.p,
      hyper: { steps: 1, batch: 4, evalEvery: 0 },
      evalFraction: 0.5,
      spacedFields: p.spacedFields,
    };
    const run = await ctx.methods.prepareRun(m, spec);
    try {
      if (signal.aborted) throw abortError();
      const metrics = await run.evaluate(p.limit);
      const value = metrics.perplexity ?? metrics.loss;
      return { mode: 'lm', metric: metrics.perplexity !== undefined ? 'perplexity' : 'loss', value, metrics, n: Math.min(p.limit, run.heldOutCount), skipped: 0, adapter: null };
    } finally {
      run.dispose();
    }
  }

  async function inspectTag(p: InspectParams): Promise<InspectReply> {
    const m = needModel();
    const tag = needTag(p.name, m);
    const { vocabSize: V, dModel: d } = m.config;
    const table = await ctx.methods.embeddingTable(m);
    const tableNorms = rowNorms(table, V, d);
    const k = p.neighbours ?? 5;
    const tok = m.tokenizer;
    const label = (id: number) => {
      try {
        return tok.idToToken(id);
      } catch {
        return `#${id}`;
      }
    };
    const nearest = nearestByCosine(tag.data, tag.p, table, V, d, k, tableNorms).map((row) => row.map((x) => ({ ...x, token: label(x.id) })));
    const sample = evenSample(V, p.sample ?? 400);
    const others = [...new Set(p.with ?? [])].filter((n) => n !== tag.name).map((n) => needTag(n, m));
    const all = [tag, ...others];
    const tagRows = all.reduce((n, t) => n + t.p, 0);
    const X = new Float32Array((sample.length + tagRows) * d);
    sample.forEach((id, i) => X.set(table.subarray(id * d, (id + 1) * d), i * d));
    // Which tag and row each PCA row after the vocabulary sample is.
    const owner: Array<{ name: string; row: number }> = [];
    let at = sample.length;
    for (const t of all) {
      X.set(t.data, at * d);
      for (let r = 0; r < t.p; r++) owner.push({ name: t.name, row: r });
      at += t.p;
    }
    const pca = pca2(X, sample.length + tagRows, d, { iterations: 60 });
    const points = pca.coords.map(([x, y], i) => {
      if (i < sample.length) return { x, y, label: label(sample[i]), tag: false };
      const o = owner[i - sample.length]!;
      return { x, y, label: `<${o.name}>[${o.row}]`, tag: true, row: o.row, tagName: o.name };
    });
    return {
      name: tag.name,
      kind: tag.kind,
      p: tag.p,
      d: tag.d,
      rowNorms: rowNorms(tag.data, tag.p, d),
      vocabNorm: normStats(tableNorms),
      nearest,
      pca: { points, explained: pca.explained },
    };
  }

  async function attention(template: string, adapterName: string | null = null): Promise<AttentionReply> {
    const m = needModel();
    // The library adapter made resident under its engine name (uploaded once, as for generation).
    const engineName = adapterName ? resident.resolve(m, [adapterName])[0] : null;
    const r = ctx.methods.renderPrompt(template, {}, library, m.tokenizer);
    for (const a of r.rendered.tagAt) needTag(a.tag, m);
    const T = r.prompt.ids.length;
    if (T === 0) throw new Error('The prompt is empty.');
    if (T > MAX_ATTENTION_TOKENS) throw new Error(`The prompt has ${T} tokens; the attention view shows at most ${MAX_ATTENTION_TOKENS}. Shorten it.`);
    const at = new Map(r.rendered.tagAt.map((a) => [a.pos, a]));
    const tokens = r.prompt.ids.map((id, pos) => {
      const a = at.get(pos);
      if (a) return { text: `<${a.tag}>${r.rendered.tagAt.filter((x) => x.tag === a.tag).length > 1 ? `[${a.row}]` : ''}`, tag: a.tag };
      let text: string;
      try {
        text = m.tokenizer.idToToken(id);
      } catch {
        text = `#${id}`;
      }
      return { text, tag: null };
    });
    const res = await m.attentionMap(r.prompt, { adapter: engineName });
    return { tokens, T: res.T, layers: res.layers };
  }

  // ---------------------------------------------------------------------------------------------
  // Experiments

  async function runExperimentRequest(id: number, p: ExperimentRunParams, signal: AbortSignal): Promise<ExperimentResults> {
    const m = needModel();
    if (active) throw new Error('A training run is in progress. Finish or cancel it before running an experiment.');
    if (experiment !== null) throw new Error('An experiment is already running. Cancel it or wait for it to finish.');
    if (ctx.busy.generating) throw new Error('A generation is running. Stop it before running an experiment.');
    // Data-set tasks are checked against the rows sent with them: a bad mapping is refused before the plan.
    const v = validateExperiment(p.definition, { datasets: p.datasets ?? [] });
    if (!v.ok) throw new ExperimentDefinitionError(v.errors);
    const def = v.definition;
    const emit = (event: ExperimentEvent) => ctx.post({ id, type: 'event', event });
    experiment = id;
    try {
      emit({
        kind: 'plan',
        name: def.name,
        cells: planCells(def).map((c) => ({ id: c.id, task: c.task.id, method: c.method, variant: c.variant, tagLength: c.tagLength, seed: c.seed })),
        model: { name: m.name, arch: m.config.arch, dModel: m.config.dModel, vocabSize: m.config.vocabSize },
        started: p.previous?.started ?? new Date().toISOString(),
      });
      return await ctx.methods.runExperiment(m, def, {
        signal,
        previous: p.previous,
        dataBaseUrl: p.dataBaseUrl,
        datasets: p.datasets ?? [],
        onProgress: (progress) => emit({ kind: 'progress', progress }),
        onCell: (cell, results) => emit({ kind: 'cell', cell, updated: results.updated }),
      });
    } finally {
      experiment = null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Library

  async function importFile(p: Omit<LibraryImportParams, 'text'> & { text: string | LibraryFile }): Promise<LibraryImportReply> {
    const m = ctx.model();
    if (!m) {
      return { status: 'refused', error: 'Load a model first: imported tags are checked against the loaded model (its d_model and embedding table).' };
    }
    const fingerprint = await fingerprintOf(m);
    const r = importLibrary(p.text, { dModel: m.config.dModel, fingerprint }, { acceptFingerprintMismatch: !!p.confirm });
    if (r.status !== 'ok') return r.status === 'refused' ? { status: 'refused', error: r.error } : { status: 'needs-confirmation', warning: r.warning };
    // Re-importing what is already here adds nothing; a real clash is the user's call.
    const alreadyPresent: string[] = [];
    const conflicts: ImportConflict[] = [];
    const keepTags = r.tags.filter((t) => {
      const existing = library.tags.find((x) => x.id === t.id) ?? library.getTag(t.name);
      if (!existing) return true;
      const head = r.heads.find((h) => h.name === t.name);
      if (sameTag(existing, t) && sameHead(library.heads.find((h) => h.name === existing.name), head)) {
        alreadyPresent.push(existing.name);
        return false;
      }
      conflicts.push({ name: t.name, sameId: existing.id === t.id, existing: existing.name });
      return true;
    });
    if (conflicts.length && !p.onConflict) return { status: 'conflicts', conflicts };
    const skipped = new Set(r.tags.filter((t) => !keepTags.includes(t)).map((t) => t.name));
    const keepHeads = r.heads.filter((h) => !skipped.has(h.name));
    const replaceIds = p.onConflict === 'replace' ? keepTags.map((t) => library.tags.find((x) => x.id === t.id)).filter((x): x is NonNullable<typeof x> => !!x) : [];
    // Replacing a tag of the same id: the old one goes first, so the id stays the tag's (merge gives
    // an id already in the library a fresh one).
    for (const old of replaceIds) library.deleteTag(old.name);
    const report = library.merge({ tags: keepTags, heads: keepHeads, adapters: r.adapters }, p.onConflict ?? 'rename');
    const renamed = (kind: 'tag' | 'head' | 'adapter', name: string) => report.renamed.find((x) => x.kind === kind && x.from === name)?.to ?? name;
    return {
      status: 'ok',
      warnings: r.warnings,
      report,
      added: {
        tags: keepTags.map((t) => renamed('tag', t.name)),
        heads: keepHeads.map((h) => renamed('head', h.name)),
        adapters: r.adapters.map((a) => renamed('adapter', a.name)),
      },
      alreadyPresent,
      summary: summarizeLibrary(library),
    };
  }

  /** A PEFT adapter or tags.safetensors: anything that is not a library JSON. */
  async function importOtherFiles(p: LibraryImportFilesParams, signal: AbortSignal): Promise<LibraryImportReply> {
    const m = ctx.model();
    if (!m) return { status: 'refused', error: 'Load a model first: imports are checked against the loaded model.' };
    let got;
    try {
      got = await readImportFiles(p, m.config, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      return { status: 'refused', error: (e as Error).message };
    }
    if (got.kind === 'tags') return importFile({ text: got.file, confirm: p.confirm, onConflict: p.onConflict });
    const report = library.merge({ adapters: [got.adapter] }, p.onConflict ?? 'rename');
    const name = report.renamed.find((x) => x.kind === 'adapter')?.to ?? got.adapter.name;
    return { status: 'ok', warnings: got.warnings, report, added: { tags: [], heads: [], adapters: [name] }, alreadyPresent: [], summary: summarizeLibrary(library) };
  }

  async function handle(msg: RequestMessage, signal: AbortSignal): Promise<unknown> {
    switch (msg.type) {
      case 'modelFingerprint': {
        const m = needModel();
        return { fingerprint: await fingerprintOf(m), dModel: m.config.dModel };
      }
      case 'datasetImport': {
        const { text, name, format } = msg.params;
        const junk = notADataset(text, name || 'The file');
        if (junk) throw namedError('DatasetError', junk);
        let parsed = parseDataset(text, { format, name });
        if (parsed.report.total === 0) {
          throw namedError('DatasetError', noRecords(name || 'The file', parsed.columns));
        }
        if (smilesColumns(parsed.columns).length && ctx.methods.rdkit) parsed = dropInvalidSmiles(await ctx.methods.rdkit(), parsed);
        return { name, ...parsed } satisfies DatasetReply;
      }
      case 'datasetBuiltin': {
        const ds = await ctx.methods.loadBuiltin(msg.params.id, msg.params.baseUrl);
        return { name: msg.params.id, format: 'builtin', columns: ds.columns, rows: ds.rows, lines: [], report: ds.report } satisfies DatasetReply;
      }
      case 'libraryRestore': {
        if (active) throw new Error('Cannot replace the library while a run is training.');
        for (const t of library.tags) library.deleteTag(t.name);
        for (const h of library.heads) library.deleteHead(h.name);
        for (const a of library.adapters) library.deleteAdapter(a.name);
        const problems = restoreLibrary(library, msg.params.file);
        for (const p of problems) console.warn('library restore:', p);
        return summarizeLibrary(library);
      }
      case 'libraryList':
        return summarizeLibrary(library);
      case 'libraryRename': {
        const { kind, from, to } = msg.params;
        if (kind === 'tag') library.renameTag(from, to.trim());
        else library.renameAdapter(from, to.trim());
        return summarizeLibrary(library);
      }
      case 'libraryDelete': {
        const { kind, name } = msg.params;
        const ok = kind === 'tag' ? library.deleteTag(name) : kind === 'head' ? library.deleteHead(name) : library.deleteAdapter(name);
        if (!ok) throw new Error(`The library has no ${kind} named ${JSON.stringify(name)}.`);
        return summarizeLibrary(library);
      }
      case 'libraryExport': {
        const file = exportLibrary(library, msg.params.selection);
        return { json: JSON.stringify(file, null, 1), tags: file.tags.length, heads: file.heads.length, adapters: file.adapters.length };
      }
      case 'libraryImport':
        return importFile(msg.params);
      case 'libraryExportFiles':
        return exportFiles(library, ctx.model()?.config ?? null, msg.params);
      case 'libraryImportFiles':
        return importOtherFiles(msg.params, signal);

      case 'trainStart': {
        const { spec: trainSpec, ...opts } = msg.params;
        const run0 = beginRun(msg.id, opts.runId);
        try {
          const m = needModel();
          const scratch = cloneLibrary(library);
          const snapshot = snapshotLibrary(scratch);
          const spec = withoutEval({ ...trainSpec, library: scratch });
          const run = await ctx.methods.prepareRun(m, spec);
          if (signal.aborted) {
            run.dispose();
            throw abortError('Training was cancelled.');
          }
          return await drive(msg.id, run, spec, snapshot, opts, signal, scratch);
        } finally {
          if (active === run0) active = null;
        }
      }
      case 'trainResume': {
        const { file, ...opts } = msg.params;
        const run0 = beginRun(msg.id, opts.runId);
        try {
          const m = needModel();
          if (file.model && file.model.dModel !== m.config.dModel) {
            throw new Error(`This checkpoint was made with ${file.model.name} (d_model ${file.model.dModel}); the loaded model has d_model ${m.config.dModel}. Load the model it was trained on.`);
          }
          const scratch = cloneLibrary(library);
          const { run, spec } = await ctx.methods.resumeRun(m, file, scratch);
          if (signal.aborted) {
            run.dispose();
            throw abortError('Training was cancelled.');
          }
          return await drive(msg.id, run, spec, file.library, opts, signal, scratch);
        } finally {
          if (active === run0) active = null;
        }
      }
      case 'trainControl':
        return control(msg.params.action);

      case 'compose':
        return compose(msg.id, msg.params, signal);
      case 'matrixCell':
        return matrixCell(msg.params, signal);
      case 'inspectTag':
        return inspectTag(msg.params);
      case 'attention':
        return attention(msg.params.template, msg.params.adapter ?? null);
      case 'experimentRun':
        return runExperimentRequest(msg.id, msg.params, signal);
      default:
        throw new TypeError(`Unknown request type: ${(msg as { type?: unknown }).type}`);
    }
  }

  return {
    library,
    handle,
    /** Library adapter names (null = base) → the engine names generate() takes, uploading as needed. */
    residentAdapters: (m: LoadedModel, names: ReadonlyArray<string | null | undefined>) => resident.resolve(m, names),
    /** True while a run is preparing, training or paused, or an experiment runs. */
    training: () => active !== null || experiment !== null,
    /** What keeps the model busy, for messages ("A training run", "An experiment"). */
    busyWith: () => (experiment !== null ? 'An experiment' : 'A training run'),
  };
}

export type Workbench = ReturnType<typeof createWorkbench>;

/** An Error with a name the UI maps to a title (DatasetError: "The data could not be used"…). */
function namedError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

/** Same rows (bit for bit), kind and shape: the same tag whatever its provenance's timestamps say. */
function sameTag(a: Tag, b: Tag): boolean {
  return a.kind === b.kind && a.p === b.p && a.d === b.d && sameFloats(a.data, b.data);
}

function sameHead(a: Head | undefined, b: Head | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.kind === b.kind && a.k === b.k && sameFloats(a.W, b.W) && sameFloats(a.b, b.b);
}

function sameFloats(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
