import { describe, expect, it } from 'vitest';
import { Rows } from '../../src/gpu/kernels/rows';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { gatherRef, scatterAddRef, segmentSumRef } from './rows.ref';

describe('rows', () => {
  const d = 70;
  const r = rng(11);

  it('gather copies the selected rows in order, at an output row offset', async () => {
    const t = await testGpu();
    const k = await Rows.create(t.kc);
    const src = randn(r, 5 * d);
    const rows = [4, 0, 2];
    const out = t.f32((rows.length + 1) * d);
    k.gather(t.rec, { src: t.f32(src), rows: t.u32(rows), out, R: rows.length, d, outRow: 1 });
    const got = await t.read(out);
    expect(relErr(got.subarray(d), gatherRef(src, rows, d))).toBeLessThan(1e-7);
    expect(Array.from(got.subarray(0, d))).toEqual(new Array(d).fill(0));
  });

  it('scatter_add adds rows back at their indices', async () => {
    const t = await testGpu();
    const k = await Rows.create(t.kc);
    const base = randn(r, 6 * d);
    const src = randn(r, 3 * d);
    const rows = [5, 1, 3];
    const out = t.f32(base);
    k.scatterAdd(t.rec, { src: t.f32(src), rows: t.u32(rows), out, R: 3, d });
    expect(relErr(await t.read(out), scatterAddRef(base, src, rows, d))).toBeLessThan(1e-6);
  });

  it('segment_sum accumulates every token of a shared row and skips unmapped tokens', async () => {
    const t = await testGpu();
    const k = await Rows.create(t.kc);
    const nOut = 3;
    const base = randn(r, nOut * d);
    const rows = [0xffffffff, 2, 0, 2, 0xffffffff, 1, 2, 0];
    const src = randn(r, rows.length * d);
    const out = t.f32(base);
    k.segmentSum(t.rec, { src: t.f32(src), rows: t.u32(rows), out, T: rows.length, nOut, d });
    expect(relErr(await t.read(out), segmentSumRef(base, src, rows, nOut, d))).toBeLessThan(1e-6);
  });
});
