import { describe, expect, it } from 'vitest';
import { describeGguf, readGgufHeader, readGgufMetadata } from '../../src/model/gguf';
import { writeGguf } from '../../src/model/gguf-writer';
import { gv, type GgufValue } from '../../src/model/gguf-values';
import { randomGguf } from '../../src/model/random-model';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import type { ByteSource } from '../../src/model/source';
import { GgmlType, ModelFormatError, TYPE_LAYOUT, TensorNames, type Arch, type HostTensor } from '../../src/model/types';
import { fixturePath } from '../helpers/fixtures';

const ALL_TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
const ARCHS: Arch[] = ['llama', 'mistral', 'qwen2'];

/** Reads a GGUF back into writer inputs, so a test can change one thing and write it again. */
async function parts(bytes: Uint8Array): Promise<{ md: Record<string, GgufValue>; tensors: HostTensor[] }> {
  const h = await readGgufHeader(new BytesSource(bytes));
  const tensors = h.tensors.map((t) => ({
    name: t.name,
    type: t.rawType as GgmlType,
    shape: t.shape,
    data: bytes.slice(t.offset, t.offset + t.bytes),
  }));
  return { md: { ...h.typedMetadata }, tensors };
}

/** Byte equality without vitest's element-by-element deep diff (slow on MB arrays). */
function expectSameBytes(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(a, b)).toBe(0);
}

async function errorOf(p: Promise<unknown>): Promise<ModelFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError');
}

/** Counts the bytes a reader asks for, to check the header is read incrementally. */
class CountingSource implements ByteSource {
  readBytes = 0;
  constructor(private readonly inner: ByteSource) {}
  get name() {
    return this.inner.name;
  }
  size() {
    return this.inner.size();
  }
  async read(offset: number, length: number) {
    const b = await this.inner.read(offset, length);
    this.readBytes += b.length;
    return b;
  }
}

describe('GGUF metadata round trip', () => {
  const md: Record<string, GgufValue> = {
    'general.architecture': gv.str('llama'),
    'test.u8': gv.u8(255),
    'test.i8': gv.i8(-128),
    'test.u16': gv.u16(65535),
    'test.i16': gv.i16(-32768),
    'test.u32': gv.u32(4294967295),
    'test.i32': gv.i32(-2147483648),
    'test.u64.small': gv.u64(123456789012),
    'test.u64.big': gv.u64(2n ** 63n + 5n),
    'test.i64': gv.i64(-(2n ** 60n)),
    'test.i64.small': gv.i64(-42),
    'test.f32': gv.f32(Math.fround(0.1)),
    'test.f64': gv.f64(0.1),
    'test.bool': gv.bool(true),
    'test.false': gv.bool(false),
    'test.string': gv.str('héllo ▁wörld 🙂'),
    'test.empty': gv.str(''),
    'test.arr.str': gv.arr('string', ['<unk>', '▁the', '']),
    'test.arr.f32': gv.arr('f32', [0, -1.5, Math.fround(3.3)]),
    'test.arr.i32': gv.arr('i32', [1, -2, 3]),
    'test.arr.bool': gv.arr('bool', [true, false]),
    'test.arr.u64': gv.arr('u64', [1, 2n ** 62n]),
    'test.arr.empty': gv.arr('u8', []),
    'test.arr.nested': gv.arrOfArr([gv.arr('i16', [1, 2]), gv.arr('string', ['a']), gv.arrOfArr([gv.arr('u8', [7])])]),
  };

  for (const version of [2, 3] as const) {
    for (const alignment of [32, 64]) {
      it(`v${version}, alignment ${alignment}: typed metadata and tensor bytes survive`, async () => {
        const tensors: HostTensor[] = [
          { name: 'a', type: GgmlType.F32, shape: [3], data: new Uint8Array(12).map((_, i) => i) },
          { name: 'b', type: GgmlType.Q8_0, shape: [2, 32], data: new Uint8Array(68).map((_, i) => 255 - i) },
          { name: 'c', type: GgmlType.F16, shape: [5], data: new Uint8Array(10).fill(9) },
        ];
        const bytes = writeGguf(md, tensors, { version, alignment });
        const h = await readGgufHeader(new BytesSource(bytes));
        expect(h.version).toBe(version);
        expect(h.alignment).toBe(alignment);
        const expected = { ...md, ...(alignment !== 32 ? { 'general.alignment': gv.u32(alignment) } : {}) };
        expect(h.typedMetadata).toEqual(expected);
        expect(h.metadata['test.u64.big']).toBe(2n ** 63n + 5n);
        expect(h.metadata['test.u64.small']).toBe(123456789012);
        expect(h.metadata['test.arr.nested']).toEqual([[1, 2], ['a'], [[7]]]);
        expect(h.dataOffset % alignment).toBe(0);
        expect(h.tensors.map((t) => [t.name, t.shape, t.bytes])).toEqual(tensors.map((t) => [t.name, t.shape, t.data.length]));
        for (const [i, t] of h.tensors.entries()) {
          expect(t.offset % alignment).toBe(0);
          expectSameBytes(bytes.slice(t.offset, t.offset + t.bytes), tensors[i]!.data);
        }
        // Writing what was read gives the same file, byte for byte.
        const again = await parts(bytes);
        expectSameBytes(writeGguf(again.md, again.tensors, { version, alignment }), bytes);
      });
    }
  }

  it('rejects values that do not fit their tag', () => {
    expect(() => writeGguf({ x: gv.u8(256) }, [])).toThrow(/"x".*not a valid u8/);
    expect(() => writeGguf({ x: gv.u32(-1) }, [])).toThrow(/not a valid u32/);
    expect(() => writeGguf({ x: gv.arr('string', ['a', 3]) }, [])).toThrow(/not a valid string/);
  });

  it('rejects tensors whose bytes do not match shape and type', () => {
    const t = { name: 'w', type: GgmlType.Q4_0, shape: [2, 32], data: new Uint8Array(35) };
    expect(() => writeGguf({}, [t])).toThrow(/"w" \[2, 32\] as Q4_0 \(2\) needs 36 bytes but has 35/);
  });
});

describe('GGUF models: every supported type and architecture', () => {
  for (const arch of ARCHS) {
    for (const type of ALL_TYPES) {
      it(`${arch} ${TYPE_LAYOUT[type].name}`, async () => {
        const bytes = randomGguf({ arch, type, seed: 3, nLayers: 2, includeTokenizer: true });
        const desc = await describeGguf(new BytesSource(bytes, 'm.gguf'));
        const c = desc.config;
        const k = TYPE_LAYOUT[type].blockElems === 256;
        expect(desc.format).toBe('gguf');
        expect(c).toMatchObject({
          arch,
          dModel: k ? 256 : 64,
          nLayers: 2,
          nHeads: 4,
          nKvHeads: 2,
          headDim: k ? 64 : 16,
          dFF: k ? 512 : 96,
          maxSeqLen: 512,
          ropeStyle: arch === 'qwen2' ? 'neox' : 'normal',
          ropeScale: 1,
          qkvBias: arch === 'qwen2',
          tiedEmbeddings: false,
        });
        expect(c.ropeTheta).toBe(arch === 'qwen2' ? 1e6 : 10000);
        expect(c.normEps).toBeCloseTo(arch === 'qwen2' ? 1e-6 : 1e-5, 12);
        const tokens = desc.metadata['tokenizer.ggml.tokens'] as string[];
        expect(c.vocabSize).toBe(tokens.length);
        expect(desc.tokenizer.kind).toBe('gguf');
        expect(desc.bosId).toBe(1);
        expect(desc.eosId).toBe(2);
        expect(desc.tensors.get(TensorNames.wq(1))!.type).toBe(type);
        expect(desc.tensors.get(TensorNames.wq(1))!.shape).toEqual([c.dModel, c.dModel]);
        expect(desc.tensors.get(TensorNames.wk(0))!.shape).toEqual([c.dModel / 2, c.dModel]);
        expect(desc.tensors.get(TensorNames.wDown(0))!.shape).toEqual([c.dModel, c.dFF]);
        expect(desc.tensors.get(TensorNames.attnNorm(0))!.type).toBe(GgmlType.F32);
        expect(desc.tensors.has(TensorNames.bq(0))).toBe(arch === 'qwen2');
        for (const t of desc.tensors.values()) expect(t.offset + t.bytes).toBeLessThanOrEqual(bytes.length);
        // Round trip through the writer reproduces the file exactly.
        const p = await parts(bytes);
        expectSameBytes(writeGguf(p.md, p.tensors), bytes);
      });
    }
  }

  it('tied embeddings: no output.weight', async () => {
    const desc = await describeGguf(new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.F16, tied: true })));
    expect(desc.config.tiedEmbeddings).toBe(true);
    expect(desc.tensors.has(TensorNames.output)).toBe(false);
    expect(desc.tokenizer.kind).toBe('none');
    expect(desc.bosId).toBeNull();
  });

  it('reads linear RoPE scaling, head_count_kv default and rope.freq_base default', async () => {
    const p = await parts(randomGguf({ arch: 'mistral', type: GgmlType.F32, nKvHeads: 4 }));
    delete p.md['mistral.attention.head_count_kv'];
    delete p.md['mistral.rope.freq_base'];
    p.md['mistral.rope.scaling.type'] = gv.str('linear');
    p.md['mistral.rope.scaling.factor'] = gv.f32(4);
    const c = (await describeGguf(new BytesSource(writeGguf(p.md, p.tensors)))).config;
    expect(c.nKvHeads).toBe(4);
    expect(c.ropeTheta).toBe(10000);
    expect(c.ropeScale).toBe(4);
  });

  it('keeps only the tensors the engine uses', async () => {
    const p = await parts(randomGguf({ arch: 'llama', type: GgmlType.F32 }));
    p.tensors.push({ name: 'rope_freqs.weight', type: GgmlType.F32, shape: [8], data: new Uint8Array(32) });
    const desc = await describeGguf(new BytesSource(writeGguf(p.md, p.tensors)));
    expect(desc.tensors.has('rope_freqs.weight')).toBe(false);
    expect(desc.tensors.size).toBe(3 + 2 * 9);
  });

  it('reads a big header incrementally and only the header', async () => {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.F32, dModel: 256, dFF: 512 });
    expect(bytes.length).toBeGreaterThan(4 << 20);
    const src = new CountingSource(new BytesSource(bytes));
    await readGgufHeader(src);
    expect(src.readBytes).toBeLessThanOrEqual(1 << 20);
  });
});

describe('GGUF malformed input', () => {
  const good = () => randomGguf({ arch: 'llama', type: GgmlType.Q8_0, seed: 5 });

  it('bad magic', async () => {
    const b = good();
    b.set([0x47, 0x47, 0x4d, 0x4c]); // "GGML"
    const e = await errorOf(describeGguf(new BytesSource(b, 'x.gguf')));
    expect(e.message).toMatch(/"x.gguf" is not a GGUF file/);
  });

  it('unsupported version', async () => {
    const b = good();
    new DataView(b.buffer).setUint32(4, 1, true);
    expect((await errorOf(describeGguf(new BytesSource(b)))).message).toMatch(/version 1; only versions 2 and 3 are supported/);
    new DataView(b.buffer).setUint32(4, 3 << 24, true);
    expect((await errorOf(describeGguf(new BytesSource(b)))).message).toMatch(/big-endian/);
  });

  it('truncated header', async () => {
    const b = good().slice(0, 200);
    const e = await errorOf(describeGguf(new BytesSource(b, 'cut.gguf')));
    expect(e.message).toMatch(/"cut.gguf" is truncated or corrupt.*header.*download may be incomplete/);
  });

  it('cut anywhere in the header: always a ModelFormatError saying truncated', async () => {
    const full = randomGguf({ arch: 'llama', type: GgmlType.F32, includeTokenizer: true });
    const h = await readGgufHeader(new BytesSource(full));
    for (let cut = 0; cut < h.dataOffset; cut += 97) {
      const e = await errorOf(describeGguf(new BytesSource(full.slice(0, cut), 'cut.gguf')));
      expect(e.message).toMatch(cut < 4 ? /not a GGUF file/ : /truncated/);
    }
  });

  it('corrupted header bytes: a ModelFormatError or a parse, never a crash', async () => {
    const full = randomGguf({ arch: 'qwen2', type: GgmlType.F16, includeTokenizer: true, seed: 9 });
    const h = await readGgufHeader(new BytesSource(full));
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 300; trial++) {
      const b = full.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * h.dataOffset)] = Math.floor(rand() * 256);
      try {
        await describeGguf(new BytesSource(b));
      } catch (e) {
        expect(e).toBeInstanceOf(ModelFormatError);
      }
    }
  });

  it('a tiny file', async () => {
    const e = await errorOf(readGgufHeader(new BytesSource(new Uint8Array([0x47, 0x47]), 't')));
    expect(e.message).toMatch(/not a GGUF file/);
  });

  it('truncated tensor data', async () => {
    const full = good();
    const b = full.slice(0, full.length - 100);
    const e = await errorOf(describeGguf(new BytesSource(b, 'part.gguf')));
    expect(e.message).toContain(`need ${full.length} bytes but the file has ${b.length} bytes (100 missing)`);
    expect(e.message).toContain('the download may be incomplete');
  });

  it('absurd array length', async () => {
    const b = writeGguf({ 'a.b': gv.arr('u32', [1, 2, 3]) }, []);
    // key length (8) + "a.b" (3) + value type (4) + element type (4) then the u64 count.
    new DataView(b.buffer).setBigUint64(24 + 8 + 3 + 4 + 4, 1n << 40n, true);
    const e = await errorOf(readGgufHeader(new BytesSource(b)));
    expect(e.message).toMatch(/truncated or corrupt: metadata "a.b" claims 1099511627776 elements/);
  });

  it('unsupported tensor type (Q5_K = 13)', async () => {
    // Q5_K rows are 256-element blocks, so use a 256-wide model.
    const big = await parts(randomGguf({ arch: 'llama', type: GgmlType.Q4_K }));
    const j = big.tensors.findIndex((x) => x.name === 'blk.0.attn_q.weight');
    const q = big.tensors[j]!;
    big.tensors[j] = { ...q, type: 13 as GgmlType, data: new Uint8Array((q.shape[0]! * q.shape[1]!) / 256 * 176) };
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(big.md, big.tensors))));
    expect(e.message).toContain(
      'tensor "blk.0.attn_q.weight" has type Q5_K (13), which is not supported; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K',
    );
    // The header reader itself doesn't reject it and keeps the raw number.
    const h = await readGgufHeader(new BytesSource(writeGguf(big.md, big.tensors)));
    expect(h.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!.rawType).toBe(13);
  });

  it('unknown tensor type number', async () => {
    const p = await parts(good());
    const i = p.tensors.findIndex((t) => t.name === 'output_norm.weight');
    const b = writeGguf(p.md, p.tensors);
    // Patch the stored type of output_norm.weight to 99 in place.
    const h = await readGgufHeader(new BytesSource(b));
    expect(h.tensors[i]!.name).toBe('output_norm.weight');
    const nameBytes = new TextEncoder().encode('output_norm.weight');
    let at = -1;
    for (let k = 0; k < h.dataOffset; k++) {
      if (nameBytes.every((c, j) => b[k + j] === c)) at = k;
    }
    const typeAt = at + nameBytes.length + 4 + 8; // n_dims u32, one u64 dimension
    expect(new DataView(b.buffer).getUint32(typeAt, true)).toBe(0);
    new DataView(b.buffer).setUint32(typeAt, 99, true);
    const e = await errorOf(describeGguf(new BytesSource(b)));
    expect(e.message).toMatch(/"output_norm.weight" has type unknown type 99, which is not supported/);
  });

  it('unsupported architecture', async () => {
    const p = await parts(good());
    p.md['general.architecture'] = gv.str('gpt2');
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors), 'g.gguf')));
    expect(e.message).toBe('"g.gguf" is a "gpt2" model; supported architectures: llama, mistral, qwen2.');
  });

  it('no architecture (vocab-only file)', async () => {
    const e = await errorOf(describeGguf(new BytesSource(writeGguf({ 'tokenizer.ggml.model': gv.str('llama') }, []))));
    expect(e.message).toMatch(/no "general.architecture"/);
  });

  it('missing metadata key', async () => {
    const p = await parts(good());
    delete p.md['llama.embedding_length'];
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors))));
    expect(e.message).toMatch(/lacks the metadata key "llama.embedding_length"/);
  });

  it('unsupported RoPE scaling', async () => {
    const p = await parts(good());
    p.md['llama.rope.scaling.type'] = gv.str('yarn');
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors))));
    expect(e.message).toMatch(/RoPE scaling "yarn" is not supported/);
  });

  it('missing tensor', async () => {
    const p = await parts(good());
    p.tensors = p.tensors.filter((t) => t.name !== 'blk.1.ffn_up.weight');
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors), 'm.gguf')));
    expect(e.message).toBe('"m.gguf" is missing tensor "blk.1.ffn_up.weight".');
  });

  it('wrong shape', async () => {
    const p = await parts(good());
    const i = p.tensors.findIndex((t) => t.name === 'blk.0.ffn_down.weight');
    p.tensors[i] = { ...p.tensors[i]!, shape: [96, 64] }; // transposed: [dFF, d] instead of [d, dFF]
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors), 'm.gguf')));
    expect(e.message).toBe(
      '"m.gguf": tensor "blk.0.ffn_down.weight" has shape [96, 64] but the model configuration implies [64, 96].',
    );
  });

  it('metadata keys are data, never prototypes', async () => {
    const h = await readGgufHeader(new BytesSource(writeGguf({ ['__proto__']: gv.u32(1), toString: gv.str('x') }, [])));
    expect(Object.getPrototypeOf(h.metadata)).toBe(Object.prototype);
    expect(Object.keys(h.metadata)).toEqual(['__proto__', 'toString']);
  });

  it('duplicate tensor', async () => {
    const p = await parts(good());
    p.tensors.push(p.tensors[1]!);
    const e = await errorOf(describeGguf(new BytesSource(writeGguf(p.md, p.tensors))));
    expect(e.message).toMatch(/appears twice/);
  });
});

describe('real vocab-only GGUFs', () => {
  it('llama SPM vocab', async () => {
    const md = await readGgufMetadata(new NodeFileSource(fixturePath('tokenizers/ggml-vocab-llama-spm.gguf')));
    expect(md['general.architecture']).toBe('llama');
    expect(md['tokenizer.ggml.model']).toBe('llama');
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    expect(tokens.length).toBe(32000);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect((md['tokenizer.ggml.scores'] as number[]).length).toBe(32000);
    expect((md['tokenizer.ggml.token_type'] as number[]).slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(md['tokenizer.ggml.bos_token_id']).toBe(1);
    expect(md['tokenizer.ggml.add_bos_token']).toBe(true);
    // A vocab-only file has no weights: describing it as a model says what is missing.
    const e = await errorOf(describeGguf(new NodeFileSource(fixturePath('tokenizers/ggml-vocab-llama-spm.gguf'))));
    expect(e.message).toMatch(/missing tensors "token_embd.weight"/);
  });

  it('starcoder BPE vocab (header over 1 MiB)', async () => {
    const src = new CountingSource(new NodeFileSource(fixturePath('tokenizers/ggml-vocab-starcoder.gguf')));
    const h = await readGgufHeader(src);
    expect(h.metadata['tokenizer.ggml.model']).toBe('gpt2');
    expect((h.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(49152);
    expect((h.metadata['tokenizer.ggml.merges'] as string[])[0]).toBe('Ġ Ġ');
    expect(h.tensors).toEqual([]);
    expect(src.readBytes).toBe(await src.size());
    const e = await errorOf(describeGguf(new NodeFileSource(fixturePath('tokenizers/ggml-vocab-starcoder.gguf'))));
    expect(e.message).toMatch(/"starcoder2" model; supported architectures/);
  });
});
