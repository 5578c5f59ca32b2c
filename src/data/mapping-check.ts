/**
 * The Data panel's mapping check (which rows a dataset's field mapping and numeric checks keep, and
 * why the others are skipped) in chunks, so a large upload can be checked off the main thread with
 * progress and cancellation (src/worker/mapping-check.ts). Row for row it is mapColumns — what
 * datasetView (src/state/data.ts: training, the Matrix, the Composer) and the built-in loaders run —
 * so the panel's counts are the ones a run gets.
 */
import { mapRowRange, missingColumn, requireNumber, type MapOptions, type MappedRows } from './columns';
import type { SkippedRow } from './dataset';

/** What the check reads of a stored dataset. */
export interface MappingCheckInput {
  rows: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Source line per row (ignored unless one per row). */
  lines: ArrayLike<number>;
  /** Template field → column. */
  mapping: Record<string, string>;
  /** Fields that must hold numbers. */
  numeric: readonly string[];
}

export interface MappingCheck {
  /** The mapping itself is wrong (a column that does not exist); nothing else is then reported. */
  error: string | null;
  /** [kept] index in `rows` of each usable row, in order. */
  kept: Int32Array;
  skipped: SkippedRow[];
}

/** mapColumns' options for a dataset: numeric checks of mapped fields, lines when there is one per row. */
export function mappingOptions(ds: Pick<MappingCheckInput, 'rows' | 'lines' | 'mapping' | 'numeric'>): MapOptions {
  const numeric = ds.numeric.filter((f) => ds.mapping[f] !== undefined);
  return { lines: ds.lines.length === ds.rows.length ? ds.lines : undefined, checks: numeric.map(requireNumber) };
}

/** Rows per chunk: a few tens of milliseconds of work, so progress moves and a cancel is heard. */
export const CHECK_CHUNK_ROWS = 25_000;

/** What the chunked mapping leaves: the check's answer and, when asked for, the mapped rows (mapColumns' result). */
export interface ChunkedMapping extends MappingCheck {
  /** Mapped rows and their lines (empty unless `keepRows`). */
  rows: MappedRows['rows'];
  lines: number[];
}

/**
 * mapColumns chunk by chunk, awaiting `between()` after each (a worker yields to its message queue
 * there, to hear a cancel) and reporting rows done. Throws AbortError once `signal` aborts. The mapped
 * rows are kept only with `keepRows` (the check needs their indices, a run the rows).
 */
export async function mapInChunks(
  ds: MappingCheckInput,
  o: { chunkRows?: number; onProgress?: (done: number, total: number) => void; between?: () => Promise<void>; signal?: AbortSignal; keepRows?: boolean } = {},
): Promise<ChunkedMapping> {
  const missing = missingColumn(ds.rows, ds.mapping);
  if (missing) return { error: missing, kept: new Int32Array(0), skipped: [], rows: [], lines: [] };
  const opts = mappingOptions(ds);
  const n = ds.rows.length;
  const step = Math.max(1, o.chunkRows ?? CHECK_CHUNK_ROWS);
  const out: MappedRows = { rows: [], lines: [], skipped: [] };
  const kept: number[] = [];
  for (let at = 0; at < n; at += step) {
    if (o.signal?.aborted) throw new DOMException('The mapping check was cancelled.', 'AbortError');
    mapRowRange(ds.rows, ds.mapping, opts, at, Math.min(n, at + step), out, kept);
    if (!o.keepRows) {
      out.rows.length = 0;
      out.lines.length = 0;
    }
    o.onProgress?.(Math.min(n, at + step), n);
    if (o.between && at + step < n) await o.between();
  }
  return { error: null, kept: Int32Array.from(kept), skipped: out.skipped, rows: out.rows, lines: out.lines };
}

/** The mapping check in chunks (see mapInChunks); mapped rows are not kept: the caller builds the few it shows from `kept`. */
export async function checkMapping(
  ds: MappingCheckInput,
  o: { chunkRows?: number; onProgress?: (done: number, total: number) => void; between?: () => Promise<void>; signal?: AbortSignal } = {},
): Promise<MappingCheck> {
  const { error, kept, skipped } = await mapInChunks(ds, { ...o, keepRows: false });
  return { error, kept, skipped };
}

/** Rows `kept[from..to)` seen through the mapping (template-field keys), for a preview. */
export function keptRows(ds: Pick<MappingCheckInput, 'rows' | 'mapping'>, kept: Int32Array, from: number, to: number): Array<Record<string, string>> {
  const entries = Object.entries(ds.mapping);
  return Array.from(kept.subarray(from, Math.min(to, kept.length)), (i) => Object.fromEntries(entries.map(([f, c]) => [f, ds.rows[i]![c] ?? ''])));
}
