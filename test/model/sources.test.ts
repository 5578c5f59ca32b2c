import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobSource, BytesSource, UrlSource } from '../../src/model/sources';
import { NodeFileSource } from '../../src/model/source-node';

const FILE = new Uint8Array(300_000).map((_, i) => (i * 31 + (i >> 8)) & 255);

interface Log {
  method: string;
  range: string | undefined;
}

/**
 * Serves FILE at /model.bin. `/norange/` ignores Range (answers 200 with everything), `/nohead/`
 * refuses HEAD, anything else is 404.
 */
function serve(req: IncomingMessage, res: ServerResponse, log: Log[]): void {
  log.push({ method: req.method!, range: req.headers.range });
  const url = req.url ?? '';
  if (!url.endsWith('/model.bin')) {
    res.writeHead(404, 'Not Found').end('nope');
    return;
  }
  if (url.startsWith('/nohead/') && req.method === 'HEAD') {
    res.writeHead(405, 'Method Not Allowed').end();
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (m && !url.startsWith('/norange/')) {
    const a = Number(m[1]);
    const b = Math.min(Number(m[2]), FILE.length - 1);
    if (a >= FILE.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${FILE.length}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Range': `bytes ${a}-${b}/${FILE.length}`, 'Content-Length': b - a + 1 });
    res.end(req.method === 'HEAD' ? undefined : FILE.subarray(a, b + 1));
    return;
  }
  res.writeHead(200, { 'Content-Length': FILE.length, 'Accept-Ranges': url.startsWith('/norange/') ? 'none' : 'bytes' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // Send in pieces so progress has steps to report.
  let at = 0;
  const pump = () => {
    while (at < FILE.length) {
      const piece = FILE.subarray(at, at + 65536);
      at += piece.length;
      if (!res.write(piece)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

/** Byte equality without vitest's slow element-by-element diff. */
function expectBytes(got: Uint8Array, want: Uint8Array): void {
  expect(got.length).toBe(want.length);
  expect(Buffer.compare(got, want)).toBe(0);
}

let server: Server;
let base: string;
const log: Log[] = [];

beforeAll(async () => {
  server = createServer((req, res) => serve(req, res, log));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('UrlSource', () => {
  it('with Range support: size from HEAD, reads are ranges', async () => {
    log.length = 0;
    const src = new UrlSource(`${base}/model.bin`);
    expect(src.name).toBe(`${base}/model.bin`);
    expect(await src.size()).toBe(FILE.length);
    expectBytes(await src.read(1000, 50), FILE.slice(1000, 1050));
    expectBytes(await src.read(FILE.length - 10, 100), FILE.slice(FILE.length - 10));
    expect(await src.read(FILE.length + 5, 10)).toEqual(new Uint8Array(0));
    expect(await src.read(7, 0)).toEqual(new Uint8Array(0));
    expect(log.map((l) => `${l.method} ${l.range ?? ''}`)).toEqual([
      'HEAD ',
      'GET bytes=1000-1049',
      `GET bytes=${FILE.length - 10}-${FILE.length + 89}`,
      `GET bytes=${FILE.length + 5}-${FILE.length + 14}`,
    ]);
  });

  it('without HEAD: size from a one-byte range', async () => {
    log.length = 0;
    const src = new UrlSource(`${base}/nohead/model.bin`);
    expect(await src.size()).toBe(FILE.length);
    expect(log.map((l) => `${l.method} ${l.range ?? ''}`)).toEqual(['HEAD ', 'GET bytes=0-0']);
  });

  it('server ignoring Range: one full download with progress, then reads from memory', async () => {
    log.length = 0;
    const progress: Array<[number, number]> = [];
    const src = new UrlSource(`${base}/norange/model.bin`, { onProgress: (l, t) => progress.push([l, t]) });
    expect(await src.size()).toBe(FILE.length);
    const [a, b] = await Promise.all([src.read(10, 20), src.read(299_990, 20)]);
    expectBytes(a, FILE.slice(10, 30));
    expectBytes(b, FILE.slice(299_990));
    expectBytes(await src.read(123_456, 1000), FILE.slice(123_456, 124_456));
    const gets = log.filter((l) => l.method === 'GET');
    // The first ranged GET got the whole file (200); the concurrent one may have started before
    // we knew, but no read after the download goes to the network.
    expect(gets.length).toBeLessThanOrEqual(2);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual([FILE.length, FILE.length]);
  });

  it('abort during the full download leaves the source usable', async () => {
    const ac = new AbortController();
    const src = new UrlSource(`${base}/norange/model.bin`, { onProgress: () => ac.abort(new Error('user cancelled')) });
    await expect(src.read(0, 10, ac.signal)).rejects.toThrow();
    expectBytes(await src.read(0, 10), FILE.slice(0, 10));
  });

  it('HTTP errors name the status and URL', async () => {
    const src = new UrlSource(`${base}/missing.bin`);
    await expect(src.size()).rejects.toThrow(`HTTP 404 Not Found for ${base}/missing.bin`);
    await expect(src.read(0, 10)).rejects.toThrow(`HTTP 404 Not Found for ${base}/missing.bin`);
  });

  it('network errors name the URL', async () => {
    const src = new UrlSource('http://127.0.0.1:1/x.bin');
    await expect(src.read(0, 10)).rejects.toThrow(/Could not fetch http:\/\/127.0.0.1:1\/x.bin/);
  });

  it('abort', async () => {
    const src = new UrlSource(`${base}/model.bin`);
    const ac = new AbortController();
    ac.abort(new Error('stop it'));
    await expect(src.read(0, 10, ac.signal)).rejects.toThrow('stop it');
  });

  it('custom fetch and headers', async () => {
    const seen: Array<Record<string, string>> = [];
    const src = new UrlSource(`${base}/model.bin`, {
      headers: { Authorization: 'Bearer x' },
      fetch: (input, init) => {
        seen.push(init?.headers as Record<string, string>);
        return fetch(input, init);
      },
    });
    expectBytes(await src.read(5, 5), FILE.slice(5, 10));
    expect(seen[0]).toEqual({ Authorization: 'Bearer x', Range: 'bytes=5-9' });
  });
});

describe('BlobSource, BytesSource, NodeFileSource', () => {
  it('BlobSource reads slices and takes the File name', async () => {
    const file = new File([FILE], 'drop.gguf');
    const src = new BlobSource(file);
    expect(src.name).toBe('drop.gguf');
    expect(new BlobSource(new Blob([FILE]), 'x').name).toBe('x');
    expect(await src.size()).toBe(FILE.length);
    expectBytes(await src.read(100, 10), FILE.slice(100, 110));
    expectBytes(await src.read(FILE.length - 3, 10), FILE.slice(FILE.length - 3));
  });

  it('BytesSource', async () => {
    const src = new BytesSource(FILE, 'mem');
    expect(await src.size()).toBe(FILE.length);
    expectBytes(await src.read(7, 3), FILE.slice(7, 10));
    expect(await src.read(FILE.length + 1, 3)).toEqual(new Uint8Array(0));
    await expect(src.read(-1, 3)).rejects.toThrow(RangeError);
  });

  it('NodeFileSource', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'src-'));
    try {
      const path = join(dir, 'f.bin');
      writeFileSync(path, FILE);
      const src = new NodeFileSource(path);
      expect(src.name).toBe('f.bin');
      expect(await src.size()).toBe(FILE.length);
      expectBytes(await src.read(299_000, 5000), FILE.slice(299_000));
      expectBytes(await src.read(0, FILE.length), FILE);
      await expect(new NodeFileSource(join(dir, 'none')).size()).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
