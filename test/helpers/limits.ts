import type { Gpu } from '../../src/gpu/device';

/** The limits of a typical desktop adapter (WebGPU's defaults, 256-wide workgroups), for tests without a device. */
export const TYPICAL_LIMITS: Gpu['limits'] = {
  maxBufferSize: 2 ** 31,
  maxStorageBufferBindingSize: 2 ** 30,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 10,
  minStorageBufferOffsetAlignment: 256,
  minUniformBufferOffsetAlignment: 256,
};

/**
 * Workgroup limits below WebGPU's minimums (64 invocations, 64 wide, 8 KiB of workgroup memory), so
 * every kernel picks a smaller workgroup than it was designed for: tests of the limits policy.
 */
export const SMALL_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 64,
  maxComputeWorkgroupSizeX: 64,
  maxComputeWorkgroupStorageSize: 8192,
} as const;
