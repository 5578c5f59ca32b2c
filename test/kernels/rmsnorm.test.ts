import { describe, expect, it } from 'vitest';
import { RmsNorm } from '../../src/gpu/kernels/rmsnorm';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { dot, numericGrad, relErrDefined } from './gradcheck.ref';
import { PROFILES, profileKc } from './profiles';
import { rmsnormBackwardRef, rmsnormRef } from './rmsnorm.ref';

for (const profile of PROFILES) {
  describe(`rmsnorm (${profile.name} kernels)`, () => {
    for (const [T, d] of [
      [1, 64],
      [7, 300],
      [3, 1000],
      [2, 4096],
      [37, 67],
    ] as const) {
      it(`forward matches the CPU reference (T=${T}, d=${d})`, async () => {
        const t = await testGpu();
        const k = await RmsNorm.create(profileKc(t, profile.software));
        const r = rng(T * 1000 + d);
        const x = randn(r, T * d, 3);
        const w = randn(r, d);
        const out = t.f32(T * d);
        k.forward(t.rec, { x: t.f32(x), weight: t.f32(w), out, T, d, eps: 1e-5 });
        expect(relErr(await t.read(out, T * d), rmsnormRef(x, w, T, d, 1e-5))).toBeLessThan(1e-4);
      });
    }

    it.runIf(profile.software)('backward reference matches central finite differences', () => {
      const r = rng(5);
      const T = 3;
      const d = 11;
      const x = randn(r, T * d);
      const w = randn(r, d);
      const dy = randn(r, T * d);
      const eps = 1e-3;
      const num = numericGrad((xx) => dot(rmsnormRef(xx, w, T, d, eps), dy), x);
      expect(relErrDefined(rmsnormBackwardRef(x, w, dy, T, d, eps), num)).toBeLessThan(1e-7);
    });

    for (const [T, d] of [
      [1, 64],
      [7, 300],
      [2, 2048],
      [37, 67],
    ] as const) {
      it(`backward matches the reference, overwriting and accumulating (T=${T}, d=${d})`, async () => {
        const t = await testGpu();
        const k = await RmsNorm.create(profileKc(t, profile.software));
        const r = rng(T * 7 + d);
        const x = randn(r, T * d, 2);
        const w = randn(r, d);
        const dy = randn(r, T * d);
        const prior = randn(r, T * d);
        const want = rmsnormBackwardRef(x, w, dy, T, d, 1e-6);
        const xb = t.f32(x);
        const wb = t.f32(w);
        const dyb = t.f32(dy);
        const dx = t.f32(T * d);
        k.backward(t.rec, { x: xb, weight: wb, dy: dyb, dx, T, d, eps: 1e-6 });
        expect(relErr(await t.read(dx, T * d), want)).toBeLessThan(1e-4);
        const dx2 = t.f32(prior);
        k.backward(t.rec, { x: xb, weight: wb, dy: dyb, dx: dx2, T, d, eps: 1e-6, accumulate: true });
        expect(relErr(await t.read(dx2, T * d), want.map((v, i) => v + prior[i]))).toBeLessThan(1e-4);
      });
    }
  });
}
