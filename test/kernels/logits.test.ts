import { describe, expect, it } from 'vitest';
import { Argmax } from '../../src/gpu/kernels/logits';
import { readBuffer } from '../../src/gpu/memory';
import { randn, rng, testGpu } from '../helpers/gpu';
import { argmaxRef } from './logits.ref';
import { PROFILES, profileKc } from './profiles';

for (const profile of PROFILES) {
  describe(`argmax (${profile.name} kernels)`, () => {
    it('picks each row’s largest logit, lowest index on ties, ignoring NaN (V = 151936)', async () => {
      const t = await testGpu();
      const k = await Argmax.create(profileKc(t, profile.software));
      const B = 5;
      const V = 151936;
      const x = new Float32Array(randn(rng(2), B * V, 5));
      x[0 * V + 151935] = 1000; // last element
      x[1 * V + 0] = 1000; // first element
      x[2 * V + 777] = 50; // tie: 777 wins over 90001
      x[2 * V + 90001] = 50;
      x[2 * V + 5] = NaN;
      x[3 * V + 256] = 99;
      x[3 * V + 255] = 99; // tie across neighbouring invocations
      x.fill(-Infinity, 4 * V, 5 * V); // nothing finite
      x[4 * V + 12345] = NaN;
      const out = t.u32(new Uint32Array(B));
      k.forward(t.rec, { logits: t.f32(x), out, B, V });
      t.rec.submit();
      const got = new Uint32Array(await readBuffer(t.gpu, out, 0, B * 4));
      expect([...got]).toEqual([...argmaxRef(x, B, V)]);
      expect([...got]).toEqual([151935, 0, 777, 255, 0]);
    });

    it('handles V smaller than the workgroup and B = 1', async () => {
      const t = await testGpu();
      const k = await Argmax.create(profileKc(t, profile.software));
      for (const V of [1, 3, 257]) {
        const x = randn(rng(V), V);
        const out = t.u32([7]);
        k.forward(t.rec, { logits: t.f32(x), out, B: 1, V });
        t.rec.submit();
        const got = new Uint32Array(await readBuffer(t.gpu, out, 0, 4));
        expect(got[0]).toBe(argmaxRef(x, 1, V)[0]);
      }
    });

    it('keeps the lowest index on ties between lanes and the tail, over many rows', async () => {
      const t = await testGpu();
      const k = await Argmax.create(profileKc(t, profile.software));
      const B = 19;
      const V = 37; // 36 in steps of 4, one in the tail
      const x = new Float32Array(randn(rng(77), B * V));
      x[0 * V + 1] = 9; // tie between two lanes of the 4-wide scan: 1 beats 6
      x[0 * V + 6] = 9;
      x[1 * V + 3] = 9; // tie with the tail element: 3 beats 36
      x[1 * V + 36] = 9;
      x[2 * V + 36] = 9; // the tail alone
      x[3 * V + 2] = NaN;
      const out = t.u32(new Uint32Array(B));
      k.forward(t.rec, { logits: t.f32(x), out, B, V });
      t.rec.submit();
      const got = new Uint32Array(await readBuffer(t.gpu, out, 0, B * 4));
      expect([...got]).toEqual([...argmaxRef(x, B, V)]);
      expect([...got.subarray(0, 3)]).toEqual([1, 3, 36]);
    });
  });
}
