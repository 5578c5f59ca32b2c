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
  if (sample.length >= 2 && consistentFields(sample, ',')) return 'csv';
  return 'lines';
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
  // Parse the sample as a table so quoted delimiters do not count; the last line may be cut short.
  const rows = Papa.parse<string[]>(sample.join('\n'), { delimiter, skipEmptyLines: true }).data;
  const n = rows[0]?.length ?? 0;
  if (n < 2) return false;
  const body = rows.length > 2 ? rows.slice(0, -1) : rows;
  return body.every((r) => r.length === n);
}
