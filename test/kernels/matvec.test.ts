import { beforeAll, describe, expect, it } from 'vitest';
import { KernelCache } from '../../src/gpu/kernel';
import { MATMUL_TYPES } from '../../src/gpu/kernels/matmul';
import { DecodeMatvec, matvecShape, type MatvecMode } from '../../src/gpu/kernels/matvec';
import { GgmlType, TYPE_LAYOUT } from '../../src/model/types';
import { loraBLayout } from '../../src/model/adapters';
import { randn, relErr, rng, stackedWeights, testGpu, type TestGpu } from '../helpers/gpu';
import { matmulRef } from './matmul.ref';
import { matvecGluRef, matvecNormRef, matvecRopeRef } from './matvec.ref';
import { profileKc } from './profiles';

let t: TestGpu;
const MODES: MatvecMode[] = ['plain', 'norm', 'glu', 'rope'];

/**
 * The kernel variants: software (*_sw), and the GPU workgroup design with the real-GPU profile forced,
 * once with the workgroup-memory reduction and once with subgroups where the device has them.
 */
const VARIANTS = [
  { name: 'software', software: true, subgroups: false, swRows: undefined, swUnits: false },
  // Single-row decode with 1, 2 and 4 output slots per invocation (the default is SW_ROWS = 8).
  { name: 'software, swRows 1', software: true, subgroups: false, swRows: 1, swUnits: false },
  { name: 'software, swRows 2', software: true, subgroups: false, swRows: 2, swUnits: false },
  { name: 'software, swRows 4', software: true, subgroups: false, swRows: 4, swUnits: false },
  // Batched rows (M > 1) on the older unit-wise loop (SW_MB = 0), kept for bench/decode-batched-sw.ts.
  { name: 'software, units', software: true, subgroups: false, swRows: undefined, swUnits: true },
  { name: 'gpu', software: false, subgroups: false, swRows: undefined, swUnits: false },
  { name: 'gpu+subgroups', software: false, subgroups: true, swRows: undefined, swUnits: false },
] as const;

/**
 * Which (type, modes) each variant is checked on. The dequantizing loop is one function for all modes
 * (plain: one row, no norm; rope: two rows with norm), so the GPU variants take every type through
 * those two and the other modes on a float and a K-quant type: each GPU pipeline costs ~10 s to build
 * on SwiftShader. The subgroup variant changes only the reduction, which no type touches.
 */
function modesFor(variant: string, type: GgmlType): MatvecMode[] {
  const full = type === GgmlType.F32 || type === GgmlType.Q4_K;
  if (variant.startsWith('software') || full) return MODES;
  return variant === 'gpu' ? ['plain', 'rope'] : [];
}

beforeAll(async () => {
  t = await testGpu();
});

const kernelsFor = (v: (typeof VARIANTS)[number], type: GgmlType, modes: MatvecMode[]) =>
  DecodeMatvec.create(profileKc(t, v.software), modes.map((m) => [type, m] as const), { subgroups: v.subgroups, swRows: v.swRows, swUnits: v.swUnits });


/** K-quants: two super-blocks; Q4_0/Q8_0: three blocks; float types: K % 8 == 4 (the tail path). */
function kFor(type: GgmlType): number {
  const be = TYPE_LAYOUT[type].blockElems;
  return be === 256 ? 512 : be === 32 ? 96 : 100;
}

describe('matvec shapes', () => {
  it('come from the adapter limits, with subgroups only where the device has them', async () => {
    t = await testGpu();
    const lim = { ...t.gpu.limits, maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 64 };
    const s = matvecShape({ limits: lim, features: t.gpu.features }, false);
    expect(s).toEqual({ wgs: 64, rows: 1, tpr: 64, subgroups: false });
    const big = matvecShape({ limits: { ...t.gpu.limits, subgroupMaxSize: 32 }, features: t.gpu.features }, true);
    expect(big).toMatchObject({ wgs: 256, tpr: 32, rows: 8, subgroups: true });
    // Unknown subgroup size: the workgroup-memory reduction.
    expect(matvecShape({ limits: { ...t.gpu.limits, subgroupMaxSize: 0 }, features: t.gpu.features }, true).subgroups).toBe(false);
    const noSg = new KernelCache({ ...t.gpu, software: false, features: { ...t.gpu.features, subgroups: false } });
    const mv = await DecodeMatvec.create(noSg, [[MATMUL_TYPES[0], 'plain']]);
    expect(mv.shape?.subgroups).toBe(false);
    if (t.gpu.features.subgroups && (t.gpu.limits.subgroupMaxSize ?? 0) > 0) {
      const sg = await kernelsFor(VARIANTS.find((v) => v.name === 'gpu+subgroups')!, MATMUL_TYPES[0], ['plain']);
      expect(sg.shape?.subgroups).toBe(true);
    }
  });
});

for (const v of VARIANTS) {
  describe(`matvec fused decode projections (${v.name} kernels)`, () => {
    for (const type of MATMUL_TYPES) {
      const name = TYPE_LAYOUT[type].name;
      const modes = modesFor(v.name, type);
      if (modes.length === 0) continue;
      it(`${name}: ${modes.join(', ')} each match their CPU reference in one dispatch`, async () => {
        const kernels = await kernelsFor(v, type, modes);
        const mv = () => kernels;
        const K = kFor(type);
        const eps = 1e-5;
        const r = rng(1000 + type);
        const g = randn(r, K, 0.5).map((x) => 1 + x);
        const gBuf = t.f32(g);
        const one = async (f: () => void) => {
          const before = t.rec.dispatches;
          f();
          expect(t.rec.dispatches - before).toBe(1);
        };
        // Software: every chunk size of the batched path (M = 2..8), and 9 = a full chunk and one more.
        for (const M of v.software ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1, 3, 9]) {
          const x = randn(r, M * K);
          const xBuf = t.f32(x);
          // plain: y = init + x·Wᵀ + bias (accumulate)
          if (modes.includes('plain')) {
            const N = 37;
            const { ws, deq } = stackedWeights(t, type, [N], K, 10 + type, 256);
            const bias = randn(r, N);
            const init = randn(r, M * N);
            const y = t.f32(init);
            await one(() => mv().plain(t.rec, { x: xBuf, w: ws[0], y, M, bias: t.f32(bias), accumulate: true }));
            expect(relErr(await t.read(y, M * N), matmulRef(x, deq[0], M, N, K, bias, init)), `plain M=${M}`).toBeLessThan(1e-3);
          }
          // norm: y = rmsnorm(x)·Wᵀ, xn written
          if (modes.includes('norm')) {
            const N = 29;
            const { ws, deq } = stackedWeights(t, type, [N], K, 20 + type, 256);
            const y = t.f32(M * N);
            const xn = t.f32(M * K);
            await one(() => mv().norm(t.rec, { x: xBuf, w: ws[0], y, M, weight: gBuf, eps, xn }));
            const want = matvecNormRef(x, g, eps, deq[0], M, N, K);
            expect(relErr(await t.read(y, M * N), want.y), `norm M=${M}`).toBeLessThan(1e-3);
            expect(relErr(await t.read(xn, M * K), want.xn), `xn M=${M}`).toBeLessThan(1e-5);
          }
          // glu: y = silu(rmsnorm(x)·gateᵀ)·(rmsnorm(x)·upᵀ)
          if (modes.includes('glu')) {
            const F = 24;
            const { ws, deq } = stackedWeights(t, type, [F, F], K, 30 + type, 256);
            const y = t.f32(M * F);
            await one(() => mv().glu(t.rec, { x: xBuf, gate: ws[0], up: ws[1], y, M, weight: gBuf, eps }));
            expect(relErr(await t.read(y, M * F), matvecGluRef(x, g, eps, deq[0], deq[1], M, F, K)), `glu M=${M}`).toBeLessThan(1e-3);
          }
          // rope: q rotated, k rotated and v into the caches at (slot, pos)
          for (const style of modes.includes('rope') ? (['normal', 'neox'] as const) : []) {
            const hd = 8;
            const nHeads = 4;
            const nKv = 2;
            const slots = 4;
            const maxSeq = 16;
            const kvd = nKv * hd;
            const { ws, deq } = stackedWeights(t, type, [nHeads * hd, kvd, kvd], K, 40 + type, 256);
            const bias = randn(r, nHeads * hd + 2 * kvd);
            const slot = Array.from({ length: M }, (_, m) => m % slots);
            const pos = Array.from({ length: M }, (_, m) => (m * 5 + 3) % maxSeq);
            const kc0 = randn(r, slots * maxSeq * kvd);
            const vc0 = randn(r, slots * maxSeq * kvd);
            const kCache = t.f32(kc0);
            const vCache = t.f32(vc0);
            const q = t.f32(M * nHeads * hd);
            const scale = style === 'neox' ? 2 : 1;
            await one(() =>
              mv().rope(t.rec, {
                x: xBuf, ws: [ws[0], ws[1], ws[2]], bias: t.f32(bias), q, M, weight: gBuf, eps,
                kCache, vCache, slotPos: t.u32([...slot, ...pos]), posOffset: M,
                headDim: hd, theta: 10000, style, scale, maxSeq,
              }),
            );
            const want = matvecRopeRef({ x, g, eps, wq: deq[0], wk: deq[1], wv: deq[2], bias, M, K, nHeads, nKv, hd, theta: 10000, style, scale, slot, pos, kCache: kc0, vCache: vc0, maxSeq });
            expect(relErr(await t.read(q, M * nHeads * hd), want.q), `rope q ${style} M=${M}`).toBeLessThan(1e-3);
            expect(relErr(await t.read(kCache, kc0.length), want.kCache), `rope k ${style} M=${M}`).toBeLessThan(1e-3);
            expect(relErr(await t.read(vCache, vc0.length), want.vCache), `rope v ${style} M=${M}`).toBeLessThan(1e-3);
          }
        }
      });
    }
  });
}

describe('matvec stream (the dequantization ceiling of bench/roofline.ts)', () => {
  // y[n] = Σ_k W[n, k]: the decode loop with x taken as ones and never read (x here is zeros to prove it).
  for (const v of [VARIANTS[0], VARIANTS.find((x) => x.name === 'gpu')!]) {
    const types = v.software ? [GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K] : [GgmlType.Q4_0];
    it(`${v.name}: ${types.map((ty) => TYPE_LAYOUT[ty].name).join(', ')} row sums match the CPU reference`, async () => {
      for (const type of types) {
        const K = kFor(type);
        const N = 19;
        const mv = await DecodeMatvec.create(profileKc(t, v.software), [[type, 'plain']], { stream: true });
        const { ws, deq } = stackedWeights(t, type, [N], K, 50 + type, 256);
        const y = t.f32(N);
        mv.plain(t.rec, { x: t.f32(K), w: ws[0], y, M: 1 });
        expect(relErr(await t.read(y, N), matmulRef(new Float64Array(K).fill(1), deq[0], 1, N, K)), TYPE_LAYOUT[type].name).toBeLessThan(1e-3);
      }
    });
  }
  it('is a plain single-row matvec only', async () => {
    await expect(DecodeMatvec.create(profileKc(t, true), [[GgmlType.Q4_0, 'glu']], { stream: true })).rejects.toThrow(/plain/);
  });
});

describe('matvec input checks', () => {
  it('rejects matrices that are not stacked in one buffer', async () => {
    const mv = await kernelsFor(VARIANTS[0], MATMUL_TYPES[0], ['glu']);
    const a = stackedWeights(t, MATMUL_TYPES[0], [8], 100, 1, 256).ws[0];
    const b = stackedWeights(t, MATMUL_TYPES[0], [8], 100, 2, 256).ws[0];
    expect(() => mv.glu(t.rec, { x: t.f32(100), gate: a, up: b, y: t.f32(8), M: 1, weight: t.f32(100), eps: 1e-5 })).toThrow(/not stacked/);
  });
});

/**
 * B pack (adapters.ts loraBLayout) of random B's for parts of `rows` outputs and ranks R (0: no adapter),
 * a random u [M, ΣR], and the term each output row gets: add [M, Σrows].
 */
function loraFixture(rows: number[], ranks: number[], M: number, seed: number) {
  const r = rng(seed);
  const lay = loraBLayout(rows.map((out, i) => ({ out, R: ranks[i] })));
  const lb = new Float32Array(lay.words);
  new Uint32Array(lb.buffer).set(lay.header);
  const u = randn(r, Math.max(1, M * lay.R));
  const N = rows.reduce((a, b) => a + b, 0);
  const add = new Float64Array(M * N);
  let first = 0;
  rows.forEach((out, i) => {
    const R = ranks[i];
    const B = randn(r, out * R, 0.5);
    lb.set(B, lay.bOff[i]);
    for (let m = 0; m < M; m++) for (let n = 0; n < out; n++) {
      let s = 0;
      for (let j = 0; j < R; j++) s += u[m * lay.R + lay.uOff[i] + j] * B[n * R + j];
      add[m * N + first + n] = s;
    }
    first += out;
  });
  return { lora: { u: t.f32(u), b: t.bytes(lb) }, add, N };
}

// Software: SW_ROWS (8) slots per single-row invocation on F32, Q4_0, Q8_0; 1 and 2 on the K-quants
// (so the slots clamped past N = 37 / 24 / 40 rows are exercised in every width).
const LORA_VARIANTS = [
  { v: VARIANTS[0], types: [GgmlType.F32, GgmlType.Q4_0, GgmlType.Q8_0] },
  { v: VARIANTS[1], types: [GgmlType.Q4_K] },
  { v: VARIANTS[2], types: [GgmlType.Q6_K] },
];

for (const { v, types } of LORA_VARIANTS) {
  describe(`matvec LoRA variants (${v.name} kernels)`, () => {
    for (const type of types) {
      it(`${TYPE_LAYOUT[type].name}: plain, glu and rope add B·u per part (none on a part without an adapter)`, async () => {
        const modes: MatvecMode[] = ['plain', 'glu', 'rope'];
        const mv = await DecodeMatvec.create(profileKc(t, v.software), modes.map((m) => [type, m] as const), { lora: true, swRows: v.swRows });
        const K = kFor(type);
        const eps = 1e-5;
        const r = rng(2000 + type);
        const g = randn(r, K, 0.5).map((x) => 1 + x);
        const gBuf = t.f32(g);
        for (const M of [1, 2, 3, 5, 8, 9]) {
          const x = randn(r, M * K);
          const xBuf = t.f32(x);
          {
            const N = 37;
            const { ws, deq } = stackedWeights(t, type, [N], K, 10 + type, 256);
            const bias = randn(r, N);
            const init = randn(r, M * N);
            const y = t.f32(init);
            const lf = loraFixture([N], [5], M, 1 + M);
            mv.plain(t.rec, { x: xBuf, w: ws[0], y, M, bias: t.f32(bias), accumulate: true, lora: lf.lora });
            const want = matmulRef(x, deq[0], M, N, K, bias, init.map((v, i) => v + lf.add[i]));
            expect(relErr(await t.read(y, M * N), want), `plain M=${M}`).toBeLessThan(1e-3);
          }
          {
            const F = 24;
            const { ws, deq } = stackedWeights(t, type, [F, F], K, 30 + type, 256);
            const y = t.f32(M * F);
            const lf = loraFixture([F, F], [3, 0], M, 2 + M);
            mv.glu(t.rec, { x: xBuf, gate: ws[0], up: ws[1], y, M, weight: gBuf, eps, lora: lf.lora });
            const addGate = new Float64Array(M * F);
            for (let m = 0; m < M; m++) for (let n = 0; n < F; n++) addGate[m * F + n] = lf.add[m * 2 * F + n];
            const got = await t.read(y, M * F);
            expect(relErr(got, matvecGluRef(x, g, eps, deq[0], deq[1], M, F, K, addGate)), `glu M=${M}`).toBeLessThan(1e-3);
            expect(relErr(got, matvecGluRef(x, g, eps, deq[0], deq[1], M, F, K))).toBeGreaterThan(1e-2);
          }
          {
            const [hd, nHeads, nKv, slots, maxSeq] = [8, 4, 2, 4, 16];
            const kvd = nKv * hd;
            const { ws, deq } = stackedWeights(t, type, [nHeads * hd, kvd, kvd], K, 40 + type, 256);
            const bias = randn(r, nHeads * hd + 2 * kvd);
            const slot = Array.from({ length: M }, (_, m) => m % slots);
            const pos = Array.from({ length: M }, (_, m) => (m * 5 + 3) % maxSeq);
            const kc0 = randn(r, slots * maxSeq * kvd);
            const vc0 = randn(r, slots * maxSeq * kvd);
            const kCache = t.f32(kc0);
            const vCache = t.f32(vc0);
            const q = t.f32(M * nHeads * hd);
            // q and v adapted, k not (as PEFT target_modules ["q_proj", "v_proj"]).
            const lf = loraFixture([nHeads * hd, kvd, kvd], [4, 0, 6], M, 3 + M);
            mv.rope(t.rec, {
              x: xBuf, ws: [ws[0], ws[1], ws[2]], bias: t.f32(bias), q, M, weight: gBuf, eps,
              kCache, vCache, slotPos: t.u32([...slot, ...pos]), posOffset: M,
              headDim: hd, theta: 10000, style: 'normal', scale: 1, maxSeq, lora: lf.lora,
            });
            const want = matvecRopeRef({ x, g, eps, wq: deq[0], wk: deq[1], wv: deq[2], bias, M, K, nHeads, nKv, hd, theta: 10000, style: 'normal', scale: 1, slot, pos, kCache: kc0, vCache: vc0, maxSeq, add: lf.add });
            expect(relErr(await t.read(q, M * nHeads * hd), want.q), `rope q M=${M}`).toBeLessThan(1e-3);
            expect(relErr(await t.read(kCache, kc0.length), want.kCache), `rope k M=${M}`).toBeLessThan(1e-3);
            expect(relErr(await t.read(vCache, vc0.length), want.vCache), `rope v M=${M}`).toBeLessThan(1e-3);
          }
        }
      });
    }
  });
}

describe('matvec LoRA checks', () => {
  it('a LoRA instance wants `lora` on every call, a plain one refuses it; norm has no LoRA variant', async () => {
    const type = MATMUL_TYPES[0];
    const w = stackedWeights(t, type, [8], 100, 1, 256).ws[0];
    const plain = await kernelsFor(VARIANTS[0], type, ['plain']);
    const lora = await DecodeMatvec.create(profileKc(t, true), [[type, 'plain']], { lora: true });
    const args = { x: t.f32(100), w, y: t.f32(8), M: 1 };
    expect(() => lora.plain(t.rec, args)).toThrow(/need `lora`/);
    expect(() => plain.plain(t.rec, { ...args, lora: { u: t.f32(4), b: t.f32(64) } })).toThrow(/needs the LoRA variants/);
    await expect(DecodeMatvec.create(profileKc(t, true), [[type, 'norm']], { lora: true })).rejects.toThrow(/no LoRA variant of the norm mode/);
  });
});
