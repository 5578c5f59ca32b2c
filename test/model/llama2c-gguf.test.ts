/**
 * bench/peers/llama2c-gguf.ts (stories260K as GGUF, for wllama): the GGUF must be the same model — our
 * engine loaded from it gives the .bin's logits exactly (same F32 weights, same row order), and its
 * embedded SPM vocabulary tokenizes text as the llama2.c tokenizer does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { llama2cAsGguf } from '../../bench/peers/llama2c-gguf';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { describeModel } from '../../src/model/describe';
import { loadModel } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';

const here = new URL('../../public/models/stories260K/', import.meta.url).pathname;

describe('llama2.c → GGUF (peers bench)', () => {
  it('stories260K: same logits and same tokens from the GGUF as from the .bin', async () => {
    const bin = new NodeFileSource(here + 'stories260K.bin');
    const tok = readFileSync(here + 'tok512.bin');
    const gguf = new BytesSource(await llama2cAsGguf(await describeModel(bin), bin, tok), 'stories260K.gguf');
    const gpu = await acquireNodeGpu();
    const a = await loadModel(gpu, bin, { tokenizer: new NodeFileSource(here + 'tok512.bin'), slots: 1, maxContext: 32 });
    const b = await loadModel(gpu, gguf, { slots: 1, maxContext: 32 });
    try {
      expect(b.desc.format).toBe('gguf');
      const text = 'Once upon a time, Lily saw a big red ball. "Hello!" she said.\n';
      const ids = a.tokenizer.encode(text, { bos: true });
      expect(b.tokenizer.encode(text, { bos: true })).toEqual(ids);
      expect(ids.length).toBeGreaterThan(8);
      const logits = async (e: typeof a) => {
        const T = ids.length;
        e.transformer.run({ ids: Uint32Array.from(ids), slot: new Uint32Array(T), pos: Uint32Array.from({ length: T }, (_, i) => i), logitRows: Uint32Array.of(T - 1) });
        return e.transformer.logits(1);
      };
      const la = await logits(a);
      const lb = await logits(b);
      expect(Array.from(lb)).toEqual(Array.from(la));
      expect(Math.max(...la) - Math.min(...la)).toBeGreaterThan(1);
    } finally {
      a.dispose();
      b.dispose();
    }
  }, 300_000);
});
