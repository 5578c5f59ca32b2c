import { describe, expect, it } from 'vitest';
import { KernelCache } from '../../src/gpu/kernel';
import { LoraDown, LoraUp, NO_ADAPTER } from '../../src/gpu/kernels/lora';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { loraDownRef, loraUpRef } from './lora.ref';
import { PROFILES, profileKc } from './profiles';

describe('lora_up', () => {
  it('adds each token’s own adapter (or none) and leaves other tokens alone', async () => {
    const t = await testGpu();
    const k = await LoraUp.create(t.kc);
    const r = rng(5);
    const T = 7;
    const N = 37;
    // Three adapter slots: ranks 4 and 8 side by side, and one that does not adapt this matrix (r = 0).
    const table = [
      { off: 0, r: 4, scale: 2 },
      { off: 4, r: 8, scale: 0.5 },
      { off: 12, r: 0, scale: 3 },
    ];
    const R = 12;
    const adapter = [0, NO_ADAPTER, 1, 1, 2, 0, NO_ADAPTER];
    const y = randn(r, T * N);
    const u = randn(r, T * R);
    const b = randn(r, N * R);
    const tab = new Uint32Array(table.length * 4);
    const tf = new Float32Array(tab.buffer);
    table.forEach((e, i) => {
      tab[4 * i] = e.off;
      tab[4 * i + 1] = e.r;
      tf[4 * i + 2] = e.scale;
    });
    const yb = t.f32(y);
    k.forward(t.rec, { u: t.f32(u), b: t.f32(b), adapter: t.u32(adapter), table: t.bytes(tab), y: yb, T, N, R });
    const got = await t.read(yb);
    const want = loraUpRef(y, u, b, adapter, table, T, N, R);
    expect(relErr(got, want)).toBeLessThan(1e-6);
    // Tokens without an adapter (and the r = 0 slot) are bit-for-bit unchanged.
    for (const tok of [1, 4, 6]) expect(Array.from(got.subarray(tok * N, (tok + 1) * N))).toEqual(Array.from(Float32Array.from(y.subarray(tok * N, (tok + 1) * N))));
    expect(relErr(got, y)).toBeGreaterThan(1e-2);
  });
});

describe('lora_up on a group’s u', () => {
  it('reads its matrix’s columns of a wider u (uOff, uStride)', async () => {
    const t = await testGpu();
    const k = await LoraUp.create(t.kc);
    const r = rng(6);
    const [T, N, R, uOff, uStride] = [5, 19, 6, 7, 16];
    const table = [{ off: 0, r: 2, scale: 1.5 }, { off: 2, r: 4, scale: -0.5 }];
    const adapter = [1, 0, NO_ADAPTER, 1, 0];
    const y = randn(r, T * N);
    const u = randn(r, T * uStride);
    const b = randn(r, N * R);
    const tab = new Uint32Array(8);
    const tf = new Float32Array(tab.buffer);
    table.forEach((e, i) => {
      tab[4 * i] = e.off;
      tab[4 * i + 1] = e.r;
      tf[4 * i + 2] = e.scale;
    });
    const yb = t.f32(y);
    k.forward(t.rec, { u: t.f32(u), b: t.f32(b), adapter: t.u32(adapter), table: t.bytes(tab), y: yb, T, N, R, uOff, uStride });
    const got = await t.read(yb);
    expect(relErr(got, loraUpRef(y, u, b, adapter, table, T, N, R, uOff, uStride))).toBeLessThan(1e-6);
    expect(relErr(got, loraUpRef(y, u, b, adapter, table, T, N, R))).toBeGreaterThan(1e-2);
  });
});

/** The GPU profile under small limits too: lora_down's workgroup comes from them (src/gpu/workgroup.ts). */
const DOWN_PROFILES = [...PROFILES, { name: 'gpu, 32 invocations', software: false, small: true }];

for (const prof of DOWN_PROFILES) {
  describe(`lora_down (${prof.name} kernels)`, () => {
    it('norm + A·x masked to each token’s adapter and scaled; without norm; tokens without an adapter get 0', async () => {
      const t = await testGpu();
      const small = { ...t.gpu.limits, maxComputeInvocationsPerWorkgroup: 32, maxComputeWorkgroupSizeX: 32 };
      const kc = 'small' in prof ? new KernelCache({ ...t.gpu, software: false, limits: small }) : profileKc(t, prof.software);
      const k = await LoraDown.create(kc);
      const r = rng(7);
      // K = 100: not a multiple of the GPU threads per row; R = 13 rows of two adapters and three matrices.
      const [T, R, K] = [7, 13, 100];
      const owner = Array.from({ length: R }, (_, j) => ({ slot: j % 3 === 2 ? 2 : j % 2, scale: 0.25 + j / 8 }));
      const adapter = [0, 1, NO_ADAPTER, 2, 1, 0, 3];
      const ow = new Uint32Array(2 * R);
      const of = new Float32Array(ow.buffer);
      owner.forEach((o, j) => {
        ow[2 * j] = o.slot;
        of[2 * j + 1] = o.scale;
      });
      const x = randn(r, T * K, 2);
      const a = randn(r, R * K, 0.3);
      const g = randn(r, K).map((v) => 1 + 0.3 * v);
      for (const norm of [{ g, eps: 1e-5 }, undefined]) {
        const u = t.f32(T * R + 5);
        k.forward(t.rec, { x: t.f32(x), a: t.f32(a), owner: t.bytes(ow), adapter: t.u32(adapter), u, T, R, K, norm: norm && { weight: t.f32(norm.g), eps: norm.eps } });
        const got = await t.read(u, T * R);
        const want = loraDownRef(x, a, owner, adapter, T, R, K, norm);
        expect(relErr(got, want)).toBeLessThan(1e-5);
        // Rows of other adapters and tokens without one (or with an unknown slot) are exactly 0.
        for (let i = 0; i < T * R; i++) if (want[i] === 0) expect(got[i]).toBe(0);
        expect(want.filter((v) => v === 0).length).toBeGreaterThan(T * R / 2);
      }
    });
  });
}
