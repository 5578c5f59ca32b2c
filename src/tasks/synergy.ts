/**
 * The O'Neil drug-combination screen (DeepSynergy's labels) → examples for Tag-LLM's drug
 * combination task: two drugs (name + SMILES) on a cell line → Loewe synergy score.
 *
 * Labels: `drug_a_name,drug_b_name,cell_line,synergy,fold` (an unnamed index column may come
 * first), joined with `name,smile` rows of drug_smiles.csv. DeepSynergy's fold 0 is the test set.
 */
import { parseDelimited } from '../data/csv';
import type { BuiltDataset, SkippedRow, SplitName } from './types';

export interface SynergyFiles {
  /** deepsynergy_oneil_labels.csv */
  labels: string;
  /** drug_smiles.csv */
  drugSmiles: string;
}

export interface SynergyExample {
  drugA: string;
  smilesA: string;
  drugB: string;
  smilesB: string;
  cellLine: string;
  /** Loewe synergy score. */
  label: number;
  fold: number;
  split: SplitName;
}

export interface SynergyOptions {
  /** The fold used as test set; default 0 (DeepSynergy's convention). */
  testFold?: number;
  /** A fold to mark 'validation'; default none. */
  validationFold?: number;
}

const LABEL_COLUMNS = ['drug_a_name', 'drug_b_name', 'cell_line', 'synergy', 'fold'] as const;

export function buildSynergy(files: SynergyFiles, opts: SynergyOptions = {}): BuiltDataset<SynergyExample> {
  const testFold = opts.testFold ?? 0;
  const errors: string[] = [];
  const notes: string[] = [];
  const examples: SynergyExample[] = [];

  const drugs = readDrugSmiles(files.drugSmiles, errors, notes);
  const labels = parseDelimited(files.labels, ',');
  const skipped: SkippedRow[] = [...labels.report.skipped];
  const missingCols = LABEL_COLUMNS.filter((c) => !labels.columns.includes(c));
  if (missingCols.length > 0) {
    errors.push(`labels: missing column${missingCols.length > 1 ? 's' : ''} ${missingCols.join(', ')} (found ${labels.columns.join(', ')})`);
  }
  if (missingCols.length > 0 || !drugs) {
    return { examples, report: { total: labels.report.total, kept: 0, skipped, errors, notes } };
  }

  const { smilesOf, conflicts } = drugs;
  const drugsWithoutSmiles = new Set<string>();
  labels.rows.forEach((row, i) => {
    const line = labels.lines[i];
    const [drugA, drugB, cellLine] = [row.drug_a_name.trim(), row.drug_b_name.trim(), row.cell_line.trim()];
    const synergy = row.synergy.trim() === '' ? NaN : Number(row.synergy);
    const fold = row.fold.trim() === '' ? NaN : Number(row.fold);
    if (!drugA || !drugB || !cellLine) {
      skipped.push({ line, reason: `empty ${!drugA ? 'drug_a_name' : !drugB ? 'drug_b_name' : 'cell_line'}` });
      return;
    }
    if (!Number.isFinite(synergy)) {
      skipped.push({ line, reason: `synergy ${JSON.stringify(row.synergy)} is not a number` });
      return;
    }
    if (!Number.isInteger(fold) || fold < 0) {
      skipped.push({ line, reason: `fold ${JSON.stringify(row.fold)} is not a non-negative integer` });
      return;
    }
    const missing = [drugA, drugB].filter((d) => !smilesOf.has(d));
    if (missing.length > 0) {
      missing.forEach((d) => drugsWithoutSmiles.add(d));
      const why = (d: string) => (conflicts.has(d) ? `${d} (conflicting SMILES)` : d);
      skipped.push({ line, reason: `no SMILES for ${missing.map(why).join(' and ')}` });
      return;
    }
    const split: SplitName = fold === testFold ? 'test' : fold === opts.validationFold ? 'validation' : 'train';
    examples.push({ drugA, smilesA: smilesOf.get(drugA)!, drugB, smilesB: smilesOf.get(drugB)!, cellLine, label: synergy, fold, split });
  });
  if (drugsWithoutSmiles.size > 0) notes.push(`Drugs without SMILES: ${[...drugsWithoutSmiles].sort().join(', ')}.`);
  skipped.sort((a, b) => a.line - b.line);
  return { examples, report: { total: labels.report.total, kept: examples.length, skipped, errors, notes } };
}

/** name → SMILES; rows with an empty name or SMILES are ignored (noted), as are conflicting duplicates. */
function readDrugSmiles(text: string, errors: string[], notes: string[]): { smilesOf: Map<string, string>; conflicts: Set<string> } | null {
  const parsed = parseDelimited(text, ',');
  const nameCol = parsed.columns.find((c) => /^(name|drug|drug_name)$/i.test(c));
  const smilesCol = parsed.columns.find((c) => /^(smiles?|canonical_smiles)$/i.test(c));
  if (!nameCol || !smilesCol) {
    errors.push(`drug SMILES: expected columns name and smile(s), found ${parsed.columns.join(', ') || 'none'}`);
    return null;
  }
  const map = new Map<string, string>();
  const conflicts = new Set<string>();
  let ignored = parsed.report.skipped.length;
  for (const row of parsed.rows) {
    const name = row[nameCol].trim();
    const smiles = row[smilesCol].trim();
    if (!name || !smiles) {
      ignored++;
      continue;
    }
    const prev = map.get(name);
    if (prev !== undefined && prev !== smiles) conflicts.add(name);
    else map.set(name, smiles);
  }
  // A drug with two different SMILES is ambiguous: leave it out so its rows are reported.
  for (const name of conflicts) map.delete(name);
  if (conflicts.size > 0) notes.push(`drug SMILES: conflicting SMILES for ${[...conflicts].sort().join(', ')}; their rows are skipped.`);
  if (ignored > 0) notes.push(`drug SMILES: ${ignored} unusable row${ignored > 1 ? 's' : ''} ignored.`);
  return { smilesOf: map, conflicts };
}
