import { beforeAll, describe, expect, it } from 'vitest';
import { CrossEntropy, IGNORE_TARGET, Mse, SoftmaxCe } from '../../src/gpu/kernels/loss';
import type { KernelCache } from '../../src/gpu/kernel';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { numericGrad, relErrDefined } from './gradcheck.ref';
import { crossEntropyRef, mseRef, scaledTotal } from './loss.ref';
import { PROFILES, profileKc } from './profiles';

let t: TestGpu;

function targetsFor(r: () => number, R: number, V: number, ignore: number[] = []): number[] {
  return Array.from({ length: R }, (_, i) => (ignore.includes(i) ? IGNORE_TARGET : Math.floor(r() * V)));
}

for (const profile of PROFILES) {
  describe(`loss (${profile.name} kernels)`, () => {
    let ce: CrossEntropy;
    let mse: Mse;
    let kc: KernelCache;

    beforeAll(async () => {
      t = await testGpu();
      kc = profileKc(t, profile.software);
      [ce, mse] = await Promise.all([CrossEntropy.create(kc), Mse.create(kc)]);
    });

    describe('cross-entropy', () => {
      it.runIf(profile.software)('reference gradient matches central finite differences (with an ignored row)', () => {
        const r = rng(3);
        const R = 3;
        const V = 7;
        const x = randn(r, R * V, 2);
        const tg = [4, IGNORE_TARGET, 0];
        const scale = 0.5;
        const num = numericGrad((xx) => scaledTotal(crossEntropyRef(xx, tg, R, V, scale).loss, scale), x);
        expect(relErrDefined(crossEntropyRef(x, tg, R, V, scale).grad, num)).toBeLessThan(1e-7);
      });

      const cases: Array<{ R: number; V: number; ignore: number[]; offset: number }> = [
        { R: 1, V: 10, ignore: [], offset: 0 },
        { R: 5, V: 1000, ignore: [2], offset: 0 },
        { R: 3, V: 777, ignore: [], offset: 500 }, // exp(500) overflows f32: needs the max shift
        { R: 2, V: 151_936, ignore: [], offset: 0 }, // Qwen2 vocabulary
        { R: 37, V: 515, ignore: [0, 20], offset: 0 }, // several row groups; V % 4 = 3
      ];
      for (const c of cases) {
        it(`forwardBackward matches the reference (R=${c.R}, V=${c.V}, ignored ${c.ignore.length}, offset ${c.offset})`, async () => {
          const r = rng(c.R * 13 + c.V);
          const x = Float32Array.from(randn(r, c.R * c.V, 3), (v) => v + c.offset);
          const tg = targetsFor(r, c.R, c.V, c.ignore);
          const scale = 1 / (c.R - c.ignore.length);
          const want = crossEntropyRef(x, tg, c.R, c.V, scale);
          const logits = t.f32(x);
          const loss = t.f32(c.R);
          ce.forwardBackward(t.rec, { logits, targets: t.u32(tg), loss, R: c.R, V: c.V, scale });
          const gotLoss = await t.read(loss, c.R);
          expect(relErr(gotLoss, want.loss)).toBeLessThan(2e-6 * Math.max(1, c.offset));
          for (const i of c.ignore) expect(gotLoss[i]).toBe(0);
          // |x| ≈ 500 leaves f32 logits (and x − lse) about 3e-5 of absolute precision.
          expect(relErr(await t.read(logits, c.R * c.V), want.grad)).toBeLessThan(c.offset ? 1e-4 : 1e-5);
        });
      }

      it('handles −inf logits (masked vocabulary entries) and out-of-range targets as ignored', async () => {
        const R = 2;
        const V = 300;
        const x = randn(rng(9), R * V);
        for (let v = 0; v < V; v += 3) x[v] = -Infinity;
        const tg = [1, V + 5];
        const want = crossEntropyRef(x, tg, R, V, 1);
        const logits = t.f32(x);
        const loss = t.f32(R);
        ce.forwardBackward(t.rec, { logits, targets: t.u32(tg), loss, R, V, scale: 1 });
        expect(relErr(await t.read(loss, R), want.loss)).toBeLessThan(2e-6);
        expect(relErr(await t.read(logits, R * V), want.grad)).toBeLessThan(1e-5);
      });

      it('forward writes the loss and leaves the logits untouched', async () => {
        const R = 4;
        const V = 333;
        const r = rng(21);
        const x = Float32Array.from(randn(r, R * V, 2));
        const tg = targetsFor(r, R, V, [3]);
        const logits = t.f32(x);
        const loss = t.f32(R);
        ce.forward(t.rec, { logits, targets: t.u32(tg), loss, R, V });
        expect(relErr(await t.read(loss, R), crossEntropyRef(x, tg, R, V, 1).loss)).toBeLessThan(2e-6);
        expect(await t.read(logits, R * V)).toEqual(x);
      });

      it('SoftmaxCe keeps the scores when given a separate gradient buffer', async () => {
        const sce = await SoftmaxCe.create(kc);
        const B = 6;
        const k = 3;
        const r = rng(4);
        const x = Float32Array.from(randn(r, B * k, 2));
        const labels = targetsFor(r, B, k, [1]);
        const want = crossEntropyRef(x, labels, B, k, 0.2);
        const logits = t.f32(x);
        const dlogits = t.f32(B * k);
        const loss = t.f32(B);
        sce.forwardBackward(t.rec, { logits, labels: t.u32(labels), dlogits, loss, B, k, scale: 0.2 });
        expect(relErr(await t.read(dlogits, B * k), want.grad)).toBeLessThan(1e-5);
        expect(relErr(await t.read(loss, B), want.loss)).toBeLessThan(2e-6);
        expect(await t.read(logits, B * k)).toEqual(x);
      });
      it('forwardBackwardFloatTargets reads class ids stored as f32 (negative = ignored) and keeps the logits', async () => {
        const R = 5;
        const V = 4;
        const r = rng(8);
        const x = Float32Array.from(randn(r, R * V, 2));
        const ids = [3, -1, 0, 2, 1];
        const want = crossEntropyRef(x, ids.map((i) => (i < 0 ? IGNORE_TARGET : i)), R, V, 0.25);
        const logits = t.f32(x);
        const dlogits = t.f32(R * V);
        const loss = t.f32(R);
        ce.forwardBackwardFloatTargets(t.rec, { logits, targets: t.f32(ids), dlogits, loss, R, V, scale: 0.25 });
        expect(relErr(await t.read(dlogits, R * V), want.grad)).toBeLessThan(1e-5);
        expect(relErr(await t.read(loss, R), want.loss)).toBeLessThan(2e-6);
        expect(await t.read(logits, R * V)).toEqual(x);
      });
    });

    describe('mse', () => {
      it.runIf(profile.software)('reference gradient matches central finite differences (masked)', () => {
        const r = rng(5);
        const B = 3;
        const k = 4;
        const p = randn(r, B * k);
        const y = randn(r, B * k);
        const m = Array.from({ length: B * k }, (_, i) => (i % 5 === 0 ? 0 : 0.5 + (i % 3)));
        const scale = 1 / 7;
        const num = numericGrad((pp) => scaledTotal(mseRef(pp, y, m, B, k, scale).loss, scale), p);
        expect(relErrDefined(mseRef(p, y, m, B, k, scale).grad, num)).toBeLessThan(1e-7);
      });

      for (const [B, k, masked] of [
        [1, 1, false],
        [7, 3, true],
        [4, 300, false],
        [3, 130, true],
      ] as const) {
        it(`forwardBackward matches the reference (B=${B}, k=${k}, mask=${masked})`, async () => {
          const r = rng(B * 100 + k);
          const p = randn(r, B * k);
          const y = randn(r, B * k);
          const m = masked ? Array.from({ length: B * k }, () => (r() < 0.3 ? 0 : 1)) : undefined;
          const scale = 1 / (B * k);
          const want = mseRef(p, y, m, B, k, scale);
          const dpred = t.f32(B * k);
          const loss = t.f32(B);
          const pb = t.f32(p);
          mse.forwardBackward(t.rec, { pred: pb, target: t.f32(y), mask: m && t.f32(m), dpred, loss, B, k, scale });
          expect(relErr(await t.read(dpred, B * k), want.grad)).toBeLessThan(1e-5);
          expect(relErr(await t.read(loss, B), want.loss)).toBeLessThan(1e-5);
          const loss2 = t.f32(B);
          mse.forward(t.rec, { pred: pb, target: t.f32(y), mask: m && t.f32(m), loss: loss2, B, k });
          expect(relErr(await t.read(loss2, B), want.loss)).toBeLessThan(1e-5);
        });
      }
    });
  });
}
