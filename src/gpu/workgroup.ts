import type { Gpu } from './device';

/**
 * The one policy for workgroup sizes (every GPU-profile kernel follows it; see docs/perf.md):
 * a kernel states how many invocations it would like (`preferred`, a power of two: 256 for
 * one-thread-per-element and row-reduction kernels, 64 for short rows) and how much workgroup memory
 * each invocation's share of its shared arrays takes; it gets the largest power of two ≤ `preferred`
 * that fits maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX and
 * maxComputeWorkgroupStorageSize. Powers of two keep every tree reduction (`for s = WG/2 … s >>= 1`)
 * exact for any size chosen. Tiled kernels pick their shape with tilePlan (tiles.ts) and decode
 * matvecs with matvecShape (kernels/matvec.ts), both on top of maxInvocations / workgroupSize.
 */
export interface WorkgroupNeeds {
  /** The size the kernel was designed for; a power of two. */
  preferred: number;
  /** Bytes of workgroup arrays per invocation (arrays sized by the workgroup size). */
  bytesPerInvocation?: number;
  /** Bytes of workgroup arrays that do not scale with the workgroup size. */
  fixedBytes?: number;
  /** The smallest size the kernel works with (default 1); below it the adapter is refused. */
  min?: number;
}

export type WorkgroupLimits = Pick<Gpu['limits'], 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>;

const pow2floor = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/** Invocations a 1-D workgroup (x only) may have on this adapter. */
export function maxInvocations(limits: WorkgroupLimits): number {
  return Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX ?? Infinity);
}

/** Invocations per workgroup for a 1-D kernel under `limits` (see WorkgroupNeeds). */
export function workgroupSize(limits: WorkgroupLimits, needs: WorkgroupNeeds): number {
  const per = needs.bytesPerInvocation ?? 0;
  const fixed = needs.fixedBytes ?? 0;
  const byStorage = per > 0 ? Math.floor((limits.maxComputeWorkgroupStorageSize - fixed) / per) : Infinity;
  const cap = Math.min(needs.preferred, maxInvocations(limits), byStorage);
  const wg = cap >= 1 ? pow2floor(cap) : 0;
  if (wg < (needs.min ?? 1) || fixed > limits.maxComputeWorkgroupStorageSize) {
    throw new Error(
      `This adapter's compute limits (${limits.maxComputeInvocationsPerWorkgroup} invocations, ` +
        `${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory) are below what a kernel needs ` +
        `(${needs.min ?? 1} invocations, ${fixed + per * (needs.min ?? 1)} bytes) and WebGPU's minimums; use another browser or GPU.`,
    );
  }
  return wg;
}
