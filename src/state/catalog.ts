/** Models the app offers without a download from elsewhere. Paths are relative to the app's base URL. */
export interface CatalogEntry {
  id: string;
  name: string;
  description: string;
  /** Model file, relative to the page (resolved with `resolveUrl`). */
  url: string;
  tokenizerUrl?: string;
  /** Approximate download size in bytes, for display. */
  sizeBytes: number;
  format: 'llama2c' | 'gguf' | 'safetensors';
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'stories260K',
    name: 'stories260K',
    description: 'A 260K-parameter Llama trained on TinyStories (llama2.c format, 512-token vocabulary). Ships with the app; works offline.',
    url: 'models/stories260K/stories260K.bin',
    tokenizerUrl: 'models/stories260K/tok512.bin',
    sizeBytes: 1_062_767,
    format: 'llama2c',
  },
];

export const DEFAULT_CATALOG_ID = 'stories260K';

/** Absolute URL of a catalog path: the worker resolves relative URLs against its own script, not the page. */
export function resolveUrl(path: string, base: string = globalThis.document?.baseURI ?? globalThis.location?.href ?? 'http://localhost/'): string {
  return new URL(path, base).href;
}
