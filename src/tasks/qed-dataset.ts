/**
 * Tag-LLM's QED task data: the distinct molecules of some SMILES tables (molecules.ts), each
 * labelled with its RDKit QED, split train/validation/test by a seeded shuffle.
 */
import type { SplitFractions } from '../data/split';
import { splitDataset } from '../data/split';
import { collectMolecules, type MoleculeFile, type MoleculePool } from './molecules';
import { isQedError, qedOf, WEIGHT_MEAN, type QedWeights } from './qed';
import type { RDKitModule } from './rdkit';
import type { BuiltDataset, SkippedRow, SplitName } from './types';

export interface QedExample {
  /** RDKit canonical SMILES. */
  smiles: string;
  /** QED in [0, 1]. */
  label: number;
  split: SplitName;
}

export interface QedDatasetOptions {
  /** Default 80% train, 10% validation, 10% test. */
  fractions?: SplitFractions;
  /** Default 0. */
  seed?: number;
  weights?: QedWeights;
}

export function buildQedDataset(
  files: readonly MoleculeFile[],
  rdkit: RDKitModule,
  opts: QedDatasetOptions = {},
): BuiltDataset<QedExample> & { pool: MoleculePool } {
  const pool = collectMolecules(files, rdkit);
  // Lines repeat across files, so each reason names its file.
  const skipped: SkippedRow[] = pool.files.flatMap((f) => f.skipped.map((s) => ({ line: s.line, reason: `${f.name}: ${s.reason}` })));
  const labelled: Array<{ smiles: string; label: number }> = [];
  for (const m of pool.molecules) {
    const row = qedOf(rdkit, m.canonical, opts.weights ?? WEIGHT_MEAN);
    if (isQedError(row)) skipped.push({ line: 0, reason: `${m.sources.join(', ')}: QED of ${m.canonical} failed: ${row.error}` });
    else labelled.push({ smiles: m.canonical, label: row.qed });
  }
  const parts = splitDataset(labelled, { seed: opts.seed ?? 0, fractions: opts.fractions ?? { train: 0.8, validation: 0.1, test: 0.1 } });
  const examples: QedExample[] = (['train', 'validation', 'test'] as const).flatMap((split) => parts[split].map((e) => ({ ...e, split })));
  const total = pool.files.reduce((n, f) => n + f.total, 0);
  return {
    examples,
    pool,
    report: {
      total,
      kept: examples.length,
      skipped,
      errors: pool.files.filter((f) => f.column === null).map((f) => `${f.name}: no SMILES column found`),
      notes: [`${pool.validRows} valid rows, ${pool.duplicates} repeats merged into ${pool.molecules.length} distinct molecules.`],
    },
  };
}
