/**
 * The page's side of the mapping-check worker: one request per check, rows sent once per dataset
 * (again only if the worker let them go), progress and cancellation through an AbortSignal.
 */
import type { DatasetRows, RowsRequest } from '../data/dataset-rows';
import type { MappingCheck, MappingCheckInput } from '../data/mapping-check';
import type { MappingCheckReply, MappingCheckRequest } from './mapping-check';

/** What the client needs of a Worker (or of an in-process stand-in in tests). */
export interface MappingCheckPort {
  postMessage(m: MappingCheckRequest): void;
  addEventListener(type: 'message', fn: (ev: { data: MappingCheckReply }) => void): void;
}

export interface CheckOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface MappingChecker {
  check(ds: MappingCheckInput, o?: CheckOptions): Promise<MappingCheck>;
  /** The rows `req` asks for (datasetRows of src/data/dataset-rows.ts), mapped and split in the worker. */
  rows(ds: MappingCheckInput, req: RowsRequest, o?: CheckOptions): Promise<DatasetRows>;
  /** The dataset is gone: the worker may drop its rows. */
  forget(rows: MappingCheckInput['rows']): void;
}

export function createMappingChecker(port: () => MappingCheckPort, opts: { chunkRows?: number } = {}): MappingChecker {
  let p: MappingCheckPort | null = null;
  let nextId = 1;
  let nextKey = 1;
  const keys = new WeakMap<object, string>();
  /** Keys whose rows the worker was sent (it may have let them go since: it then answers "missing"). */
  const sent = new Set<string>();
  const pending = new Map<
    number,
    { ds: MappingCheckInput; key: string; req?: RowsRequest; resolve(r: MappingCheck | DatasetRows): void; reject(e: unknown): void; onProgress?: (d: number, t: number) => void }
  >();

  const keyOf = (rows: object) => {
    let k = keys.get(rows);
    if (!k) keys.set(rows, (k = `rows-${nextKey++}`));
    return k;
  };

  function portOf(): MappingCheckPort {
    if (p) return p;
    p = port();
    p.addEventListener('message', ({ data: m }) => {
      const r = pending.get(m.id);
      if (!r) return;
      if (m.type === 'progress') return r.onProgress?.(m.done, m.total);
      if (m.type === 'missing') return send(m.id, r.ds, r.key, true, r.req);
      pending.delete(m.id);
      if (m.type === 'result' || m.type === 'rows') r.resolve(m.result);
      else if (m.type === 'cancelled') r.reject(new DOMException('The mapping check was cancelled.', 'AbortError'));
      else r.reject(new Error(m.message));
    });
    return p;
  }

  function send(id: number, ds: MappingCheckInput, key: string, withRows: boolean, req?: RowsRequest) {
    sent.add(key);
    portOf().postMessage({
      ...(req ? { type: 'rows' as const, request: req } : { type: 'check' as const }),
      id,
      key,
      mapping: ds.mapping,
      numeric: [...ds.numeric],
      ...(opts.chunkRows ? { chunkRows: opts.chunkRows } : {}),
      ...(withRows ? { rows: ds.rows, lines: ds.lines } : {}),
    });
  }

  function ask<T extends MappingCheck | DatasetRows>(ds: MappingCheckInput, o: CheckOptions, req?: RowsRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (o.signal?.aborted) return reject(new DOMException('The mapping check was cancelled.', 'AbortError'));
      const id = nextId++;
      const key = keyOf(ds.rows);
      pending.set(id, { ds, key, req, resolve: resolve as (r: MappingCheck | DatasetRows) => void, reject, onProgress: o.onProgress });
      o.signal?.addEventListener('abort', () => pending.has(id) && portOf().postMessage({ type: 'cancel', id }), { once: true });
      send(id, ds, key, !sent.has(key), req);
    });
  }

  return {
    check: (ds, o = {}) => ask<MappingCheck>(ds, o),
    rows: (ds, req, o = {}) => ask<DatasetRows>(ds, o, req),
    forget(rows) {
      const key = keys.get(rows);
      if (!key || !sent.has(key)) return;
      sent.delete(key);
      portOf().postMessage({ type: 'drop', key });
    },
  };
}

/** The real worker, started on first use. */
export function createMappingCheckWorker(): MappingCheckPort {
  return new Worker(new URL('./mapping-check.worker.ts', import.meta.url), { type: 'module', name: 'mapping-check' }) as unknown as MappingCheckPort;
}
