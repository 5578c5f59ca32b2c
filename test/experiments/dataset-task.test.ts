/**
 * Experiments on any data set: a column mapping becomes a task (kind inferred from the target,
 * Tag-LLM template, leakage-safe split), a bad mapping is a clear error (missing column, a
 * regression target that is not numeric, too few rows, a data set that is missing or changed), and
 * the real runner runs the grid on the rows (a fake engine: nearest neighbour needs no GPU).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTask, type DataContext } from '../../src/experiments/data';
import { datasetTask, inferKind, mappingOf, mappingProblems, tagNameOf, taskIdOf, type ExperimentDataset } from '../../src/experiments/dataset-task';
import { validateExperiment } from '../../src/experiments/definition';
import { formatCsv, formatMarkdown } from '../../src/experiments/report';
import { runExperiment } from '../../src/experiments/runner';
import { validateTaskDefinition } from '../../src/experiments/tasks';
import type { Engine } from '../../src/model/model';
import { parseTemplate } from '../../src/tags/template';
import { loadRdkit, type RDKitModule } from '../../src/tasks/rdkit';
import { datasetHash } from '../../src/train/protocol';

/** 30 rows: a numeric target (y = length of the word), a class, free text. Inputs repeat (rows 0–4 twice). */
function words(n = 30): ExperimentDataset {
  const ws = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango', 'uniform', 'victor', 'whiskey', 'xray', 'yankee'];
  const rows = Array.from({ length: n }, (_, i) => {
    const w = ws[i % ws.length];
    return { word: w, y: String(w.length + 0.25), long: w.length > 5 ? 'yes' : 'no', note: `${w} is word number ${i} of the list, spelled ${w.split('').join('-')}` };
  });
  return { name: 'words.csv', columns: ['word', 'y', 'long', 'note'], rows };
}

const experiment = (task: unknown, extra: Record<string, unknown> = {}) => ({ name: 'on-data', tasks: [task], methods: ['nearest-neighbour'], ...extra });

describe('a mapping becomes a task', () => {
  it('infers the kind from the target column', () => {
    expect(inferKind(['1.5', '2.25', '3', '-4e-2'])).toBe('regression');
    expect(inferKind(['0', '1', '1', '0', '1'])).toBe('classification');
    expect(inferKind(['yes', 'no', 'no', 'yes', 'no', 'yes', 'no', 'no'])).toBe('classification');
    expect(inferKind(Array.from({ length: 8 }, (_, i) => `sentence number ${i}`))).toBe('text');
    expect(inferKind([])).toBe('text');
    const ds = words();
    expect(datasetTask(ds, { inputs: ['word'], target: 'y' }).output.kind).toBe('regression');
    expect(datasetTask(ds, { inputs: ['word'], target: 'long' }).output.kind).toBe('classification');
    expect(datasetTask(ds, { inputs: ['word'], target: 'note' }).output.kind).toBe('text');
    expect(datasetTask(ds, { inputs: ['word'], target: 'y', kind: 'classification' }).output.kind).toBe('classification');
  });

  it('writes a valid Tag-LLM task: a domain tag per input column, the function tag before the output, the metric of its kind', () => {
    const ds = words();
    const t = datasetTask(ds, { inputs: ['word', 'note'], target: 'y', test: 0.25, seed: 3 });
    expect(t.id).toBe('words');
    expect(t.data).toEqual({ builder: 'dataset', name: 'words.csv', hash: datasetHash(ds.rows), columns: { input0: 'word', input1: 'note', output: 'y' } });
    expect(t.tags).toEqual({ domain: ['Word', 'Note'], function: 'Y' });
    expect(t.template).toBe('# # Input: The word is <Word> {input0}.\nThe note is <Note> {input1}.\n# # Output: The y is <Y> {output}');
    expect(t.metric).toBe('mse');
    expect(t.textDecimals).toBe(2);
    expect(t.split).toEqual({ kind: 'random', seed: 3, test: 0.25 });
    expect(parseTemplate(t.directTemplate!).tags).toEqual([]);
    expect(t.directTemplate).toContain('(a number)');
    const v = validateTaskDefinition(t);
    expect(v.ok ? [] : v.errors).toEqual([]);
    expect(mappingOf(t)).toEqual({ id: 'words', inputs: ['word', 'note'], target: 'y', kind: 'regression', test: 0.25, validation: 0, seed: 3 });
    // Classes are named in direct prompting's prompt; SMILES columns get <SMILES> and a canonical split.
    expect(datasetTask(ds, { inputs: ['word'], target: 'long' }).directTemplate).toContain('(one of: no, yes)');
    const mol: ExperimentDataset = { name: 'qed.csv', columns: ['Drug SMILES', 'logp'], rows: [{ 'Drug SMILES': 'CCO', logp: '1' }] };
    const m = datasetTask(mol, { inputs: ['Drug SMILES'], target: 'logp' });
    expect(m.id).toBe('qed-data'); // never a built-in task's id (it would inherit that task)
    expect(m.tags.domain).toEqual(['SMILES']);
    expect(m.fields?.input).toEqual({ overLength: 'truncate', smiles: true });
  });

  it('names tags and ids safely, and escapes template characters in column names', () => {
    expect(tagNameOf('log P (octanol)')).toBe('Log_P_octanol');
    expect(tagNameOf('1st')).toBe('_1st');
    expect(taskIdOf('My data: 2024.csv')).toBe('My-data-2024');
    const ds: ExperimentDataset = { name: 'x.tsv', columns: ['a{b}', 'c<d>'], rows: Array.from({ length: 10 }, (_, i) => ({ 'a{b}': `v${i}`, 'c<d>': String(i * 1.5) })) };
    const t = datasetTask(ds, { inputs: ['a{b}'], target: 'c<d>' });
    expect(parseTemplate(t.template).fields).toEqual(['input', 'output']);
    expect(validateExperiment(experiment(t), { datasets: [ds] }).ok).toBe(true);
  });
});

describe('a bad mapping is a clear error', () => {
  const ds = words();

  it('a column the data set does not have', () => {
    expect(mappingProblems(ds, { inputs: ['wrod'], target: 'y' })).toEqual(['the data set "words.csv" has no column "wrod" (its columns: word, y, long, note)']);
    expect(mappingProblems(ds, { inputs: [], target: 'y' })).toEqual(['pick at least one input column']);
    expect(mappingProblems(ds, { inputs: ['y'], target: 'y' })).toEqual(['the target column "y" cannot also be an input']);
    const t = datasetTask(ds, { inputs: ['word'], target: 'y' });
    const bad = { ...t, data: { ...t.data, columns: { input: 'word', output: 'score' } } };
    const r = validateExperiment(experiment(bad), { datasets: [ds] });
    expect(r.ok ? [] : r.errors).toEqual(['tasks[0].data.columns.output: the data set "words.csv" has no column "score" (its columns: word, y, long, note)']);
  });

  it('a regression target that is not numeric', () => {
    const t = datasetTask(ds, { inputs: ['word'], target: 'long', kind: 'regression' });
    const r = validateExperiment(experiment(t), { datasets: [ds] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^tasks\[0\]\.output\.kind: the target column "long" is not numeric \(30 of 30 values are not numbers, e\.g\. "no" in row 1\): a regression needs numbers — choose classification or generation/);
    // A few stray values are rows left out, not an error.
    const some = { ...ds, rows: ds.rows.map((r, i) => (i === 7 ? { ...r, y: 'n/a' } : r)) };
    expect(validateExperiment(experiment(datasetTask(some, { inputs: ['word'], target: 'y' })), { datasets: [some] }).ok).toBe(true);
  });

  it('too few rows for a training and a test side', () => {
    const tiny: ExperimentDataset = { ...ds, rows: ds.rows.slice(0, 2) };
    const r = validateExperiment(experiment(datasetTask(tiny, { inputs: ['word'], target: 'y' })), { datasets: [tiny] });
    expect(r.ok ? [] : r.errors).toEqual([
      'tasks[0]: too few rows: words.csv has 2 usable rows, which split into 2 training and 0 test rows; an experiment needs at least 2 training rows and 1 test row — add rows or change the test fraction',
    ]);
    // Empty mapped values do not count.
    const holes: ExperimentDataset = { ...ds, rows: ds.rows.slice(0, 4).map((r, i) => (i > 0 ? { ...r, word: ' ' } : r)) };
    const h = validateExperiment(experiment(datasetTask(holes, { inputs: ['word'], target: 'y', test: 0.5 })), { datasets: [holes] });
    expect(h.ok ? [] : h.errors).toEqual([expect.stringMatching(/too few rows: words\.csv has 1 usable row \(3 left out: 3 with an empty mapped column\)/)]);
  });

  it('a data set that is not there, or changed since the definition was written', () => {
    const t = datasetTask(ds, { inputs: ['word'], target: 'y' });
    const none = validateExperiment(experiment(t), { datasets: [] });
    expect(none.ok ? [] : none.errors).toEqual(['tasks[0].data.name: no data set named "words.csv" in the workbench: import it in the Data panel (CLI: --data <file>)']);
    const changed = { ...ds, rows: ds.rows.slice(1) };
    const c = validateExperiment(experiment(t), { datasets: [changed] });
    expect(c.ok ? [] : c.errors).toEqual([expect.stringMatching(/^tasks\[0\]\.data\.hash: the data set "words\.csv" has changed since this definition was written/)]);
    // Without data sets the definition alone is checked (the run checks the data).
    expect(validateExperiment(experiment(t)).ok).toBe(true);
    const malformed = validateExperiment(experiment({ ...t, data: { builder: 'dataset', columns: { input: 'word' }, extra: 1 } }));
    expect(malformed.ok ? [] : malformed.errors).toEqual([
      'tasks[0].data: unknown key "extra" (known: builder, name, hash, columns)',
      'tasks[0].data.name: is required: the name of a data set in the workbench (Data panel) or given with --data',
      'tasks[0].template: uses {output}, but the dataset data gives only {input}',
    ]);
  });
});

describe('the split is leakage-safe', () => {
  let rdkit: RDKitModule;
  beforeAll(async () => {
    rdkit = await loadRdkit();
  });
  const ctx = (datasets: ExperimentDataset[]): DataContext => ({ fetchText: async (p) => Promise.reject(new Error(`no file ${p}`)), rdkit: async () => rdkit, datasets });

  it('rows repeating an input stay on one side; SMILES by canonical form', async () => {
    const ds = words(50); // every word twice
    const lt = await loadTask(datasetTask(ds, { inputs: ['word'], target: 'y', test: 0.2 }), {}, ctx([ds]));
    const train = new Set(lt.train.map((r) => r.input));
    expect(lt.test.length).toBe(10);
    expect(lt.train.length).toBe(40);
    expect(lt.test.filter((r) => train.has(r.input))).toEqual([]);

    // The same molecules written two ways: OCC = CCO, C(C)O = CCO, c1ccccc1 = C1=CC=CC=C1.
    const forms = [['CCO', 'OCC', 'C(C)O'], ['c1ccccc1', 'C1=CC=CC=C1'], ['CC(=O)O', 'OC(C)=O'], ['CCN', 'NCC'], ['CCCC', 'C(CC)C'], ['CO', 'OC'], ['CCCl', 'ClCC'], ['C=C', 'C=C'], ['CC#N', 'N#CC'], ['CCOC', 'COCC']];
    const rows = forms.flatMap((f, i) => f.map((s) => ({ smiles: s, logp: String(i + 0.5) })));
    const mol: ExperimentDataset = { name: 'mol.csv', columns: ['smiles', 'logp'], rows };
    const mt = await loadTask(datasetTask(mol, { inputs: ['smiles'], target: 'logp', test: 0.3 }), {}, ctx([mol]));
    const canon = (s: string) => {
      const m = rdkit.get_mol(s)!;
      try {
        return m.get_smiles();
      } finally {
        m.delete();
      }
    };
    const trainMols = new Set(mt.train.map((r) => canon(r.input)));
    expect(mt.test.length).toBeGreaterThan(0);
    expect(mt.test.filter((r) => trainMols.has(canon(r.input)))).toEqual([]);
    expect(mt.train.length + mt.test.length).toBe(rows.length);
  });

  it('the run loads the data with the same checks (a missing data set fails every cell clearly)', async () => {
    const ds = words();
    await expect(loadTask(datasetTask(ds, { inputs: ['word'], target: 'y' }), {}, ctx([]))).rejects.toThrow(/^words\.data\.name: no data set named "words\.csv" in the workbench/);
    const left = { ...ds, rows: ds.rows.map((r, i) => (i < 3 ? { ...r, y: 'n/a' } : r)) };
    const lt = await loadTask(datasetTask(left, { inputs: ['word'], target: 'y' }), {}, ctx([left]));
    expect(lt.report.notes).toContain('words.csv: 27 rows; left out: 3 whose target is not a number.');
  });
});

describe('runExperiment on a data set (fake engine)', () => {
  // Nearest neighbour never touches the GPU: the real runner, grid, split and report on the rows.
  const engine = { name: 'fake.bin', config: { arch: 'llama', dModel: 8, vocabSize: 32 } } as unknown as Engine;

  it('runs the grid and writes the usual tables; a changed data set re-runs, the same one is reused', async () => {
    const ds = words(50); // 25 words, each twice
    const reg = datasetTask(ds, { inputs: ['word'], target: 'y', id: 'len' });
    const cls = datasetTask(ds, { inputs: ['word'], target: 'long', id: 'long' });
    const def = { name: 'words', tasks: [reg, cls], methods: ['nearest-neighbour'], seeds: [0, 1] };
    const res = await runExperiment(engine, def, { datasets: [ds] });
    expect(res.status).toBe('complete');
    expect(res.cells.map((c) => [c.id, c.status])).toEqual([
      ['len/nearest-neighbour/full/s0', 'done'],
      ['len/nearest-neighbour/full/s1', 'done'],
      ['long/nearest-neighbour/full/s0', 'done'],
      ['long/nearest-neighbour/full/s1', 'done'],
    ]);
    const len = res.cells[0];
    expect(len.metric).toBe('mse');
    expect(Number.isFinite(len.value)).toBe(true);
    // Split by distinct word: 5 of 25 words (both of their rows) are test.
    expect(len.evalRows).toBe(10);
    expect(len.trainRows).toBe(40);
    expect(res.cells[2].metric).toBe('accuracy');
    expect(formatMarkdown(res)).toContain('| Method | Params | words.csv: y (MSE ↓) | words.csv: long (Accuracy ↑) |');
    expect(formatCsv(res).split('\n')[0]).toBe('method,params,len_mean,len_std,len_n,long_mean,long_std,long_n');

    const again = await runExperiment(engine, def, { datasets: [ds], previous: res });
    expect(again.cells.map((c) => c.finished)).toEqual(res.cells.map((c) => c.finished));
    // Other rows under the same name: the definition's hash no longer matches — refused before any cell.
    const other = { ...ds, rows: ds.rows.slice(0, 30) };
    await expect(runExperiment(engine, def, { datasets: [other], previous: res })).rejects.toThrow(/tasks\[0\]\.data\.hash: the data set "words\.csv" has changed/);
  });

  it('refuses a bad mapping before any cell runs', async () => {
    const ds = words();
    const t = datasetTask(ds, { inputs: ['word'], target: 'note', kind: 'regression' });
    await expect(runExperiment(engine, experiment(t), { datasets: [ds] })).rejects.toThrow(/The experiment definition has 1 problem:\n {2}- tasks\[0\]\.output\.kind: the target column "note" is not numeric/);
  });
});

describe('large data sets', () => {
  it('a 500k-row data set becomes a task and is checked without argument-list limits', () => {
    const rows = Array.from({ length: 500_000 }, (_, i) => ({ id: `m${i}`, v: String((i % 997) / 8) }));
    const ds: ExperimentDataset = { name: 'big.csv', columns: ['id', 'v'], rows };
    const t = datasetTask(ds, { inputs: ['id'], target: 'v' });
    expect(t.output.kind).toBe('regression');
    expect(t.textDecimals).toBe(3);
    const r = validateExperiment(experiment(t), { datasets: [ds] });
    expect(r.ok ? [] : r.errors).toEqual([]);
  }, 120_000);
});
