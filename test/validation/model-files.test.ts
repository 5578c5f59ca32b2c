/**
 * Issue 10 regressions for model files: every count, offset and size bounded before allocation;
 * structural corruptions refused; NaN/Inf weights and block scales refused naming the tensor.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeGguf, readGgufHeader } from '../../src/model/gguf';
import { writeGguf } from '../../src/model/gguf-writer';
import { gv, type GgufValue } from '../../src/model/gguf-values';
import { describeLlama2c, llama2cExpectedSize, parseLlama2cHeader } from '../../src/model/llama2c';
import { nonFiniteAt } from '../../src/model/finite-scan';
import { loadModel } from '../../src/model/model';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { describeSafetensors } from '../../src/model/safetensors';
import { BytesSource } from '../../src/model/sources';
import { loadShape } from '../../src/model/weights';
import { quantize } from '../../src/model/quant';
import { GgmlType, ModelFormatError, TensorNames, type HostTensor } from '../../src/model/types';
import { testGpu } from '../helpers/gpu';

async function parts(bytes: Uint8Array): Promise<{ md: Record<string, GgufValue>; tensors: HostTensor[] }> {
  const h = await readGgufHeader(new BytesSource(bytes));
  const tensors = h.tensors.map((t) => ({ name: t.name, type: t.rawType as GgmlType, shape: t.shape, data: bytes.slice(t.offset, t.offset + t.bytes) }));
  return { md: { ...h.typedMetadata }, tensors };
}

async function formatError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return (e as Error).message;
  }
  throw new Error('expected a ModelFormatError');
}

/** Rewrites one directory entry of a GGUF in place: its type and/or relative data offset. */
function patchEntry(bytes: Uint8Array, name: string, patch: { type?: number; relOffset?: number }): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  const key = new TextEncoder().encode(name);
  // The entry is: u64 length, name bytes, u32 nDims, nDims × u64, u32 type, u64 offset.
  for (let i = 8; i < out.length - key.length; i++) {
    if (dv.getUint32(i - 8, true) !== key.length || dv.getUint32(i - 4, true) !== 0) continue;
    if (!key.every((b, j) => out[i + j] === b)) continue;
    let o = i + key.length;
    const nDims = dv.getUint32(o, true);
    o += 4 + 8 * nDims;
    if (patch.type !== undefined) dv.setUint32(o, patch.type, true);
    o += 4;
    if (patch.relOffset !== undefined) dv.setBigUint64(o, BigInt(patch.relOffset), true);
    return out;
  }
  throw new Error(`no directory entry ${name}`);
}

const base = randomGguf({ arch: 'llama', type: GgmlType.F32, nLayers: 2, dModel: 64, nHeads: 4, dFF: 128, vocabSize: 256 });

describe('llama2.c headers', () => {
  it('a 28-byte header claiming 2^31−1 layers is refused at once, without building per-layer structures', async () => {
    const h = new Int32Array([64, 172, 0x7fffffff, 8, 4, 512, 512]);
    const bytes = new Uint8Array(h.buffer);
    const t0 = performance.now();
    const msg = await formatError(describeLlama2c(new BytesSource(bytes, 'huge.bin')));
    expect(msg).toMatch(/"huge\.bin" is truncated: a llama2\.c model with .*2147483647 layers, .* needs \d+ bytes but the file has 28/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('the size arithmetic matches the stored model exactly', () => {
    const file = readFileSync('public/models/stories260K/stories260K.bin');
    const h = parseLlama2cHeader(new Uint8Array(file.buffer, file.byteOffset, 28))!;
    expect(llama2cExpectedSize(h)).toBe(file.length);
  });

  it('every single flipped header byte of stories260K fails with a ModelFormatError', async () => {
    const file = new Uint8Array(readFileSync('public/models/stories260K/stories260K.bin'));
    for (let i = 0; i < 28; i++) {
      const b = file.slice();
      b[i] ^= 0x40;
      await formatError(describeLlama2c(new BytesSource(b, 'flipped.bin')));
    }
  });
});

describe('GGUF structure', () => {
  it('the unmodified random model describes cleanly', async () => {
    await expect(describeGguf(new BytesSource(base, 'ok.gguf'))).resolves.toBeTruthy();
  });

  it('context_length ≥ 2^31 is named, not "context holds -2147483648"', async () => {
    const { md, tensors } = await parts(base);
    md['llama.context_length'] = gv.u32(2 ** 31);
    const msg = await formatError(describeGguf(new BytesSource(writeGguf(md, tensors), 'ctx.gguf')));
    expect(msg).toMatch(/metadata "llama\.context_length" is 2147483648, more than this engine supports/);
  });

  it('the default context shape never turns negative for huge contexts', () => {
    const cfg = { arch: 'llama', name: 'x', dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, headDim: 16, dFF: 128, vocabSize: 256, maxSeqLen: 0x7fffffff, normEps: 1e-5, ropeTheta: 1e4, ropeStyle: 'normal', ropeScale: 1, qkvBias: false, tiedEmbeddings: true } as const;
    const s = loadShape({ ...cfg }, {});
    expect(s.maxContext).toBeGreaterThan(0);
    expect(Number.isInteger(s.maxContext)).toBe(true);
  });

  it('block_count below the layers present is refused', async () => {
    const { md, tensors } = await parts(base);
    md['llama.block_count'] = gv.u32(1);
    const msg = await formatError(describeGguf(new BytesSource(writeGguf(md, tensors), 'layers.gguf')));
    expect(msg).toMatch(/block_count says 1 layers but the file holds tensors of layer 1/);
  });

  it('a misaligned tensor offset is refused', async () => {
    const h = await readGgufHeader(new BytesSource(base));
    const t = h.tensors.find((x) => x.name === TensorNames.wq(1))!;
    const msg = await formatError(describeGguf(new BytesSource(patchEntry(base, t.name, { relOffset: t.relOffset + 4 }), 'mis.gguf')));
    expect(msg).toMatch(/tensor "blk\.1\.attn_q\.weight" starts at data offset \d+, not a multiple of the alignment 32/);
  });

  it('overlapping tensors are refused', async () => {
    const h = await readGgufHeader(new BytesSource(base));
    const a = h.tensors.find((x) => x.name === TensorNames.wq(0))!;
    const msg = await formatError(describeGguf(new BytesSource(patchEntry(base, TensorNames.wk(0), { relOffset: a.relOffset + 32 }), 'overlap.gguf')));
    expect(msg).toMatch(/tensors "blk\.0\.attn_q\.weight" and "blk\.0\.attn_k\.weight" overlap/);
  });

  it('a tensor typed F16 over F32-sized data is refused', async () => {
    const msg = await formatError(describeGguf(new BytesSource(patchEntry(base, TensorNames.wq(0), { type: GgmlType.F16 }), 'f16.gguf')));
    expect(msg).toMatch(/tensor "blk\.0\.attn_q\.weight" \(F16 \(1\), \d+ bytes\) is followed by \d+ unused bytes/);
  });
});

describe('safetensors structure', () => {
  /** Rewrites the JSON header of a safetensors file (the data section stays as it was). */
  function rewriteHeader(bytes: Uint8Array, edit: (h: Record<string, { data_offsets: number[] }>) => void): Uint8Array {
    const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
    edit(h);
    const json = new TextEncoder().encode(JSON.stringify(h).padEnd(len, ' '));
    expect(json.length).toBe(len);
    const out = bytes.slice();
    out.set(json, 8);
    return out;
  }

  it('overlapping data_offsets are refused', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, dFF: 128, vocabSize: 256 });
    const bad = rewriteHeader(bytes, (h) => {
      h['model.layers.1.input_layernorm.weight'].data_offsets = [...h['model.layers.0.input_layernorm.weight'].data_offsets];
    });
    expect(await formatError(describeSafetensors(new BytesSource(bad, 'st.safetensors'), config))).toMatch(/tensors "model\.layers\.\d\.input_layernorm\.weight" and "model\.layers\.\d\.input_layernorm\.weight" overlap/);
  });

  it('a config.json count beyond 2^31 − 1 is named', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama', nLayers: 1, dModel: 64, nHeads: 4, dFF: 128, vocabSize: 256 });
    const msg = await formatError(describeSafetensors(new BytesSource(bytes, 'st.safetensors'), { ...config, max_position_embeddings: 2 ** 32 }));
    expect(msg).toMatch(/"max_position_embeddings" is 4294967296, more than this engine supports/);
  });
});

describe('non-finite weights', () => {
  const f16 = (bits: number) => new Uint8Array(new Uint16Array([bits]).buffer);

  it('finds NaN/Inf in F32, F16 and BF16 data with the element index', () => {
    expect(nonFiniteAt(GgmlType.F32, new Uint8Array(new Float32Array([1, 2, NaN]).buffer), 400)).toMatchObject({ what: 'value', element: 102 });
    expect(nonFiniteAt(GgmlType.F32, new Uint8Array(new Float32Array([1, -Infinity]).buffer), 0)).toMatchObject({ value: -Infinity, element: 1 });
    expect(nonFiniteAt(GgmlType.F32, new Uint8Array(new Float32Array([1, 3.4e38, -0]).buffer), 0)).toBeNull();
    expect(nonFiniteAt(GgmlType.F16, new Uint8Array([0, 0x3c, 0, 0x7c]), 0)).toMatchObject({ value: Infinity, element: 1 });
    expect(nonFiniteAt(GgmlType.F16, new Uint8Array([0xff, 0x7b]), 0)).toBeNull(); // 65504, the largest finite f16
    expect(nonFiniteAt(GgmlType.BF16, new Uint8Array([1, 0x7f]), 0)).toBeNull();
    expect(nonFiniteAt(GgmlType.BF16, new Uint8Array([0, 0, 0xc1, 0x7f]), 0)).toMatchObject({ value: NaN, element: 1 });
  });

  it('finds non-finite block scales of every quantized type, also across chunk borders', () => {
    const cases: Array<[GgmlType, number, string]> = [
      [GgmlType.Q8_0, 0, 'block scale d'],
      [GgmlType.Q4_0, 0, 'block scale d'],
      [GgmlType.Q4_K, 0, 'block scale d'],
      [GgmlType.Q4_K, 2, 'block scale dmin'],
      [GgmlType.Q6_K, 208, 'block scale d'],
    ];
    for (const [type, at, what] of cases) {
      const data = quantize(type, Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i)));
      const bs = data.length / (type === GgmlType.Q8_0 || type === GgmlType.Q4_0 ? 32 : 4);
      expect(nonFiniteAt(type, data, 0)).toBeNull();
      const bad = data.slice();
      bad.set(f16(0x7e00), 2 * bs + at); // NaN scale in block 2
      const blockElems = type === GgmlType.Q8_0 || type === GgmlType.Q4_0 ? 32 : 256;
      expect(nonFiniteAt(type, bad, 0)).toMatchObject({ what, element: 2 * blockElems });
      // Two chunks split inside block 2 (even offsets): one of them reports it.
      for (const cut of [2 * bs + 2, 2 * bs + at + 2, 3 * bs - 2]) {
        const hit = nonFiniteAt(type, bad.subarray(0, cut), 0) ?? nonFiniteAt(type, bad.subarray(cut), cut);
        expect(hit, `${what} cut ${cut}`).toMatchObject({ what, element: 2 * blockElems });
      }
    }
  });

  it('loadModel refuses a model with a NaN weight or an out-of-vocabulary BOS, naming what', async () => {
    const { gpu } = await testGpu();
    const withTok = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, nLayers: 1, dModel: 64, nHeads: 4, dFF: 128, includeTokenizer: true });
    const { md, tensors } = await parts(withTok);
    const wq = tensors.find((t) => t.name === TensorNames.wq(0))!;
    const poisoned = wq.data.slice();
    poisoned.set(f16(0x7c00), 34 * 3); // +Inf scale in block 3
    const nanModel = writeGguf(md, tensors.map((t) => (t === wq ? { ...t, data: poisoned } : t)));
    expect(await formatError(loadModel(gpu, new BytesSource(nanModel, 'nan.gguf'), { slots: 1, maxContext: 32 }))).toMatch(
      /nan\.gguf: tensor "blk\.0\.attn_q\.weight" holds a non-finite block scale d \(Infinity\) at element 96/,
    );
    const vocab = (md['tokenizer.ggml.tokens'].value as unknown[]).length;
    const badBos = writeGguf({ ...md, 'tokenizer.ggml.bos_token_id': gv.u32(vocab + 5) }, tensors);
    expect(await formatError(loadModel(gpu, new BytesSource(badBos, 'bos.gguf'), { slots: 1, maxContext: 32 }))).toMatch(
      new RegExp(`bos\\.gguf"?: the BOS token id ${vocab + 5} is outside the vocabulary \\(0–${vocab - 1}\\)`),
    );
  }, 120_000);
});
