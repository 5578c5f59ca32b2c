/**
 * CSV / TSV import through papaparse. The first non-blank row is the header. A row with the wrong
 * number of fields is skipped; so is a row with broken quotes — and because papaparse would read
 * everything after an unclosed quote as one field, parsing restarts on the next line after such a
 * row, so one stray quote costs one row, not the rest of the file.
 */
import Papa from 'papaparse';
import { lineIndex, stripBom, type ParsedDataset, type SkippedRow } from './dataset';

export function parseDelimited(input: string, delimiter: ',' | ';' | '|' | '\t'): ParsedDataset {
  const text = stripBom(input);
  const lineOf = lineIndex(text);
  const format = delimiter === '\t' ? 'tsv' : 'csv';
  let columns: string[] | null = null;
  const rows: Array<Record<string, string>> = [];
  const lines: number[] = [];
  const skipped: SkippedRow[] = [];
  let total = 0;

  let offset = 0;
  while (offset < text.length) {
    let restartAt = -1;
    let prev = 0;
    Papa.parse<string[]>(text.slice(offset), {
      delimiter,
      header: false,
      skipEmptyLines: false,
      step: (r, parser) => {
        const start = offset + prev;
        prev = r.meta.cursor;
        const fields = r.data;
        if (fields.length === 1 && fields[0].trim() === '' && r.errors.length === 0) return; // blank line
        const line = lineOf(start);
        const quoteError = r.errors.find((e) => e.type === 'Quotes');
        if (quoteError) {
          total++;
          skipped.push({ line, reason: `malformed quotes (${quoteError.message.toLowerCase()})` });
          const nl = text.indexOf('\n', start);
          restartAt = nl < 0 ? text.length : nl + 1;
          parser.abort();
          return;
        }
        if (!columns) {
          columns = headerNames(fields);
          return;
        }
        total++;
        if (fields.length !== columns.length) {
          skipped.push({ line, reason: `has ${fields.length} field${fields.length === 1 ? '' : 's'}, expected ${columns.length} (${columns.join(', ')})` });
          return;
        }
        const row: Record<string, string> = {};
        columns.forEach((c, i) => (row[c] = fields[i]));
        rows.push(row);
        lines.push(line);
      },
    });
    if (restartAt < 0) break;
    offset = restartAt;
  }
  return { format, columns: columns ?? [], rows, lines, report: { total, kept: rows.length, skipped } };
}

/** Header cells trimmed; empty ones named column1…, repeated ones suffixed _2, _3… so every column has its own key. */
function headerNames(cells: string[]): string[] {
  const seen = new Set<string>();
  return cells.map((c, i) => {
    const base = c.trim() || `column${i + 1}`;
    let name = base;
    for (let k = 2; seen.has(name); k++) name = `${base}_${k}`;
    seen.add(name);
    return name;
  });
}
