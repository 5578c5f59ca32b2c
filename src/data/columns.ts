/**
 * From imported rows to template examples: each template field takes the value of a chosen column,
 * and rows that cannot serve (an empty value, a label that is not a number…) are skipped with the
 * reason, like the parsers do.
 */
import type { SkippedRow } from './dataset';

/** Why a row (already mapped to template fields) cannot be used, or null when it can. */
export type RowCheck = (row: Readonly<Record<string, string>>) => string | null;

/** Skips rows whose `field` is not a finite number ("", "nan", "1,5", "Infinity"…). */
export function requireNumber(field: string): RowCheck {
  return (row) => {
    const v = row[field] ?? '';
    if (v.trim() === '') return `{${field}} is empty, expected a number`;
    return Number.isFinite(Number(v)) ? null : `{${field}} is ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}, not a number`;
  };
}

export interface MappedRows {
  /** Rows with the template's field names as keys. */
  rows: Array<Record<string, string>>;
  /** [rows] source line of each kept row. */
  lines: number[];
  skipped: SkippedRow[];
}

export interface MapOptions {
  checks?: RowCheck[];
  lines?: ArrayLike<number>;
  allowEmpty?: boolean;
}

/** A column of the mapping that no row has (a mistake in the mapping, not in a row), or null. */
export function missingColumn(rows: ReadonlyArray<Readonly<Record<string, string>>>, mapping: Record<string, string>): string | null {
  if (rows.length === 0) return null;
  const wanted = new Map(Object.entries(mapping).map(([field, column]) => [column, field]));
  // Stops as soon as every mapped column was seen (usually in the first row).
  const present = new Set<string>();
  for (const r of rows) {
    for (const k in r) present.add(k);
    if ([...wanted.keys()].every((c) => present.has(c))) return null;
  }
  const [column, field] = [...wanted].find(([c]) => !present.has(c))!;
  return `Column ${JSON.stringify(column)} (for field {${field}}) is not in the data (columns: ${[...present].join(', ')}).`;
}

/**
 * Rows [start, end) of mapColumns (the mapping assumed valid: see missingColumn): each kept row is
 * pushed to `out` with its line, and its index in `rows` to `kept` when given. What mapColumns does
 * in one call, the mapping check does in chunks (src/worker/mapping-check.ts), row for row the same.
 */
export function mapRowRange(
  rows: ReadonlyArray<Readonly<Record<string, string>>>,
  mapping: Record<string, string>,
  opts: MapOptions,
  start: number,
  end: number,
  out: MappedRows,
  kept?: number[],
): void {
  const entries = Object.entries(mapping);
  rows: for (let i = start; i < end; i++) {
    const src = rows[i]!;
    const line = opts.lines?.[i] ?? i + 1;
    const row: Record<string, string> = {};
    for (const [field, column] of entries) {
      const v = src[column] ?? '';
      if (!opts.allowEmpty && v.trim() === '') {
        out.skipped.push({ line, reason: `empty ${JSON.stringify(column)} (for field {${field}})` });
        continue rows;
      }
      row[field] = v;
    }
    for (const check of opts.checks ?? []) {
      const why = check(row);
      if (why) {
        out.skipped.push({ line, reason: why });
        continue rows;
      }
    }
    out.rows.push(row);
    out.lines.push(line);
    kept?.push(i);
  }
}

/**
 * Renames columns to template fields (mapping: field → column) and applies `checks`. Values that are
 * empty (after trimming) are skipped unless `allowEmpty`. `lines` are the rows' source lines
 * (ParsedDataset.lines); without them, reports give the 1-based row number.
 * A column missing from the data is a mistake in the mapping, not in a row: that throws.
 */
export function mapColumns(rows: ReadonlyArray<Readonly<Record<string, string>>>, mapping: Record<string, string>, opts: MapOptions = {}): MappedRows {
  const missing = missingColumn(rows, mapping);
  if (missing) throw new Error(missing);
  const out: MappedRows = { rows: [], lines: [], skipped: [] };
  mapRowRange(rows, mapping, opts, 0, rows.length, out);
  return out;
}
