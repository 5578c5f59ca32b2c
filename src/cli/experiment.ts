/**
 * `cli experiment <definition.json> --out <dir> [--resume]`: runs an experiment definition
 * (docs/experiments.md), printing progress as JSON lines and writing results.json (after every
 * cell, so a stopped run can --resume), results.csv, results.md, cells.csv and the ablation /
 * tag-length / translation tables when present.
 *
 * `cli experiment --data <file> --input <col> --target <col> [--kind …] --out <dir>`: the same grid
 * on any data file (dataset-task.ts turns the mapping into a task); `--data` beside a definition
 * file supplies the data sets its "dataset" tasks name (by file name).
 *
 * `cli qed --in <file>`: QED of each SMILES (first column of each line) as `smiles,qed` CSV lines,
 * `smiles,error` for molecules RDKit cannot read (the reason goes to stderr).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../gpu/node-gpu';
import { loadModel } from '../model/model';
import { exportLibrary } from '../tags/library-format';
import { datasetTask, mappingProblems, type ExperimentDataset } from '../experiments/dataset-task';
import { validateExperiment } from '../experiments/definition';
import { readDatasetFile } from './dataset-file';
import { buildTables, formatCellsCsv, formatCsv, formatMarkdown, tableCsv } from '../experiments/report';
import { runExperiment } from '../experiments/runner';
import { RESULTS_FORMAT, type ExperimentResults } from '../experiments/types';
import { isQedError, loadRdkit, qedOf, WEIGHT_MAX, WEIGHT_MEAN, WEIGHT_NONE } from '../tasks/qed';
import { validateOptions } from './options';
import { openSource, siblingTokenizer } from './sources';

export const EXPERIMENT_USAGE = `  cli experiment <definition.json> --out <dir> [--resume] [--model <path>] [--tokenizer <path>] [--data-dir <dir>] [--save-tags] [--data <file> …]
  cli experiment --data <csv|tsv|jsonl> --input <col> [--input <col2>] --target <col> [--kind regression|classification|generation] --model <path> --out <dir>
      [--methods tag-llm,lora,linear-probe,…] [--seeds 0,1] [--steps N | --epochs E] [--batch B] [--lr X] [--tag-length P]
      [--test 0.2] [--split-seed 0] [--max-train N] [--max-eval N] [--max-chars N] [--name <name>] [--resume] [--save-tags]
  cli qed --in <file: one SMILES per line, optional ",extra" columns> [--weights mean|max|none]`;

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function experimentCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      'data-dir': { type: 'string' },
      'save-tags': { type: 'boolean', default: false },
      data: { type: 'string', multiple: true },
      input: { type: 'string', multiple: true },
      target: { type: 'string' },
      kind: { type: 'string' },
      methods: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'tag-length': { type: 'string' },
      test: { type: 'string' },
      'split-seed': { type: 'string' },
      'max-train': { type: 'string' },
      'max-eval': { type: 'string' },
      'max-chars': { type: 'string' },
      name: { type: 'string' },
    },
    allowPositionals: true,
  });
  validateOptions('experiment', v, positionals);
  if (!v.out) throw new Error('unreachable: validateOptions requires --out');
  // Data files are refused as the Data panel refuses them (empty, binary, a header without rows).
  const datasets: ExperimentDataset[] = (v.data ?? []).map((path) => {
    const ds = readDatasetFile(path);
    for (const s of ds.report.skipped.slice(0, 20)) process.stderr.write(`${basename(path)}:${s.line}: skipped: ${s.reason}\n`);
    return { name: basename(path), columns: ds.columns, rows: ds.rows };
  });
  const defPath = positionals[0] ?? v.data![0];
  let json: unknown;
  if (positionals[0] === undefined) json = definitionOnData(datasets[0], v);
  else {
    try {
      json = JSON.parse(readFileSync(defPath, 'utf8'));
    } catch (e) {
      throw new Error(`${defPath}: ${(e as Error).message}`);
    }
  }
  const checked = validateExperiment(json, { datasets });
  if (!checked.ok) throw new Error(`${defPath}: ${checked.errors.length} problem${checked.errors.length === 1 ? '' : 's'}:\n  - ${checked.errors.join('\n  - ')}`);
  const def = checked.definition;
  // Paths in the definition are relative to the working directory (the repository root for `npm run cli`).
  if (v['data-dir']) def.dataDir = v['data-dir'];
  const modelPath = v.model ?? def.model?.path;
  if (!modelPath) throw new Error('No model: give "model": {"path": …} in the definition or --model <path>.');

  const out = v.out;
  mkdirSync(out, { recursive: true });
  const resultsPath = join(out, 'results.json');
  let previous: ExperimentResults | undefined;
  if (v.resume && existsSync(resultsPath)) {
    const prev = JSON.parse(readFileSync(resultsPath, 'utf8')) as ExperimentResults;
    if (prev.format !== RESULTS_FORMAT) throw new Error(`${resultsPath} is not an experiment results file.`);
    previous = prev;
  }

  const gpu = await acquireNodeGpu();
  const tokPath = v.tokenizer ?? def.model?.tokenizer ?? siblingTokenizer(modelPath);
  const engine = await loadModel(gpu, openSource(modelPath), {
    tokenizer: tokPath ? openSource(tokPath) : undefined,
    slots: 4,
    maxContext: def.model?.maxContext ?? 512,
  });
  const ac = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nstopping after the current step; results so far are kept (use --resume to continue)\n');
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  const emit = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  try {
    const results = await runExperiment(engine, def, {
      signal: ac.signal,
      previous,
      datasets,
      onProgress: (p) => emit({ progress: true, ...p }),
      onCell: (cell, r) => {
        writeAtomic(resultsPath, JSON.stringify(r, null, 1));
        emit({ cell: cell.id, status: cell.status, metric: cell.metric, value: cell.value, trainable_params: cell.trainableParams, seconds: Number(cell.seconds.toFixed(2)), error: cell.error });
      },
      onLibrary: v['save-tags']
        ? (id, lib) => {
            const path = join(out, 'tags', `${id.replace(/\//g, '__')}.json`);
            mkdirSync(dirname(path), { recursive: true });
            writeFileSync(path, JSON.stringify(exportLibrary(lib), null, 1));
          }
        : undefined,
    });
    const files = writeReports(out, results);
    emit({ summary: true, status: results.status, cells: results.cells.length, done: results.cells.filter((c) => c.status === 'done').length, failed: results.cells.filter((c) => c.status === 'failed').length, files });
    return results.status === 'cancelled' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    engine.dispose();
  }
}

const DEFAULT_METHODS = 'tag-llm,prompt-tuning,lora,linear-probe,nearest-neighbour,direct-prompting';

/** The definition of `cli experiment --data f --input a --target b …`: one task over the file, the grid of the options. */
function definitionOnData(ds: ExperimentDataset, v: Record<string, string | string[] | boolean | undefined>): Record<string, unknown> {
  const str = (k: string) => v[k] as string | undefined;
  const kind = str('kind') === 'generation' ? 'text' : ((str('kind') ?? 'auto') as 'regression' | 'classification' | 'text' | 'auto');
  const mapping = {
    inputs: v.input as string[],
    target: str('target')!,
    kind,
    test: str('test') !== undefined ? Number(str('test')) : 0.2,
    seed: str('split-seed') !== undefined ? Number(str('split-seed')) : 0,
  };
  const problems = mappingProblems(ds, mapping);
  if (problems.length) throw new Error(`${ds.name}: ${problems.join('; ')}`);
  const task = datasetTask(ds, mapping);
  const n = (k: string) => (str(k) !== undefined ? Number(str(k)) : undefined);
  const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
  return {
    name: str('name') ?? task.id,
    tasks: [task],
    methods: (str('methods') ?? DEFAULT_METHODS).split(',').map((m) => m.trim()),
    seeds: (str('seeds') ?? '0').split(',').map(Number),
    hyper: defined({ steps: n('steps'), epochs: n('epochs'), batch: n('batch'), lr: n('lr') }),
    ...(n('tag-length') !== undefined ? { tagLength: n('tag-length') } : {}),
    caps: defined({ maxTrain: n('max-train'), maxEval: n('max-eval'), maxChars: n('max-chars') }),
  };
}

/** Writes results.json and every table; returns the paths written. */
export function writeReports(out: string, results: ExperimentResults): string[] {
  const files: Array<[string, string]> = [
    ['results.json', JSON.stringify(results, null, 1)],
    ['results.csv', formatCsv(results)],
    ['results.md', formatMarkdown(results)],
    ['cells.csv', formatCellsCsv(results)],
  ];
  const t = buildTables(results);
  if (t.ablation) files.push(['ablation.csv', tableCsv(t.ablation)]);
  if (t.sweep) files.push(['tag-length.csv', tableCsv(t.sweep)]);
  t.translation.forEach((tr, i) => files.push([`translation${t.translation.length > 1 ? `-${i + 1}` : ''}.csv`, tableCsv(tr)]));
  return files.map(([name, text]) => {
    const path = join(out, name);
    writeAtomic(path, text);
    return resolve(path);
  });
}

export async function qedCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: { in: { type: 'string' }, weights: { type: 'string', default: 'mean' } },
    allowPositionals: false,
  });
  validateOptions('qed', v);
  if (!v.in) throw new Error('unreachable: validateOptions requires --in');
  const weights = { mean: WEIGHT_MEAN, max: WEIGHT_MAX, none: WEIGHT_NONE }[v.weights as 'mean' | 'max' | 'none'];
  const text = readFileSync(v.in, 'utf8').replace(/^\uFEFF/, '');
  const rdkit = await loadRdkit();
  const lines = text.split(/\r?\n/);
  const out: string[] = ['smiles,qed'];
  let bad = 0;
  lines.forEach((line, i) => {
    const smiles = (line.split(',')[0] ?? '').trim();
    if (smiles === '' || smiles.startsWith('#')) return;
    if (i === 0 && /^(smiles?|canonical_smiles|mol)$/i.test(smiles)) return; // header
    const r = qedOf(rdkit, smiles, weights);
    if (isQedError(r)) {
      bad++;
      out.push(`${csv(smiles)},error`);
      process.stderr.write(`${v.in}:${i + 1}: ${smiles}: ${r.error}\n`);
    } else out.push(`${csv(smiles)},${r.qed}`);
  });
  process.stdout.write(`${out.join('\n')}\n`);
  if (bad) process.stderr.write(`${bad} molecule${bad === 1 ? '' : 's'} could not be read.\n`);
  return 0;
}

const csv = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
