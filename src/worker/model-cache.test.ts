import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CachedUrlSource, deleteCachedModel, fetchCacheFirst, listCachedModels } from './model-cache';

/** A minimal CacheStorage in memory (Node has none). */
function fakeCaches() {
  const stores = new Map<string, Map<string, Response>>();
  const open = async (name: string) => {
    let m = stores.get(name);
    if (!m) stores.set(name, (m = new Map()));
    const map = m;
    return {
      match: async (url: string | Request) => map.get(typeof url === 'string' ? url : url.url)?.clone(),
      put: async (url: string, res: Response) => void map.set(url, res),
      keys: async () => [...map.keys()].map((u) => new Request(u)),
      delete: async (url: string) => map.delete(url),
    };
  };
  return { open, delete: async (name: string) => stores.delete(name), stores };
}

describe('model cache', () => {
  let saved: unknown;
  beforeEach(() => {
    saved = (globalThis as { caches?: unknown }).caches;
    (globalThis as { caches?: unknown }).caches = fakeCaches();
  });
  afterEach(() => {
    (globalThis as { caches?: unknown }).caches = saved;
  });

  const bytes = new Uint8Array(1000).map((_, i) => i % 251);
  const fetchCount = { n: 0 };
  const fakeFetch = (async () => {
    fetchCount.n++;
    return new Response(bytes, { headers: { 'content-length': '1000' } });
  }) as unknown as typeof fetch;

  it('downloads with progress, stores, then serves from the cache', async () => {
    fetchCount.n = 0;
    const progress: number[] = [];
    const a = await fetchCacheFirst('http://x/m.bin', { fetch: fakeFetch, onProgress: (l) => progress.push(l) });
    expect(a.fromCache).toBe(false);
    expect(progress.at(-1)).toBe(1000);
    const b = await fetchCacheFirst('http://x/m.bin', { fetch: fakeFetch });
    expect(b.fromCache).toBe(true);
    expect(new Uint8Array(await b.blob.arrayBuffer())).toEqual(bytes);
    expect(fetchCount.n).toBe(1);
    const list = await listCachedModels();
    expect(list).toMatchObject([{ url: 'http://x/m.bin', name: 'm.bin', size: 1000 }]);
    expect(await deleteCachedModel('http://x/m.bin')).toBe(true);
    expect(await listCachedModels()).toEqual([]);
  });

  it('a source reads ranges and only caches after commit()', async () => {
    const src = new CachedUrlSource('http://x/n.bin', { fetch: fakeFetch });
    expect(await src.size()).toBe(1000);
    expect(Array.from(await src.read(250, 3))).toEqual([250, 0, 1]);
    expect(await listCachedModels()).toEqual([]);
    expect(await src.commit()).toBe(true);
    expect((await listCachedModels()).map((e) => e.name)).toEqual(['n.bin']);
  });

  it('reports HTTP errors', async () => {
    const notFound = (async () => new Response('nope', { status: 404, statusText: 'Not Found' })) as unknown as typeof fetch;
    await expect(fetchCacheFirst('http://x/missing.bin', { fetch: notFound })).rejects.toThrow(/HTTP 404 Not Found for http:\/\/x\/missing.bin/);
  });
});
