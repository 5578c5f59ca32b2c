import { describe, expect, it } from 'vitest';
import { describeGguf, readGgufMetadata } from '../../src/model/gguf';
import { randomGguf, randomSafetensors, randomVocab } from '../../src/model/random-model';
import { describeSafetensors } from '../../src/model/safetensors';
import { BytesSource } from '../../src/model/sources';
import { GgmlType, TensorNames, type Arch } from '../../src/model/types';
import { refForward, refModel } from '../reference/forward';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function std(v: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < v.length; i++) {
    s += v[i]!;
    s2 += v[i]! * v[i]!;
  }
  const m = s / v.length;
  return Math.sqrt(s2 / v.length - m * m);
}

describe('random models', () => {
  it('are deterministic in the seed', () => {
    const a = randomGguf({ arch: 'llama', type: GgmlType.Q4_0, seed: 11 });
    expect(sameBytes(a, randomGguf({ arch: 'llama', type: GgmlType.Q4_0, seed: 11 }))).toBe(true);
    expect(sameBytes(a, randomGguf({ arch: 'llama', type: GgmlType.Q4_0, seed: 12 }))).toBe(false);
  });

  it('vocabulary: specials, 256 byte tokens, word pieces; vocabSize equals the token count', async () => {
    const md = await readGgufMetadata(new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.F32, includeTokenizer: true })));
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(tokens[3 + 255]).toBe('<0xFF>');
    expect(tokens).toContain('▁the');
    expect(tokens).toContain('▁th');
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(md['tokenizer.ggml.model']).toBe('llama');
    expect((md['tokenizer.ggml.scores'] as number[]).length).toBe(tokens.length);
    expect((md['tokenizer.ggml.token_type'] as number[]).slice(0, 5)).toEqual([2, 3, 3, 6, 6]);
    expect(md['llama.embedding_length']).toBe(64);
    const desc = await describeGguf(new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.F32, includeTokenizer: true })));
    expect(desc.config.vocabSize).toBe(tokens.length);
    // An explicit size pads (or trims) the piece list to match.
    expect(randomVocab(600).tokens.length).toBe(600);
    const sized = await describeGguf(new BytesSource(randomGguf({ arch: 'llama', type: GgmlType.F32, includeTokenizer: true, vocabSize: 300 })));
    expect(sized.config.vocabSize).toBe(300);
    expect((sized.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(300);
  });

  it('rejects dimensions the type cannot hold', () => {
    expect(() => randomGguf({ arch: 'llama', type: GgmlType.Q4_K, dModel: 128 })).toThrow(/dModel 128 must be a multiple of 256 for Q4_K/);
    expect(() => randomGguf({ arch: 'llama', type: GgmlType.Q8_0, dFF: 100 })).toThrow(/dFF 100 must be a multiple of 32/);
    expect(() => randomGguf({ arch: 'llama', type: GgmlType.F32, nHeads: 3 })).toThrow(/head size/);
  });

  it('qwen2 carries q/k/v biases', async () => {
    const d = await describeGguf(new BytesSource(randomGguf({ arch: 'qwen2', type: GgmlType.F16 })));
    expect(d.config.qkvBias).toBe(true);
    expect(d.tensors.get(TensorNames.bk(1))!.shape).toEqual([32]);
  });

  it('weights are N(0, 1/K)-scaled matrices and norms around 1', async () => {
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.F32, dModel: 64, dFF: 96 });
    const d = await describeGguf(new BytesSource(bytes));
    const f = (name: string) => {
      const t = d.tensors.get(name)!;
      return new Float32Array(bytes.slice(t.offset, t.offset + t.bytes).buffer);
    };
    expect(std(f(TensorNames.wq(0)))).toBeCloseTo(1 / 8, 2);
    expect(std(f(TensorNames.wDown(0)))).toBeCloseTo(1 / Math.sqrt(96) / 2, 2); // residual writer: 1/√(2L), L = 2
    const norm = f(TensorNames.attnNorm(0));
    expect(norm.reduce((a, b) => a + b, 0) / norm.length).toBeCloseTo(1, 1);
  });

  for (const arch of ['llama', 'mistral', 'qwen2'] as Arch[]) {
    it(`${arch}: activations stay sane, and GGUF and safetensors twins give the same logits`, async () => {
      const opts = { arch, seed: 21, nLayers: 3, includeTokenizer: false, vocabSize: 200 };
      const gg = randomGguf({ ...opts, type: GgmlType.F32 });
      const st = randomSafetensors(opts);
      const gSrc = new BytesSource(gg);
      const sSrc = new BytesSource(st.bytes);
      const gDesc = await describeGguf(gSrc);
      const sDesc = await describeSafetensors(sSrc, st.config);
      const ids = [1, 17, 42, 99, 3, 150, 7, 8];
      const a = refForward(await refModel(gDesc, gSrc), { ids });
      const b = refForward(await refModel(sDesc, sSrc), { ids });
      const s = std(a.logits);
      expect(Number.isFinite(s)).toBe(true);
      expect(s).toBeGreaterThan(0.2);
      expect(s).toBeLessThan(5);
      let maxDiff = 0;
      for (let i = 0; i < a.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.logits[i]! - b.logits[i]!));
      // f32 GGUF eps is rounded to f32; everything else is the same arithmetic.
      expect(maxDiff).toBeLessThan(1e-4);
    });
  }

  it('the same model quantized stays close to its F32 original', async () => {
    const base = { arch: 'llama' as const, seed: 5, vocabSize: 256 };
    const f = randomGguf({ ...base, type: GgmlType.F32, dModel: 256, dFF: 512 });
    const q = randomGguf({ ...base, type: GgmlType.Q8_0, dModel: 256, dFF: 512 });
    const ids = [1, 2, 3, 4];
    const run = async (b: Uint8Array) => {
      const src = new BytesSource(b);
      return refForward(await refModel(await describeGguf(src), src), { ids }).logits;
    };
    const [lf, lq] = [await run(f), await run(q)];
    let err = 0;
    for (let i = 0; i < lf.length; i++) err = Math.max(err, Math.abs(lf[i]! - lq[i]!));
    expect(err).toBeLessThan(0.05 * (std(lf) * 10));
  });
});

describe('random models for shape benchmarks', () => {
  it('take a per-matrix type mix and fast-filled blocks with the right scale and distinct rows', async () => {
    const d = 512;
    const ff = 1024;
    const typeOf = (n: string) => (n === TensorNames.output || n === TensorNames.wDown(0) ? GgmlType.Q6_K : undefined);
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.Q4_K, dModel: d, dFF: ff, nHeads: 8, nLayers: 2, vocabSize: 600, typeOf, fastFill: true });
    const src = new BytesSource(bytes);
    const desc = await describeGguf(src);
    expect(desc.tensors.get(TensorNames.output)!.type).toBe(GgmlType.Q6_K);
    expect(desc.tensors.get(TensorNames.wDown(0))!.type).toBe(GgmlType.Q6_K);
    expect(desc.tensors.get(TensorNames.wDown(1))!.type).toBe(GgmlType.Q4_K);
    expect(desc.tensors.get(TensorNames.wq(0))!.type).toBe(GgmlType.Q4_K);
    expect(desc.tensors.get(TensorNames.attnNorm(0))!.type).toBe(GgmlType.F32);
    const m = await refModel(desc, src);
    const wq = m.layers[0]!.wq;
    // N(0, 1/d) values: the std within quantization error; and no two of the first rows equal.
    expect(Math.abs(std(wq) * Math.sqrt(d) - 1)).toBeLessThan(0.1);
    expect(Math.abs(std(m.output) * Math.sqrt(d) - 1)).toBeLessThan(0.1);
    const rows = new Set(Array.from({ length: 64 }, (_, r) => Array.from(wq.subarray(r * d, (r + 1) * d)).join(',')));
    expect(rows.size).toBe(64);
  });
});
