import { beforeAll, describe, expect, it } from 'vitest';
import { KernelCache } from '../../src/gpu/kernel';
import { WeightGrad } from '../../src/gpu/kernels/weightgrad';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { dot, numericGrad, relErrDefined } from './gradcheck.ref';
import { PROFILES, profileKc } from './profiles';
import { biasGradRef, linearRef, weightGradRef } from './weightgrad.ref';

let t: TestGpu;

/**
 * Each profile with this adapter's tile shape, and the GPU kernels with the shape chosen for small limits
 * (64 invocations, 4 KiB: 32×32 tiles of dw, 16 rows of M per step).
 */
const CONFIGS = [
  ...PROFILES.map((p) => ({ ...p, limits: null })),
  { name: 'gpu, small limits', software: false, limits: { maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 4096 } },
] as const;

for (const profile of CONFIGS) {
  describe(`weightgrad (${profile.name} kernels)`, () => {
    let wg: WeightGrad;

    beforeAll(async () => {
      t = await testGpu();
      if (!profile.limits) {
        wg = await WeightGrad.create(profileKc(t, profile.software));
        return;
      }
      wg = await WeightGrad.create(new KernelCache({ ...t.gpu, software: false, limits: { ...t.gpu.limits, ...profile.limits } }));
      expect(wg.plan).toEqual({ tile: 32, chunk: 16, threads: 64 });
    });

    it.runIf(profile.software)('references match central finite differences of y = x·Wᵀ + b', () => {
      const r = rng(2);
      const [M, N, K] = [4, 3, 5];
      const x = randn(r, M * K);
      const w = randn(r, N * K);
      const b = randn(r, N);
      const dy = randn(r, M * N);
      const numW = numericGrad((ww) => dot(linearRef(x, ww, b, M, N, K), dy), w);
      const numB = numericGrad((bb) => dot(linearRef(x, w, bb, M, N, K), dy), b);
      expect(relErrDefined(weightGradRef(dy, x, M, N, K, 1), numW)).toBeLessThan(1e-8);
      expect(relErrDefined(biasGradRef(dy, M, N, 1), numB)).toBeLessThan(1e-8);
    });

    // Shapes: a head (N = k small, K = d), LoRA A (N = r, K = d), LoRA B (N = d, K = r), and ragged tiles.
    const cases: Array<[M: number, N: number, K: number]> = [
      [1, 1, 1],
      [37, 3, 130], // head: 3 outputs, d = 130
      [70, 8, 200], // LoRA A: r = 8
      [33, 150, 8], // LoRA B
      [17, 65, 129], // one past the 64-tiles in both dims, M not a multiple of 16
      [40, 70, 33], // M past one 32-row step, N and K one past 32-tiles
    ];
    for (const [M, N, K] of cases) {
      it(`accumulate matches the reference, overwriting and accumulating (M=${M}, N=${N}, K=${K})`, async () => {
        const r = rng(M * 1000 + N * 10 + K);
        const dy = randn(r, M * N);
        const x = randn(r, M * K);
        const prior = randn(r, N * K);
        const dyb = t.f32(dy);
        const xb = t.f32(x);
        const dw = t.f32(Array.from({ length: N * K }, () => NaN)); // overwrite must not read it
        wg.accumulate(t.rec, { dy: dyb, x: xb, dw, M, N, K, scale: 0.5, accumulate: false });
        expect(relErr(await t.read(dw, N * K), weightGradRef(dy, x, M, N, K, 0.5))).toBeLessThan(1e-5);
        const dw2 = t.f32(prior);
        wg.accumulate(t.rec, { dy: dyb, x: xb, dw: dw2, M, N, K, scale: 2, accumulate: true });
        expect(relErr(await t.read(dw2, N * K), weightGradRef(dy, x, M, N, K, 2, prior))).toBeLessThan(1e-5);
      });
    }

    for (const [M, N] of [
      [1, 1],
      [37, 3],
      [130, 70],
    ] as const) {
      it(`biasGrad matches the reference (M=${M}, N=${N})`, async () => {
        const r = rng(M + N);
        const dy = randn(r, M * N);
        const prior = randn(r, N);
        const dyb = t.f32(dy);
        const db = t.f32(Array.from({ length: N }, () => NaN));
        wg.biasGrad(t.rec, { dy: dyb, db, M, N, scale: 0.25, accumulate: false });
        expect(relErr(await t.read(db, N), biasGradRef(dy, M, N, 0.25))).toBeLessThan(1e-5);
        const db2 = t.f32(prior);
        wg.biasGrad(t.rec, { dy: dyb, db: db2, M, N, scale: -1, accumulate: true });
        expect(relErr(await t.read(db2, N), biasGradRef(dy, M, N, -1, prior))).toBeLessThan(1e-5);
      });
    }

    it('covers many tiles along K with a tiny N (every column written)', async () => {
      const [M, N, K] = [3, 2, 9000];
      const r = rng(77);
      const dy = randn(r, M * N);
      const x = randn(r, M * K);
      const dw = t.f32(N * K);
      wg.accumulate(t.rec, { dy: t.f32(dy), x: t.f32(x), dw, M, N, K, scale: 1, accumulate: false });
      expect(relErr(await t.read(dw, N * K), weightGradRef(dy, x, M, N, K, 1))).toBeLessThan(1e-5);
    });
  });
}
