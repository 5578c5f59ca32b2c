import { describe, expect, it } from 'vitest';
import { Elementwise } from '../../src/gpu/kernels/elementwise';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { addScaledRef } from './elementwise.ref';

describe('elementwise', () => {
  it('add_scaled matches the CPU reference, including a tail that is not a multiple of the workgroup', async () => {
    const t = await testGpu();
    const k = await Elementwise.create(t.kc);
    const r = rng(1);
    const n = 1000;
    const a = randn(r, n);
    const b = randn(r, n);
    const dst = t.f32(a);
    k.add(t.rec, dst, t.f32(b), n, 0.5);
    const got = await t.read(dst, n);
    expect(relErr(got, addScaledRef(a, b, 0.5))).toBeLessThan(1e-6);
  });

  it('copy_scaled and fill', async () => {
    const t = await testGpu();
    const k = await Elementwise.create(t.kc);
    const r = rng(2);
    const n = 300;
    const a = randn(r, n);
    const dst = t.f32(n);
    k.copy(t.rec, dst, t.f32(a), n, -2);
    expect(relErr(await t.read(dst, n), a.map((v) => -2 * v))).toBeLessThan(1e-6);
    k.fill(t.rec, dst, n - 1, Number.NaN);
    const got = await t.read(dst, n);
    expect(got.slice(0, n - 1).every(Number.isNaN)).toBe(true);
    expect(got[n - 1]).toBeCloseTo(-2 * a[n - 1], 5);
  });
});
