/**
 * `cli selfspec`: the self-specialization pipeline (src/selfspec/pipeline.ts) on a model, writing its
 * files into --out. Events go to stdout as JSON lines with --json, else a readable log to stderr.
 * Ctrl-C stops after the current step; everything written so far stays, and --resume continues.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../gpu/node-gpu';
import { loadModel } from '../model/model';
import { Bm25Index } from '../selfspec/bm25';
import type { SelfSpecEvent } from '../selfspec/events';
import { parsePubmedqa } from '../selfspec/evaluate';
import { DEFAULT_CONFIG, Pipeline, type PipelineConfig, type PipelineInputs } from '../selfspec/pipeline';
import { EngineRunner } from '../selfspec/runner';
import { parseSeeds } from '../selfspec/seeds';
import { specialise, SPEC_METHODS, type SpecMethod } from '../selfspec/specialise';
import { DirectoryStore } from '../selfspec/store-node';
import { parseJsonl } from '../selfspec/store';
import { decodeUtf8 } from '../selfspec/text';
import type { Proj } from '../train/graph';
import { readLibrary } from './exchange';
import { validateOptions } from './options';
import { readCorpus } from './retrieve';
import { openSource, siblingTokenizer } from './sources';

export const SELFSPEC_USAGE = `  cli selfspec --model <m> --seeds <file> [--corpus <file|folder>] --out <dir> [--instructions N] [--k 5] [--method lora|tag|both|all]
            [--epochs E] [--eval-n N] [--rounds 2] [--resume] [--seed S] [--slots 8] [--context 512] [--ablation 0,1] [--shots 0,1,5]
            [--batch 4 --accum 8 --lr 3e-4] [--tag-length 10] [--domain-tag BioMed] [--function-tag Expert] [--domain biomedicine]
            [--response-tokens 256] [--instruction-tokens 256] [--instructions-from file.jsonl] [--reuse-instructions] [--rouge-n 50]
            [--pubmedqa <pqal.json> --pubmedqa-truth <truth.json>] [--tags-in <lib.json> --init-adapter <name>]
            [--lora-rank 8 --lora-alpha 16 --lora-targets q,k,v,o,gate,up,down (default: the start adapter's)] [--json]`;

const PUBMEDQA = 'public/data/biomed/pubmedqa_ori_pqal.json';
const PUBMEDQA_TRUTH = 'public/data/biomed/pubmedqa_test_ground_truth.json';

function readText(path: string, what: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`--${what} ${path}: no such file`);
  }
  return decodeUtf8(bytes, basename(path));
}

export async function selfspecCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      seeds: { type: 'string' },
      corpus: { type: 'string' },
      out: { type: 'string' },
      instructions: { type: 'string', default: '100' },
      k: { type: 'string', default: '5' },
      method: { type: 'string', default: 'lora' },
      epochs: { type: 'string', default: '3' },
      'eval-n': { type: 'string', default: '100' },
      rounds: { type: 'string', default: '1' },
      resume: { type: 'boolean', default: false },
      seed: { type: 'string', default: '0' },
      slots: { type: 'string', default: '8' },
      context: { type: 'string' },
      ablation: { type: 'string' },
      shots: { type: 'string', default: '0,1,5' },
      batch: { type: 'string', default: '4' },
      accum: { type: 'string', default: '8' },
      lr: { type: 'string', default: '3e-4' },
      'tag-length': { type: 'string', default: '10' },
      'domain-tag': { type: 'string', default: 'BioMed' },
      'function-tag': { type: 'string' },
      domain: { type: 'string', default: 'biomedicine' },
      'response-tokens': { type: 'string', default: '256' },
      'instruction-tokens': { type: 'string', default: '256' },
      'instructions-from': { type: 'string' },
      'reuse-instructions': { type: 'boolean', default: false },
      'rouge-n': { type: 'string', default: '50' },
      pubmedqa: { type: 'string', default: PUBMEDQA },
      'pubmedqa-truth': { type: 'string', default: PUBMEDQA_TRUTH },
      'tags-in': { type: 'string' },
      'init-adapter': { type: 'string' },
      'lora-rank': { type: 'string' },
      'lora-alpha': { type: 'string' },
      'lora-targets': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  // Every value checked before any file is read or the model loads; the conversions below are then safe.
  validateOptions('selfspec', v);
  if (!v.model || !v.seeds || !v.out) throw new Error('unreachable: validateOptions requires --model, --seeds and --out');
  const int = (name: string, s: string, min = 0) => {
    const x = Number(s);
    if (s.trim() === '' || !Number.isInteger(x) || x < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got "${s}"`);
    return x;
  };
  const real = (name: string, s: string) => {
    const x = Number(s);
    if (s.trim() === '' || !Number.isFinite(x) || x <= 0) throw new Error(`--${name} must be a number > 0, got "${s}"`);
    return x;
  };
  const list = (name: string, s: string | undefined) => (s ? s.split(',').map((x) => int(name, x.trim())) : []);
  const methods: SpecMethod[] = v.method === 'all' ? [...SPEC_METHODS] : [v.method as SpecMethod];

  // Inputs first: a bad seed or corpus file fails before the model is loaded.
  const seeds = parseSeeds(readText(v.seeds, 'seeds'), basename(v.seeds));
  for (const r of seeds.rejected.slice(0, 20)) process.stderr.write(`${basename(v.seeds)}:${r.line}: skipped seed: ${r.reason}\n`);
  let retriever: PipelineInputs['retriever'] = null;
  if (v.corpus) {
    const corpus = readCorpus(v.corpus);
    for (const r of corpus.rejected.slice(0, 20)) process.stderr.write(`${r.file ?? basename(v.corpus)}:${r.line}: skipped passage: ${r.reason}\n`);
    retriever = Bm25Index.build(corpus.passages);
  }
  // The start adapter's library (e.g. from `cli import --peft`); its shapes are checked once the model is loaded.
  const library = v['tags-in'] ? readLibrary(v['tags-in'], null) : null;
  const start = v['init-adapter'] ? library?.adapters.find((a) => a.name === v['init-adapter']) : undefined;
  const startShape = start ? { rank: start.rank, alpha: start.alpha, targets: [...start.targets] as Proj[] } : null;
  const evalN = int('eval-n', v['eval-n']);
  const pubmedqa = evalN > 0 ? parsePubmedqa(readText(v.pubmedqa, 'pubmedqa'), readText(v['pubmedqa-truth'], 'pubmedqa-truth')) : null;
  let given: PipelineInputs['instructions'];
  if (v['instructions-from']) {
    given = parseJsonl<{ instruction?: unknown; input?: unknown }>(readText(v['instructions-from'], 'instructions-from')).flatMap((r) =>
      typeof r.instruction === 'string' && r.instruction.trim() ? [{ instruction: r.instruction.trim(), input: typeof r.input === 'string' ? r.input : '' }] : [],
    );
    if (given.length === 0) throw new Error(`--instructions-from ${v['instructions-from']}: no line has an "instruction".`);
  }
  const cfg: PipelineConfig = {
    ...DEFAULT_CONFIG,
    domain: v.domain!,
    seed: int('seed', v.seed!),
    instructions: int('instructions', v.instructions!, 1),
    instructionMaxTokens: int('instruction-tokens', v['instruction-tokens']!, 1),
    k: int('k', v.k!),
    ablationK: list('ablation', v.ablation),
    responseMaxTokens: int('response-tokens', v['response-tokens']!, 1),
    methods,
    rounds: int('rounds', v.rounds!, 1),
    freshInstructions: !v['reuse-instructions'],
    specialise: {
      ...DEFAULT_CONFIG.specialise,
      epochs: real('epochs', v.epochs!),
      batch: int('batch', v.batch!, 1),
      accum: int('accum', v.accum!, 1),
      lr: real('lr', v.lr!),
      tagLength: int('tag-length', v['tag-length']!, 1),
      domainTag: v['domain-tag']!,
      functionTag: v['function-tag'] ?? null,
      lora: {
        ...DEFAULT_CONFIG.specialise.lora,
        // A start adapter's own shape unless given: training continues it (a contradicting shape is refused by the pipeline).
        ...(startShape ?? {}),
        ...(v['lora-rank'] ? { rank: int('lora-rank', v['lora-rank'], 1) } : {}),
        ...(v['lora-alpha'] ? { alpha: real('lora-alpha', v['lora-alpha']) } : {}),
        ...(v['lora-targets'] ? { targets: v['lora-targets'].split(',').map((t) => t.trim()) as Proj[] } : {}),
      },
    },
    initAdapter: v['init-adapter'] ?? null,
    eval: { ...DEFAULT_CONFIG.eval, n: evalN, shots: list('shots', v.shots), rougeN: int('rouge-n', v['rouge-n']!) },
  };

  const gpu = await acquireNodeGpu();
  const tokPath = v.tokenizer ?? siblingTokenizer(v.model);
  const slots = int('slots', v.slots!, 1);
  const model = await loadModel(gpu, openSource(v.model), {
    tokenizer: tokPath ? openSource(tokPath) : undefined,
    slots,
    maxContext: v.context ? int('context', v.context, 16) : undefined,
  });
  const maxContext = model.transformer.opts.maxContext;
  const ac = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nstopping after the current step (Ctrl-C again to kill)…\n');
    ac.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  const pipeline = new Pipeline(
    {
      model,
      slots,
      maxContext,
      specialise: (records, library, o, hooks) => specialise(model, records, library, o, hooks),
      runner: (variant) => new EngineRunner(model, variant, { slots, batch: cfg.specialise.batch }),
    },
    cfg,
    { seeds: seeds.seeds, retriever, pubmedqa, instructions: given, library },
    { store: new DirectoryStore(v.out), resume: v.resume, signal: ac.signal, onEvent: v.json ? printJson : printHuman },
  );
  try {
    const { table } = await pipeline.run();
    if (v.json) console.log(JSON.stringify({ summary: true, out: v.out, rows: table.rows.map((r) => r.label), columns: table.columns }));
    else process.stderr.write(`done: ${v.out}/eval.md\n`);
    return 0;
  } catch (e) {
    if ((e as Error).name === 'AbortError') {
      process.stderr.write(`stopped; everything made so far is in ${v.out}. Run the same command with --resume to continue.\n`);
      return 130;
    }
    throw new Error(`${(e as Error).message}\n(Files made so far are kept in ${v.out}; fix the problem and run again with --resume.)`);
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
  }
}

function printJson(ev: SelfSpecEvent): void {
  if (ev.type === 'response-token') return; // per-token events are for the live view; response-done carries them all
  console.log(JSON.stringify(ev));
}

function printHuman(ev: SelfSpecEvent): void {
  const w = (s: string) => process.stderr.write(s + '\n');
  switch (ev.type) {
    case 'stage':
      w(`[round ${ev.round}] ${ev.stage}: ${ev.status}${ev.detail ? ` (${ev.detail})` : ''}`);
      break;
    case 'progress':
      w(`  ${ev.stage} ${ev.done}/${ev.total} ${ev.unit}, ${ev.perSecond.toFixed(2)}/s${ev.etaSeconds !== null ? `, ETA ${Math.round(ev.etaSeconds)} s` : ''}`);
      break;
    case 'warning':
      w(`warning: ${ev.message}`);
      break;
    case 'eval-cell':
      if ('rougeL' in ev.value) w(`  ${ev.row} | ROUGE-L on ${ev.value.n} held-out seeds: ${(100 * ev.value.rougeL).toFixed(1)}`);
      else w(`  ${ev.row} | ${ev.column}: accuracy ${(100 * ev.value.accuracy).toFixed(1)}%, macro-F1 ${(100 * ev.value.macroF1).toFixed(1)}%`);
      break;
    default:
      break;
  }
}
