import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelCache } from '../../src/gpu/kernel';
import { Attention } from '../../src/gpu/kernels/attention';
import { Elementwise } from '../../src/gpu/kernels/elementwise';
import { Argmax } from '../../src/gpu/kernels/logits';
import { CrossEntropy, Mse } from '../../src/gpu/kernels/loss';
import { Matmul, matmulMatvecShapes } from '../../src/gpu/kernels/matmul';
import { MixtureSampler, writePlan, type PlanGroup } from '../../src/gpu/kernels/mixture';
import { Reduce } from '../../src/gpu/kernels/reduce';
import { RmsNorm } from '../../src/gpu/kernels/rmsnorm';
import { Rope } from '../../src/gpu/kernels/rope';
import { Rows } from '../../src/gpu/kernels/rows';
import { Swiglu } from '../../src/gpu/kernels/swiglu';
import { WeightGrad } from '../../src/gpu/kernels/weightgrad';
import { readBuffer, readF32 } from '../../src/gpu/memory';
import { maxInvocations, workgroupSize, type WorkgroupLimits } from '../../src/gpu/workgroup';
import { dequantize, quantize } from '../../src/model/quant';
import { GgmlType } from '../../src/model/types';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { SMALL_LIMITS, TYPICAL_LIMITS } from '../helpers/limits';
import { attentionBackwardRef, attentionRef, kvGatherRef, kvWriteRef, type AttnDims } from './attention.ref';
import { addScaledRef } from './elementwise.ref';
import { argmaxRef } from './logits.ref';
import { crossEntropyRef, mseRef } from './loss.ref';
import { matmulBackwardInputRef, matmulRef } from './matmul.ref';
import { chooseRef } from './mixture.ref';
import { limitedKc } from './profiles';
import { sumRef } from './reduce.ref';
import { rmsnormRef } from './rmsnorm.ref';
import { ropeRef } from './rope.ref';
import { gatherRef } from './rows.ref';
import { swigluRef } from './swiglu.ref';
import { biasGradRef } from './weightgrad.ref';

const isPow2 = (n: number) => n >= 1 && (n & (n - 1)) === 0;

const limitsArb = fc.record({
  maxComputeInvocationsPerWorkgroup: fc.integer({ min: 1, max: 2048 }),
  maxComputeWorkgroupSizeX: fc.integer({ min: 1, max: 2048 }),
  maxComputeWorkgroupStorageSize: fc.integer({ min: 0, max: 65536 }),
});

describe('workgroup size policy (src/gpu/workgroup.ts)', () => {
  it('picks the largest power of two within the preferred size, the invocation and x limits and workgroup memory', () => {
    fc.assert(
      fc.property(limitsArb, fc.constantFrom(1, 8, 64, 256, 1024), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 4096 }), (l, preferred, per, fixed) => {
        let wg: number;
        try {
          wg = workgroupSize(l, { preferred, bytesPerInvocation: per, fixedBytes: fixed });
        } catch (e) {
          // Refused only when not even one invocation fits, with a message saying what to do.
          expect(String(e)).toMatch(/below what a kernel needs.*another browser or GPU/);
          expect(fixed + per > l.maxComputeWorkgroupStorageSize || fixed > l.maxComputeWorkgroupStorageSize).toBe(true);
          return;
        }
        expect(isPow2(wg)).toBe(true);
        expect(wg).toBeLessThanOrEqual(Math.min(preferred, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX));
        expect(fixed + per * wg).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize);
        // Largest: doubling it breaks a limit.
        const twice = 2 * wg;
        expect(twice > Math.min(preferred, maxInvocations(l)) || fixed + per * twice > l.maxComputeWorkgroupStorageSize).toBe(true);
      }),
    );
  });

  it('keeps the designed sizes on typical limits and shrinks them on small ones', () => {
    expect(workgroupSize(TYPICAL_LIMITS, { preferred: 256, bytesPerInvocation: 8 })).toBe(256);
    expect(workgroupSize(TYPICAL_LIMITS, { preferred: 64 })).toBe(64);
    expect(workgroupSize(SMALL_LIMITS, { preferred: 256, bytesPerInvocation: 8 })).toBe(64);
    // Workgroup memory binds before invocations do: 8 KiB / 256 B = 32.
    expect(workgroupSize(SMALL_LIMITS, { preferred: 256, bytesPerInvocation: 256 })).toBe(32);
    expect(() => workgroupSize(SMALL_LIMITS, { preferred: 256, min: 128 })).toThrow(/64 invocations.*needs \(128 invocations/);
  });

  it('matmul matrix-vector shapes follow the limits and never exceed them', () => {
    const gpu = (limits: WorkgroupLimits) => ({ limits: { ...TYPICAL_LIMITS, ...limits }, features: { shaderF16: false, subgroups: false, timestampQuery: false } });
    expect(matmulMatvecShapes(gpu(TYPICAL_LIMITS))).toEqual({ fwd: { rows: 4, tpr: 64 }, bwd: { cg: 32, ns: 8 } });
    expect(matmulMatvecShapes(gpu(SMALL_LIMITS))).toEqual({ fwd: { rows: 1, tpr: 64 }, bwd: { cg: 32, ns: 2 } });
    fc.assert(
      fc.property(limitsArb, (l) => {
        fc.pre(maxInvocations(l) >= 8 && l.maxComputeWorkgroupStorageSize >= 1024);
        const { fwd, bwd } = matmulMatvecShapes(gpu(l));
        const fwdWgs = fwd.rows * fwd.tpr;
        const bwdWgs = bwd.cg * bwd.ns;
        for (const wgs of [fwdWgs, bwdWgs]) {
          expect(isPow2(wgs)).toBe(true);
          expect(wgs).toBeLessThanOrEqual(Math.min(256, maxInvocations(l)));
        }
        expect(fwd.tpr).toBeGreaterThanOrEqual(8); // every x row of a pass has a lane to write it
        expect(4 * 8 * fwdWgs).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize); // red: MV_M floats each
        expect(16 * bwdWgs).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize); // red4: a vec4 each
      }),
    );
  });
});

const CONFIGS = [
  { name: 'small limits (64 invocations, 8 KiB)', limits: SMALL_LIMITS, small: true },
  { name: 'typical limits', limits: TYPICAL_LIMITS, small: false },
] as const;

for (const cfg of CONFIGS) {
  describe(`GPU-profile kernels under ${cfg.name}`, () => {
    let t: TestGpu;
    let kc: KernelCache;
    /** The sizes a kernel picked must fit the limits it was given. */
    const fits = (wg: number, sharedBytes = 0) => {
      const l = kc.gpu.limits;
      expect(isPow2(wg)).toBe(true);
      expect(wg).toBeLessThanOrEqual(maxInvocations(l));
      expect(sharedBytes).toBeLessThanOrEqual(l.maxComputeWorkgroupStorageSize);
      if (cfg.small) expect(wg).toBeLessThanOrEqual(64);
    };

    beforeAll(async () => {
      t = await testGpu();
      kc = limitedKc(t, cfg.limits);
    });

    it('matmul mv_fwd (M = 1 and a chunk of rows, bias, accumulate) and mv_bwd match the CPU reference', async () => {
      const types = [GgmlType.F32, GgmlType.Q4_0, GgmlType.Q4_K];
      const mm = await Matmul.create(kc, types);
      const { fwd, bwd } = mm.matvec;
      fits(fwd.rows * fwd.tpr, 4 * 8 * fwd.rows * fwd.tpr);
      fits(bwd.cg * bwd.ns, 16 * bwd.cg * bwd.ns);
      if (cfg.small) expect([fwd.rows * fwd.tpr, bwd.cg * bwd.ns]).toEqual([64, 64]);
      for (const type of types) {
        // F32: K % 8 == 4 (the tail); N = 45 is no multiple of the rows per workgroup.
        const K = type === GgmlType.Q4_K ? 512 : type === GgmlType.Q4_0 ? 96 : 100;
        const N = 45;
        const r = rng(type + 1);
        const bytes = quantize(type, Float32Array.from(randn(r, N * K, 0.5)));
        const deq = dequantize(type, bytes, N * K);
        const w = { name: 'w', type, shape: [N, K], buffer: t.bytes(bytes) };
        for (const M of [1, 5]) {
          const x = randn(r, M * K);
          const bias = randn(r, N);
          const init = randn(r, M * N);
          const y = t.f32(init);
          mm.forward(t.rec, { x: t.f32(x), w, y, M, bias: t.f32(bias), accumulate: true, path: 'matvec' });
          const want = matmulRef(x, deq, M, N, K, bias).map((v, i) => v + init[i]);
          expect(relErr(await t.read(y, M * N), want), `forward type ${type} M=${M}`).toBeLessThan(1e-3);
          const dy = randn(r, M * N);
          const dx = t.f32(M * K);
          mm.backwardInput(t.rec, { dy: t.f32(dy), w, dx, M, path: 'matvec' });
          expect(relErr(await t.read(dx, M * K), matmulBackwardInputRef(dy, deq, M, N, K)), `backward type ${type} M=${M}`).toBeLessThan(1e-3);
        }
      }
    });

    it('weightgrad wg_bias matches the CPU reference', async () => {
      const wg = await WeightGrad.create(kc);
      fits(wg.bias.cols * wg.bias.lanes, 4 * wg.bias.cols * wg.bias.lanes);
      const [M, N] = [37, 150];
      const r = rng(7);
      const dy = randn(r, M * N);
      const prior = randn(r, N);
      const db = t.f32(prior);
      wg.biasGrad(t.rec, { dy: t.f32(dy), db, M, N, scale: 0.5, accumulate: true });
      expect(relErr(await t.read(db, N), biasGradRef(dy, M, N, 0.5, prior))).toBeLessThan(1e-5);
    });

    it('attention kv_write, kv_gather and the backward (attn_bwd_prep) match the CPU reference', async () => {
      const att = await Attention.create(kc, { backward: true });
      fits(att.ewg);
      // 20 tokens × 4 heads = 80 (t, h) rows and 20·2·16 = 640 cache values: several workgroups each.
      const c = { T: 20, nHeads: 4, nKv: 2, hd: 16, maxSeq: 20 };
      const slot = new Array(c.T).fill(0);
      const pos = Array.from({ length: c.T }, (_, i) => i);
      const start = new Array(c.T).fill(0);
      const dims: AttnDims = { ...c, scale: 0.25 };
      const r = rng(11);
      const f = (n: number) => Float64Array.from(new Float32Array(randn(r, n)));
      const cacheLen = c.maxSeq * c.nKv * c.hd;
      const [q, k, v, kc0, vc0, dOut] = [c.T * c.nHeads * c.hd, c.T * c.nKv * c.hd, c.T * c.nKv * c.hd, cacheLen, cacheLen, c.T * c.nHeads * c.hd].map(f);
      const kCache = t.f32(kc0);
      const vCache = t.f32(vc0);
      const [slotB, posB, startB] = [t.u32(slot), t.u32(pos), t.u32(start)];
      att.kvWrite(t.rec, { k: t.f32(k), v: t.f32(v), kCache, vCache, slot: slotB, pos: posB, T: c.T, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq });
      const caches = kvWriteRef(kc0, vc0, k, v, slot, pos, c.T, c.nKv, c.hd, c.maxSeq);
      expect(relErr(await t.read(kCache), caches.kCache)).toBe(0);
      expect(relErr(await t.read(vCache), caches.vCache)).toBe(0);

      const n = c.T * c.nHeads * c.hd;
      const [qB, out, lse, stats, dq, dk, dv] = [t.f32(q), t.f32(n), t.f32(c.T * c.nHeads), t.f32(2 * c.T * c.nHeads), t.f32(n), t.f32(cacheLen), t.f32(cacheLen)];
      const common = { ...dims, q: qB, kCache, vCache, slot: slotB, pos: posB, start: startB };
      att.forward(t.rec, { ...common, out, lse });
      att.backward(t.rec, { ...common, out, dOut: t.f32(dOut), lse, stats, dq, dk, dv, slots: 1 });
      const want = attentionBackwardRef(q, caches.kCache, caches.vCache, slot, pos, start, dOut, dims);
      expect(relErr(await t.read(out), attentionRef(q, caches.kCache, caches.vCache, slot, pos, start, dims).out)).toBeLessThan(1e-3);
      expect(relErr(await t.read(dq), want.dq)).toBeLessThan(1e-3);
      expect(relErr(await t.read(dk), want.dk)).toBeLessThan(1e-3);
      expect(relErr(await t.read(dv), want.dv)).toBeLessThan(1e-3);

      const gk = t.f32(k.length);
      const gv = t.f32(v.length);
      att.kvGather(t.rec, { dkCache: dk, dvCache: dv, dk: gk, dv: gv, slot: slotB, pos: posB, T: c.T, nKv: c.nKv, hd: c.hd, maxSeq: c.maxSeq });
      const g = kvGatherRef(await t.read(dk), await t.read(dv), slot, pos, c.T, c.nKv, c.hd, c.maxSeq);
      expect(relErr(await t.read(gk), g.dk)).toBe(0);
      expect(relErr(await t.read(gv), g.dv)).toBe(0);
    });

    it('row reductions (rmsnorm, cross-entropy, argmax, two-level sum) match the CPU reference', async () => {
      const [rms, ce, am, red] = await Promise.all([RmsNorm.create(kc), CrossEntropy.create(kc), Argmax.create(kc), Reduce.create(kc)]);
      for (const s of [rms.small.wg, rms.large.wg, ce.wg, am.wg]) fits(s, 8 * s);
      fits(red.wg, 4 * red.wg);
      const r = rng(13);
      for (const d of [100, 600]) {
        const T = 3;
        const x = randn(r, T * d);
        const w = randn(r, d);
        const out = t.f32(T * d);
        rms.forward(t.rec, { x: t.f32(x), weight: t.f32(w), out, T, d, eps: 1e-5 });
        expect(relErr(await t.read(out), rmsnormRef(x, w, T, d, 1e-5)), `rmsnorm d=${d}`).toBeLessThan(1e-4);
      }
      const [R, V] = [3, 1000];
      const logits = randn(r, R * V, 3);
      const targets = [5, 999, 0];
      const lg = t.f32(logits);
      const loss = t.f32(R);
      const ids = t.f32(R);
      am.forward(t.rec, { logits: lg, out: ids, B: R, V });
      expect(Array.from(new Uint32Array((await t.read(ids)).buffer))).toEqual(Array.from(argmaxRef(logits, R, V)));
      ce.forwardBackward(t.rec, { logits: lg, targets: t.u32(targets), loss, R, V, scale: 0.5 });
      const want = crossEntropyRef(logits, targets, R, V, 0.5);
      expect(relErr(await t.read(loss), want.loss)).toBeLessThan(1e-5);
      expect(relErr(await readF32(t.gpu, lg), want.grad)).toBeLessThan(1e-5);
      const mse = await Mse.create(kc);
      fits(mse.wg, 8 * mse.wg);
      const [B, k] = [3, 150];
      const [pred, target] = [randn(r, B * k), randn(r, B * k)];
      const [mLoss, dpred] = [t.f32(B), t.f32(B * k)];
      mse.forwardBackward(t.rec, { pred: t.f32(pred), target: t.f32(target), dpred, loss: mLoss, B, k, scale: 0.25 });
      const mWant = mseRef(pred, target, undefined, B, k, 0.25);
      expect(relErr(await t.read(mLoss), mWant.loss)).toBeLessThan(1e-5);
      expect(relErr(await t.read(dpred), mWant.grad)).toBeLessThan(1e-5);
      const n = 100_000; // several level-1 workgroups at any size
      const xs = randn(r, n);
      const sum = t.f32(1);
      red.sum(t.rec, { x: t.f32(xs), n, out: sum });
      expect(Math.abs((await t.read(sum))[0] - sumRef(xs))).toBeLessThan(1e-3);
    });

    it('mixture sampler (stats_rows, mix, select_token) chooses the reference tokens', async () => {
      const ms = await MixtureSampler.create(kc);
      fits(ms.wg, 8 * ms.wg);
      const V = 300; // several chunks of the vocabulary per invocation at 64
      const r = rng(19);
      const logits = randn(r, 4 * V, 2);
      const base = { kind: 0 as const, topK: 0, topP: 1, invT: 1, logAlpha: Math.log(0.1) };
      const groups: PlanGroup[] = [
        { ...base, greedy: true, u: 0.5, members: [{ row: 0, weight: 1, invT: 1 }] },
        { ...base, greedy: false, u: 0.3, members: [{ row: 1, weight: 0.6, invT: 1 }, { row: 2, weight: 0.4, invT: 0.8 }] },
        { ...base, greedy: false, u: 0.8, topK: 20, topP: 0.9, members: [{ row: 3, weight: 1, invT: 1.2 }] },
      ];
      const words = new Uint32Array(4096);
      const plan = writePlan(groups, words, new Float32Array(words.buffer));
      const out = t.f32(plan.G + plan.M);
      const q = t.f32(plan.G * V);
      ms.record(t.rec, { logits: t.f32(logits), plan: t.bytes(words.subarray(0, plan.words)), stats: t.f32(2 * plan.M), q, out, G: plan.G, M: plan.M, V, needStats: true });
      t.rec.submit();
      const buf = await readBuffer(t.gpu, out, 0, (plan.G + plan.M) * 4);
      const ids = Array.from(new Uint32Array(buf, 0, plan.G));
      const p = Array.from(new Float32Array(buf, plan.G * 4, plan.M));
      expect(ids).toEqual(groups.map((g) => chooseRef(logits, V, g).id));
      const wantP = groups.flatMap((g) => chooseRef(logits, V, g).p);
      wantP.forEach((w, i) => expect(Math.abs(p[i] - w)).toBeLessThan(1e-5 + 1e-4 * w));
    });

    it('per-element kernels (add, swiglu, rope, row gather) match the CPU reference', async () => {
      const [ew, sw, rope, rows] = await Promise.all([Elementwise.create(kc), Swiglu.create(kc), Rope.create(kc), Rows.create(kc)]);
      for (const s of [ew.wg, sw.wg, rope.wg, rows.wg]) fits(s);
      const r = rng(17);
      const n = 1000;
      const [a, b] = [randn(r, n), randn(r, n)];
      const dst = t.f32(a);
      ew.add(t.rec, dst, t.f32(b), n, 0.5);
      expect(relErr(await t.read(dst), addScaledRef(a, b, 0.5))).toBeLessThan(1e-6);
      const out = t.f32(n);
      sw.forward(t.rec, { gate: t.f32(a), up: t.f32(b), out, n });
      expect(relErr(await t.read(out), swigluRef(a, b))).toBeLessThan(1e-5);
      const [T, nHeads, hd] = [3, 4, 32];
      const x = randn(r, T * nHeads * hd);
      const pos = [0, 7, 30];
      const xb = t.f32(x);
      rope.forward(t.rec, { x: xb, pos: t.u32(pos), T, nHeads, headDim: hd, theta: 10000, style: 'neox', scale: 1 });
      expect(relErr(await t.read(xb), ropeRef(x, pos, T, nHeads, hd, 10000, 'neox'))).toBeLessThan(1e-5);
      const d = 100; // wider than the small-limit workgroup: each invocation moves several values
      const src = Array.from(new Float32Array(randn(r, 5 * d))); // f32 already: the copy is exact
      const picks = [4, 0, 2];
      const got = t.f32(picks.length * d);
      rows.gather(t.rec, { src: t.f32(src), rows: t.u32(picks), out: got, R: picks.length, d });
      expect(relErr(await t.read(got), gatherRef(src, picks, d))).toBe(0);
    });
  });
}
