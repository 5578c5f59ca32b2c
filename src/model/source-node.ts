/**
 * A local file as a ByteSource, for Node (CLI, benchmarks, tests). Never imported by browser code.
 * Each read opens the file briefly, so a source needs no closing and holds no descriptor.
 */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './source';

export class NodeFileSource implements ByteSource {
  readonly name: string;

  constructor(readonly path: string) {
    this.name = basename(path);
  }

  async size(): Promise<number> {
    return (await stat(this.path)).size;
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`${this.name}: invalid read of ${length} bytes at offset ${offset}.`);
    }
    if (signal?.aborted) throw signal.reason;
    const fh = await open(this.path, 'r');
    try {
      const out = new Uint8Array(length);
      let got = 0;
      // A single read may return less than asked for large lengths; loop until EOF or full.
      while (got < length) {
        const { bytesRead } = await fh.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (signal?.aborted) throw signal.reason;
      }
      return got === length ? out : out.subarray(0, got);
    } finally {
      await fh.close();
    }
  }
}
