import { beforeAll, describe, expect, it } from 'vitest';
import { Matmul, type SwBlock } from '../../src/gpu/kernels/matmul';
import { dequantize, quantize } from '../../src/model/quant';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../../src/model/types';
import { randn, relErr, rng, stackedWeights, testGpu, type TestGpu } from '../helpers/gpu';
import { matmulRef } from './matmul.ref';
import { profileKc } from './profiles';

/**
 * Every block shape of the software prefill kernel tile_fwd_sw (4 or 8 x rows × 4 or 8 W rows per
 * invocation) against the float64 reference on edge shapes: M and N not multiples of the block (M = 1,
 * 5, 9, 37; N = 5, 47; N = 5 is below one 8-row block),
 * K with a float tail (K % 8 == 4) and a K-quant pair span (Q6_K: 64), bias, accumulate and stacked
 * projections. matmul.test.ts runs the default over every weight type.
 */
let t: TestGpu;
const TYPES = [GgmlType.F32, GgmlType.Q4_0, GgmlType.Q6_K];
const VARIANTS: Array<[SwBlock, SwBlock]> = [[8, 8], [8, 4], [4, 8], [4, 4]];
const mms = new Map<string, Matmul>();

beforeAll(async () => {
  t = await testGpu();
  const kc = profileKc(t, true);
  for (const [r, c] of VARIANTS) mms.set(`${r}x${c}`, await Matmul.create(kc, TYPES, { swRows: r, swCols: c }));
}, 1_200_000);

function kFor(type: GgmlType): number {
  const be = TYPE_LAYOUT[type].blockElems;
  return be === 256 ? 512 : be === 32 ? 96 : 100;
}

for (const [r, c] of VARIANTS) {
  const v = `${r}x${c}`;
  describe(`tile_fwd_sw, ${r}×${c} outputs per invocation`, () => {
    for (const type of TYPES) {
      it(`${TYPE_LAYOUT[type].name}: forward matches the CPU reference on edge shapes`, async () => {
        const mm = mms.get(v)!;
        expect([mm.swRows, mm.swCols]).toEqual([r, c]);
        const K = kFor(type);
        for (const N of [5, 16, 47]) {
          const vals = Float32Array.from(randn(rng(N + type), N * K, 0.5));
          const bytes = quantize(type, vals);
          const w: GpuTensor = { name: 'w', type, shape: [N, K], buffer: t.bytes(bytes) };
          const deq = dequantize(type, bytes, N * K);
          for (const M of [1, 5, 9, 37]) {
            const r = rng(M * 13 + N);
            const x = randn(r, M * K);
            const bias = M % 2 ? randn(r, N) : undefined;
            const init = M === 9 ? randn(r, M * N) : undefined;
            const y = t.f32(init ?? M * N);
            mm.forward(t.rec, { x: t.f32(x), w, y, M, bias: bias ? t.f32(bias) : undefined, accumulate: init !== undefined, path: 'tiled' });
            const err = relErr(await t.read(y, M * N), matmulRef(x, deq, M, N, K, bias, init));
            expect(err, `M=${M} N=${N}`).toBeLessThan(1e-3);
          }
        }
      });
    }

    it('stacked projections: each part as its own matmul', async () => {
      const mm = mms.get(v)!;
      const type = GgmlType.Q4_0;
      const K = kFor(type);
      const rows = [21, 13, 13];
      const { ws, deq } = stackedWeights(t, type, rows, K, 400);
      for (const M of [3, 37]) {
        const x = randn(rng(M), M * K);
        const yOffsets: number[] = [];
        let words = 0;
        for (const n of rows) {
          yOffsets.push(words * 4);
          words = Math.ceil((words + M * n) / 64) * 64;
        }
        const y = t.f32(new Float32Array(words).fill(7));
        mm.forwardStacked(t.rec, { x: t.f32(x), ws, y, yOffsets, M, path: 'tiled' });
        const want = new Float32Array(words).fill(7);
        rows.forEach((n, i) => want.set(matmulRef(x, deq[i], M, n, K), yOffsets[i] / 4));
        expect(relErr(await t.read(y, words), want), `M=${M}`).toBeLessThan(1e-3);
      }
    });
  });
}

it('rejects a block shape it has no kernel for', async () => {
  await expect(Matmul.create(profileKc(t, true), [GgmlType.F32], { swRows: 6 as SwBlock })).rejects.toThrow(/4 or 8/);
});
