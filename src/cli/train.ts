/**
 * `cli train` and `cli eval`: the method layer from the command line. One JSON line per logged step on
 * stdout, then a final JSON summary with the held-out metrics before and after training.
 */
import { writeFileSync } from 'node:fs';
import { readDatasetFile } from './dataset-file';
import { basename } from 'node:path';
import type { Engine } from '../model/model';
import { TagLibrary } from '../tags/library';
import { exportLibrary, importLibrary } from '../tags/library-format';
import { checkpointOf, resumeRun, snapshotLibrary } from '../train/checkpoint';
import { DEFAULT_SAMPLE_TOKENS, PAPER_EPOCHS, parseLoraTargets, PEFT_METHODS, prepareRun, type Method, type PeftMethod, type PreparedRun, type RunSpec, type TaskData, type TaskOutput } from '../train/protocol';
import type { TrainHyper } from '../train/trainer';
import { embeddingFingerprint, embeddingTable } from '../tags/tag';
import { numericLabel } from '../train/labels';
import { readJsonFile } from './json-file';

export interface TrainArgs {
  stage?: string;
  method?: string;
  template?: string;
  data: string[];
  map?: string[];
  task?: string;
  labelField?: string;
  tagsIn?: string;
  out?: string;
  steps?: string;
  /** Epochs (a number) or "paper:<task>" for the paper's epochs of a built-in task (Table 5). */
  epochs?: string;
  peft?: string;
  noHead?: boolean;
  lr?: string;
  batch?: string;
  accum?: string;
  seed?: string;
  evalFraction?: string;
  evalEvery?: string;
  tagLength?: string;
  weightDecay?: string;
  maxGradNorm?: string;
  enrich?: boolean;
  isolate?: boolean;
  spaced?: string[];
  recompute?: boolean;
  loraRank?: string;
  loraAlpha?: string;
  loraTargets?: string;
  /** LoRA: continue this adapter of --tags-in (e.g. one imported from PEFT). */
  continueAdapter?: string;
  checkpoint?: string;
  checkpointEvery?: string;
  /** Greedy samples every N steps (0 = off) of --sample-tokens tokens from --sample-prompt. */
  sampleEvery?: string;
  samplePrompt?: string;
  sampleTokens?: string;
  resume?: string;
  acceptFingerprint?: boolean;
}

const num = (name: string, s: string | undefined, fallback?: number): number | undefined => {
  if (s === undefined) return fallback;
  const x = Number(s);
  if (!Number.isFinite(x)) throw new Error(`--${name} must be a number, got "${s}"`);
  return x;
};

/** Reads a dataset file: plain text (one example per line → {input}) or CSV/TSV/JSONL/FASTA. */
export function readRows(path: string, plainLines: boolean, map: string[] = []): Array<Record<string, string>> {
  const ds = readDatasetFile(path, plainLines && /\.(txt|smi|lines?)$/i.test(path) ? 'lines' : undefined);
  for (const s of ds.report.skipped.slice(0, 20)) process.stderr.write(`${basename(path)}:${s.line}: skipped: ${s.reason}\n`);
  if (ds.report.skipped.length > 20) process.stderr.write(`${basename(path)}: … ${ds.report.skipped.length - 20} more rows skipped\n`);
  const mapping = new Map(map.map((m) => [m.slice(0, m.indexOf('=')), m.slice(m.indexOf('=') + 1)] as [string, string]));
  const lineField = ds.columns.length === 1 ? ds.columns[0] : null;
  return ds.rows.map((r) => {
    const out: Record<string, string> = { ...r };
    if (lineField && !Object.hasOwn(out, 'input')) out.input = r[lineField];
    for (const [field, col] of mapping) {
      // Own columns only: "toString" or "__proto__" must not find Object.prototype's members.
      if (!Object.hasOwn(r, col)) throw new Error(`--map ${field}=${col}: ${basename(path)} has no column "${col}" (columns: ${ds.columns.join(', ')})`);
      out[field] = r[col];
    }
    return out;
  });
}

function methodOf(a: TrainArgs): Method {
  if (a.stage && a.method) throw new Error('Give --stage or --method, not both.');
  if (a.stage) {
    if (!['1', '2', '3'].includes(a.stage)) throw new Error(`--stage must be 1, 2 or 3 (got ${a.stage})`);
    return `stage${a.stage}` as Method;
  }
  const m = a.method ?? '';
  if (!['prompt-tuning', 'lora', 'linear-probe', 'domain-in-text'].includes(m)) {
    throw new Error('Give --stage 1|2|3 or --method prompt-tuning|lora|linear-probe|domain-in-text');
  }
  return m as Method;
}

function outputOf(a: TrainArgs, method: Method, template: string, rows: Array<Record<string, string>>): TaskOutput {
  const field = a.labelField ?? (template.includes('{output}') ? 'output' : template.includes('{target}') ? 'target' : 'output');
  if (a.task) {
    if (a.task !== 'text' && a.task !== 'regression' && a.task !== 'classification') throw new Error('--task must be text, regression or classification');
    return { kind: a.task, field };
  }
  if (method === 'stage1' || !template.includes(`{${field}}`)) return { kind: 'text' };
  // Mostly numbers → regression, and the rest are bad rows the run reports and skips; a few junk
  // labels must not silently turn a regression task into text generation.
  const numeric = rows.filter((r) => numericLabel(r[field]) !== null).length;
  return rows.length > 0 && numeric * 2 > rows.length ? { kind: 'regression', field } : { kind: 'text', field };
}

/** The tag library of --tags-in (empty without a path), checked against the loaded model. */
export async function loadLibrary(engine: Engine, path: string | undefined, accept: boolean): Promise<TagLibrary> {
  const lib = new TagLibrary();
  if (!path) return lib;
  const table = await embeddingTable(engine);
  const fp = await embeddingFingerprint(table, engine.config.vocabSize, engine.config.dModel);
  const res = importLibrary(readJsonFile(path, '--tags-in'), { dModel: engine.config.dModel, fingerprint: fp }, { acceptFingerprintMismatch: accept });
  if (res.status === 'refused') throw new Error(`--tags-in ${path}: ${res.error}`);
  if (res.status === 'needs-confirmation') throw new Error(`--tags-in ${path}: ${res.warning} Pass --accept-fingerprint to use it anyway.`);
  lib.merge({ tags: res.tags, heads: res.heads, adapters: res.adapters }, 'replace');
  return lib;
}

function specOf(a: TrainArgs, library: TagLibrary): RunSpec {
  const method = methodOf(a);
  const template = a.template ?? (method === 'stage1' ? '<Domain> {input}' : undefined);
  if (!template) throw new Error('--template is required (e.g. "# # Input: <Protein> {input}.\\n# # Output: <Descriptor> {output}")');
  if (a.data.length === 0) throw new Error('--data is required');
  if (a.data.length > 1 && method !== 'stage3') throw new Error('Several --data files are for stage 3 (multi-task).');
  const fieldMapping = Object.fromEntries((a.map ?? []).map((m) => m.split('=') as [string, string]));
  const tasks: TaskData[] = a.data.map((path) => {
    const rows = readRows(path, method === 'stage1', a.map);
    return { name: basename(path), template, rows, output: outputOf(a, method, template, rows), fieldMapping };
  });
  const epochs = epochsOf(a.epochs);
  if (epochs !== undefined && a.steps !== undefined) throw new Error('Give --steps or --epochs, not both.');
  if (a.peft !== undefined && method !== 'domain-in-text') throw new Error('--peft chooses the PEFT method of --method domain-in-text.');
  if (a.peft !== undefined && !PEFT_METHODS.includes(a.peft as PeftMethod)) throw new Error(`--peft must be ${PEFT_METHODS.join(', ')} (got "${a.peft}")`);
  const peft = method === 'domain-in-text' ? ((a.peft as PeftMethod | undefined) ?? 'lora') : undefined;
  const usesLora = method === 'lora' || peft === 'lora';
  const hyper: Partial<TrainHyper> = {
    steps: num('steps', a.steps, 100),
    ...(epochs !== undefined ? { epochs } : {}),
    lr: num('lr', a.lr, 1e-4),
    batch: num('batch', a.batch, 4),
    accum: num('accum', a.accum, 1),
    seed: num('seed', a.seed, 0),
    evalEvery: num('eval-every', a.evalEvery, 0),
    weightDecay: num('weight-decay', a.weightDecay, 0),
    maxGradNorm: num('max-grad-norm', a.maxGradNorm, 1),
  };
  return {
    method,
    tasks,
    library,
    tagLength: num('tag-length', a.tagLength, 10),
    enrich: a.enrich,
    isolate: a.isolate,
    spacedFields: a.spaced,
    hyper,
    evalFraction: num('eval-fraction', a.evalFraction, 0.1),
    recompute: a.recompute,
    lora: usesLora ? { rank: num('lora-rank', a.loraRank, 8), alpha: num('lora-alpha', a.loraAlpha, 16), targets: parseLoraTargets(a.loraTargets) } : undefined,
    ...(peft ? { peft } : {}),
    ...(a.noHead ? { head: false } : {}),
    ...(a.continueAdapter ? { continueAdapter: a.continueAdapter, name: a.continueAdapter } : {}),
    ...sampleOf(a),
  };
}

/** --sample-every / --sample-prompt / --sample-tokens as RunSpec.sample (absent when off). */
function sampleOf(a: TrainArgs): Pick<RunSpec, 'sample'> {
  const every = num('sample-every', a.sampleEvery, 0)!;
  if (!(every > 0)) {
    if (a.samplePrompt !== undefined || a.sampleTokens !== undefined) throw new Error('--sample-prompt and --sample-tokens need --sample-every N (N ≥ 1).');
    return {};
  }
  return { sample: { every, tokens: num('sample-tokens', a.sampleTokens, DEFAULT_SAMPLE_TOKENS), ...(a.samplePrompt !== undefined ? { prompt: a.samplePrompt } : {}) } };
}

/** Seconds elapsed and the estimated seconds left, from the steps taken in this process. */
export function progressTimes(startMs: number, nowMs: number, stepsDone: number, stepsLeft: number): { elapsed_s: number; eta_s: number | null } {
  const elapsed = (nowMs - startMs) / 1000;
  return { elapsed_s: Math.round(elapsed * 10) / 10, eta_s: stepsDone > 0 ? Math.round((elapsed / stepsDone) * stepsLeft * 10) / 10 : null };
}

/** --epochs: a positive number, or paper:<task> (Table 5). */
function epochsOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^paper:(.+)$/.exec(s);
  if (m) {
    const e = PAPER_EPOCHS[m[1]];
    if (!e) throw new Error(`--epochs ${s}: the paper gives epochs for ${Object.keys(PAPER_EPOCHS).join(', ')}`);
    return e;
  }
  const x = Number(s);
  if (!(Number.isFinite(x) && x > 0)) throw new Error(`--epochs must be a positive number or paper:<task>, got "${s}"`);
  return x;
}

export async function trainCommand(engine: Engine, a: TrainArgs): Promise<void> {
  let library = await loadLibrary(engine, a.tagsIn, !!a.acceptFingerprint);
  let run: PreparedRun;
  let spec: RunSpec;
  if (a.resume) {
    ({ run, spec } = await resumeRun(engine, readJsonFile(a.resume, '--resume'), library));
    library = spec.library;
  } else {
    spec = specOf(a, library);
    run = await prepareRun(engine, spec);
  }
  const snapshot = snapshotLibrary(library);
  for (const b of run.badRows.slice(0, 20)) process.stderr.write(`${b.task}: row ${b.row}: skipped: ${b.reason}\n`);
  if (run.badRows.length > 20) process.stderr.write(`… ${run.badRows.length - 20} more bad rows skipped\n`);
  try {
    const evalBefore = await run.evaluate();
    const every = num('checkpoint-every', a.checkpointEvery, 0)!;
    const t0 = performance.now();
    const step0 = run.trainer.step;
    await run.run({
      onStep: async (s) => {
        const times = progressTimes(t0, performance.now(), s.step - step0, run.trainer.hyper.steps - s.step);
        console.log(JSON.stringify({ step: s.step, loss: s.loss, lm_loss: s.lmLoss, head_loss: s.headLoss, grad_norm: s.gradNorm, lr: s.lr, tokens_per_s: s.tokensPerSec, skipped: s.skipped, ...times }));
        if (s.sample) console.log(JSON.stringify({ sample: true, step: s.step, text: engine.tokenizer.decode(s.sample, { skipSpecial: true }) }));
        if (a.checkpoint && every > 0 && s.step % every === 0) {
          writeFileSync(a.checkpoint, JSON.stringify(checkpointOf(engine, spec, snapshot, await run.trainer.state())));
        }
      },
    }).catch(async (e: unknown) => {
      // Never end without saving what the run had: the trainer's parameters are its last good
      // state (non-finite updates are skipped), so a checkpoint of them can be resumed.
      if (a.checkpoint) {
        try {
          writeFileSync(a.checkpoint, JSON.stringify(checkpointOf(engine, spec, snapshot, await run.trainer.state())));
          process.stderr.write(`training stopped at step ${run.trainer.step}; its last state is in ${a.checkpoint} (--resume it)\n`);
        } catch (saveErr) {
          process.stderr.write(`could not save the last state: ${(saveErr as Error).message}\n`);
        }
      }
      throw e;
    });
    const evalAfter = await run.evaluate();
    if (a.checkpoint) writeFileSync(a.checkpoint, JSON.stringify(checkpointOf(engine, spec, snapshot, await run.trainer.state())));
    const saved = await run.save(evalAfter);
    if (a.out) writeFileSync(a.out, JSON.stringify(exportLibrary(library), null, 1));
    console.log(
      JSON.stringify({
        summary: true,
        method: spec.method,
        steps: run.trainer.step,
        skipped_steps: run.trainer.skipped,
        trainable_params: run.trainableParams,
        held_out: run.heldOutCount,
        eval_before: evalBefore,
        eval_after: evalAfter,
        saved,
        out: a.out ?? null,
      }),
    );
  } finally {
    run.dispose();
  }
}

/** Evaluates a tag library on a whole dataset (no training). */
export async function evalCommand(engine: Engine, a: TrainArgs): Promise<void> {
  const library = await loadLibrary(engine, a.tagsIn, !!a.acceptFingerprint);
  const spec = specOf({ ...a, steps: '0', epochs: undefined, evalFraction: '1', stage: a.stage ?? (a.method ? undefined : '2') }, library);
  const run = await prepareRun(engine, spec);
  try {
    console.log(JSON.stringify({ summary: true, examples: run.heldOutCount, eval: await run.evaluate() }));
  } finally {
    run.dispose();
  }
}
