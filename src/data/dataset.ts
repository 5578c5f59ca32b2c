/**
 * The shapes every dataset importer returns. Imports never abort on a bad record: it is skipped
 * and reported with its line and the reason, so a user sees exactly what was left out and why.
 */

export type DataFormat = 'csv' | 'tsv' | 'jsonl' | 'fasta' | 'lines';

export interface SkippedRow {
  /** 1-based line of the source text where the record starts (for non-text sources, the record number). */
  line: number;
  reason: string;
}

export interface DataReport {
  /** Records found (blank lines are not records). */
  total: number;
  kept: number;
  skipped: SkippedRow[];
  /** Other remarks, e.g. how many duplicates were merged. */
  notes?: string[];
}

export interface ParsedDataset {
  format: DataFormat;
  columns: string[];
  /** Every row has every column ('' where a JSONL record lacked the key). */
  rows: Array<Record<string, string>>;
  /** [rows] source line of each row, for reports of later checks (mapColumns). */
  lines: number[];
  report: DataReport;
}

/** Line numbers of character offsets in a text (1-based), by binary search over its newlines. */
export function lineIndex(text: string): (offset: number) => number {
  const nl: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) nl.push(i);
  return (offset) => {
    let lo = 0;
    let hi = nl.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nl[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** The text with a leading byte-order mark removed (spreadsheet exports often carry one). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Lines of a text without their line terminators (\n or \r\n). */
export function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}
