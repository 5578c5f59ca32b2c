import { describe, expect, it } from 'vitest';
import { Swiglu } from '../../src/gpu/kernels/swiglu';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { dot, numericGrad, relErrDefined } from './gradcheck.ref';
import { swigluBackwardRef, swigluRef } from './swiglu.ref';

describe('swiglu', () => {
  for (const n of [1, 7 * 172, 3000]) {
    it(`forward matches the reference, separate output and in place (n=${n})`, async () => {
      const t = await testGpu();
      const k = await Swiglu.create(t.kc);
      const r = rng(n);
      const gate = randn(r, n, 4);
      const up = randn(r, n);
      if (n > 2) {
        gate[0] = 120; // stable sigmoid: no inf/NaN at the extremes
        gate[1] = -120;
      }
      const want = swigluRef(gate, up);
      const g = t.f32(gate);
      const u = t.f32(up);
      const out = t.f32(n);
      k.forward(t.rec, { gate: g, up: u, out, n });
      expect(relErr(await t.read(out, n), want)).toBeLessThan(1e-4);
      k.forward(t.rec, { gate: g, up: u, out: g, n });
      expect(relErr(await t.read(g, n), want)).toBeLessThan(1e-4);
    });
  }

  it('backward reference matches central finite differences', () => {
    const r = rng(3);
    const n = 13;
    const gate = randn(r, n, 3);
    const up = randn(r, n);
    const dout = randn(r, n);
    const { dgate, dup } = swigluBackwardRef(gate, up, dout);
    expect(relErrDefined(dgate, numericGrad((g) => dot(swigluRef(g, up), dout), gate))).toBeLessThan(1e-8);
    expect(relErrDefined(dup, numericGrad((u) => dot(swigluRef(gate, u), dout), up))).toBeLessThan(1e-8);
  });

  for (const n of [1, 1001]) {
    it(`backward matches the reference (n=${n})`, async () => {
      const t = await testGpu();
      const k = await Swiglu.create(t.kc);
      const r = rng(n + 1);
      const gate = randn(r, n, 4);
      const up = randn(r, n);
      const dout = randn(r, n);
      const want = swigluBackwardRef(gate, up, dout);
      const dgate = t.f32(n);
      const dup = t.f32(n);
      k.backward(t.rec, { gate: t.f32(gate), up: t.f32(up), dout: t.f32(dout), dgate, dup, n });
      expect(relErr(await t.read(dgate, n), want.dgate)).toBeLessThan(1e-4);
      expect(relErr(await t.read(dup, n), want.dup)).toBeLessThan(1e-4);
    });
  }
});
