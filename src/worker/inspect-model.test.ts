/**
 * The worker's inspectModel request: the real handler over a fake engine (no GPU), reading GGUF
 * headers from a local HTTP server with Range support, from Files, and failing clearly on
 * unreachable hosts, missing files and non-models.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerOnlyGguf, REAL_SHAPES, sparseSlice } from '../model/header-only';
import { randomGguf } from '../model/random-model';
import { GgmlType } from '../model/types';
import { EngineClient } from './client';
import { fakeClient, fakeEngine, InProcessWorker } from '../../test/worker/fake-engine';

interface Served {
  header: Uint8Array;
  size: number;
}

/** A static file server with HEAD and single Range requests (what the hub's CDN answers), counting the bytes it sends. */
function startServer(files: Record<string, Served>) {
  const stats = { bytesSent: 0, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    stats.requests.push(`${req.method} ${path} ${req.headers.range ?? ''}`.trim());
    const f = files[path];
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': String(f.size) }).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      // The whole file: what a server without Range support sends (too big to send here).
      res.writeHead(500).end('this test server only serves ranges');
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(f.size - 1, m[2] ? Number(m[2]) : f.size - 1);
    if (start >= f.size) {
      res.writeHead(416, { 'content-range': `bytes */${f.size}` }).end();
      return;
    }
    const body = sparseSlice(f.header, f.size, start, end - start + 1);
    stats.bytesSent += body.length;
    res.writeHead(206, { ...headers, 'content-length': String(body.length), 'content-range': `bytes ${start}-${end}/${f.size}` }).end(body);
  });
  return { server, stats };
}

const mistral = headerOnlyGguf(REAL_SHAPES.mistral7bQ4_0);
const tiny = randomGguf({ arch: 'llama', type: GgmlType.Q4_0, includeTokenizer: true });
const { server, stats } = startServer({
  '/TheBloke/Mistral-7B-v0.1-GGUF/resolve/main/mistral-7b-v0.1.Q4_0.gguf': { header: mistral.header, size: mistral.fileSize },
  '/tiny.gguf': { header: tiny, size: tiny.length },
  '/page.html': { header: new TextEncoder().encode('<!doctype html><html><body>Sign in</body></html>'), size: 48 },
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A client over the real handler whose URL inspection uses the default source (UrlSource, HTTP Range). */
function httpClient() {
  const { deps } = fakeEngine();
  const { inspectSource: _unused, ...rest } = deps;
  void _unused;
  return new EngineClient(new InProcessWorker(rest));
}

describe('inspectModel over HTTP (Range requests)', () => {
  it('inspects a 4 GB file by its header only', async () => {
    const client = httpClient();
    stats.bytesSent = 0;
    const url = `${base}/TheBloke/Mistral-7B-v0.1-GGUF/resolve/main/mistral-7b-v0.1.Q4_0.gguf`;
    const ins = await client.request('inspectModel', { source: { kind: 'url', url, name: 'Mistral-7B-v0.1 Q4_0' } });
    expect(ins.fileBytes).toBe(mistral.fileSize);
    expect(ins.config).toMatchObject({ arch: 'llama', nLayers: 32, dModel: 4096 });
    expect(ins.estimate.total).toBeGreaterThan(5e9);
    expect(ins.largestTensor).toMatchObject({ name: 'output.weight', type: 'Q6_K' });
    expect(ins.tokenizer.kind).toBe('embedded');
    // Only the header crossed the wire.
    expect(stats.bytesSent).toBeLessThan(2 * 2 ** 20);
    expect(ins.bytesRead).toBe(stats.bytesSent);
    expect(stats.requests.some((r) => r.startsWith('HEAD'))).toBe(true);
  });

  it('passes the load options through to the estimate', async () => {
    const client = httpClient();
    const ins = await client.request('inspectModel', { source: { kind: 'url', url: `${base}/tiny.gguf` }, maxContext: 64, slots: 2 });
    expect(ins.shape).toMatchObject({ maxContext: 64, slots: 2 });
    expect(ins.estimate.kv).toBe(2 * ins.config.nLayers * 2 * 64 * ins.config.nKvHeads * ins.config.headDim * 4);
    expect(ins.fileBytes).toBe(tiny.length);
  });

  it('names a tokenizer URL given beside the model without fetching it', async () => {
    const client = httpClient();
    stats.requests.length = 0;
    const ins = await client.request('inspectModel', {
      source: { kind: 'url', url: `${base}/tiny.gguf`, tokenizerUrl: `${base}/tokenizer.json` },
    });
    expect(ins.tokenizer).toEqual({ kind: 'file', detail: 'tokenizer.json' });
    expect(stats.requests.some((r) => r.includes('tokenizer.json'))).toBe(false);
  });

  it('fails clearly for a missing file, an HTML page and an unreachable host', async () => {
    const client = httpClient();
    await expect(client.request('inspectModel', { source: { kind: 'url', url: `${base}/nope.gguf` } })).rejects.toMatchObject({
      message: expect.stringMatching(/HTTP 404.*nope\.gguf/),
    });
    await expect(client.request('inspectModel', { source: { kind: 'url', url: `${base}/page.html` } })).rejects.toMatchObject({
      name: 'ModelFormatError',
      message: expect.stringMatching(/HTML page/),
    });
    // A port nobody listens on: what an unreachable hub looks like.
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await expect(client.request('inspectModel', { source: { kind: 'url', url: `http://127.0.0.1:${port}/m.gguf` } })).rejects.toMatchObject({
      message: expect.stringMatching(/Could not fetch http:\/\/127\.0\.0\.1:\d+\/m\.gguf/),
    });
  });
});

describe('inspectModel (fake engine)', () => {
  it('reads a File by slices and does not need the GPU', async () => {
    const { client } = fakeClient({ gpuError: new Error('no adapter') });
    const file = new File([tiny.slice()], 'tiny.gguf');
    const ins = await client.request('inspectModel', { source: { kind: 'file', file } });
    expect(ins).toMatchObject({ source: 'tiny.gguf', format: 'gguf', fileBytes: tiny.length });
  });

  it('uses the engine’s inspection source for URLs (the worker reads cached files from there)', async () => {
    const { client, calls } = fakeClient({ inspectFiles: { 'http://hub/m.gguf': tiny } });
    const ins = await client.request('inspectModel', { source: { kind: 'url', url: 'http://hub/m.gguf' } });
    expect(ins.fileBytes).toBe(tiny.length);
    expect(calls.inspected).toEqual(['http://hub/m.gguf']);
    expect(calls.load).toHaveLength(0);
  });

  it('is cancelled at once even while the host stalls', async () => {
    const never = { name: 'slow', size: () => new Promise<number>(() => {}), read: () => new Promise<Uint8Array>(() => {}) };
    const { client } = fakeClient({ inspectFiles: { 'http://hub/slow.gguf': never } });
    const ctrl = new AbortController();
    const p = client.request('inspectModel', { source: { kind: 'url', url: 'http://hub/slow.gguf' } }, { signal: ctrl.signal });
    await new Promise((r) => setTimeout(r, 10));
    ctrl.abort();
    // The source never answers (a stalled host): the cancel still ends the request at once.
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('inspectModel cancelled while its source opens', () => {
  it('answers AbortError and leaves no unhandled rejection behind (the worker would report it as fatal)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const bytes = tiny;
      const { deps } = fakeEngine();
      // Opening the source takes a moment (the cache lookup in the browser): the cancel lands first.
      deps.inspectSource = async (url) => {
        await new Promise((r) => setTimeout(r, 20));
        const { BytesSource } = await import('../model/sources');
        return new BytesSource(bytes, url);
      };
      const client = new EngineClient(new InProcessWorker(deps));
      const fatal: unknown[] = [];
      client.onBroadcast((m) => fatal.push(m));
      const controller = new AbortController();
      const call = client.request('inspectModel', { source: { kind: 'url', url: 'http://x/m.gguf' } }, { signal: controller.signal });
      controller.abort();
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      expect(fatal).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
