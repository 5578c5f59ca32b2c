import { describe, expect, it } from 'vitest';
import { Ceilings } from '../../src/gpu/kernels/ceilings';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { fmaRef } from './ceilings.ref';

describe('ceilings', () => {
  const r = rng(5);

  it('copy moves every vec4 word, also when a capped grid has to stride over the rest', async () => {
    const t = await testGpu();
    const k = await Ceilings.create(t.kc);
    const n4 = 3 * k.wg + 7; // not a multiple of the workgroup
    const src = randn(r, 4 * n4);
    for (const groups of [undefined, 2]) {
      const dst = t.f32(4 * n4 + 4); // one extra vec4 that must stay untouched
      k.copy(t.rec, { src: t.f32(src), dst, n4, groups });
      const got = await t.read(dst);
      expect(relErr(got.subarray(0, 4 * n4), src)).toBeLessThan(1e-7);
      expect(Array.from(got.subarray(4 * n4))).toEqual([0, 0, 0, 0]);
    }
  });

  for (const precision of ['f32', 'f16'] as const) {
    it(`fma ${precision} computes its chains as the float64 reference does`, async (ctx) => {
      const t = await testGpu();
      const k = await Ceilings.create(t.kc);
      if (precision === 'f16' && !k.hasF16) {
        ctx.skip();
        return;
      }
      const n = k.wg + 5;
      const src = randn(r, 4 * n, 0.5);
      const iters = 37;
      // a < 1: the chain contracts towards b / (1 − a), so rounding errors do not grow with iters.
      const [a, b] = [0.9375, 0.25];
      const dst = t.f32(4 * n);
      k.fma(t.rec, { src: t.f32(src), dst, n, iters, mul: a, add: b, precision });
      const got = await t.read(dst);
      expect(relErr(got, fmaRef(src, iters, a, b))).toBeLessThan(precision === 'f32' ? 1e-5 : 5e-3);
    });
  }

  it('refuses the f16 ceiling with a clear message where shader-f16 is missing', async () => {
    const t = await testGpu();
    const k = await Ceilings.create(t.kc);
    if (k.hasF16) return;
    expect(() => k.fma(t.rec, { src: t.f32(4), dst: t.f32(4), n: 1, iters: 1, mul: 1, add: 0, precision: 'f16' })).toThrow(/shader-f16/);
  });
});
