import type { Gpu } from './device';
import { maxInvocations } from './workgroup';

/**
 * Shape of a shared-memory tiled kernel (matmul tile_fwd / tile_bwd, weightgrad wg_tile), chosen from the
 * adapter's limits instead of constants: each workgroup computes a `tile`×`tile` block of outputs with
 * (tile/4)² invocations owning 4×4 outputs each, and stages two `tile`×`chunk` operand tiles of
 * `elemBytes` per value (4 for f32, 2 for f16) in workgroup memory per step of the reduction.
 */
export interface TilePlan {
  /** Output tile edge (rows = columns). */
  tile: number;
  /** Reduction elements staged per step. */
  chunk: number;
  /** Invocations per workgroup: (tile / 4)². */
  threads: number;
}

/**
 * Largest first; 16 is the fallback that fits any adapter (16 invocations, 4 KiB). 128 (1024 invocations)
 * is left out: it doubles the wasted work on ragged edges of prefill-sized M and holds 4× the registers.
 */
const TILES = [64, 32, 16] as const;
/**
 * Reduction chunks, largest first. 32 is one Q4_0 / Q8_0 block (a Q4_K sub-block, two Q6_K sub-blocks),
 * so a tile step dequantizes each block of its rows exactly once; smaller chunks only for small limits.
 */
const CHUNKS = [32, 16, 8] as const;
/**
 * The largest tile whose invocations and staged operands fit the adapter: (tile/4)² ≤
 * maxComputeInvocationsPerWorkgroup and maxComputeWorkgroupSizeX, 2·tile·chunk·elemBytes ≤
 * maxComputeWorkgroupStorageSize. Throws when even 16×16 tiles with 8-element chunks do not fit (no
 * WebGPU adapter is that small: the spec's minimums are 256 invocations and 16 KiB).
 */
export function tilePlan(limits: Gpu['limits'], elemBytes: 2 | 4): TilePlan {
  const maxThreads = maxInvocations(limits);
  for (const tile of TILES) {
    const threads = (tile / 4) ** 2;
    if (threads > maxThreads) continue;
    for (const chunk of CHUNKS) {
      if (2 * tile * chunk * elemBytes <= limits.maxComputeWorkgroupStorageSize) return { tile, chunk, threads };
    }
  }
  throw new Error(
    `This adapter's compute limits (${limits.maxComputeInvocationsPerWorkgroup} invocations, ` +
      `${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory) are below WebGPU's minimums; use another browser or GPU.`,
  );
}
