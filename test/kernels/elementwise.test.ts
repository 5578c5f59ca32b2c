import { describe, expect, it } from 'vitest';
import { dropoutThreshold, Elementwise } from '../../src/gpu/kernels/elementwise';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { addScaledRef, dropoutRef } from './elementwise.ref';

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

  it('dropout applies the hash mask of its reference, scaled by 1/(1-p), and the same seed repeats it', async () => {
    const t = await testGpu();
    const k = await Elementwise.create(t.kc);
    const n = 5000;
    const x = randn(rng(4), n);
    const src = t.f32(x);
    const a = t.f32(n);
    const b = t.f32(n);
    k.dropout(t.rec, a, src, n, 0.05, 1234);
    k.dropout(t.rec, b, src, n, 0.05, 1234);
    const got = await t.read(a, n);
    expect(relErr(got, dropoutRef(x, 0.05, 1234, dropoutThreshold(0.05)))).toBeLessThan(1e-6);
    expect(Array.from(await t.read(b, n))).toEqual(Array.from(got));
    const dropped = got.filter((v) => v === 0).length / n;
    expect(dropped).toBeGreaterThan(0.03);
    expect(dropped).toBeLessThan(0.07);
  });
});
