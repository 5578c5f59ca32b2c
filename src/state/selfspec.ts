/**
 * Self-specialization store: the panel's settings and inputs, the run in the worker, and the live
 * view of it. The view is a pure reduction of the pipeline's typed events (`reduceEvent`), so the
 * same view comes from a live stream, from a resumed run replaying its "skipped" stages, or from a
 * stored run's files after a reload (`viewFromFiles`). The worker keeps the files in IndexedDB; the
 * page keeps only the view and asks the worker for files to export.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { PassageRef, SelfSpecEvent, Stage } from '../selfspec/events';
import type { EvalTable } from '../selfspec/evaluate';
import type { ResponseRecord } from '../selfspec/responses';
import { slotsNeeded } from '../selfspec/slots';
import { parseJsonl } from '../selfspec/store';
import type { EngineClientLike } from '../worker/client';
import { isAbortError, type ModelInfo, type SelfSpecRunMeta, type SelfSpecSettings, type SelfSpecSource } from '../worker/protocol';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';

// ---------------------------------------------------------------------------------------------
// The view

/** The stepper's stages: the pipeline's, and Iterate (every round after the first). */
export type StepId = Stage | 'iterate';
export const STEPS: readonly StepId[] = ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate'];
export const STEP_LABEL: Record<StepId, string> = {
  seeds: 'Seeds',
  corpus: 'Corpus',
  instructions: 'Instructions',
  responses: 'Responses',
  specialise: 'Specialise',
  evaluate: 'Evaluate',
  iterate: 'Iterate',
};

export type StepStatus = 'pending' | 'running' | 'done' | 'skipped';

export interface StepView {
  status: StepStatus;
  round: number;
  done: number;
  total: number;
  unit: string;
  perSecond: number;
  etaSeconds: number | null;
  detail: string | null;
}

export interface InstructionView {
  round: number;
  accepted: boolean;
  /** Index among the round's accepted instructions. */
  index: number | null;
  instruction: string;
  input: string;
  reason: string | null;
  duplicateOf: string | null;
}

export interface ResponseView {
  round: number;
  index: number;
  instruction: string;
  input: string;
  passages: PassageRef[];
  tokens: Array<{ id: number; text: string }>;
  /** Per token, each passage's posterior share (mixture decoding; streams with the tokens, then the record's). */
  posterior: number[][] | null;
  output: string | null;
  decoding: ResponseRecord['decoding'] | null;
  done: boolean;
}

export interface TrainPoint {
  step: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  epoch: number;
}

export interface TrainSeries {
  key: string;
  round: number;
  method: string;
  totalSteps: number;
  points: TrainPoint[];
  finalLoss: number | null;
  library: string | null;
}

export interface SelfSpecView {
  /** Rounds the run has (from its settings). */
  rounds: number;
  /** The round of the latest stage event. */
  round: number;
  steps: Record<StepId, StepView>;
  /** Newest last; at most MAX_INSTRUCTIONS kept (counts are exact). */
  instructions: InstructionView[];
  accepted: number;
  rejected: number;
  /** Rejection code (the reason's text before ':') → count. */
  reasons: Record<string, number>;
  /** Accepted instruction texts (all, for the verb–noun chart). */
  acceptedTexts: string[];
  /** Newest last; at most MAX_RESPONSES kept. */
  responses: ResponseView[];
  responsesDone: number;
  train: TrainSeries[];
  /** Evaluated cells as they finish: accuracy / macro-F1, or ROUGE-L (the seed column). */
  cells: Array<{ row: string; column: string; accuracy?: number; macroF1?: number; rougeL?: number; n: number }>;
  warnings: string[];
  log: string[];
}

export const MAX_INSTRUCTIONS = 500;
export const MAX_RESPONSES = 30;

const emptyStep = (): StepView => ({ status: 'pending', round: 0, done: 0, total: 0, unit: '', perSecond: 0, etaSeconds: null, detail: null });

export function emptyView(rounds = 1): SelfSpecView {
  return {
    rounds,
    round: 0,
    steps: Object.fromEntries(STEPS.map((s) => [s, emptyStep()])) as Record<StepId, StepView>,
    instructions: [],
    accepted: 0,
    rejected: 0,
    reasons: {},
    acceptedTexts: [],
    responses: [],
    responsesDone: 0,
    train: [],
    cells: [],
    warnings: [],
    log: [],
  };
}

const keep = <T>(xs: T[], n: number) => (xs.length > n ? xs.slice(xs.length - n) : xs);
const code = (reason: string) => reason.split(':')[0].trim() || reason;

/** Iterate's row mirrors the stage running in rounds ≥ 2. */
function iterateOf(v: SelfSpecView, stage: Stage, round: number, s: StepView): StepView {
  const detail = `round ${round} of ${v.rounds}: ${STEP_LABEL[stage].toLowerCase()}${s.detail ? ` (${s.detail})` : ''}`;
  const last = round === v.rounds && stage === 'evaluate';
  const status: StepStatus = s.status === 'done' || s.status === 'skipped' ? (last ? 'done' : 'running') : s.status;
  return { ...s, status, detail };
}

/** The view after one event (pure: the old view is not changed). */
export function reduceEvent(v: SelfSpecView, ev: SelfSpecEvent): SelfSpecView {
  switch (ev.type) {
    case 'stage': {
      const prev = v.steps[ev.stage];
      // A new round resets the stage's counts; within a round, counts stay.
      const base = prev.round === ev.round ? prev : { ...emptyStep(), round: ev.round };
      const status: StepStatus = ev.status === 'start' ? 'running' : ev.status === 'done' ? 'done' : 'skipped';
      const s: StepView = { ...base, round: ev.round, status, detail: ev.detail ?? (ev.status === 'start' ? null : base.detail) };
      if (status !== 'running') s.etaSeconds = status === 'done' ? 0 : s.etaSeconds;
      const steps = { ...v.steps, [ev.stage]: s };
      if (ev.round >= 2) steps.iterate = iterateOf(v, ev.stage, ev.round, s);
      return { ...v, round: Math.max(v.round, ev.round), steps };
    }
    case 'progress': {
      const prev = v.steps[ev.stage];
      const s: StepView = { ...prev, round: ev.round, done: ev.done, total: ev.total, unit: ev.unit, perSecond: ev.perSecond, etaSeconds: ev.etaSeconds };
      const steps = { ...v.steps, [ev.stage]: s };
      if (ev.round >= 2) steps.iterate = { ...iterateOf(v, ev.stage, ev.round, { ...s, status: 'running' }) };
      return { ...v, steps };
    }
    case 'instruction': {
      const item: InstructionView = {
        round: ev.round,
        accepted: ev.accepted,
        index: ev.accepted ? ev.index : null,
        instruction: ev.instruction,
        input: ev.input,
        reason: ev.accepted ? null : ev.reason,
        duplicateOf: !ev.accepted && ev.duplicateOf ? ev.duplicateOf : null,
      };
      const instructions = keep([...v.instructions, item], MAX_INSTRUCTIONS);
      if (ev.accepted) return { ...v, instructions, accepted: v.accepted + 1, acceptedTexts: [...v.acceptedTexts, ev.instruction] };
      const c = code(ev.reason);
      return { ...v, instructions, rejected: v.rejected + 1, reasons: { ...v.reasons, [c]: (v.reasons[c] ?? 0) + 1 } };
    }
    case 'response-start': {
      const r: ResponseView = { round: ev.round, index: ev.index, instruction: ev.instruction, input: ev.input, passages: ev.passages, tokens: [], posterior: null, output: null, decoding: null, done: false };
      const others = v.responses.filter((x) => !(x.round === ev.round && x.index === ev.index));
      return { ...v, responses: keep([...others, r], MAX_RESPONSES) };
    }
    case 'response-token': {
      const i = v.responses.findIndex((x) => x.round === ev.round && x.index === ev.index);
      if (i < 0) return v;
      const r = v.responses[i];
      const responses = [...v.responses];
      responses[i] = { ...r, tokens: [...r.tokens, { id: ev.id, text: ev.text }], posterior: ev.posterior ? [...(r.posterior ?? []), ev.posterior] : r.posterior };
      return { ...v, responses };
    }
    case 'response-done': {
      const rec = ev.record;
      const i = v.responses.findIndex((x) => x.round === rec.round && x.index === rec.index);
      const prev = i >= 0 ? v.responses[i] : null;
      const passages: PassageRef[] = prev?.passages.length ? prev.passages : rec.passages.map((p) => ({ ...p, text: '' }));
      const r: ResponseView = {
        round: rec.round,
        index: rec.index,
        instruction: rec.instruction,
        input: rec.input,
        passages,
        tokens: prev?.tokens ?? [],
        posterior: rec.posterior ?? prev?.posterior ?? null,
        output: rec.output,
        decoding: rec.decoding,
        done: true,
      };
      const responses = i >= 0 ? v.responses.map((x, j) => (j === i ? r : x)) : keep([...v.responses, r], MAX_RESPONSES);
      return { ...v, responses, responsesDone: v.responsesDone + 1 };
    }
    case 'train-step': {
      const key = `${ev.round}/${ev.method}`;
      const p: TrainPoint = { step: ev.step, loss: ev.loss, lr: ev.lr, tokensPerSec: ev.tokensPerSec, epoch: ev.epoch };
      const prev = v.train.find((t) => t.key === key);
      const series: TrainSeries = prev
        ? { ...prev, totalSteps: ev.totalSteps, points: [...prev.points.filter((x) => x.step < ev.step), p] }
        : { key, round: ev.round, method: ev.method, totalSteps: ev.totalSteps, points: [p], finalLoss: null, library: null };
      return { ...v, train: prev ? v.train.map((t) => (t.key === key ? series : t)) : [...v.train, series] };
    }
    case 'train-done': {
      const key = `${ev.round}/${ev.method}`;
      const prev = v.train.find((t) => t.key === key);
      const series: TrainSeries = { ...(prev ?? { key, round: ev.round, method: ev.method, totalSteps: ev.steps, points: [] }), finalLoss: ev.finalLoss, library: ev.library };
      return { ...v, train: prev ? v.train.map((t) => (t.key === key ? series : t)) : [...v.train, series] };
    }
    case 'eval-cell': {
      const cells = [...v.cells.filter((c) => !(c.row === ev.row && c.column === ev.column)), { row: ev.row, column: ev.column, ...ev.value }];
      return { ...v, cells };
    }
    case 'warning':
      return { ...v, warnings: keep([...v.warnings, ev.message], 100) };
    case 'log':
      return { ...v, log: keep([...v.log, ev.message], 100) };
    default:
      return v;
  }
}

interface TrainLogLine {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  tokens_per_s: number;
}

/**
 * The view of a stored run from its files (after a reload, or opening an older run): what was
 * accepted and rejected, the responses, the training logs and the table. Stages whose files are
 * complete show as done; the others as pending (a resume replays them).
 */
export function viewFromFiles(files: Record<string, string>, rounds: number): SelfSpecView {
  let v = emptyView(rounds);
  const seeds = files['seeds.json'] ? (JSON.parse(files['seeds.json']) as { train: unknown[]; heldOut: unknown[] }) : null;
  if (seeds) v = reduceEvent(v, { type: 'stage', stage: 'seeds', round: 0, status: 'done', detail: `${seeds.train.length} seeds, ${seeds.heldOut.length} held out` });
  const config = files['config.json'] ? (JSON.parse(files['config.json']) as { k?: number }) : null;
  if (config && typeof config.k === 'number') {
    v = reduceEvent(v, config.k > 0 ? { type: 'stage', stage: 'corpus', round: 0, status: 'done', detail: `k = ${config.k} passages per response` } : { type: 'stage', stage: 'corpus', round: 0, status: 'skipped', detail: 'k = 0: responses without retrieval' });
  }
  let lastTrained = 0;
  for (let round = 1; round <= rounds; round++) {
    const dir = `round${round}`;
    const acc = parseJsonl<{ index: number; instruction: string; input: string }>(files[`${dir}/instructions.jsonl`] ?? null);
    const rej = parseJsonl<{ instruction: string; input: string; reason: string; duplicateOf?: string }>(files[`${dir}/rejected.jsonl`] ?? null);
    for (const r of rej) v = reduceEvent(v, { type: 'instruction', round, accepted: false, instruction: r.instruction, input: r.input, reason: r.reason, ...(r.duplicateOf ? { duplicateOf: r.duplicateOf } : {}) });
    for (const a of acc) v = reduceEvent(v, { type: 'instruction', round, accepted: true, index: a.index, instruction: a.instruction, input: a.input });
    if (acc.length) v = reduceEvent(v, { type: 'stage', stage: 'instructions', round, status: 'done', detail: `${acc.length} accepted` });
    const resp = parseJsonl<ResponseRecord>(files[`${dir}/responses.jsonl`] ?? null);
    for (const r of resp) v = reduceEvent(v, { type: 'response-done', round, record: r });
    if (resp.length) {
      v = reduceEvent(v, { type: 'progress', stage: 'responses', round, done: resp.length, total: Math.max(acc.length, resp.length), perSecond: 0, etaSeconds: null, unit: 'responses' });
      if (acc.length && resp.length >= acc.length) v = reduceEvent(v, { type: 'stage', stage: 'responses', round, status: 'done', detail: `${resp.length} responses` });
    }
    const methodDirs = [...new Set(Object.keys(files).filter((n) => n.startsWith(`${dir}/`) && /\/(train-log\.jsonl|library\.json)$/.test(n)).map((n) => n.split('/')[1]))];
    for (const m of methodDirs) {
      const logLines = parseJsonl<TrainLogLine>(files[`${dir}/${m}/train-log.jsonl`] ?? null);
      for (const l of logLines) v = reduceEvent(v, { type: 'train-step', round, method: m, step: l.step, totalSteps: logLines[logLines.length - 1].step, epoch: l.epoch, loss: l.loss, lr: l.lr, tokensPerSec: l.tokens_per_s });
      if (files[`${dir}/${m}/library.json`] !== undefined) {
        const last = logLines[logLines.length - 1];
        v = reduceEvent(v, { type: 'train-done', round, method: m, steps: last?.step ?? 0, finalLoss: last?.loss ?? NaN, library: `${dir}/${m}/library.json` });
        v = reduceEvent(v, { type: 'stage', stage: 'specialise', round, status: 'done', detail: `${dir}/${m}` });
        lastTrained = round;
      }
    }
  }
  for (const c of parseJsonl<{ row: string; column: string; result?: { accuracy: number; macroF1: number; n: number }; rouge?: { rougeL: number; n: number } }>(files['eval-cells.jsonl'] ?? null)) {
    if (c.result) v = reduceEvent(v, { type: 'eval-cell', row: c.row, column: c.column, value: { accuracy: c.result.accuracy, macroF1: c.result.macroF1, n: c.result.n } });
    else if (c.rouge) v = reduceEvent(v, { type: 'eval-cell', row: c.row, column: c.column, value: { rougeL: c.rouge.rougeL, n: c.rouge.n } });
  }
  // Evaluated rounds, from the rows of the stored cells ("LoRA (round 2, k = 5)"); base is round 1's.
  const evalRound = Math.max(0, ...v.cells.map((c) => Number(/\(round (\d+),/.exec(c.row)?.[1] ?? (c.row === 'base' ? 1 : 0))));
  if (evalRound > 0 && evalRound <= lastTrained) v = reduceEvent(v, { type: 'stage', stage: 'evaluate', round: evalRound, status: 'done', detail: `${v.cells.length} cells` });
  return v;
}

// ---------------------------------------------------------------------------------------------
// Exports

/** eval.json as CSV: a row per variant, accuracy and macro-F1 (%) per column, ROUGE-L. */
export function tableCsv(t: EvalTable): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '' : (100 * x).toFixed(1));
  const head = ['model', 'round', 'method', 'k', ...t.columns.flatMap((c) => [`${c} accuracy`, `${c} macro-F1`]), 'seed ROUGE-L'];
  const rows = t.rows.map((r) => [
    r.label,
    String(r.round),
    r.method,
    r.k === null ? '' : String(r.k),
    ...t.columns.flatMap((c) => [pct(r.cells[c]?.accuracy), pct(r.cells[c]?.macroF1)]),
    r.rougeL && r.rougeL.n ? (100 * r.rougeL.rougeL).toFixed(1) : '',
  ]);
  return [head, ...rows].map((r) => r.map(q).join(',')).join('\n') + '\n';
}

/** The files a run can export, in the order the panel lists them. */
export function exportableFiles(names: string[]): Array<{ name: string; kind: 'jsonl' | 'library' | 'table' | 'other' }> {
  const kind = (n: string) => (n.endsWith('.jsonl') ? ('jsonl' as const) : n.endsWith('library.json') ? ('library' as const) : n === 'eval.json' || n === 'eval.md' ? ('table' as const) : ('other' as const));
  return names
    .filter((n) => !n.endsWith('checkpoint.json') && !n.endsWith('.progress.json'))
    .sort()
    .map((name) => ({ name, kind: kind(name) }));
}

// ---------------------------------------------------------------------------------------------
// Settings

export const DEFAULT_SETTINGS: SelfSpecSettings = {
  name: 'biomed-selfspec',
  domain: 'biomedicine',
  seed: 0,
  instructions: 100,
  k: 5,
  methods: ['lora'],
  epochs: 3,
  batch: 4,
  accum: 8,
  lr: 3e-4,
  tagLength: 10,
  domainTag: 'BioMed',
  rounds: 2,
  evalN: 100,
  shots: [0, 1, 5],
  scorings: ['likelihood', 'generation'],
  rougeN: 50,
  instructionTokens: 256,
  responseTokens: 256,
};

/** Problems of the settings, by field (empty when it can run). */
export function checkSettings(s: SelfSpecSettings, corpus: boolean): Record<string, string> {
  const e: Record<string, string> = {};
  const whole = (k: keyof SelfSpecSettings, min: number) => {
    const x = s[k] as number;
    if (!Number.isInteger(x) || x < min) e[k] = `a whole number ≥ ${min}`;
  };
  whole('instructions', 1);
  whole('k', 0);
  whole('rounds', 1);
  whole('evalN', 0);
  whole('batch', 1);
  whole('accum', 1);
  whole('tagLength', 1);
  whole('instructionTokens', 1);
  whole('responseTokens', 1);
  whole('rougeN', 0);
  if (!(s.epochs > 0)) e.epochs = 'a number > 0';
  if (!(s.lr > 0)) e.lr = 'a number > 0';
  if (s.methods.length === 0) e.methods = 'choose at least one method';
  if (s.k > 0 && !corpus) e.k = 'k > 0 needs a corpus (or set k to 0)';
  if (s.evalN > 0 && s.shots.length === 0) e.shots = 'give at least one shot count, e.g. 0';
  if (!s.name.trim()) e.name = 'give the run a name';
  if (s.initAdapter && !s.methods.some((m) => m !== 'tag')) e.methods = 'a start adapter needs a method that trains LoRA (LoRA or LoRA + tag)';
  return e;
}

/** Whether the loaded model has the decoding slots the settings need, and the ways to make it fit. */
export interface SlotFit {
  need: number;
  /** The loaded model's slots (null: no model). */
  have: number | null;
  ok: boolean;
  /** Why that many, in words. */
  reason: string;
  /** The largest k that fits the loaded slots with these rounds (null when none does or it already fits). */
  fittingK: number | null;
  /** Whether 1 round (same k) would fit. */
  oneRoundFits: boolean;
}

export function slotFit(s: Pick<SelfSpecSettings, 'k' | 'rounds'>, model: Pick<ModelInfo, 'shape'> | null): SlotFit {
  const need = slotsNeeded({ k: s.k, rounds: s.rounds });
  const have = model?.shape?.slots ?? null;
  const ok = have === null || need.slots <= have;
  const perResponse = s.rounds >= 2 ? 2 : 1;
  const maxK = have === null ? 0 : Math.floor(have / perResponse);
  return {
    need: need.slots,
    have,
    ok,
    reason: need.reason,
    fittingK: !ok && maxK >= 1 && maxK < s.k ? maxK : null,
    oneRoundFits: !ok && s.rounds >= 2 && have !== null && slotsNeeded({ k: s.k, rounds: 1 }).slots <= have,
  };
}

// ---------------------------------------------------------------------------------------------
// The store

export type InputChoice =
  | { kind: 'builtin'; id: string }
  | { kind: 'file'; name: string; bytes: ArrayBuffer }
  /** Corpus only: .txt documents (a folder or several files), split into passages `<file>#<n>` by the worker. */
  | { kind: 'folder'; name: string; files: Array<{ name: string; bytes: ArrayBuffer }> }
  | { kind: 'none' };

export type RunState = 'idle' | 'starting' | 'running' | 'pausing' | 'paused' | 'cancelled' | 'done' | 'error';

export interface SelfSpecState {
  settings: SelfSpecSettings;
  seeds: InputChoice;
  corpus: InputChoice;
  /** A given round-1 instruction set (file) instead of generating one; none = generate. */
  instructions: InputChoice;
  errors: Record<string, string>;

  runId: string | null;
  runName: string | null;
  status: RunState;
  error: string | null;
  view: SelfSpecView;
  table: EvalTable | null;
  /** The stepper stage whose detail is open. */
  selected: StepId;
  runs: SelfSpecRunMeta[];

  setSettings(patch: Partial<SelfSpecSettings>): void;
  setSeeds(choice: InputChoice): void;
  setCorpus(choice: InputChoice): void;
  setInstructions(choice: InputChoice): void;
  select(step: StepId): void;
  /** Reloads the loaded model (same source and context setting) with the slots the settings need. */
  reloadForSlots(): Promise<void>;
  start(): Promise<void>;
  resume(runId?: string): Promise<void>;
  pause(): Promise<void>;
  cancel(): Promise<void>;
  refreshRuns(): Promise<void>;
  /** Shows a stored run (from its files). */
  open(runId: string): Promise<void>;
  remove(runId: string): Promise<void>;
  /** The run's files (all, or those named). */
  files(names?: string[]): Promise<Record<string, string>>;
}

export type SelfSpecStore = StoreApi<SelfSpecState>;

export interface SelfSpecStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  model: ModelStore;
  dataBaseUrl: string;
  newId?: () => string;
}

const sourceOf = (c: InputChoice): SelfSpecSource | null =>
  c.kind === 'none' ? null : c.kind === 'builtin' ? { kind: 'builtin', id: c.id } : c.kind === 'folder' ? { kind: 'folder', name: c.name, files: c.files } : { kind: 'file', name: c.name, bytes: c.bytes };

export function createSelfSpecStore({ client, notices, model, dataBaseUrl, newId }: SelfSpecStoreDeps): SelfSpecStore {
  const makeId = newId ?? (() => `ss-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`);
  return createStore<SelfSpecState>()((set, get) => {
    // Token events arrive far faster than React should draw: they are reduced at once but published
    // at most every 50 ms.
    let pending: SelfSpecView | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      if (pending) set({ view: pending });
      pending = null;
    };
    // A stage skipped because its files are complete (a given instruction set, a resume) sends no
    // item events: its items are read from the files once, unless the view has them already.
    const fillFromFiles = async (stage: 'instructions' | 'responses', round: number) => {
      const id = get().runId;
      if (!id) return;
      const v = pending ?? get().view;
      if (stage === 'instructions' && v.instructions.some((x) => x.round === round)) return;
      if (stage === 'responses' && v.responses.some((x) => x.round === round)) return;
      const dir = `round${round}`;
      const names = stage === 'instructions' ? [`${dir}/instructions.jsonl`, `${dir}/rejected.jsonl`] : [`${dir}/responses.jsonl`];
      try {
        const { files } = await client.request('selfspecFiles', { runId: id, names });
        if (get().runId !== id) return;
        let next = pending ?? get().view;
        if (stage === 'instructions') {
          for (const r of parseJsonl<{ instruction: string; input: string; reason: string; duplicateOf?: string }>(files[names[1]] ?? null))
            next = reduceEvent(next, { type: 'instruction', round, accepted: false, instruction: r.instruction, input: r.input, reason: r.reason, ...(r.duplicateOf ? { duplicateOf: r.duplicateOf } : {}) });
          for (const a of parseJsonl<{ index: number; instruction: string; input: string }>(files[names[0]] ?? null))
            next = reduceEvent(next, { type: 'instruction', round, accepted: true, index: a.index, instruction: a.instruction, input: a.input });
        } else {
          for (const r of parseJsonl<ResponseRecord>(files[names[0]] ?? null)) next = reduceEvent(next, { type: 'response-done', round, record: r });
        }
        pending = next;
        flush();
      } catch {
        /* the view only misses the list; the counts in the stepper stay right */
      }
    };
    const onEvent = (ev: SelfSpecEvent) => {
      pending = reduceEvent(pending ?? get().view, ev);
      if (ev.type === 'stage' && ev.status === 'skipped' && (ev.stage === 'instructions' || ev.stage === 'responses')) void fillFromFiles(ev.stage, ev.round);
      // The run is stored once its first stage starts: list it.
      if (ev.type === 'stage' && ev.stage === 'seeds' && ev.status === 'start') void get().refreshRuns();
      if (ev.type === 'eval-cell' || (ev.type === 'stage' && ev.stage === 'evaluate' && ev.status !== 'start')) void loadTable();
      if (ev.type === 'response-token') {
        timer ??= setTimeout(flush, 50);
      } else {
        if (timer) clearTimeout(timer);
        flush();
      }
    };
    const loadTable = async () => {
      const id = get().runId;
      if (!id) return;
      try {
        const { files } = await client.request('selfspecFiles', { runId: id, names: ['eval.json'] });
        if (files['eval.json'] && get().runId === id) set({ table: JSON.parse(files['eval.json']) as EvalTable });
      } catch {
        /* the table shows on the next cell */
      }
    };
    const recheck = (patch: Partial<SelfSpecState>) => {
      const s = { ...get(), ...patch };
      set({ ...patch, errors: checkSettings(s.settings, s.corpus.kind !== 'none') });
    };

    const drive = async (runId: string, req: () => Promise<{ outcome: 'done' | 'paused' | 'cancelled' }>) => {
      try {
        const res = await req();
        flush();
        set({ status: res.outcome });
        await loadTable();
      } catch (e) {
        flush();
        if (isAbortError(e)) set({ status: 'cancelled' });
        else {
          const msg = String((e as Error)?.message ?? e);
          set({ status: 'error', error: msg });
        }
      } finally {
        if (get().runId === runId) await get().refreshRuns();
      }
    };

    return {
      settings: DEFAULT_SETTINGS,
      seeds: { kind: 'builtin', id: 'box' },
      corpus: { kind: 'builtin', id: 'pubmedqa' },
      instructions: { kind: 'none' },
      errors: checkSettings(DEFAULT_SETTINGS, true),
      runId: null,
      runName: null,
      status: 'idle',
      error: null,
      view: emptyView(DEFAULT_SETTINGS.rounds),
      table: null,
      selected: 'seeds',
      runs: [],

      setSettings(patch) {
        recheck({ settings: { ...get().settings, ...patch } });
      },
      setSeeds(choice) {
        recheck({ seeds: choice });
      },
      setCorpus(choice) {
        recheck({ corpus: choice });
      },
      setInstructions(choice) {
        set({ instructions: choice });
      },
      select(step) {
        set({ selected: step });
      },

      async reloadForSlots() {
        const st = get().status;
        if (st === 'running' || st === 'pausing' || st === 'starting') return;
        const fit = slotFit(get().settings, model.getState().model);
        if (fit.ok) return;
        await model.getState().reloadWithSlots(fit.need);
      },

      async start() {
        const s = get();
        if (s.status === 'running' || s.status === 'starting' || s.status === 'pausing') return;
        if (!model.getState().model) {
          notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load a model in the Model panel first: self-specialization runs on the loaded model.' });
          return;
        }
        if (Object.keys(s.errors).length) {
          set({ error: `Fix the settings first: ${Object.entries(s.errors).map(([k, v]) => `${k}: ${v}`).join('; ')}.` });
          return;
        }
        const fit = slotFit(s.settings, model.getState().model);
        if (!fit.ok) {
          set({ error: `The loaded model has ${fit.have} decoding slots but ${fit.reason}: reload it with ${fit.need} slots, lower k, or run fewer rounds.` });
          return;
        }
        const seeds = sourceOf(s.seeds);
        if (!seeds) {
          set({ error: 'Choose seeds: a built-in set or a file.' });
          return;
        }
        const runId = makeId();
        set({ runId, runName: s.settings.name, status: 'running', error: null, view: emptyView(s.settings.rounds), table: null, selected: 'seeds' });
        await drive(runId, () =>
          client.request('selfspecStart', { runId, settings: s.settings, seeds, corpus: s.settings.k > 0 ? sourceOf(s.corpus) : null, instructions: sourceOf(s.instructions), dataBaseUrl }, { onEvent }),
        );
        // A run refused before it stored anything (bad seeds…) leaves nothing to resume.
        if (get().status === 'error' && !get().runs.some((r) => r.id === runId)) set({ runId: null });
      },

      async resume(runId) {
        const id = runId ?? get().runId;
        if (!id) return;
        const st = get().status;
        if (st === 'running' || st === 'starting' || st === 'pausing') return;
        if (!model.getState().model) {
          notices.getState().push({ kind: 'warning', title: 'No model loaded', message: 'Load the model the run was made with in the Model panel, then resume.' });
          return;
        }
        if (id !== get().runId) await get().open(id);
        const meta = get().runs.find((r) => r.id === id);
        const rounds = (meta?.settings as SelfSpecSettings | undefined)?.rounds ?? get().view.rounds;
        // Resume replays finished stages as "skipped": start from a clean view of counts.
        set({ runId: id, status: 'running', error: null, view: { ...get().view, rounds } });
        await drive(id, () => client.request('selfspecResume', { runId: id, dataBaseUrl }, { onEvent }));
      },

      async pause() {
        if (get().status !== 'running') return;
        set({ status: 'pausing' });
        await client.request('selfspecControl', { action: 'pause' }).catch(() => undefined);
      },

      async cancel() {
        const st = get().status;
        if (st !== 'running' && st !== 'pausing') return;
        set({ status: 'pausing' });
        await client.request('selfspecControl', { action: 'cancel' }).catch(() => undefined);
      },

      async refreshRuns() {
        try {
          set({ runs: await client.request('selfspecRuns', {}) });
        } catch (e) {
          console.warn('listing self-specialization runs failed:', e);
        }
      },

      async open(runId) {
        const st = get().status;
        if (st === 'running' || st === 'pausing') return;
        await get().refreshRuns();
        const meta = get().runs.find((r) => r.id === runId);
        if (!meta) {
          notices.getState().push({ kind: 'warning', title: 'Not found', message: `No stored run ${runId}.` });
          return;
        }
        const settings = { ...DEFAULT_SETTINGS, ...(meta.settings as SelfSpecSettings) };
        const { files } = await client.request('selfspecFiles', { runId });
        let view: SelfSpecView;
        let table: EvalTable | null = null;
        try {
          view = viewFromFiles(files, settings.rounds);
          table = files['eval.json'] ? (JSON.parse(files['eval.json']) as EvalTable) : null;
        } catch (e) {
          view = emptyView(settings.rounds);
          notices.getState().pushError(e, `Reading run "${meta.name}"`);
        }
        // A run stored as "running" was cut off by a reload: it can be resumed.
        const status: RunState = meta.status === 'running' ? 'paused' : meta.status;
        recheck({ runId, runName: meta.name, settings, status, error: meta.error, view, table });
      },

      async remove(runId) {
        try {
          await client.request('selfspecDelete', { runId });
        } catch (e) {
          notices.getState().pushError(e, 'Deleting the run');
        }
        if (get().runId === runId) set({ runId: null, runName: null, status: 'idle', view: emptyView(get().settings.rounds), table: null, error: null });
        await get().refreshRuns();
      },

      async files(names) {
        const id = get().runId;
        if (!id) return {};
        return (await client.request('selfspecFiles', { runId: id, names })).files;
      },
    };
  });
}
