import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeModel, sniffFormat } from '../../src/model/describe';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { GgmlType, ModelFormatError } from '../../src/model/types';
import { publicPath } from '../helpers/fixtures';

const STORIES = publicPath('models/stories260K/stories260K.bin');

async function errorOf(p: Promise<unknown>): Promise<ModelFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError');
}

describe('describeModel sniffs the format', () => {
  it('GGUF', async () => {
    const src = new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.Q8_0 }), 'r.gguf');
    expect(await sniffFormat(src)).toBe('gguf');
    const d = await describeModel(src);
    expect(d.format).toBe('gguf');
    expect(d.config.arch).toBe('qwen2');
  });

  it('safetensors (with and without config.json)', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama', dtype: GgmlType.BF16 });
    const src = new BytesSource(bytes, 'model.safetensors');
    expect(await sniffFormat(src)).toBe('safetensors');
    expect((await describeModel(src, { configJson: config })).format).toBe('safetensors');
    const e = await errorOf(describeModel(src));
    expect(e.message).toMatch(/"model.safetensors" is a safetensors checkpoint; load its config.json/);
  });

  it('llama2.c (stories260K)', async () => {
    const src = new NodeFileSource(STORIES);
    expect(await sniffFormat(src)).toBe('llama2c');
    const d = await describeModel(src);
    expect(d.format).toBe('llama2c');
    expect(d.config.dModel).toBe(64);
  });

  it('truncated llama2.c: explains the size mismatch', async () => {
    const bytes = new Uint8Array(readFileSync(STORIES)).subarray(0, 500_000);
    const e = await errorOf(describeModel(new BytesSource(bytes, 'stories260K.bin')));
    expect(e.message).toMatch(/"stories260K.bin" is truncated: a llama2.c model with dim 64.* needs 1056540 bytes but the file has 500000/);
  });

  it('truncated GGUF', async () => {
    const b = randomGguf({ arch: 'llama', type: GgmlType.F16 });
    const e = await errorOf(describeModel(new BytesSource(b.subarray(0, b.length - 1), 'x.gguf')));
    expect(e.message).toMatch(/truncated.*1 missing.*download may be incomplete/);
  });

  it('unrecognised bytes', async () => {
    const noise = new Uint8Array(5000).map((_, i) => (i * 7919) % 251);
    const e = await errorOf(describeModel(new BytesSource(noise, 'noise.bin')));
    expect(e.message).toBe(
      '"noise.bin" (5000 bytes) is not a model file this workbench reads: it is not GGUF (no "GGUF" magic), ' +
        'not safetensors (no JSON header), and not a llama2.c checkpoint (its header does not match the file size).',
    );
    const e2 = await errorOf(describeModel(new BytesSource(new Uint8Array(3), 'tiny')));
    expect(e2.message).toMatch(/"tiny" \(3 bytes\) is not a model file/);
  });

  it('an HTML page served instead of the model', async () => {
    const html = new TextEncoder().encode('<!DOCTYPE html><html><body>Not found</body></html>');
    const e = await errorOf(describeModel(new BytesSource(html, 'https://example.org/m.gguf')));
    expect(e.message).toMatch(/is an HTML page, not a model file; check the URL/);
  });

  it('a tokenizer file is not a model', async () => {
    const e = await errorOf(describeModel(new NodeFileSource(publicPath('models/stories260K/tok512.bin'))));
    expect(e.message).toMatch(/is not a model file this workbench reads/);
  });
});
