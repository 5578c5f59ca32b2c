import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/gpu/kernels/adamw';
import { SumSquares } from '../../src/gpu/kernels/reduce';
import { writeAligned } from '../../src/gpu/memory';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { adamwGuardedStepRef, adamwStepRef } from './adamw.ref';
import { sumSquaresRef } from './reduce.ref';

let t: TestGpu;
let adam: AdamW;
let ss: SumSquares;

beforeAll(async () => {
  t = await testGpu();
  [adam, ss] = await Promise.all([AdamW.create(t.kc), SumSquares.create(t.kc)]);
});

const HP = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

describe('adamw', () => {
  for (const [n, wd, gradScale] of [
    [1, 0, 1],
    [1000, 0.1, 0.25],
    [70_000, 0.01, 1 / 3],
  ] as const) {
    it(`5 steps match the reference (n=${n}, weightDecay=${wd}, gradScale=${gradScale.toFixed(3)})`, async () => {
      const r = rng(n + 1);
      const p = randn(r, n);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const pb = t.f32(p);
      const mb = t.f32(n);
      const vb = t.f32(n);
      const gb = t.f32(n);
      for (let step = 1; step <= 5; step++) {
        const g = Float32Array.from(randn(r, n, step)); // gradients of growing size
        writeAligned(t.gpu.device, gb, 0, g);
        adam.update(t.rec, { param: pb, grad: gb, m: mb, v: vb, n, ...HP, weightDecay: wd, step, gradScale, zeroGrad: step === 5 });
        adamwStepRef(p, m, v, g, { ...HP, weightDecay: wd, step, gradScale });
        t.rec.submit();
      }
      expect(relErr(await t.read(pb, n), p)).toBeLessThan(1e-5);
      expect(relErr(await t.read(mb, n), m)).toBeLessThan(1e-5);
      expect(relErr(await t.read(vb, n), v)).toBeLessThan(1e-5);
      expect((await t.read(gb, n)).every((x) => x === 0)).toBe(true); // zeroGrad on the last step
    });
  }

  it('weight decay alone shrinks parameters by (1 − lr·wd) when the gradient is zero', async () => {
    const p = [1, -2, 3];
    const pb = t.f32(p);
    adam.update(t.rec, { param: pb, grad: t.f32(3), m: t.f32(3), v: t.f32(3), n: 3, ...HP, weightDecay: 0.5, step: 1, gradScale: 1, zeroGrad: false });
    expect(relErr(await t.read(pb, 3), p.map((x) => x * (1 - 0.01 * 0.5)))).toBeLessThan(1e-7);
  });

  it('clips by the global norm from SumSquares on the GPU, and skips the step when it is not finite', async () => {
    const r = rng(99);
    const n1 = 300;
    const n2 = 50;
    const g1 = Float32Array.from(randn(r, n1, 3));
    const g2 = Float32Array.from(randn(r, n2, 3));
    const p1 = randn(r, n1);
    const p2 = randn(r, n2);
    const sumsq = t.f32([0, 0]);
    const g1b = t.f32(g1);
    const g2b = t.f32(g2);
    ss.accumulate(t.rec, { x: g1b, n: n1, out: sumsq, slot: 1, accumulate: false });
    ss.accumulate(t.rec, { x: g2b, n: n2, out: sumsq, slot: 1 });
    const S = sumSquaresRef(g1) + sumSquaresRef(g2);
    const gradScale = 0.5;
    const maxNorm = 1; // ‖0.5·g‖ ≈ 0.5·3·sqrt(350) ≈ 28: clipped hard
    const bufs = [
      { g: g1, gb: g1b, p: p1, pb: t.f32(p1), mb: t.f32(n1), vb: t.f32(n1), n: n1 },
      { g: g2, gb: g2b, p: p2, pb: t.f32(p2), mb: t.f32(n2), vb: t.f32(n2), n: n2 },
    ];
    for (const b of bufs) {
      adam.update(t.rec, {
        param: b.pb, grad: b.gb, m: b.mb, v: b.vb, n: b.n, ...HP, weightDecay: 0.1, step: 1, gradScale, zeroGrad: true,
        clip: { sumSquares: sumsq, slot: 1, maxNorm },
      });
    }
    for (const b of bufs) {
      const m = new Float64Array(b.n);
      const v = new Float64Array(b.n);
      adamwStepRef(b.p, m, v, b.g, { ...HP, weightDecay: 0.1, step: 1, gradScale, clip: { sumSquares: S, maxNorm } });
      expect(relErr(await t.read(b.pb, b.n), b.p)).toBeLessThan(1e-5);
      // Clipped first moment: (1 − β1)·g·c with ‖g·gradScale·c‖ = maxNorm.
      expect(relErr(await t.read(b.mb, b.n), m)).toBeLessThan(1e-4);
    }

    // A non-finite norm: no update at all, gradient still cleared.
    const p = Float32Array.from([0.5, -1.5]);
    const pb = t.f32(p);
    const gb = t.f32([1, 2]);
    const mb = t.f32([0.1, 0.2]);
    const bad = t.f32([Infinity]);
    adam.update(t.rec, {
      param: pb, grad: gb, m: mb, v: t.f32(2), n: 2, ...HP, weightDecay: 0.1, step: 3, gradScale: 1, zeroGrad: true,
      clip: { sumSquares: bad, maxNorm: 1 },
    });
    expect(await t.read(pb, 2)).toEqual(p);
    expect(Array.from(await t.read(mb, 2))).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(Array.from(await t.read(gb, 2))).toEqual([0, 0]);
  });

  it('the update guard skips the whole step when any new value would overflow f32, and flags it', async () => {
    for (const overflow of [false, true]) {
      const r = rng(7);
      const sizes = [300, 40];
      const ts = sizes.map((n) => ({ n, p: Float64Array.from(randn(r, n)), m: new Float64Array(n), v: new Float64Array(n), grad: Float32Array.from(randn(r, n)) }));
      // p·(1 − lr·wd) = 3e38 · (−9) is beyond f32 in the second tensor only.
      if (overflow) ts[1].p[17] = 3e38;
      const o = { ...HP, lr: 1, weightDecay: 10, step: 1, gradScale: 1 };
      const S = ts.reduce((s, x) => s + sumSquaresRef(x.grad), 0);
      const stats = t.f32([0, S, 0, 0]);
      const bufs = ts.map((x) => ({ pb: t.f32(x.p), mb: t.f32(x.n), vb: t.f32(x.n), gb: t.f32(x.grad) }));
      const args = (i: number) => ({
        param: bufs[i].pb, grad: bufs[i].gb, m: bufs[i].mb, v: bufs[i].vb, n: sizes[i], ...o, zeroGrad: true,
        clip: { sumSquares: stats, slot: 1, maxNorm: Infinity }, guard: { flagSlot: 3 },
      });
      for (let i = 0; i < ts.length; i++) adam.probe(t.rec, args(i));
      for (let i = 0; i < ts.length; i++) adam.update(t.rec, args(i));
      const before = ts.map((x) => Float32Array.from(x.p));
      const skipped = adamwGuardedStepRef(ts, { ...o, clip: { sumSquares: S, maxNorm: Infinity } });
      expect(skipped).toBe(overflow);
      expect((await t.read(stats, 4))[3]).toBe(overflow ? 1 : 0);
      for (let i = 0; i < ts.length; i++) {
        const got = await t.read(bufs[i].pb, sizes[i]);
        if (overflow) expect(got).toEqual(before[i]);
        else expect(relErr(got, ts[i].p)).toBeLessThan(1e-5);
        expect(Array.from(await t.read(bufs[i].gb, sizes[i])).every((g) => g === 0)).toBe(true);
      }
    }
  });
});
