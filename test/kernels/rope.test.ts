import { describe, expect, it } from 'vitest';
import { Rope } from '../../src/gpu/kernels/rope';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { dot, numericGrad, relErrDefined } from './gradcheck.ref';
import { ropeRef } from './rope.ref';

describe('rope', () => {
  const cases = [
    { T: 1, nHeads: 1, headDim: 64, theta: 10000, style: 'normal', scale: 1, pos: [5] },
    { T: 7, nHeads: 3, headDim: 64, theta: 10000, style: 'normal', scale: 1, pos: [0, 1, 2, 3, 100, 200, 299] },
    { T: 7, nHeads: 2, headDim: 128, theta: 1000000, style: 'neox', scale: 1, pos: [0, 1, 17, 63, 64, 250, 300] },
    { T: 3, nHeads: 4, headDim: 80, theta: 500000, style: 'neox', scale: 4, pos: [3, 77, 301] },
    { T: 2, nHeads: 2, headDim: 6, theta: 10000, style: 'normal', scale: 1, pos: [9, 2] },
  ] as const;
  for (const c of cases) {
    it(`forward and backward match the reference (${c.style}, T=${c.T}, nHeads=${c.nHeads}, hd=${c.headDim}, scale=${c.scale})`, async () => {
      const t = await testGpu();
      const k = await Rope.create(t.kc);
      const n = c.T * c.nHeads * c.headDim;
      const x = randn(rng(n), n);
      const args = { pos: t.u32(c.pos), T: c.T, nHeads: c.nHeads, headDim: c.headDim, theta: c.theta, style: c.style, scale: c.scale };
      const buf = t.f32(x);
      k.forward(t.rec, { ...args, x: buf });
      const want = ropeRef(x, c.pos, c.T, c.nHeads, c.headDim, c.theta, c.style, c.scale);
      expect(relErr(await t.read(buf, n), want)).toBeLessThan(1e-4);
      const buf2 = t.f32(x);
      k.backward(t.rec, { ...args, x: buf2 });
      const wantB = ropeRef(x, c.pos, c.T, c.nHeads, c.headDim, c.theta, c.style, c.scale, { inverse: true });
      expect(relErr(await t.read(buf2, n), wantB)).toBeLessThan(1e-4);
    });
  }

  it('honours rowStride (q heads inside a wider row)', async () => {
    const t = await testGpu();
    const k = await Rope.create(t.kc);
    const T = 3, nHeads = 2, hd = 8, stride = 40;
    const x = randn(rng(3), T * stride);
    const pos = [4, 9, 31];
    const buf = t.f32(x);
    k.forward(t.rec, { x: buf, pos: t.u32(pos), T, nHeads, headDim: hd, theta: 10000, style: 'normal', scale: 1, rowStride: stride });
    const got = await t.read(buf, T * stride);
    const packed = new Float64Array(T * nHeads * hd);
    for (let r = 0; r < T; r++) packed.set(x.subarray(r * stride, r * stride + nHeads * hd), r * nHeads * hd);
    const want = ropeRef(packed, pos, T, nHeads, hd, 10000, 'normal');
    const wantFull = Float64Array.from(x);
    for (let r = 0; r < T; r++) wantFull.set(want.subarray(r * nHeads * hd, (r + 1) * nHeads * hd), r * stride);
    expect(relErr(got, wantFull)).toBeLessThan(1e-4);
  });

  it('rotates a second tensor of the same buffer in the same dispatch (q and k of a stacked projection)', async () => {
    const t = await testGpu();
    const k = await Rope.create(t.kc);
    const T = 3, nQ = 4, nK = 2, hd = 16;
    const pos = [0, 7, 130];
    const kOff = 256; // words: k starts where the stacked projection puts it, past a gap
    const x = randn(rng(21), kOff + T * nK * hd + 8);
    for (const style of ['normal', 'neox'] as const) {
      const buf = t.f32(x);
      const before = t.rec.dispatches;
      k.forward(t.rec, { x: buf, pos: t.u32(pos), T, nHeads: nQ, headDim: hd, theta: 10000, style, scale: 1, second: { nHeads: nK, offset: kOff * 4 } });
      expect(t.rec.dispatches - before).toBe(1);
      const got = await t.read(buf, x.length);
      const want = Float64Array.from(x); // the gap and the tail stay as they were
      want.set(ropeRef(x.subarray(0, T * nQ * hd), pos, T, nQ, hd, 10000, style), 0);
      want.set(ropeRef(x.subarray(kOff, kOff + T * nK * hd), pos, T, nK, hd, 10000, style), kOff);
      expect(relErr(got, want), style).toBeLessThan(1e-4);
    }
  });

  it('keeps sin/cos accurate at long-context positions (f32 angles up to 32k and 100k)', async () => {
    const t = await testGpu();
    const k = await Rope.create(t.kc);
    const pos = [32767, 31000, 20001, 8191, 65536, 100000];
    const T = pos.length, nHeads = 1, hd = 128;
    const x = randn(rng(9), T * hd);
    for (const style of ['normal', 'neox'] as const) {
      const buf = t.f32(x);
      k.forward(t.rec, { x: buf, pos: t.u32(pos), T, nHeads, headDim: hd, theta: 10000, style, scale: 1 });
      const got = await t.read(buf, T * hd);
      // The documented bound: |Δangle| within ~2 ulp of the angle (ulp(1e5) ≈ 7.8e-3, ulp(32k) ≈ 2e-3 rad),
      // i.e. about 6e-8·pos, relative to max|x| ≈ 3 here; measured ≈ 2.2e-8·pos.
      const bound = 5e-8 * Math.max(...pos);
      expect(relErr(got, ropeRef(x, pos, T, nHeads, hd, 10000, style, 1, { f32Angles: true }))).toBeLessThan(bound);
      expect(relErr(got, ropeRef(x, pos, T, nHeads, hd, 10000, style))).toBeLessThan(bound);
    }
  });

  it('backward reference is the finite-difference VJP of the forward reference', () => {
    const r = rng(11);
    const T = 2, nHeads = 2, hd = 8;
    const pos = [3, 12];
    const x = randn(r, T * nHeads * hd);
    const dy = randn(r, x.length);
    for (const style of ['normal', 'neox'] as const) {
      const num = numericGrad((xx) => dot(ropeRef(xx, pos, T, nHeads, hd, 10000, style, 2), dy), x);
      const vjp = ropeRef(dy, pos, T, nHeads, hd, 10000, style, 2, { inverse: true });
      expect(relErrDefined(vjp, num)).toBeLessThan(1e-8);
    }
  });
});
