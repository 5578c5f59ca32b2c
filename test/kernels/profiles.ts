import { KernelCache } from '../../src/gpu/kernel';
import type { TestGpu } from '../helpers/gpu';

/**
 * Kernels pick their variants from Gpu.software (small barrier-free workgroups on CPU emulations, the
 * 256-invocation designs on GPUs). Tests run both on whatever device they have: a KernelCache over the
 * same device with the profile forced. Caches are kept per profile so pipelines compile once per file.
 */
export const PROFILES = [
  { name: 'software', software: true },
  { name: 'gpu', software: false },
] as const;

const caches = new Map<string, KernelCache>();

export function profileKc(t: TestGpu, software: boolean): KernelCache {
  const key = String(software);
  let kc = caches.get(key);
  if (!kc || kc.gpu.device !== t.gpu.device) {
    kc = new KernelCache({ ...t.gpu, software });
    caches.set(key, kc);
  }
  return kc;
}

type WorkgroupLimits = Pick<TestGpu['gpu']['limits'], 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupSizeX' | 'maxComputeWorkgroupStorageSize'>;

/**
 * A KernelCache with the real-GPU profile forced and the workgroup limits replaced by `limits` (capped at
 * the device's own, so every pipeline still compiles): kernels then size their workgroups as they would
 * on an adapter with those limits.
 */
export function limitedKc(t: TestGpu, limits: WorkgroupLimits): KernelCache {
  const own = t.gpu.limits;
  const capped = {
    maxComputeInvocationsPerWorkgroup: Math.min(limits.maxComputeInvocationsPerWorkgroup, own.maxComputeInvocationsPerWorkgroup),
    maxComputeWorkgroupSizeX: Math.min(limits.maxComputeWorkgroupSizeX, own.maxComputeWorkgroupSizeX),
    maxComputeWorkgroupStorageSize: Math.min(limits.maxComputeWorkgroupStorageSize, own.maxComputeWorkgroupStorageSize),
  };
  return new KernelCache({ ...t.gpu, software: false, limits: { ...own, ...capped } });
}
