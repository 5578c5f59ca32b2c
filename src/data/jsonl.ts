/**
 * JSON Lines import: one JSON object per line. Columns are the keys in order of first appearance;
 * a record lacking a key gets '' there. Values become strings (numbers and booleans as written by
 * String(), null as '', nested objects and lists as their JSON text).
 */
import { splitLines, stripBom, type ParsedDataset, type SkippedRow } from './dataset';

export function parseJsonl(input: string): ParsedDataset {
  const columns: string[] = [];
  const known = new Set<string>();
  const records: Array<Map<string, string>> = [];
  const lines: number[] = [];
  const skipped: SkippedRow[] = [];
  let total = 0;

  splitLines(stripBom(input)).forEach((text, i) => {
    if (text.trim() === '') return;
    total++;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      skipped.push({ line, reason: `not valid JSON (${(e as Error).message})` });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      skipped.push({ line, reason: `expected a JSON object, got ${Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`}` });
      return;
    }
    const entries = Object.entries(value);
    if (entries.length === 0) {
      skipped.push({ line, reason: 'empty object {}' });
      return;
    }
    // A Map, not an object: a column named "__proto__" or "toString" must stay data.
    const row = new Map<string, string>();
    for (const [k, v] of entries) {
      if (!known.has(k)) {
        known.add(k);
        columns.push(k);
      }
      row.set(k, typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    records.push(row);
    lines.push(line);
  });

  // Object.fromEntries defines own properties, so "__proto__" is an ordinary column here.
  const rows = records.map((r) => Object.fromEntries(columns.map((c) => [c, r.get(c) ?? ''])));
  return { format: 'jsonl', columns, rows, lines, report: { total, kept: rows.length, skipped } };
}
