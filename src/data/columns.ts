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

/**
 * Renames columns to template fields (mapping: field → column) and applies `checks`. Values that are
 * empty (after trimming) are skipped unless `allowEmpty`. `lines` are the rows' source lines
 * (ParsedDataset.lines); without them, reports give the 1-based row number.
 * A column missing from the data is a mistake in the mapping, not in a row: that throws.
 */
export function mapColumns(
  rows: ReadonlyArray<Readonly<Record<string, string>>>,
  mapping: Record<string, string>,
  opts: { checks?: RowCheck[]; lines?: readonly number[]; allowEmpty?: boolean } = {},
): MappedRows {
  const entries = Object.entries(mapping);
  const present = new Set(rows.flatMap((r) => Object.keys(r)));
  for (const [field, column] of entries) {
    if (rows.length > 0 && !present.has(column)) {
      throw new Error(`Column ${JSON.stringify(column)} (for field {${field}}) is not in the data (columns: ${[...present].join(', ')}).`);
    }
  }
  const out: MappedRows = { rows: [], lines: [], skipped: [] };
  rows.forEach((src, i) => {
    const line = opts.lines?.[i] ?? i + 1;
    const row: Record<string, string> = {};
    for (const [field, column] of entries) {
      const v = src[column] ?? '';
      if (!opts.allowEmpty && v.trim() === '') {
        out.skipped.push({ line, reason: `empty ${JSON.stringify(column)} (for field {${field}})` });
        return;
      }
      row[field] = v;
    }
    for (const check of opts.checks ?? []) {
      const why = check(row);
      if (why) {
        out.skipped.push({ line, reason: why });
        return;
      }
    }
    out.rows.push(row);
    out.lines.push(line);
  });
  return out;
}
