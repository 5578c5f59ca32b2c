/**
 * Guessing a dataset's format: from the file extension when it says, else from the first lines.
 */
import Papa from 'papaparse';
import { splitLines, stripBom, type DataFormat } from './dataset';

const BY_EXTENSION: Record<string, DataFormat> = {
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  fa: 'fasta',
  fasta: 'fasta',
  faa: 'fasta',
  fna: 'fasta',
  fas: 'fasta',
};

const SAMPLE_LINES = 20;

export function detectFormat(text: string, name?: string): DataFormat {
  const ext = name?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext && BY_EXTENSION[ext]) return BY_EXTENSION[ext];

  const sample = splitLines(stripBom(text).slice(0, 64 << 10))
    .filter((l) => l.trim() !== '')
    .slice(0, SAMPLE_LINES);
  const first = sample[0]?.trimStart() ?? '';
  if (first.startsWith('>')) return 'fasta';
  if (first.startsWith('{') && isJsonObject(first)) return 'jsonl';
  // A table has a header and rows with the same number of fields (≥ 2) on every line; prose with
  // commas does not (and one line of prose cannot be told from a header, so it stays lines).
  if (sample.length >= 2 && consistentFields(sample, '\t')) return 'tsv';
  if (sample.length >= 2 && CSV_DELIMITERS.some((d) => consistentFields(sample, d))) return 'csv';
  return 'lines';
}

/** Delimiters a "CSV" may use: the comma, and the semicolon / pipe of European spreadsheets and bioinformatics tables. */
export const CSV_DELIMITERS = [',', ';', '|'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

/**
 * The delimiter of a CSV-like text: of those that give every sampled line the same number of
 * fields (≥ 2), the one giving the most fields; a comma when none does.
 */
export function sniffDelimiter(text: string): CsvDelimiter {
  const sample = splitLines(stripBom(text).slice(0, 64 << 10))
    .filter((l) => l.trim() !== '')
    .slice(0, SAMPLE_LINES);
  let best: CsvDelimiter = ',';
  let bestFields = 1;
  for (const d of CSV_DELIMITERS) {
    const n = consistentFields(sample, d) ? fieldsOf(sample, d) : 0;
    if (n > bestFields) {
      best = d;
      bestFields = n;
    }
  }
  return best;
}

function fieldsOf(sample: string[], delimiter: string): number {
  return Papa.parse<string[]>(sample[0] ?? '', { delimiter }).data[0]?.length ?? 0;
}

function isJsonObject(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

function consistentFields(sample: string[], delimiter: string): boolean {
  if (sample.length === 0) return false;
  // Parse the sample as a table so quoted delimiters do not count; the last line may be cut short.
  const rows = Papa.parse<string[]>(sample.join('\n'), { delimiter, skipEmptyLines: true }).data;
  const n = rows[0]?.length ?? 0;
  if (n < 2) return false;
  const body = rows.length > 2 ? rows.slice(0, -1) : rows;
  return body.every((r) => r.length === n);
}
