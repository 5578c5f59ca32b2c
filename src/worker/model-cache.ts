/**
 * Downloaded model files in the browser's Cache API: the worker loads URLs cache-first (a second
 * load of the same URL reads from disk, offline too), and the Model panel lists and deletes them.
 * Works in the page and in the worker (both have `caches` in secure contexts, localhost included).
 */
import type { ByteSource } from '../model/source';

export const MODEL_CACHE = 'tag-workbench-models-v1';

export interface CachedModelEntry {
  url: string;
  /** File name (last path segment). */
  name: string;
  size: number;
  /** ISO time it was stored ('' when unknown). */
  cachedAt: string;
}

function cacheStorage(): CacheStorage | null {
  return typeof globalThis.caches !== 'undefined' ? globalThis.caches : null;
}

export function fileNameOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? url);
  } catch {
    return url;
  }
}

export async function listCachedModels(): Promise<CachedModelEntry[]> {
  const cs = cacheStorage();
  if (!cs) return [];
  const cache = await cs.open(MODEL_CACHE);
  const out: CachedModelEntry[] = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const len = Number(res?.headers.get('content-length') ?? NaN);
    const size = Number.isFinite(len) ? len : ((await res?.clone().blob())?.size ?? 0);
    out.push({ url: req.url, name: fileNameOf(req.url), size, cachedAt: res?.headers.get('x-cached-at') ?? '' });
  }
  return out.sort((a, b) => a.url.localeCompare(b.url));
}

export async function deleteCachedModel(url: string): Promise<boolean> {
  const cs = cacheStorage();
  if (!cs) return false;
  return (await cs.open(MODEL_CACHE)).delete(url);
}

export async function clearModelCache(): Promise<boolean> {
  const cs = cacheStorage();
  return cs ? cs.delete(MODEL_CACHE) : false;
}

function abortError(signal?: AbortSignal): unknown {
  return signal?.reason ?? new DOMException('The download was cancelled.', 'AbortError');
}

/** The cached copy of `url`, or null (no cache, not cached, or the cache failed). */
export async function cachedModelBlob(url: string): Promise<Blob | null> {
  const cs = cacheStorage();
  if (!cs) return null;
  try {
    const hit = await (await cs.open(MODEL_CACHE)).match(url);
    return hit ? await hit.blob() : null;
  } catch {
    return null;
  }
}

/** Stores a downloaded file in the model cache (quota errors are reported, not thrown). */
export async function storeInCache(url: string, blob: Blob): Promise<boolean> {
  const cs = cacheStorage();
  if (!cs) return false;
  try {
    const cache = await cs.open(MODEL_CACHE);
    await cache.put(
      url,
      new Response(blob, {
        headers: { 'content-type': blob.type || 'application/octet-stream', 'content-length': String(blob.size), 'x-cached-at': new Date().toISOString() },
      }),
    );
    return true;
  } catch (e) {
    console.warn(`Model cache: could not store ${url}:`, e);
    return false;
  }
}

/**
 * The whole file at `url`: from the cache when it is there, else downloaded (with progress) and,
 * unless `store` is false, stored. A file the cache refuses (quota) is still returned, just not kept.
 */
export async function fetchCacheFirst(
  url: string,
  opts: { signal?: AbortSignal; onProgress?: (loaded: number, total: number) => void; fetch?: typeof fetch; store?: boolean } = {},
): Promise<{ blob: Blob; fromCache: boolean }> {
  const cs = cacheStorage();
  const cache = cs ? await cs.open(MODEL_CACHE).catch(() => null) : null;
  if (cache) {
    const hit = await cache.match(url);
    if (hit) {
      const blob = await hit.blob();
      opts.onProgress?.(blob.size, blob.size);
      return { blob, fromCache: true };
    }
  }
  const doFetch = opts.fetch ?? ((i: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(i, init));
  let res: Response;
  try {
    res = await doFetch(url, { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    throw new Error(`Could not fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${url}`);
  const total = Number(res.headers.get('content-length') ?? 0) || 0;
  const chunks: BlobPart[] = [];
  let loaded = 0;
  if (res.body) {
    const reader = res.body.getReader();
    let lastReport = 0;
    for (;;) {
      if (opts.signal?.aborted) {
        await reader.cancel().catch(() => {});
        throw abortError(opts.signal);
      }
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value as Uint8Array<ArrayBuffer>);
      loaded += value.length;
      if (loaded - lastReport > 256 << 10 || loaded === total) {
        lastReport = loaded;
        opts.onProgress?.(loaded, total);
      }
    }
  } else {
    const buf = await res.arrayBuffer();
    chunks.push(buf);
    loaded = buf.byteLength;
  }
  const blob = new Blob(chunks, { type: res.headers.get('content-type') ?? 'application/octet-stream' });
  opts.onProgress?.(blob.size, blob.size);
  if (cache && opts.store !== false) await storeInCache(url, blob);
  return { blob, fromCache: false };
}

/**
 * A ByteSource over a URL, read through the model cache (downloaded whole on first use). A fresh
 * download is only stored by `commit()`, which the loader calls once the model loaded: a URL that
 * answers with something else (an HTML error page) never enters the cache.
 */
export class CachedUrlSource implements ByteSource {
  readonly name: string;
  private blob: Promise<Blob> | null = null;
  private downloaded: Blob | null = null;

  constructor(
    readonly url: string,
    private readonly opts: { onProgress?: (loaded: number, total: number) => void; fetch?: typeof fetch; signal?: AbortSignal } = {},
  ) {
    this.name = url;
  }

  private get(signal?: AbortSignal): Promise<Blob> {
    if (!this.blob) {
      const p = fetchCacheFirst(this.url, { ...this.opts, signal: signal ?? this.opts.signal, store: false }).then((r) => {
        if (!r.fromCache) this.downloaded = r.blob;
        return r.blob;
      });
      this.blob = p;
      p.catch(() => {
        if (this.blob === p) this.blob = null;
      });
    }
    return this.blob;
  }

  async size(signal?: AbortSignal): Promise<number> {
    return (await this.get(signal)).size;
  }

  /** Keeps a fresh download in the cache (call after the file proved to be a model). */
  async commit(): Promise<boolean> {
    const b = this.downloaded;
    this.downloaded = null;
    return b ? storeInCache(this.url, b) : false;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`${this.name}: invalid read of ${length} bytes at offset ${offset}.`);
    }
    const blob = await this.get(signal);
    if (signal?.aborted) throw abortError(signal);
    return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
  }
}
