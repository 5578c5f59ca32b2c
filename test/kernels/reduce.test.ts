import { beforeAll, describe, expect, it } from 'vitest';
import { Reduce, SumSquares } from '../../src/gpu/kernels/reduce';
import { randn, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { PROFILES, profileKc } from './profiles';
import { sumRef, sumSquaresRef } from './reduce.ref';

let t: TestGpu;

function close(got: number, want: number, scaleOf: number, tol = 1e-5): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(scaleOf)));
}

for (const profile of PROFILES) {
  describe(`reduce (${profile.name} kernels)`, () => {
    let red: Reduce;
    let ss: SumSquares;

    beforeAll(async () => {
      t = await testGpu();
      const kc = profileKc(t, profile.software);
      [red, ss] = await Promise.all([Reduce.create(kc), SumSquares.create(kc)]);
    });

    // GPU: 1 and 4095 take the single-dispatch path; 4097 and up two levels; 3e6 hits the partials cap
    // (512). Software: up to 2048 one dispatch; 3e6 hits the cap too.
    for (const n of [1, 255, 4095, 4097, 100_000, 3_000_000]) {
      it(`sum and sum of squares match the reference (n=${n})`, async () => {
        const x = Float32Array.from(randn(rng(n), n));
        const xb = t.f32(x);
        const out = t.f32([7, 7, 7]);
        red.sum(t.rec, { x: xb, n, out, slot: 1 });
        red.sumSquares(t.rec, { x: xb, n, out, slot: 2 });
        const got = await t.read(out, 3);
        expect(got[0]).toBe(7);
        let absSum = 0;
        for (const v of x) absSum += Math.abs(v);
        close(got[1], sumRef(x), absSum);
        close(got[2], sumSquaresRef(x), sumSquaresRef(x));
      });
    }

    it('SumSquares.accumulate adds several buffers into one slot; Reduce.sum overwrites unless asked', async () => {
      const r = rng(11);
      const a = Float32Array.from(randn(r, 10_000));
      const b = Float32Array.from(randn(r, 37));
      const c = Float32Array.from(randn(r, 5000));
      const out = t.f32([0, 100]);
      const ab = t.f32(a);
      ss.accumulate(t.rec, { x: ab, n: a.length, out, slot: 1, accumulate: false }); // first: overwrite 100
      ss.accumulate(t.rec, { x: t.f32(b), n: b.length, out, slot: 1 });
      ss.accumulate(t.rec, { x: t.f32(c), n: c.length, out, slot: 1 });
      const want = sumSquaresRef(a) + sumSquaresRef(b) + sumSquaresRef(c);
      close((await t.read(out, 2))[1], want, want);

      const tot = t.f32([5]);
      red.sum(t.rec, { x: ab, n: a.length, out: tot });
      red.sum(t.rec, { x: ab, n: 100, out: tot, accumulate: true });
      close((await t.read(tot, 1))[0], sumRef(a) + sumRef(a, 100), 200);
    });

    it('n = 0 writes 0 (or leaves the total when accumulating)', async () => {
      const out = t.f32([3, 4]);
      const x = t.f32([1]);
      red.sum(t.rec, { x, n: 0, out, slot: 0 });
      ss.accumulate(t.rec, { x, n: 0, out, slot: 1 });
      expect(Array.from(await t.read(out, 2))).toEqual([0, 4]);
    });

    it('sums a range of a buffer (per-row losses of a sub-batch)', async () => {
      const x = Float32Array.from(randn(rng(3), 3000));
      const xb = t.f32(x);
      const out = t.f32(1);
      red.sum(t.rec, { x: { buffer: xb, offset: 256 * 4, size: 2000 * 4 }, n: 2000, out });
      close((await t.read(out, 1))[0], sumRef(x.subarray(256), 2000), 2000);
    });
  });
}
