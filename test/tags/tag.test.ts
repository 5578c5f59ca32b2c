import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { dequantize } from '../../src/model/quant';
import { randomGguf } from '../../src/model/random-model';
import { Rng } from '../../src/model/sampling';
import { NodeFileSource } from '../../src/model/source-node';
import { BytesSource } from '../../src/model/sources';
import { describeModel } from '../../src/model/describe';
import { GgmlType, TensorNames } from '../../src/model/types';
import { readEmbeddingTable } from '../../src/tags/embedding';
import { createTag, embeddingFingerprint, embeddingTable, initTagRows, newProvenance, randomTagRows, tagNameProblem } from '../../src/tags/tag';

const STORIES = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';

describe('initTagRows', () => {
  it('repeats the mean row rescaled to the mean row norm (hand-computed)', () => {
    // Rows (3,4), (0,2), (0,−3): mean row (1, 1), norms 5, 2, 3 → mean norm 10/3;
    // |(1,1)| = √2, so each row is (1,1)·(10/3)/√2 = (2.3570226…, 2.3570226…).
    const table = Float32Array.from([3, 4, 0, 2, 0, -3]);
    const rows = initTagRows(table, 3, 2, 2);
    expect(rows.length).toBe(4);
    const v = 10 / 3 / Math.SQRT2;
    for (const x of rows) expect(x).toBeCloseTo(v, 6);
    // Its norm is the mean row norm.
    expect(Math.hypot(rows[0], rows[1])).toBeCloseTo(10 / 3, 6);
  });

  it('keeps the mean direction with a non-uniform mean, and zeros when the mean is exactly zero', () => {
    // Rows (2,0), (0,0): mean (1,0), mean norm 1 → (1,0).
    expect([...initTagRows(Float32Array.from([2, 0, 0, 0]), 2, 2, 1)]).toEqual([1, 0]);
    expect([...initTagRows(Float32Array.from([1, -1, -1, 1]), 2, 2, 1)]).toEqual([0, 0]);
    expect(() => initTagRows(new Float32Array(3), 2, 2, 1)).toThrow(/expected vocab·d = 4/);
  });
});

describe('randomTagRows', () => {
  it('is deterministic per seed and has about the asked standard deviation', () => {
    const a = randomTagRows(10, 101, 0.02, new Rng(7));
    expect(a.length).toBe(1010);
    expect(a).toEqual(randomTagRows(10, 101, 0.02, new Rng(7)));
    expect(a).not.toEqual(randomTagRows(10, 101, 0.02, new Rng(8)));
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.003);
    expect(sd).toBeGreaterThan(0.018);
    expect(sd).toBeLessThan(0.022);
  });
});

describe('createTag / names / provenance', () => {
  const prov = newProvenance({ arch: 'llama', name: 'stories260K', dModel: 2, vocabSize: 512 }, 'abcd', { stage: 'stage1', dataset: 'SMILES' });

  it('fills provenance from the model and validates the tag', () => {
    expect(prov).toMatchObject({ modelArch: 'llama', modelName: 'stories260K', dModel: 2, vocabSize: 512, embeddingFingerprint: 'abcd', stage: 'stage1', steps: 0, dataset: 'SMILES', metrics: {}, notes: '' });
    expect(Date.parse(prov.created)).not.toBeNaN();
    const t = createTag({ name: 'SMILES', kind: 'domain', p: 2, d: 2, data: new Float32Array(4), provenance: prov });
    expect(t.id).toMatch(/^tag-/);
    expect(() => createTag({ name: 'SMILES', kind: 'domain', p: 2, d: 2, data: new Float32Array(3), provenance: prov })).toThrow(/expected p·d = 2·2 = 4/);
    expect(() => createTag({ name: 'SMILES', kind: 'domain', p: 1, d: 2, data: Float32Array.from([0, NaN]), provenance: prov })).toThrow(/row 0, column 1 is not finite/);
    expect(() => createTag({ name: 'Bad name', kind: 'domain', p: 1, d: 1, data: new Float32Array(1), provenance: prov })).toThrow(/not a valid tag name/);
  });

  it('accepts template-safe names only', () => {
    for (const ok of ['SMILES', 'EN', 'Protein_2', 'drug-combo', '_x']) expect(tagNameProblem(ok)).toBeNull();
    for (const bad of ['', '2fast', 'a b', 'a>b', 'x'.repeat(65), 'Ünï']) expect(tagNameProblem(bad)).not.toBeNull();
  });
});

describe('embeddingFingerprint', () => {
  it('is 16 hex digits, stable, and changes with a sampled value or the shape', async () => {
    const vocab = 300;
    const d = 8;
    const table = Float32Array.from({ length: vocab * d }, (_, i) => Math.sin(i));
    const f = await embeddingFingerprint(table, vocab, d);
    expect(f).toMatch(/^[0-9a-f]{16}$/);
    expect(await embeddingFingerprint(table.slice(), vocab, d)).toBe(f);
    const changed = table.slice();
    changed[(vocab - 1) * d + d - 1] += 1e-3; // the last row and dim are always sampled
    expect(await embeddingFingerprint(changed, vocab, d)).not.toBe(f);
    expect(await embeddingFingerprint(table, vocab - 1, d)).not.toBe(f);
  });
});

describe('embeddingTable (GPU)', () => {
  it('reads stories260K token embeddings exactly as stored in the file, and caches per engine', async () => {
    const gpu = await acquireNodeGpu();
    const e = await loadModel(gpu, new NodeFileSource(STORIES), { tokenizer: new NodeFileSource(TOK), slots: 1, maxContext: 16 });
    try {
      const { vocabSize: V, dModel: d } = e.config;
      const file = readFileSync(STORIES);
      // llama2.c v0: a 28-byte header, then the token embedding table as f32 [vocab, dim].
      const expected = new Float32Array(file.buffer.slice(file.byteOffset + 28, file.byteOffset + 28 + V * d * 4));
      const table = await embeddingTable(e);
      expect(table).toEqual(expected);
      expect(embeddingTable(e)).toBe(embeddingTable(e));
      expect(await readEmbeddingTable(e, 1000)).toEqual(expected); // many small chunks
      const rows = initTagRows(table, V, d, 3);
      expect(rows.length).toBe(3 * d);
    } finally {
      e.dispose();
    }
  });

  it('dequantizes a Q8_0 table read in chunks whose rows are not 4-byte multiples', async () => {
    const gpu = await acquireNodeGpu();
    const bytes = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, seed: 2, nLayers: 1, dModel: 32, nHeads: 2, nKvHeads: 2, includeTokenizer: true });
    const src = new BytesSource(bytes, 'q8.gguf');
    const info = (await describeModel(src)).tensors.get(TensorNames.tokEmbd)!;
    const e = await loadModel(gpu, src, { slots: 1, maxContext: 16 });
    try {
      const { vocabSize: V, dModel: d } = e.config;
      const expected = dequantize(GgmlType.Q8_0, await src.read(info.offset, info.bytes), V * d);
      expect(await readEmbeddingTable(e, 34 * 5)).toEqual(expected); // 34-byte rows, 4 rows per chunk
      expect(await readEmbeddingTable(e)).toEqual(expected);
    } finally {
      e.dispose();
    }
  });
});
