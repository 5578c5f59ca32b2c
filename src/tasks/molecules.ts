/**
 * One pool of distinct molecules from several SMILES tables (the MoleculeNet CSVs in
 * shared/data/molecules), deduplicated by RDKit canonical SMILES so that the same compound written
 * two ways, or listed in two files, becomes one molecule. Input is file *texts*, so the same code
 * runs in the browser (fetched/uploaded files) and in Node (read from disk).
 */
import { parseDelimited } from '../data/csv';
import type { DataReport, SkippedRow } from '../data/dataset';
import type { RDKitModule } from './rdkit';
import { canonicalSmiles } from './smiles';
import type { TextFile } from './types';

/** A SMILES table; its name is shown in reports and kept as the molecule's source, e.g. "BBBP.csv". */
export type MoleculeFile = TextFile;

export interface Molecule {
  /** RDKit canonical SMILES: the identity used for deduplication. */
  canonical: string;
  /** The first spelling met in the input. */
  smiles: string;
  /** Names of the files that list it (each once, in input order). */
  sources: string[];
}

export interface MoleculeFileReport extends DataReport {
  name: string;
  /** The column read as SMILES, or null when none was found (then every row is skipped). */
  column: string | null;
}

export interface MoleculePool {
  molecules: Molecule[];
  files: MoleculeFileReport[];
  /** Valid rows over all files, and how many of them repeated an earlier molecule. */
  validRows: number;
  duplicates: number;
}

const NAME_HINT = /^(smiles?|canonical_smiles|mol|molecule)$/i;
// Characters of SMILES (atoms, bonds, branches, ring closures, charges, stereo).
const SMILES_CHARS = /^[A-Za-z0-9@+\-[\]()\\/%=#$.:*~]+$/;

/** Whether a value could be a SMILES string: SMILES characters, at least one letter, not a number. */
export function looksLikeSmiles(value: string): boolean {
  const v = value.trim();
  return v !== '' && SMILES_CHARS.test(v) && /[A-Za-z]/.test(v) && !Number.isFinite(Number(v));
}

/**
 * The column that holds SMILES: a column named like one (smiles, mol…), otherwise the column whose
 * first 50 non-empty values are most often SMILES-like (at least 80%); null if none qualifies.
 */
export function detectSmilesColumn(columns: readonly string[], rows: ReadonlyArray<Record<string, string>>): string | null {
  const named = columns.find((c) => NAME_HINT.test(c.trim()) || /smiles/i.test(c));
  if (named) return named;
  let best: string | null = null;
  let bestScore = 0.8;
  for (const c of columns) {
    const values = rows.map((r) => r[c] ?? '').filter((v) => v.trim() !== '').slice(0, 50);
    if (values.length === 0) continue;
    const score = values.filter(looksLikeSmiles).length / values.length;
    // ">=" on the first qualifying column only; a later column must do strictly better.
    if (score > bestScore || (best === null && score >= bestScore)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** Reads every file, canonicalises each SMILES with RDKit and merges repeats. Never throws on bad rows. */
export function collectMolecules(files: readonly MoleculeFile[], rdkit: RDKitModule): MoleculePool {
  const byCanonical = new Map<string, Molecule>();
  const reports: MoleculeFileReport[] = [];
  let validRows = 0;
  let duplicates = 0;
  for (const file of files) {
    const parsed = parseDelimited(file.text, ',');
    const skipped: SkippedRow[] = [...parsed.report.skipped];
    const column = detectSmilesColumn(parsed.columns, parsed.rows);
    let kept = 0;
    parsed.rows.forEach((row, i) => {
      const line = parsed.lines[i];
      if (column === null) {
        skipped.push({ line, reason: 'no SMILES column found' });
        return;
      }
      const smiles = row[column].trim();
      if (smiles === '') {
        skipped.push({ line, reason: `empty ${column}` });
        return;
      }
      const c = canonicalSmiles(rdkit, smiles);
      if (!c.ok) {
        skipped.push({ line, reason: `invalid SMILES ${JSON.stringify(smiles)}: ${c.error}` });
        return;
      }
      kept++;
      validRows++;
      const seen = byCanonical.get(c.canonical);
      if (seen) {
        duplicates++;
        if (!seen.sources.includes(file.name)) seen.sources.push(file.name);
      } else {
        byCanonical.set(c.canonical, { canonical: c.canonical, smiles, sources: [file.name] });
      }
    });
    skipped.sort((a, b) => a.line - b.line);
    reports.push({ name: file.name, column, total: parsed.report.total, kept, skipped });
  }
  return { molecules: [...byCanonical.values()], files: reports, validRows, duplicates };
}
