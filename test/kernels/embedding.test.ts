import { beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDING_TYPES, Embedding, NO_INJECT } from '../../src/gpu/kernels/embedding';
import { dequantize, quantize } from '../../src/model/quant';
import { TYPE_LAYOUT } from '../../src/model/types';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { embeddingRef } from './embedding.ref';

let t: TestGpu;
let emb: Embedding;

beforeAll(async () => {
  t = await testGpu();
  emb = await Embedding.create(t.kc);
});

describe('embedding gather', () => {
  for (const type of EMBEDDING_TYPES) {
    it(`${TYPE_LAYOUT[type].name}: vocabulary rows and injected rows match the CPU reference`, async () => {
      const vocab = 37;
      const be = TYPE_LAYOUT[type].blockElems;
      const d = be === 256 ? 512 : be === 32 ? 96 : 100;
      const r = rng(40 + type);
      const vals = Float32Array.from(randn(r, vocab * d));
      const bytes = quantize(type, vals);
      const deq = dequantize(type, bytes, vocab * d);
      const table = { name: 'tok_embd', type, shape: [vocab, d], buffer: t.bytes(bytes) };
      const ids = [0, 36, 5, 5, 17, 1, 2, 999999, 30];
      const inject = [NO_INJECT, NO_INJECT, 1, NO_INJECT, 0, NO_INJECT, 2, NO_INJECT, 1];
      const injected = randn(r, 3 * d);
      const T = ids.length;
      for (const scale of [1, 2.5]) {
        const out = t.f32(T * d);
        emb.gather(t.rec, {
          ids: t.u32(ids),
          inject: t.u32(inject),
          injected: t.f32(injected),
          table,
          out,
          T,
          scale: scale === 1 ? undefined : scale,
        });
        const got = await t.read(out, T * d);
        expect(relErr(got, embeddingRef(ids, inject, injected, deq, vocab, d, scale))).toBeLessThan(1e-6);
      }
    });
  }
});
