import { expect, it } from 'vitest';
import { Rows } from '../../src/gpu/kernels/rows';
import { testGpu } from '../helpers/gpu';

it('gather_rows copies the selected rows in order', async () => {
  const t = await testGpu();
  const k = await Rows.create(t.kc);
  const d = 70;
  const src = Array.from({ length: 5 * d }, (_, i) => i * 0.5);
  const rows = [4, 0, 2];
  const out = t.f32(rows.length * d);
  k.gather(t.rec, { src: t.f32(src), rows: t.u32(rows), out, R: rows.length, d });
  const got = await t.read(out);
  const want = rows.flatMap((r) => src.slice(r * d, (r + 1) * d));
  expect(Array.from(got)).toEqual(want);
});
