/**
 * Dataset rows whose SMILES RDKit cannot read are skipped at import, listed in the report like any
 * other bad row (a molecule the model trains on must be a molecule).
 */
import type { ParsedDataset } from '../data/dataset';
import type { RDKitModule } from './rdkit';
import { parseSmiles } from './smiles';

/** Columns that hold SMILES, by name (smiles, canonical_smiles, SMILES_1, drug_smiles…). */
export function smilesColumns(columns: readonly string[]): string[] {
  return columns.filter((c) => /smiles/i.test(c));
}

/**
 * The dataset without rows that have an invalid SMILES in a SMILES column (an empty value is left
 * to the field mapping, which reports empty values itself); each dropped row is in the report with
 * its line, the column, the value and RDKit's reason.
 */
export function dropInvalidSmiles(rdkit: RDKitModule, ds: ParsedDataset): ParsedDataset {
  const cols = smilesColumns(ds.columns);
  if (cols.length === 0) return ds;
  const rows: ParsedDataset['rows'] = [];
  const lines: number[] = [];
  const skipped = [...ds.report.skipped];
  const memo = new Map<string, string | null>();
  const check = (smiles: string): string | null => {
    let v = memo.get(smiles);
    if (v === undefined) {
      const p = parseSmiles(rdkit, smiles);
      if (p.ok) p.mol.delete();
      v = p.ok ? null : p.error;
      memo.set(smiles, v);
    }
    return v;
  };
  ds.rows.forEach((row, i) => {
    for (const c of cols) {
      const value = row[c] ?? '';
      if (value.trim() === '') continue;
      const error = check(value);
      if (error) {
        const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
        skipped.push({ line: ds.lines[i] ?? i + 1, reason: `invalid SMILES in "${c}": ${JSON.stringify(shown)} (RDKit: ${error})` });
        return;
      }
    }
    rows.push(row);
    lines.push(ds.lines[i] ?? i + 1);
  });
  if (rows.length === ds.rows.length) return ds;
  skipped.sort((a, b) => a.line - b.line);
  return { ...ds, rows, lines, report: { ...ds.report, kept: rows.length, skipped } };
}
