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
});
