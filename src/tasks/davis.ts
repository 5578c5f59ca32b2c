/**
 * The Davis kinase binding-affinity set in DeepDTA's packaging → examples for Tag-LLM's binding
 * affinity task (protein sequence + drug SMILES → pKd).
 *
 * - proteins.txt: JSON gene → sequence (442), ligands_can.txt: JSON id → SMILES (68), both in
 *   file order: matrix row i is the i-th ligand, column j the j-th protein.
 * - The Kd matrix (nM): one whitespace-separated row per ligand. pKd = −log10(Kd / 1e9).
 * - DeepDTA "setting 1" folds: indices k into the row-major flattened matrix (ligand = ⌊k / P⌋,
 *   protein = k mod P); train_fold_setting1.txt holds 5 lists, test_fold_setting1.txt one.
 */
import { parseOrderedStringMap } from './ordered-json';
import type { BuildReport, BuiltDataset, SkippedRow, SplitName } from './types';

export interface DavisFiles {
  /** proteins.txt */
  proteins: string;
  /** ligands_can.txt */
  ligands: string;
  /** drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt */
  affinity: string;
  /** train_fold_setting1.txt */
  trainFolds: string;
  /** test_fold_setting1.txt */
  testFold: string;
}

export interface DavisExample {
  protein: string;
  smiles: string;
  /** pKd. */
  label: number;
  split: SplitName;
  proteinId: string;
  ligandId: string;
}

export interface DavisOptions {
  /** Mark this train fold (0–4) as 'validation' instead of 'train'. Default: none. */
  validationFold?: number;
}

/** pKd from a dissociation constant in nM. */
export function pKdFromNanomolar(kd: number): number {
  return -Math.log10(kd / 1e9);
}

export function buildDavis(files: DavisFiles, opts: DavisOptions = {}): BuiltDataset<DavisExample> {
  const errors: string[] = [];
  const skipped: SkippedRow[] = [];
  const examples: DavisExample[] = [];
  const report = (total: number): BuildReport => ({ total, kept: examples.length, skipped: skipped.sort((a, b) => a.line - b.line), errors });

  const proteins = readMap(files.proteins, 'proteins.txt', errors);
  const ligands = readMap(files.ligands, 'ligands_can.txt', errors);
  const folds = readFolds(files.trainFolds, files.testFold, errors);
  if (!proteins || !ligands || !folds) return { examples, report: report(0) };

  // Matrix rows (blank lines ignored), each with its 1-based source line for reports.
  const rows: Array<{ line: number; cells: string[] }> = [];
  files.affinity.split('\n').forEach((l, i) => {
    if (l.trim() !== '') rows.push({ line: i + 1, cells: l.trim().split(/\s+/) });
  });
  const P = proteins.length;
  const L = ligands.length;
  if (rows.length !== L) errors.push(`Kd matrix has ${rows.length} rows but there are ${L} ligands.`);
  rows.forEach((r, i) => {
    if (r.cells.length !== P) errors.push(`Kd matrix line ${r.line} has ${r.cells.length} values but there are ${P} proteins.`);
    if (i >= L) skipped.push({ line: r.line, reason: 'Kd row without a ligand' });
  });

  const seen = new Map<number, string>();
  let total = 0;
  for (const { name, split, indices } of folds) {
    indices.forEach((k, pos) => {
      total++;
      const where = `${name} entry ${pos + 1} (pair ${String(k)})`;
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= L * P) {
        skipped.push({ line: 0, reason: `${where}: index outside the ${L}×${P} matrix` });
        return;
      }
      const li = Math.floor(k / P);
      const pi = k % P;
      const row = rows[li];
      const line = row?.line ?? 0;
      const earlier = seen.get(k);
      if (earlier) {
        skipped.push({ line, reason: `${where}: pair already listed in ${earlier}` });
        return;
      }
      seen.set(k, name);
      const [ligandId, smiles] = ligands[li];
      const [proteinId, protein] = proteins[pi];
      const raw = row?.cells[pi];
      const kd = raw === undefined ? NaN : Number(raw);
      if (!(kd > 0) || !Number.isFinite(kd)) {
        skipped.push({ line, reason: `${where}: Kd for ligand ${ligandId} × ${proteinId} is ${raw === undefined ? 'missing' : JSON.stringify(raw)}, not a positive number` });
        return;
      }
      if (smiles.trim() === '' || protein.trim() === '') {
        skipped.push({ line, reason: `${where}: empty ${smiles.trim() === '' ? `SMILES for ligand ${ligandId}` : `sequence for protein ${proteinId}`}` });
        return;
      }
      examples.push({ protein, smiles, label: pKdFromNanomolar(kd), split: split(opts.validationFold), proteinId, ligandId });
    });
  }
  return { examples, report: report(total) };
}

function readMap(text: string, name: string, errors: string[]): Array<[string, string]> | null {
  const r = parseOrderedStringMap(text);
  if (!r.ok) {
    errors.push(`${name}: ${r.error}`);
    return null;
  }
  const keys = new Set<string>();
  for (const [k] of r.entries) {
    if (keys.has(k)) errors.push(`${name}: key ${JSON.stringify(k)} appears twice; matrix columns/rows may be misaligned.`);
    keys.add(k);
  }
  if (r.entries.length === 0) {
    errors.push(`${name}: empty`);
    return null;
  }
  return r.entries;
}

interface Fold {
  name: string;
  split: (validationFold: number | undefined) => SplitName;
  indices: unknown[];
}

function readFolds(trainText: string, testText: string, errors: string[]): Fold[] | null {
  const parse = (text: string, name: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      errors.push(`${name}: not JSON (${(e as Error).message})`);
      return undefined;
    }
  };
  const train = parse(trainText, 'train_fold_setting1.txt');
  const test = parse(testText, 'test_fold_setting1.txt');
  if (train === undefined || test === undefined) return null;
  if (!Array.isArray(train) || !train.every(Array.isArray)) {
    errors.push('train_fold_setting1.txt: expected a JSON list of index lists');
    return null;
  }
  if (!Array.isArray(test)) {
    errors.push('test_fold_setting1.txt: expected a JSON list of indices');
    return null;
  }
  return [
    ...(train as unknown[][]).map((indices, f) => ({
      name: `train fold ${f}`,
      split: (v: number | undefined): SplitName => (v === f ? 'validation' : 'train'),
      indices,
    })),
    { name: 'test fold', split: (): SplitName => 'test', indices: test as unknown[] },
  ];
}
