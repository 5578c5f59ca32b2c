/**
 * ByteSource implementations that work in the browser and in Node: HTTP(S) URLs with range
 * requests, Blobs/Files (drag and drop), and bytes already in memory.
 */
import type { ByteSource } from './source';

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The read was aborted.', 'AbortError');
}

function checkRange(name: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`${name}: invalid read of ${length} bytes at offset ${offset}.`);
  }
}

/** Bytes in memory (tests, generated models, files already downloaded). Reads are views, not copies. */
export class BytesSource implements ByteSource {
  constructor(
    private readonly bytes: Uint8Array,
    readonly name: string = 'memory',
  ) {}

  async size(): Promise<number> {
    return this.bytes.length;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(this.name, offset, length);
    if (signal?.aborted) throw abortError(signal);
    return this.bytes.subarray(Math.min(offset, this.bytes.length), Math.min(offset + length, this.bytes.length));
  }
}

/** A Blob or File (file picker, drag and drop): slices are read on demand, never the whole file. */
export class BlobSource implements ByteSource {
  readonly name: string;

  constructor(
    private readonly blob: Blob,
    name?: string,
  ) {
    this.name = name ?? ((blob as Partial<File>).name || 'blob');
  }

  async size(): Promise<number> {
    return this.blob.size;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(this.name, offset, length);
    if (signal?.aborted) throw abortError(signal);
    const buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    if (signal?.aborted) throw abortError(signal);
    return new Uint8Array(buf);
  }
}

export interface UrlSourceOptions {
  /** Injected fetch (tests, auth wrappers); defaults to the global one. */
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** Progress of the whole-file download used when the server ignores Range. */
  onProgress?: (loaded: number, total: number) => void;
}

/**
 * A file over HTTP(S). Reads use `Range: bytes=a-b`; a server that answers 200 instead of 206
 * ignores ranges, so the file is then downloaded once into memory and served from there.
 */
export class UrlSource implements ByteSource {
  readonly name: string;
  private readonly fetchFn: typeof fetch;
  private sizeKnown: number | null = null;
  /** The whole file, once a server without range support forced a full download. */
  private whole: Promise<Uint8Array> | null = null;

  constructor(
    readonly url: string,
    private readonly opts: UrlSourceOptions = {},
  ) {
    this.name = url;
    // Unbound global fetch throws "Illegal invocation" in browsers.
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private async request(method: string, range: string | null, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...this.opts.headers };
    if (range) headers['Range'] = range;
    let res: Response;
    try {
      res = await this.fetchFn(this.url, { method, headers, signal });
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw new Error(`Could not fetch ${this.url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return res;
  }

  private httpError(res: Response): Error {
    return new Error(`HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${this.url}`);
  }

  async size(signal?: AbortSignal): Promise<number> {
    if (this.sizeKnown !== null) return this.sizeKnown;
    // HEAD is cheapest, but some servers refuse it or omit Content-Length; a one-byte range is the fallback.
    const head = await this.request('HEAD', null, signal);
    const len = head.ok ? head.headers.get('content-length') : null;
    if (len !== null && /^\d+$/.test(len) && !head.headers.get('content-encoding')) {
      this.sizeKnown = Number(len);
      return this.sizeKnown;
    }
    if (!head.ok && head.status !== 405 && head.status !== 501) throw this.httpError(head);
    const res = await this.request('GET', 'bytes=0-0', signal);
    if (res.status === 206) {
      const total = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
      await res.body?.cancel();
      if (total) {
        this.sizeKnown = Number(total[1]);
        return this.sizeKnown;
      }
    } else if (!res.ok) {
      throw this.httpError(res);
    }
    // No usable size: the whole file tells us.
    const all = await this.downloadWhole(res.status === 200 ? res : null, signal);
    return all.length;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(this.name, offset, length);
    if (length === 0) return new Uint8Array(0);
    if (this.whole) {
      const all = await this.whole;
      return all.subarray(Math.min(offset, all.length), Math.min(offset + length, all.length));
    }
    const res = await this.request('GET', `bytes=${offset}-${offset + length - 1}`, signal);
    if (res.status === 206) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (signal?.aborted) throw abortError(signal);
      // A server may send more than asked (a bigger range it had cached); keep what was asked for.
      return bytes.length > length ? bytes.subarray(0, length) : bytes;
    }
    if (res.status === 416) {
      await res.body?.cancel();
      return new Uint8Array(0); // offset at or past the end
    }
    if (res.status === 200) {
      const all = await this.downloadWhole(res, signal);
      return all.subarray(Math.min(offset, all.length), Math.min(offset + length, all.length));
    }
    await res.body?.cancel();
    throw this.httpError(res);
  }

  /** Downloads the file once (reusing `res` if it is already a full 200 response), with progress. */
  private downloadWhole(res: Response | null, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.whole) {
      void res?.body?.cancel();
      return this.whole;
    }
    this.whole = (async () => {
      const r = res ?? (await this.request('GET', null, signal));
      if (!r.ok) throw this.httpError(r);
      const lenHeader = r.headers.get('content-length');
      const total = lenHeader && !r.headers.get('content-encoding') ? Number(lenHeader) : 0;
      const chunks: Uint8Array[] = [];
      let loaded = 0;
      if (r.body) {
        const reader = r.body.getReader();
        for (;;) {
          if (signal?.aborted) {
            await reader.cancel();
            throw abortError(signal);
          }
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          loaded += value.length;
          this.opts.onProgress?.(loaded, total);
        }
      }
      const all = new Uint8Array(loaded);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.sizeKnown = all.length;
      return all;
    })();
    // A failed or aborted download must not poison later reads.
    this.whole.catch(() => {
      this.whole = null;
    });
    return this.whole;
  }
}
