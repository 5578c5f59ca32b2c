import { describe, expect, it } from 'vitest';
import { CATALOG, DEFAULT_CATALOG_ID, catalogSource, describeTokenizer, hubUrl } from './catalog';

const HUB = /^https:\/\/huggingface\.co\/([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)\/resolve\/main\/([^?#]+\.gguf)$/;

describe('model catalog', () => {
  it('has unique ids and the shipped stories260K as its default', () => {
    const ids = CATALOG.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const def = CATALOG.find((e) => e.id === DEFAULT_CATALOG_ID)!;
    expect(def).toMatchObject({ origin: 'bundled', format: 'llama2c' });
    expect(def.url).not.toMatch(/^https?:/); // served from the app: works offline
    expect(def.tokenizer).toEqual({ kind: 'file', url: 'models/stories260K/tok512.bin' });
    expect(CATALOG[0]!.id).toBe(DEFAULT_CATALOG_ID);
  });

  it('every entry has a URL, a size and a tokenizer source', () => {
    for (const e of CATALOG) {
      expect(e.url, e.id).toBeTruthy();
      expect(e.name, e.id).toBeTruthy();
      expect(e.description.length, e.id).toBeGreaterThan(20);
      expect(Number.isSafeInteger(e.sizeBytes) && e.sizeBytes > 0, e.id).toBe(true);
      expect(e.params, e.id).toBeTruthy();
      expect(e.quant, e.id).toBeTruthy();
      if (e.tokenizer.kind === 'gguf') {
        expect(e.format, e.id).toBe('gguf');
        expect(e.tokenizer.upstream, e.id).toMatch(/^[\w.-]+\/[\w.-]+$/); // an HF repo id
      } else {
        expect(e.tokenizer.url, e.id).toMatch(/\.(bin|json)$/);
      }
      expect(describeTokenizer(e.tokenizer)).toBeTruthy();
    }
  });

  it('hub entries are https Hugging Face resolve links to single GGUF files', () => {
    const hub = CATALOG.filter((e) => e.origin === 'huggingface');
    expect(hub.length).toBeGreaterThanOrEqual(5);
    for (const e of hub) {
      const m = HUB.exec(e.url);
      expect(m, `${e.id}: ${e.url}`).not.toBeNull();
      expect(m![1]).toBe(e.repo);
      expect(m![2]).toBe(e.file);
      expect(e.url).toBe(hubUrl(e.repo!, e.file!));
      expect(e.format).toBe('gguf');
      // Split files (…-00001-of-00002.gguf) would need every part: the catalog holds single files.
      expect(e.file).not.toMatch(/-\d{5}-of-\d{5}\.gguf$/);
      // Real models are hundreds of MB to a few GB.
      expect(e.sizeBytes).toBeGreaterThan(100e6);
      expect(e.sizeBytes).toBeLessThan(10e9);
    }
  });

  it('offers the models the issue asks for', () => {
    const files = CATALOG.map((e) => `${e.repo}/${e.file}`);
    for (const want of [
      'TheBloke/Mistral-7B-v0.1-GGUF/mistral-7b-v0.1.Q4_0.gguf',
      'TheBloke/Llama-2-7B-GGUF/llama-2-7b.Q4_0.gguf',
      'bartowski/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf',
      'Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf',
      'HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf',
    ]) {
      expect(files).toContain(want);
    }
  });

  it('builds load sources with absolute URLs (the worker resolves against its own script)', () => {
    const base = 'http://127.0.0.1:4173/app/';
    const def = catalogSource(CATALOG.find((e) => e.id === DEFAULT_CATALOG_ID)!, base);
    expect(def).toEqual({
      kind: 'url',
      url: 'http://127.0.0.1:4173/app/models/stories260K/stories260K.bin',
      tokenizerUrl: 'http://127.0.0.1:4173/app/models/stories260K/tok512.bin',
      name: 'stories260K',
    });
    const mistral = catalogSource(CATALOG.find((e) => e.id === 'mistral-7b-v0.1-q4_0')!, base);
    expect(mistral.url).toBe('https://huggingface.co/TheBloke/Mistral-7B-v0.1-GGUF/resolve/main/mistral-7b-v0.1.Q4_0.gguf');
    expect(mistral.tokenizerUrl).toBeUndefined(); // the GGUF's own vocabulary
  });
});
