/**
 * Datasets that ship with the workbench (public/data/, sources in public/data/SOURCES.md). Loaders
 * take a `fetchText(path)` with paths relative to the data folder ("molecules/BBBP.csv"), so the
 * browser fetches /data/… (fetchFromUrl) and Node reads public/data/… (readFile).
 */
import { blosumDescriptor, parseResidueTable } from './blosum';
import { mapColumns, requireNumber } from './columns';
import type { DataReport, SkippedRow } from './dataset';
import { parseDataset } from './parse';

export type FetchText = (path: string) => Promise<string>;

export interface LoadedDataset {
  columns: string[];
  rows: Array<Record<string, string>>;
  report: DataReport;
}

export interface BuiltinDataset {
  id: string;
  title: string;
  description: string;
  /** Columns of every row; named for the templates that use them (input, output, source, target…). */
  columns: string[];
  /** Where the data comes from and its license. */
  source: string;
  load(fetchText: FetchText): Promise<LoadedDataset>;
}

/** fetchText for the browser: paths under `base` (e.g. import.meta.env.BASE_URL + 'data/'). */
export function fetchFromUrl(base: string): FetchText {
  const root = base.endsWith('/') ? base : `${base}/`;
  return async (path) => {
    const res = await fetch(root + path);
    if (!res.ok) throw new Error(`${root + path}: HTTP ${res.status} ${res.statusText}`);
    return res.text();
  };
}

const MOLECULE_FILES = ['BBBP.csv', 'bace.csv', 'clintox.csv', 'delaney.csv', 'freesolv.csv', 'lipo.csv', 'tox21.csv'];
const CHEMPROP = 'chemprop/chemprop data/ (MIT); MoleculeNet';

/** The SMILES column of a MoleculeNet CSV ("smiles", or "mol" in bace.csv). */
function smilesColumn(columns: string[], file: string): string {
  const c = columns.find((x) => /^(smiles|mol)$/i.test(x));
  if (!c) throw new Error(`${file}: no SMILES column (columns: ${columns.join(', ')}).`);
  return c;
}

/** Skips of one file, prefixed with its name (lines are per file). */
function prefixed(file: string, skipped: SkippedRow[]): SkippedRow[] {
  return skipped.map((s) => ({ line: s.line, reason: `${file}: ${s.reason}` }));
}

/** Unique SMILES over every molecule file: the unlabeled text for training <SMILES> (stage 1). */
async function loadSmiles(fetchText: FetchText): Promise<LoadedDataset> {
  const seen = new Set<string>();
  const rows: Array<Record<string, string>> = [];
  const skipped: SkippedRow[] = [];
  let total = 0;
  for (const file of MOLECULE_FILES) {
    const parsed = parseDataset(await fetchText(`molecules/${file}`), { format: 'csv' });
    const mapped = mapColumns(parsed.rows, { input: smilesColumn(parsed.columns, file) }, { lines: parsed.lines });
    total += parsed.report.total;
    // A loop, not push(...): a large file can skip more rows than a call takes arguments.
    for (const x of prefixed(file, [...parsed.report.skipped, ...mapped.skipped])) skipped.push(x);
    for (const r of mapped.rows) {
      if (seen.has(r.input)) continue;
      seen.add(r.input);
      rows.push({ input: r.input });
    }
  }
  const dup = total - skipped.length - rows.length;
  return { columns: ['input'], rows, report: { total, kept: rows.length, skipped, notes: [`${dup} duplicate SMILES merged`] } };
}

/** One labeled MoleculeNet file: input = SMILES, output = the label column. */
function moleculeLabels(file: string, labelColumn: string): (fetchText: FetchText) => Promise<LoadedDataset> {
  return async (fetchText) => {
    const parsed = parseDataset(await fetchText(`molecules/${file}`), { format: 'csv' });
    const mapped = mapColumns(parsed.rows, { input: smilesColumn(parsed.columns, file), output: labelColumn }, { lines: parsed.lines, checks: [requireNumber('output')] });
    const skipped = [...parsed.report.skipped, ...mapped.skipped];
    return { columns: ['input', 'output'], rows: mapped.rows, report: { total: parsed.report.total, kept: mapped.rows.length, skipped } };
  };
}

/** Davis kinase sequences with their mean BLOSUM1 value: the descriptor regression task. */
async function loadProteins(fetchText: FetchText): Promise<LoadedDataset> {
  const table = parseResidueTable(await fetchText('descriptors/BLOSUM1.csv'));
  const json: unknown = JSON.parse(await fetchText('binding/davis/proteins.txt'));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('binding/davis/proteins.txt: expected a JSON object gene → sequence.');
  const rows: Array<Record<string, string>> = [];
  const skipped: SkippedRow[] = [];
  const entries = Object.entries(json);
  entries.forEach(([name, seq], i) => {
    const sequence = typeof seq === 'string' ? seq.replace(/\s+/g, '') : '';
    if (sequence === '') skipped.push({ line: i + 1, reason: `${name}: empty sequence` });
    else rows.push({ name, input: sequence, output: String(blosumDescriptor(sequence, table)) });
  });
  return { columns: ['name', 'input', 'output'], rows, report: { total: entries.length, kept: rows.length, skipped } };
}

/** Tatoeba language (file code) → the tag-style code used in srcLang / tgtLang. */
export const TATOEBA_LANGUAGES: Readonly<Record<string, string>> = { fra: 'FR', deu: 'DE', rus: 'RU', ita: 'IT', ell: 'EL', spa: 'ES', por: 'PT' };

/**
 * Line-aligned Tatoeba pairs, both directions by default: { source, target, srcLang, tgtLang } with
 * codes EN, FR, DE… (the paper's tag names, so `<{srcLang}>` in a template picks the language tag).
 */
export async function loadTatoeba(
  fetchText: FetchText,
  opts: { languages?: string[]; directions?: 'both' | 'to-en' | 'from-en' } = {},
): Promise<LoadedDataset> {
  const langs = opts.languages ?? Object.keys(TATOEBA_LANGUAGES);
  const dir = opts.directions ?? 'both';
  const rows: Array<Record<string, string>> = [];
  const skipped: SkippedRow[] = [];
  let total = 0;
  for (const lang of langs) {
    const code = TATOEBA_LANGUAGES[lang];
    if (!code) throw new Error(`Tatoeba: unknown language ${JSON.stringify(lang)} (known: ${Object.keys(TATOEBA_LANGUAGES).join(', ')}).`);
    const [xx, en] = await Promise.all([fetchText(`translation/tatoeba.${lang}-eng.${lang}`), fetchText(`translation/tatoeba.${lang}-eng.eng`)]);
    const a = xx.replace(/\n$/, '').split('\n');
    const b = en.replace(/\n$/, '').split('\n');
    const file = `tatoeba.${lang}-eng`;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      total++;
      const x = a[i]?.replace(/\r$/, '').trim();
      const e = b[i]?.replace(/\r$/, '').trim();
      if (x === undefined || e === undefined) {
        skipped.push({ line: i + 1, reason: `${file}: line has no partner (the .${lang} file has ${a.length} lines, .eng ${b.length})` });
      } else if (x === '' || e === '') {
        skipped.push({ line: i + 1, reason: `${file}: empty sentence` });
      } else {
        if (dir !== 'from-en') rows.push({ source: x, target: e, srcLang: code, tgtLang: 'EN' });
        if (dir !== 'to-en') rows.push({ source: e, target: x, srcLang: 'EN', tgtLang: code });
      }
    }
  }
  // The report counts line pairs; with both directions each kept pair gives two rows.
  const note = dir === 'both' ? 'each line pair gives two rows, one per direction' : `one row per line pair (${dir})`;
  return { columns: ['source', 'target', 'srcLang', 'tgtLang'], rows, report: { total, kept: total - skipped.length, skipped, notes: [note] } };
}

export const BUILTIN_DATASETS: readonly BuiltinDataset[] = [
  {
    id: 'smiles',
    title: 'SMILES molecules',
    description: 'Unique SMILES strings from seven MoleculeNet sets (BBBP, BACE, ClinTox, ESOL, FreeSolv, Lipophilicity, Tox21): unlabeled text for the <SMILES> domain tag.',
    columns: ['input'],
    source: CHEMPROP,
    load: loadSmiles,
  },
  {
    id: 'protein-blosum1',
    title: 'Protein sequences + BLOSUM1 descriptor',
    description: '442 Davis kinase sequences; output = mean BLOSUM1 index per residue (the descriptor regression task; also unlabeled text for <Protein>).',
    columns: ['name', 'input', 'output'],
    source: 'hkmztrk/DeepDTA data/ (Davis); BLOSUM1 values from althonos/peptides.py (Georgiev 2009)',
    load: loadProteins,
  },
  {
    id: 'tatoeba',
    title: 'Tatoeba EN↔XX pairs',
    description: '1,000 sentence pairs each for English with French, German, Russian, Italian, Greek, Spanish, Portuguese, in both directions.',
    columns: ['source', 'target', 'srcLang', 'tgtLang'],
    source: 'facebookresearch/LASER data/tatoeba/v1 (Tatoeba, CC-BY 2.0 FR)',
    load: (f) => loadTatoeba(f),
  },
  {
    id: 'esol',
    title: 'ESOL water solubility',
    description: '1,128 molecules; output = log solubility in mol/L (the file calls the column "logp").',
    columns: ['input', 'output'],
    source: CHEMPROP,
    load: moleculeLabels('delaney.csv', 'logp'),
  },
  {
    id: 'lipophilicity',
    title: 'Lipophilicity (logD)',
    description: '4,200 molecules; output = octanol/water distribution coefficient at pH 7.4.',
    columns: ['input', 'output'],
    source: CHEMPROP,
    load: moleculeLabels('lipo.csv', 'lipo'),
  },
  {
    id: 'freesolv',
    title: 'FreeSolv hydration free energy',
    description: '642 molecules; output = hydration free energy (kcal/mol).',
    columns: ['input', 'output'],
    source: CHEMPROP,
    load: moleculeLabels('freesolv.csv', 'freesolv'),
  },
  {
    id: 'bbbp',
    title: 'BBBP blood–brain barrier penetration',
    description: '2,039 molecules; output = 1 if the molecule penetrates the blood–brain barrier, else 0 (classification).',
    columns: ['input', 'output'],
    source: CHEMPROP,
    load: moleculeLabels('BBBP.csv', 'p_np'),
  },
];

export function builtinDataset(id: string): BuiltinDataset | undefined {
  return BUILTIN_DATASETS.find((d) => d.id === id);
}
