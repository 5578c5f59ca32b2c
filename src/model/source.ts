/**
 * A random-access byte source: a URL (HTTP range requests), a File/Blob, or a Node path.
 * Readers ask for ranges; the loader streams tensor bytes in chunks with progress.
 */
export interface ByteSource {
  /** Human-readable name for messages (file name or URL). */
  readonly name: string;
  /** Total size in bytes. */
  size(): Promise<number>;
  /** Bytes [offset, offset+length); fewer only at end of source. */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
}
