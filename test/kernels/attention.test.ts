import { describe, expect, it } from 'vitest';
import { Attention } from '../../src/gpu/kernels/attention';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { attentionBackwardRef, attentionRef, kvGatherRef, kvWriteRef, type AttnDims } from './attention.ref';
import { dot, numericGrad, relErrDefined } from './gradcheck.ref';
import { PROFILES, profileKc } from './profiles';

interface Case {
  name: string;
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  maxSeq: number;
  slots: number;
  slot: number[];
  pos: number[];
  start: number[];
}

const cases: Case[] = [
  { name: 'decode T=1, GQA 1, hd=64', T: 1, nHeads: 4, nKv: 4, hd: 64, maxSeq: 16, slots: 1, slot: [0], pos: [9], start: [0] },
  {
    name: 'T=7 over two slots, GQA 2, custom start, hd=64',
    T: 7, nHeads: 8, nKv: 4, hd: 64, maxSeq: 24, slots: 2,
    slot: [0, 0, 0, 1, 1, 1, 1], pos: [3, 4, 5, 10, 11, 12, 13], start: [0, 0, 2, 0, 0, 0, 5],
  },
  {
    name: '~300 keys, GQA 4, hd=128',
    T: 3, nHeads: 8, nKv: 2, hd: 128, maxSeq: 320, slots: 1,
    slot: [0, 0, 0], pos: [299, 150, 310], start: [0, 100, 0],
  },
  { name: 'hd=256, GQA 2, 130 keys', T: 2, nHeads: 2, nKv: 1, hd: 256, maxSeq: 140, slots: 1, slot: [0, 0], pos: [129, 70], start: [0, 64] },
  {
    name: 'training-style prefill: T=40 causal, GQA 2 (dk/dv stream 80 query heads in two tiles, skipping empty ones)',
    T: 40, nHeads: 4, nKv: 2, hd: 64, maxSeq: 40, slots: 1,
    slot: new Array(40).fill(0), pos: Array.from({ length: 40 }, (_, i) => i), start: new Array(40).fill(0),
  },
  { name: 'hd=80 (partial dim chunk), GQA 4', T: 4, nHeads: 4, nKv: 1, hd: 80, maxSeq: 70, slots: 3, slot: [2, 0, 2, 1], pos: [65, 0, 66, 20], start: [0, 0, 1, 20] },
  {
    name: 'hd=6 (partial vec4 chunk), GQA 2, pos ≥ maxSeq',
    T: 5, nHeads: 4, nKv: 2, hd: 6, maxSeq: 12, slots: 2,
    slot: [0, 1, 0, 1, 0], pos: [3, 7, 4, 13, 9], start: [0, 0, 2, 3, 0],
  },
];

/** Random data already rounded to f32, so the GPU and the float64 reference see the same inputs. */
function setup(c: Case, seed: number) {
  const r = rng(seed);
  const cacheLen = c.slots * c.maxSeq * c.nKv * c.hd;
  const f = (n: number) => Float64Array.from(new Float32Array(randn(r, n)));
  return {
    q: f(c.T * c.nHeads * c.hd),
    k: f(c.T * c.nKv * c.hd),
    v: f(c.T * c.nKv * c.hd),
    kc0: f(cacheLen),
    vc0: f(cacheLen),
    dOut: f(c.T * c.nHeads * c.hd),
  };
}

for (const profile of PROFILES) {
  describe(`attention (${profile.name} kernels)`, () => {
    for (const [ci, c] of cases.entries()) {
      it(`kvWrite + forward (+lse) match the reference: ${c.name}`, async () => {
        const t = await testGpu();
        const att = await Attention.create(profileKc(t, profile.software), { backward: true });
        const x = setup(c, 100 + ci);
        const dims: AttnDims = { T: c.T, nHeads: c.nHeads, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq, scale: 1 / Math.sqrt(c.hd) };
        const kCache = t.f32(x.kc0);
        const vCache = t.f32(x.vc0);
        const slot = t.u32(c.slot);
        const pos = t.u32(c.pos);
        const start = t.u32(c.start);
        att.kvWrite(t.rec, { k: t.f32(x.k), v: t.f32(x.v), kCache, vCache, slot, pos, T: c.T, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq });
        const out = t.f32(c.T * c.nHeads * c.hd);
        const out2 = t.f32(c.T * c.nHeads * c.hd);
        const lse = t.f32(c.T * c.nHeads);
        const q = t.f32(x.q);
        att.forward(t.rec, { ...dims, q, kCache, vCache, slot, pos, start, out });
        att.forward(t.rec, { ...dims, q, kCache, vCache, slot, pos, start, out: out2, lse });

        const caches = kvWriteRef(x.kc0, x.vc0, x.k, x.v, c.slot, c.pos, c.T, c.nKv, c.hd, c.maxSeq);
        expect(relErr(await t.read(kCache), caches.kCache)).toBe(0);
        expect(relErr(await t.read(vCache), caches.vCache)).toBe(0);
        const want = attentionRef(x.q, caches.kCache, caches.vCache, c.slot, c.pos, c.start, dims);
        expect(relErr(await t.read(out), want.out)).toBeLessThan(1e-3);
        expect(relErr(await t.read(out2), want.out)).toBeLessThan(1e-3);
        expect(relErr(await t.read(lse), want.lse)).toBeLessThan(1e-4);
      });
    }

    it('kvGather (backward of kvWrite) matches finite differences of the composed reference', async () => {
      // L = Σ attention(q, kvWrite(caches, k, v)).out · dOut: ∂L/∂k = gather(dk of attention backward)
      const c: Case = { name: '', T: 3, nHeads: 2, nKv: 1, hd: 4, maxSeq: 6, slots: 2, slot: [1, 0, 1], pos: [2, 5, 3], start: [0, 1, 2] };
      const x = setup(c, 21);
      const dims: AttnDims = { T: c.T, nHeads: c.nHeads, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq, scale: 0.5 };
      const loss = (k: ArrayLike<number>, v: ArrayLike<number>) => {
        const cc = kvWriteRef(x.kc0, x.vc0, k, v, c.slot, c.pos, c.T, c.nKv, c.hd, c.maxSeq);
        return dot(attentionRef(x.q, cc.kCache, cc.vCache, c.slot, c.pos, c.start, dims).out, x.dOut);
      };
      const cc = kvWriteRef(x.kc0, x.vc0, x.k, x.v, c.slot, c.pos, c.T, c.nKv, c.hd, c.maxSeq);
      const g = attentionBackwardRef(x.q, cc.kCache, cc.vCache, c.slot, c.pos, c.start, x.dOut, dims);
      const want = kvGatherRef(g.dk, g.dv, c.slot, c.pos, c.T, c.nKv, c.hd, c.maxSeq);
      expect(relErrDefined(want.dk, numericGrad((k) => loss(k, x.v), x.k))).toBeLessThan(1e-7);
      expect(relErrDefined(want.dv, numericGrad((v) => loss(x.k, v), x.v))).toBeLessThan(1e-7);

      const t = await testGpu();
      const att = await Attention.create(profileKc(t, profile.software), { backward: true });
      const dk = t.f32(x.k.length);
      const dv = t.f32(x.v.length);
      att.kvGather(t.rec, { dkCache: t.f32(g.dk), dvCache: t.f32(g.dv), dk, dv, slot: t.u32(c.slot), pos: t.u32(c.pos), T: c.T, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq });
      expect(relErr(await t.read(dk), want.dk)).toBeLessThan(1e-6);
      expect(relErr(await t.read(dv), want.dv)).toBeLessThan(1e-6);
    });

    it('inference-only kernels refuse lse and backward with a clear error', async () => {
      const t = await testGpu();
      const att = await Attention.create(profileKc(t, profile.software));
      const b = t.f32(8);
      const u = t.u32([0]);
      const args = { q: b, kCache: b, vCache: b, slot: u, pos: u, start: u, out: t.f32(8), T: 1, nHeads: 1, nKv: 1, hd: 8, maxSeq: 1, scale: 1 };
      expect(() => att.forward(t.rec, { ...args, lse: t.f32(1) })).toThrow(/backward: true/);
    });

    it('forward is exact for one visible key and handles an empty range (start > pos) with zeros', async () => {
      const t = await testGpu();
      const att = await Attention.create(profileKc(t, profile.software), { backward: true });
      const hd = 8;
      const r = rng(4);
      const kc = randn(r, 4 * hd);
      const vc = randn(r, 4 * hd);
      const q = randn(r, 2 * hd);
      const out = t.f32(2 * hd);
      att.forward(t.rec, {
        q: t.f32(q), kCache: t.f32(kc), vCache: t.f32(vc), slot: t.u32([0, 0]), pos: t.u32([2, 1]), start: t.u32([2, 3]),
        out, T: 2, nHeads: 1, nKv: 1, hd, maxSeq: 4, scale: 0.3,
      });
      const got = await t.read(out);
      expect(relErr(got.subarray(0, hd), vc.subarray(2 * hd, 3 * hd))).toBeLessThan(1e-6);
      expect([...got.subarray(hd)]).toEqual(new Array(hd).fill(0));
    });

    it.runIf(profile.software)('backward reference matches central finite differences (GQA 2, two slots, custom start)', () => {
      const c: Case = { name: '', T: 4, nHeads: 4, nKv: 2, hd: 3, maxSeq: 5, slots: 2, slot: [0, 1, 0, 1], pos: [2, 4, 4, 1], start: [0, 1, 3, 0] };
      const x = setup(c, 7);
      const dims: AttnDims = { T: c.T, nHeads: c.nHeads, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq, scale: 0.7 };
      const f = (q: ArrayLike<number>, kc: ArrayLike<number>, vc: ArrayLike<number>) =>
        dot(attentionRef(q, kc, vc, c.slot, c.pos, c.start, dims).out, x.dOut);
      const got = attentionBackwardRef(x.q, x.kc0, x.vc0, c.slot, c.pos, c.start, x.dOut, dims);
      expect(relErrDefined(got.dq, numericGrad((q) => f(q, x.kc0, x.vc0), x.q))).toBeLessThan(1e-7);
      expect(relErrDefined(got.dk, numericGrad((k) => f(x.q, k, x.vc0), x.kc0))).toBeLessThan(1e-7);
      expect(relErrDefined(got.dv, numericGrad((v) => f(x.q, x.kc0, v), x.vc0))).toBeLessThan(1e-7);
    });

    for (const [ci, c] of cases.entries()) {
      it(`backward matches the reference: ${c.name}`, async () => {
        const t = await testGpu();
        const att = await Attention.create(profileKc(t, profile.software), { backward: true });
        const x = setup(c, 200 + ci);
        const dims: AttnDims = { T: c.T, nHeads: c.nHeads, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq, scale: 1 / Math.sqrt(c.hd) };
        const nq = c.T * c.nHeads * c.hd;
        const common = {
          ...dims, q: t.f32(x.q), kCache: t.f32(x.kc0), vCache: t.f32(x.vc0),
          slot: t.u32(c.slot), pos: t.u32(c.pos), start: t.u32(c.start),
        };
        const out = t.f32(nq);
        const lse = t.f32(c.T * c.nHeads);
        att.forward(t.rec, { ...common, out, lse });
        const nKeys = Math.min(c.maxSeq, Math.max(...c.pos) + 1);
        const sentinel = 12345;
        const dk = t.f32(new Float32Array(x.kc0.length).fill(sentinel));
        const dv = t.f32(new Float32Array(x.kc0.length).fill(sentinel));
        const dq = t.f32(nq);
        const stats = t.f32(2 * c.T * c.nHeads);
        const bw = { ...common, out, lse, dOut: t.f32(x.dOut), stats, dq, dk, dv, slots: c.slots, nKeys };
        att.backward(t.rec, bw);
        const want = attentionBackwardRef(x.q, x.kc0, x.vc0, c.slot, c.pos, c.start, x.dOut, dims);
        // rows [0, nKeys) of each slot are written, the others keep their contents
        const rowLen = c.nKv * c.hd;
        expect(relErr(await t.read(dq, nq), want.dq)).toBeLessThan(1e-3);
        const gotDk = await t.read(dk);
        const gotDv = await t.read(dv);
        const inRange = (a: ArrayLike<number>) => Float64Array.from(a).filter((_, i) => Math.floor(i / rowLen) % c.maxSeq < nKeys);
        expect(relErr(inRange(gotDk), inRange(want.dk))).toBeLessThan(1e-3);
        expect(relErr(inRange(gotDv), inRange(want.dv))).toBeLessThan(1e-3);
        expect(gotDk.filter((_, i) => Math.floor(i / rowLen) % c.maxSeq >= nKeys).every((v) => v === sentinel)).toBe(true);

        // accumulate adds onto what is there
        att.backward(t.rec, { ...bw, accumulate: true });
        expect(relErr(inRange(await t.read(dv)), inRange(want.dv.map((v) => 2 * v)))).toBeLessThan(1e-3);
        expect(relErr(inRange(await t.read(dk)), inRange(want.dk.map((v) => 2 * v)))).toBeLessThan(1e-3);
      });
    }
  });
}
