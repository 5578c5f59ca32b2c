/**
 * Dataset import for the workbench and the CLI: text in, rows of named string fields out, with a
 * report of every record that was skipped and why. Never throws on bad records.
 *
 * Formats: csv / tsv (header row; papaparse), jsonl (one object per line), fasta (name,
 * description, sequence), lines (one record per non-blank line, column "text"). CSV's delimiter is
 * sniffed (`,` `;` `|`). Without `format`
 * the extension of `name` decides, or else the content (see detect.ts).
 */
import { parseDelimited } from './csv';
import { splitLines, stripBom, type DataFormat, type ParsedDataset } from './dataset';
import { detectFormat, sniffDelimiter } from './detect';
import { parseFasta } from './fasta';
import { parseJsonl } from './jsonl';

export type { DataFormat, DataReport, ParsedDataset, SkippedRow } from './dataset';
export { detectFormat, sniffDelimiter } from './detect';
export { noRecords, notADataset } from './refuse';

export function parseDataset(text: string, opts: { format?: DataFormat; name?: string } = {}): ParsedDataset {
  const format = opts.format ?? detectFormat(text, opts.name);
  switch (format) {
    case 'csv':
      // A ".csv" from a European spreadsheet is often ;-separated; tables from bioinformatics tools |-separated.
      return parseDelimited(text, sniffDelimiter(text));
    case 'tsv':
      return parseDelimited(text, '\t');
    case 'jsonl':
      return parseJsonl(text);
    case 'fasta':
      return parseFasta(text);
    case 'lines':
      return parseLines(text);
    default:
      throw new Error(`Unknown dataset format ${JSON.stringify(format)} (known: csv, tsv, jsonl, fasta, lines).`);
  }
}

/** One record per non-blank line, kept as written (only the line terminator removed). */
function parseLines(input: string): ParsedDataset {
  const rows: Array<Record<string, string>> = [];
  const lines: number[] = [];
  splitLines(stripBom(input)).forEach((text, i) => {
    if (text.trim() === '') return;
    rows.push({ text });
    lines.push(i + 1);
  });
  return { format: 'lines', columns: ['text'], rows, lines, report: { total: rows.length, kept: rows.length, skipped: [] } };
}
