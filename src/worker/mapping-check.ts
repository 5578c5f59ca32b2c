/**
 * The mapping-check worker's message handler (mapping-check.worker.ts wires it to the worker global;
 * tests drive it directly). A dataset's rows are sent once and kept under a key, so a change of the
 * mapping costs the page a small message, not another copy of 500k rows; the check runs in chunks
 * (src/data/mapping-check.ts) and yields between them so a cancel is heard. The same worker maps and
 * splits a large dataset for a run, a Matrix evaluation or the Composer ('rows': src/data/dataset-rows.ts).
 */
import { datasetRowsInChunks, type DatasetRows, type RowsRequest } from '../data/dataset-rows';
import { checkMapping, type MappingCheck, type MappingCheckInput } from '../data/mapping-check';

/** Which rows (sent with `rows` once, afterwards named by `key` alone) under which mapping. */
interface MappingJob {
  id: number;
  /** Names the rows: sent with `rows` once, afterwards alone. */
  key: string;
  rows?: MappingCheckInput['rows'];
  lines?: MappingCheckInput['lines'];
  mapping: Record<string, string>;
  numeric: string[];
  chunkRows?: number;
}

export type MappingCheckRequest =
  | (MappingJob & { type: 'check' })
  /** The rows `request` asks for, mapped and split in the worker (a run, a Matrix evaluation, the Composer). */
  | (MappingJob & { type: 'rows'; request: RowsRequest })
  | { type: 'cancel'; id: number }
  /** Forget rows (the dataset was deleted). */
  | { type: 'drop'; key: string };

export type MappingCheckReply =
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'result'; id: number; result: MappingCheck }
  | { type: 'rows'; id: number; result: DatasetRows }
  /** The worker no longer holds the key's rows: send them again. */
  | { type: 'missing'; id: number }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; message: string };

/** Datasets whose rows are kept (the most recently checked): enough for switching between a few. */
export const HELD_DATASETS = 3;

export function createMappingCheckHandler(post: (m: MappingCheckReply, transfer?: Transferable[]) => void) {
  const held = new Map<string, { rows: MappingCheckInput['rows']; lines: MappingCheckInput['lines'] }>();
  const running = new Map<number, AbortController>();
  // A macrotask, so queued messages (a cancel) are handled between chunks.
  const yieldToQueue = () => new Promise<void>((r) => setTimeout(r, 0));

  async function check(m: Extract<MappingCheckRequest, { type: 'check' | 'rows' }>): Promise<void> {
    if (m.rows) {
      held.delete(m.key);
      held.set(m.key, { rows: m.rows, lines: m.lines ?? [] });
      while (held.size > HELD_DATASETS) held.delete(held.keys().next().value!);
    }
    const data = held.get(m.key);
    if (!data) return post({ type: 'missing', id: m.id });
    // Most recently used last.
    held.delete(m.key);
    held.set(m.key, data);
    const c = new AbortController();
    running.set(m.id, c);
    try {
      const ds = { ...data, mapping: m.mapping, numeric: m.numeric };
      const o = { chunkRows: m.chunkRows, signal: c.signal, between: yieldToQueue, onProgress: (done: number, total: number) => post({ type: 'progress', id: m.id, done, total }) };
      if (m.type === 'rows') {
        post({ type: 'rows', id: m.id, result: await datasetRowsInChunks(ds, m.request, o) });
      } else {
        const result = await checkMapping(ds, o);
        post({ type: 'result', id: m.id, result }, [result.kept.buffer]);
      }
    } catch (e) {
      if (c.signal.aborted) post({ type: 'cancelled', id: m.id });
      else post({ type: 'error', id: m.id, message: (e as Error)?.message ?? String(e) });
    } finally {
      running.delete(m.id);
    }
  }

  return {
    handle(m: MappingCheckRequest): Promise<void> | void {
      if (m.type === 'check' || m.type === 'rows') return check(m);
      if (m.type === 'cancel') running.get(m.id)?.abort();
      else held.delete(m.key);
    },
  };
}
