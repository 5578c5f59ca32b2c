import { beforeAll, describe, expect, it } from 'vitest';
import { KernelCache } from '../../src/gpu/kernel';
import { Matmul, MATMUL_TYPES } from '../../src/gpu/kernels/matmul';
import { tilePlan } from '../../src/gpu/tiles';
import { dequantize, quantize } from '../../src/model/quant';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../../src/model/types';
import { randn, relErr, rng, testGpu, type TestGpu } from '../helpers/gpu';
import { matmulBackwardInputRef, matmulRef } from './matmul.ref';
import { profileKc } from './profiles';

// The tiled kernels' variants beyond matmul.test.ts (which runs each profile with this adapter's own
// tile shape): other tile shapes and f16 tiles, each against the float64 CPU reference for every type.

let t: TestGpu;
/** 35 pipelines per variant: minutes on SwiftShader when the machine's cores are shared. */
const COMPILE_MS = 1_200_000;

beforeAll(async () => {
  t = await testGpu();
});

/** A random [N, K] weight in `type` on the GPU, with its dequantized values for the reference. */
function weight(type: GgmlType, N: number, K: number, seed: number): { w: GpuTensor; deq: Float32Array } {
  const vals = Float32Array.from(randn(rng(seed), N * K, 0.5));
  const bytes = quantize(type, vals);
  return { w: { name: 'w', type, shape: [N, K], buffer: t.bytes(bytes) }, deq: dequantize(type, bytes, N * K) };
}

/** K-quants: two super-blocks; Q4_0/Q8_0: three blocks; float types: K % 8 == 4 (ragged steps). */
function kFor(type: GgmlType): number {
  const be = TYPE_LAYOUT[type].blockElems;
  return be === 256 ? 512 : be === 32 ? 96 : 100;
}

/**
 * The tiled kernels' other variants, GPU profile forced: the tile shape chosen for an adapter with small
 * limits (32×32 tiles, 16-element steps: Q4_0 falls back from pairs to 4-element reads in the forward
 * step and K-quants read pairs in the backward columns) and f16 staging/products (only where the device
 * has shader-f16; SwiftShader has not). M = 70 spans two 64-row tiles and three 32-row ones.
 */
const VARIANTS = [
  { name: 'small limits (64 invocations, 4 KiB)', f16: false, tol: 1e-3, limits: { maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 4096 } },
  // f16 values and products (rel. 2⁻¹¹ each) summed in f32 over K ≤ 512 terms of random sign.
  { name: 'f16 tiles', f16: true, tol: 1e-2, limits: {} },
] as const;

for (const v of VARIANTS) {
  describe(`matmul tiled, ${v.name} (gpu kernels)`, () => {
    let mm: Matmul | null = null;
    beforeAll(async () => {
      if (v.f16 && !t.gpu.features.shaderF16) return;
      const gpu = { ...t.gpu, software: false, limits: { ...t.gpu.limits, ...v.limits } };
      mm = await Matmul.create(new KernelCache(gpu), MATMUL_TYPES, { f16: v.f16 });
      if (!v.f16) expect(mm.plans.forward).toEqual({ ...tilePlan(gpu.limits, 4), tile: 32, chunk: 16 });
      expect(mm.f16).toBe(v.f16);
    }, COMPILE_MS);
    for (const type of MATMUL_TYPES) {
      const name = TYPE_LAYOUT[type].name;
      it(`${name}: forward and backwardInput match the CPU reference`, async (ctx) => {
        if (!mm) {
          expect(v.f16 && !t.gpu.features.shaderF16).toBe(true);
          return ctx.skip('no shader-f16 on this device');
        }
        const K = kFor(type);
        const N = 45 + type;
        const { w, deq } = weight(type, N, K, 400 + type);
        for (const M of [9, 70]) {
          const r = rng(M * 13 + type);
          const x = randn(r, M * K);
          const bias = randn(r, N);
          const y = t.f32(M * N);
          mm.forward(t.rec, { x: t.f32(x), w, y, M, bias: t.f32(bias), path: 'tiled' });
          expect(relErr(await t.read(y, M * N), matmulRef(x, deq, M, N, K, bias)), `forward M=${M}`).toBeLessThan(v.tol);
          const dy = randn(r, M * N);
          const init = randn(r, M * K);
          const dx = t.f32(init);
          mm.backwardInput(t.rec, { dy: t.f32(dy), w, dx, M, accumulate: true, path: 'tiled' });
          // backward stays f32 in every variant
          expect(relErr(await t.read(dx, M * K), matmulBackwardInputRef(dy, deq, M, N, K, init)), `backward M=${M}`).toBeLessThan(1e-3);
        }
      });
    }
  });
}

describe('matmul f16 selection', () => {
  it('uses f16 tiles only where the device has shader-f16, and refuses to force them elsewhere', async () => {
    const gpuKc = profileKc(t, false);
    const auto = await Matmul.create(gpuKc, [GgmlType.F32]);
    expect(auto.f16).toBe(t.gpu.features.shaderF16);
    expect((await Matmul.create(gpuKc, [GgmlType.F32], { f16: false })).f16).toBe(false);
    // Software adapters keep their barrier-free f32 kernels whatever the features.
    expect((await Matmul.create(profileKc(t, true), [GgmlType.F32])).f16).toBe(false);
    if (!t.gpu.features.shaderF16) {
      await expect(Matmul.create(gpuKc, [GgmlType.F32], { f16: true })).rejects.toThrow(/no shader-f16/);
    }
  });
});
