/**
 * The Model panel's catalog: the shipped stories260K (default; loads instantly, offline) and ready
 * entries for real GGUF files on the Hugging Face hub. Hub files load with HTTP Range requests for
 * the header (the pre-load inspection) and one download for the weights, which then stays in the
 * browser's model cache.
 */

/** Where the tokenizer comes from. */
export type CatalogTokenizer =
  /** The vocabulary inside the GGUF (tokenizer.ggml.*), converted from `upstream`'s tokenizer. */
  | { kind: 'gguf'; upstream: string }
  /** A separate file: llama2.c tokenizer.bin or a Hugging Face tokenizer.json (path or absolute URL). */
  | { kind: 'file'; url: string };

export interface CatalogEntry {
  id: string;
  name: string;
  description: string;
  /** bundled: ships in public/ (relative URL); huggingface: a hub file (absolute `resolve/main` URL). */
  origin: 'bundled' | 'huggingface';
  /** Model file, relative to the page (resolved with `resolveUrl`) or absolute. */
  url: string;
  /** Hub repository (owner/name) and file, for huggingface entries. */
  repo?: string;
  file?: string;
  tokenizer: CatalogTokenizer;
  /** Approximate download size in bytes (from the hub's file list), for display. */
  sizeBytes: number;
  format: 'llama2c' | 'gguf' | 'safetensors';
  /** Parameter count in words ("7.2B") and the file's quantization, for display. */
  params: string;
  quant: string;
}

/** `https://huggingface.co/<repo>/resolve/main/<file>`: a hub file's download URL (follows to the CDN, honours Range). */
export function hubUrl(repo: string, file: string): string {
  return `https://huggingface.co/${repo}/resolve/main/${file.split('/').map(encodeURIComponent).join('/')}`;
}

function hub(e: Omit<CatalogEntry, 'origin' | 'url' | 'format'> & { repo: string; file: string }): CatalogEntry {
  return { ...e, origin: 'huggingface', format: 'gguf', url: hubUrl(e.repo, e.file) };
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'stories260K',
    name: 'stories260K',
    description: 'A 260K-parameter Llama trained on TinyStories (llama2.c format, 512-token vocabulary). Ships with the app; works offline.',
    origin: 'bundled',
    url: 'models/stories260K/stories260K.bin',
    tokenizer: { kind: 'file', url: 'models/stories260K/tok512.bin' },
    sizeBytes: 1_062_767,
    format: 'llama2c',
    params: '260K',
    quant: 'F32',
  },
  hub({
    id: 'smollm2-360m-instruct-q8_0',
    name: 'SmolLM2-360M-Instruct Q8_0',
    description: 'Hugging Face SmolLM2, 360M parameters (llama architecture, 32 layers, 49K vocabulary, 8K context). Small: good first hub model.',
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct-GGUF',
    file: 'smollm2-360m-instruct-q8_0.gguf',
    tokenizer: { kind: 'gguf', upstream: 'HuggingFaceTB/SmolLM2-360M-Instruct' },
    sizeBytes: 386_000_000,
    params: '362M',
    quant: 'Q8_0',
  }),
  hub({
    id: 'qwen2.5-0.5b-instruct-q8_0',
    name: 'Qwen2.5-0.5B-Instruct Q8_0',
    description: 'Qwen2.5, 0.5B parameters (qwen2 architecture: q/k/v biases, NeoX RoPE, tied embeddings, 152K byte-level BPE vocabulary).',
    repo: 'Qwen/Qwen2.5-0.5B-Instruct-GGUF',
    file: 'qwen2.5-0.5b-instruct-q8_0.gguf',
    tokenizer: { kind: 'gguf', upstream: 'Qwen/Qwen2.5-0.5B-Instruct' },
    sizeBytes: 676_000_000,
    params: '494M',
    quant: 'Q8_0',
  }),
  hub({
    id: 'tinyllama-1.1b-chat-q4_0',
    name: 'TinyLlama-1.1B-Chat v1.0 Q4_0',
    description: 'TinyLlama, 1.1B parameters (Llama 2 architecture and 32K SentencePiece vocabulary, GQA with 4 KV heads).',
    repo: 'TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF',
    file: 'tinyllama-1.1b-chat-v1.0.Q4_0.gguf',
    tokenizer: { kind: 'gguf', upstream: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' },
    sizeBytes: 638_000_000,
    params: '1.1B',
    quant: 'Q4_0',
  }),
  hub({
    id: 'mistral-7b-v0.1-q4_0',
    name: 'Mistral-7B-v0.1 Q4_0',
    description: 'Mistral 7B base (32 layers, d 4096, GQA 32/8 heads, 32K SentencePiece vocabulary). Needs a GPU with ≈ 5 GB free.',
    repo: 'TheBloke/Mistral-7B-v0.1-GGUF',
    file: 'mistral-7b-v0.1.Q4_0.gguf',
    tokenizer: { kind: 'gguf', upstream: 'mistralai/Mistral-7B-v0.1' },
    sizeBytes: 4_110_000_000,
    params: '7.2B',
    quant: 'Q4_0',
  }),
  hub({
    id: 'llama-2-7b-q4_0',
    name: 'Llama-2-7B Q4_0',
    description: "Meta's Llama 2 7B base (32 layers, d 4096, 32 heads, 4K context, 32K SentencePiece vocabulary). Needs a GPU with ≈ 5 GB free.",
    repo: 'TheBloke/Llama-2-7B-GGUF',
    file: 'llama-2-7b.Q4_0.gguf',
    tokenizer: { kind: 'gguf', upstream: 'meta-llama/Llama-2-7b-hf' },
    sizeBytes: 3_830_000_000,
    params: '6.7B',
    quant: 'Q4_0',
  }),
  hub({
    id: 'qwen2.5-7b-instruct-q4_k_m',
    name: 'Qwen2.5-7B-Instruct Q4_K_M',
    description:
      'Qwen2.5 7B instruct (28 layers, d 3584, GQA 28/4 heads, 152K vocabulary; Q4_K with Q6_K tensors). A single file (the Qwen repo splits it in parts). Needs ≈ 6 GB free; its output matrix is one ≈ 450 MB buffer.',
    repo: 'bartowski/Qwen2.5-7B-Instruct-GGUF',
    file: 'Qwen2.5-7B-Instruct-Q4_K_M.gguf',
    tokenizer: { kind: 'gguf', upstream: 'Qwen/Qwen2.5-7B-Instruct' },
    sizeBytes: 4_680_000_000,
    params: '7.6B',
    quant: 'Q4_K_M',
  }),
];

export const DEFAULT_CATALOG_ID = 'stories260K';

/** Absolute URL of a catalog path: the worker resolves relative URLs against its own script, not the page. */
export function resolveUrl(path: string, base: string = globalThis.document?.baseURI ?? globalThis.location?.href ?? 'http://localhost/'): string {
  return new URL(path, base).href;
}

/** The model source a catalog entry loads (and is inspected) from, with absolute URLs. */
export function catalogSource(entry: CatalogEntry, base?: string): { kind: 'url'; url: string; tokenizerUrl?: string; name: string } {
  return {
    kind: 'url',
    url: resolveUrl(entry.url, base),
    tokenizerUrl: entry.tokenizer.kind === 'file' ? resolveUrl(entry.tokenizer.url, base) : undefined,
    name: entry.name,
  };
}

/** "embedded GGUF vocabulary (from Qwen/Qwen2.5-7B-Instruct)" / "tok512.bin". */
export function describeTokenizer(t: CatalogTokenizer): string {
  if (t.kind === 'gguf') return `in the GGUF (vocabulary of ${t.upstream})`;
  return t.url.split('/').pop() ?? t.url;
}
