/**
 * Each variant of the tiled kernels (matmul tile_fwd / tile_bwd, weightgrad wg_tile) on one linear layer
 * of the 100M shape (Q4_0 W [768, 768]) with M = 64 tokens, as fractions of the adapter's FMA ceiling
 * (f16 variants against the f16 ceiling where it exists), and the layer's backward ÷ forward time (dx and
 * dW against y). Variants: `software` (the barrier-free *_sw kernels), `gpu-f32` (tile shape from this
 * adapter's limits), `gpu-f32-small` (the shape for 64 invocations and 4 KiB: the small-limit
 * fallback) and `gpu-f16` (only with shader-f16). On a software adapter the gpu variants pay a barrier
 * per step per lane group: their fractions there say how the kernels are built, not what a GPU gets.
 */
import type { Gpu } from '../src/gpu/device';
import { KernelCache } from '../src/gpu/kernel';
import { Recorder } from '../src/gpu/recorder';
import { GpuMemory } from '../src/gpu/memory';
import { Matmul } from '../src/gpu/kernels/matmul';
import { WeightGrad } from '../src/gpu/kernels/weightgrad';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../src/model/types';
import { bestSeconds, round, type CeilingResult } from './roofline';

export interface TileVariantResult {
  variant: string;
  plan: string;
  tile_fwd_ms: number;
  tile_bwd_ms: number;
  wg_tile_ms: number;
  tile_fwd_fma_fraction: number;
  tile_bwd_fma_fraction: number;
  wg_tile_fma_fraction: number;
  backward_over_forward: number;
}

export async function measureTileVariants(gpu: Gpu, ceilings: CeilingResult, opts: { M?: number; N?: number; K?: number } = {}): Promise<TileVariantResult[]> {
  const M = opts.M ?? 64;
  const N = opts.N ?? 768;
  const K = opts.K ?? 768;
  const type = GgmlType.Q4_0;
  const mem = new GpuMemory(gpu);
  const rec = new Recorder(gpu);
  const l = TYPE_LAYOUT[type];
  const w: GpuTensor = { name: 'w', type, shape: [N, K], buffer: mem.create('w', ((N * K) / l.blockElems) * l.blockBytes, 'weights') };
  const x = mem.create('x', M * K * 4, 'scratch');
  const y = mem.create('y', M * N * 4, 'scratch');
  const dx = mem.create('dx', M * K * 4, 'scratch');
  const dw = mem.create('dw', N * K * 4, 'scratch');
  const flops = 2 * M * N * K;
  const variants: Array<{ name: string; gpu: Gpu; f16: boolean }> = [
    { name: 'software', gpu: { ...gpu, software: true }, f16: false },
    { name: 'gpu-f32', gpu: { ...gpu, software: false }, f16: false },
    {
      name: 'gpu-f32-small',
      gpu: { ...gpu, software: false, limits: { ...gpu.limits, maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 4096 } },
      f16: false,
    },
  ];
  if (gpu.features.shaderF16) variants.push({ name: 'gpu-f16', gpu: { ...gpu, software: false }, f16: true });
  const out: TileVariantResult[] = [];
  try {
    for (const v of variants) {
      const kc = new KernelCache(v.gpu);
      const [mm, wg] = await Promise.all([Matmul.create(kc, [type], { f16: v.f16 }), WeightGrad.create(kc)]);
      const time = async (record: () => void) => (await bestSeconds(gpu, rec, record, 50, 2)).s;
      const f = await time(() => mm.forward(rec, { x, w, y, M, path: 'tiled' }));
      const b = await time(() => mm.backwardInput(rec, { dy: y, w, dx, M, path: 'tiled' }));
      const g = await time(() => wg.accumulate(rec, { dy: y, x, dw, M, N, K, scale: 1, accumulate: false }));
      const fma = (v.f16 ? ceilings.fma_f16_gflops ?? ceilings.fma_gflops : ceilings.fma_gflops) * 1e9;
      const p = mm.plans.forward;
      out.push({
        variant: v.name,
        plan: v.name === 'software' ? `fwd ${mm.swRows}x${mm.swCols}, bwd 4x4 per invocation` : `tile ${p.tile}, step ${p.chunk}, ${p.threads} invocations`,
        tile_fwd_ms: round(f * 1e3, 3),
        tile_bwd_ms: round(b * 1e3, 3),
        wg_tile_ms: round(g * 1e3, 3),
        tile_fwd_fma_fraction: round(flops / f / fma, 4),
        tile_bwd_fma_fraction: round(flops / b / ceilings.fma_gflops / 1e9, 4),
        wg_tile_fma_fraction: round(flops / g / ceilings.fma_gflops / 1e9, 4),
        backward_over_forward: round((b + g) / f, 2),
      });
    }
  } finally {
    rec.destroy();
    mem.destroyAll();
  }
  return out;
}
