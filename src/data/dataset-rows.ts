/**
 * The rows a run, a Matrix cell or the Composer takes from a dataset: the mapping applied (mapColumns,
 * checks included), the seeded split, the parts asked for, optionally renamed to template fields.
 * datasetRows does it in one call; datasetRowsInChunks maps in chunks with progress and cancellation
 * (the mapping worker, src/worker/mapping-check.ts, runs it for large uploads) and gives the same rows.
 */
import { mapColumns } from './columns';
import { mapInChunks, mappingOptions, type MappingCheckInput } from './mapping-check';
import { splitDataset, type SplitFractions } from './split';

export type Row = Record<string, string>;
export type RowsPart = 'train' | 'validation' | 'test' | 'all';

export interface RowsRequest {
  /** The dataset's split (seed and fractions); needed unless only 'all' is asked for. */
  split?: SplitFractions & { seed: number };
  parts: RowsPart[];
  /** Output field → field of the mapped row: each returned row holds exactly these ('' where missing). */
  pick?: Record<string, string>;
  /** At most this many rows per part (its first ones). */
  limit?: number;
}

export interface DatasetRows {
  /** The mapping itself is wrong (a column that does not exist): no rows. */
  error: string | null;
  parts: Partial<Record<RowsPart, Row[]>>;
  /** Rows in each asked-for part before `limit`. */
  sizes: Partial<Record<RowsPart, number>>;
}

/** The asked-for parts of rows already mapped (what datasetView gives). */
export function selectParts(rows: Row[], req: RowsRequest): DatasetRows {
  const needsSplit = req.parts.some((p) => p !== 'all');
  if (needsSplit && !req.split) throw new Error('A split is needed for the train, validation or test rows.');
  const split = needsSplit
    ? splitDataset(rows, { seed: req.split!.seed, fractions: { train: req.split!.train, validation: req.split!.validation, test: req.split!.test } })
    : null;
  const entries = req.pick ? Object.entries(req.pick) : null;
  const out: DatasetRows = { error: null, parts: {}, sizes: {} };
  for (const p of req.parts) {
    const all = p === 'all' ? rows : split![p];
    const some = req.limit !== undefined && req.limit < all.length ? all.slice(0, Math.max(0, req.limit)) : all;
    out.parts[p] = entries ? some.map((r) => Object.fromEntries(entries.map(([f, src]) => [f, r[src] ?? '']))) : some;
    out.sizes[p] = all.length;
  }
  return out;
}

type RowsInput = Pick<MappingCheckInput, 'rows' | 'lines' | 'mapping' | 'numeric'>;

/** The rows of `req` in one call (a small dataset: the page does it in place). */
export function datasetRows(ds: RowsInput, req: RowsRequest): DatasetRows {
  let mapped: Row[];
  try {
    mapped = mapColumns(ds.rows, ds.mapping, mappingOptions(ds)).rows;
  } catch (e) {
    return { error: (e as Error).message, parts: {}, sizes: {} };
  }
  return selectParts(mapped, req);
}

/** datasetRows with the mapping in chunks (progress, `between()` to hear a cancel, AbortError on `signal`). */
export async function datasetRowsInChunks(
  ds: RowsInput,
  req: RowsRequest,
  o: { chunkRows?: number; onProgress?: (done: number, total: number) => void; between?: () => Promise<void>; signal?: AbortSignal } = {},
): Promise<DatasetRows> {
  const m = await mapInChunks(ds, { ...o, keepRows: true });
  if (m.error) return { error: m.error, parts: {}, sizes: {} };
  return selectParts(m.rows, req);
}
