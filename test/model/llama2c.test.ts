import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeLlama2c, llama2cExpectedSize, parseLlama2cHeader } from '../../src/model/llama2c';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { ModelFormatError, TensorNames } from '../../src/model/types';
import { publicPath } from '../helpers/fixtures';

const PATH = publicPath('models/stories260K/stories260K.bin');
const FILE_SIZE = 1056540;

async function errorOf(p: Promise<unknown>): Promise<ModelFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError');
}

/** A synthetic v0 checkpoint whose every f32 is its own index, so offsets can be checked by value. */
function synthetic(h: number[]): Uint8Array {
  const head = new Int32Array(h);
  const parsed = parseLlama2cHeader(new Uint8Array(head.buffer))!;
  const size = llama2cExpectedSize(parsed);
  const out = new Uint8Array(size);
  out.set(new Uint8Array(head.buffer));
  const f = new Float32Array(out.buffer, 28, (size - 28) / 4);
  for (let i = 0; i < f.length; i++) f[i] = i;
  return out;
}

describe('llama2.c v0 checkpoints', () => {
  it('stories260K: config', async () => {
    const desc = await describeLlama2c(new NodeFileSource(PATH));
    expect(desc.format).toBe('llama2c');
    expect(desc.config).toEqual({
      arch: 'llama',
      name: 'stories260K',
      dModel: 64,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      headDim: 8,
      dFF: 172,
      vocabSize: 512,
      maxSeqLen: 512,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'normal',
      ropeScale: 1,
      qkvBias: false,
      tiedEmbeddings: true,
    });
    expect(desc.tokenizer).toEqual({ kind: 'none' });
    expect(desc.bosId).toBe(1);
    expect(desc.eosId).toBe(2);
    expect(desc.metadata['vocab_size']).toBe(512);
  });

  it('stories260K: tensor offsets and shapes', async () => {
    const desc = await describeLlama2c(new NodeFileSource(PATH));
    const t = desc.tensors;
    expect(t.size).toBe(2 + 5 * 9);
    expect(t.has(TensorNames.output)).toBe(false);
    const embd = 512 * 64 * 4;
    expect(t.get(TensorNames.tokEmbd)).toEqual({ name: 'token_embd.weight', type: 0, shape: [512, 64], offset: 28, bytes: embd });
    expect(t.get(TensorNames.attnNorm(0))!.offset).toBe(28 + embd);
    expect(t.get(TensorNames.attnNorm(4))!.offset).toBe(28 + embd + 4 * 64 * 4);
    const wq0 = 28 + embd + 5 * 64 * 4;
    expect(t.get(TensorNames.wq(0))).toMatchObject({ shape: [64, 64], offset: wq0, bytes: 64 * 64 * 4 });
    expect(t.get(TensorNames.wq(1))!.offset).toBe(wq0 + 64 * 64 * 4);
    const wk0 = wq0 + 5 * 64 * 64 * 4;
    expect(t.get(TensorNames.wk(0))).toMatchObject({ shape: [32, 64], offset: wk0, bytes: 32 * 64 * 4 });
    expect(t.get(TensorNames.wv(0))!.offset).toBe(wk0 + 5 * 32 * 64 * 4);
    expect(t.get(TensorNames.wGate(0))!.shape).toEqual([172, 64]);
    expect(t.get(TensorNames.wDown(0))!.shape).toEqual([64, 172]);
    expect(t.get(TensorNames.wUp(0))!.shape).toEqual([172, 64]);
    // w1 (gate), w2 (down), w3 (up) follow each other in that order.
    expect(t.get(TensorNames.wDown(0))!.offset).toBe(t.get(TensorNames.wGate(4))!.offset + 172 * 64 * 4);
    expect(t.get(TensorNames.wUp(0))!.offset).toBe(t.get(TensorNames.wDown(4))!.offset + 172 * 64 * 4);
    // After the final norm come the two RoPE tables [seq, hs/2] and then the end of the file.
    const outNorm = t.get(TensorNames.outNorm)!;
    expect(outNorm.offset + outNorm.bytes + 2 * 512 * 4 * 4).toBe(FILE_SIZE);
    // The RMS-norm weights of a trained model are positive and O(1); a misplaced offset would show.
    const file = readFileSync(PATH);
    const norm = new Float32Array(file.buffer.slice(file.byteOffset + outNorm.offset, file.byteOffset + outNorm.offset + outNorm.bytes));
    const mean = norm.reduce((a, b) => a + b, 0) / norm.length;
    expect(mean).toBeGreaterThan(0.2);
    expect(mean).toBeLessThan(10);
  });

  it('truncated copy', async () => {
    const bytes = new Uint8Array(readFileSync(PATH)).subarray(0, 700_000);
    const e = await errorOf(describeLlama2c(new BytesSource(bytes, 'stories260K.bin')));
    expect(e.message).toContain('"stories260K.bin" is truncated');
    expect(e.message).toContain(`needs ${FILE_SIZE} bytes but the file has 700000`);
    expect(e.message).toContain('the download may be incomplete');
  });

  it('extra bytes', async () => {
    const bytes = new Uint8Array(FILE_SIZE + 16);
    bytes.set(readFileSync(PATH));
    const e = await errorOf(describeLlama2c(new BytesSource(bytes, 'x.bin')));
    expect(e.message).toMatch(/16 bytes more than a llama2.c v0 model/);
  });

  it('a header that describes no model', async () => {
    const e = await errorOf(describeLlama2c(new BytesSource(new Uint8Array(new Int32Array([64, 0, 5, 8, 4, 512, 512]).buffer))));
    expect(e.message).toMatch(/not a llama2.c checkpoint/);
    expect(parseLlama2cHeader(new Uint8Array(new Int32Array([64, 172, 5, 7, 4, 512, 512]).buffer))).toBeNull();
  });

  it('unshared classifier (negative vocab size) sits at the end', async () => {
    // dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab 10 (unshared), seq 4
    const bytes = synthetic([8, 12, 2, 2, 1, -10, 4]);
    const desc = await describeLlama2c(new BytesSource(bytes));
    expect(desc.config.tiedEmbeddings).toBe(false);
    expect(desc.config.vocabSize).toBe(10);
    expect(desc.metadata['vocab_size']).toBe(-10);
    const out = desc.tensors.get(TensorNames.output)!;
    expect(out.shape).toEqual([10, 8]);
    expect(out.offset + out.bytes).toBe(bytes.length);
    // Every float holds its index: the first element of each tensor tells where it starts.
    const first = (name: string) => new DataView(bytes.buffer).getFloat32(desc.tensors.get(name)!.offset, true);
    const kvDim = 4;
    expect(first(TensorNames.tokEmbd)).toBe(0);
    expect(first(TensorNames.attnNorm(1))).toBe(80 + 8);
    expect(first(TensorNames.wq(0))).toBe(80 + 16);
    expect(first(TensorNames.wk(0))).toBe(80 + 16 + 2 * 64);
    expect(first(TensorNames.wv(1))).toBe(80 + 16 + 2 * 64 + 2 * kvDim * 8 + kvDim * 8);
  });
});
