import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/device';
import { tilePlan } from '../../src/gpu/tiles';

const LIMITS: Gpu['limits'] = {
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

describe('tilePlan', () => {
  it('takes 64×64 tiles with 32-element steps on a typical adapter (256 invocations, 32 KiB)', () => {
    expect(tilePlan(LIMITS, 4)).toEqual({ tile: 64, chunk: 32, threads: 256 });
    expect(tilePlan(LIMITS, 2)).toEqual({ tile: 64, chunk: 32, threads: 256 });
  });

  it('shrinks the tile to the invocation limit and the step to the workgroup memory', () => {
    expect(tilePlan({ ...LIMITS, maxComputeInvocationsPerWorkgroup: 64 }, 4)).toEqual({ tile: 32, chunk: 32, threads: 64 });
    expect(tilePlan({ ...LIMITS, maxComputeWorkgroupSizeX: 128 }, 4)).toEqual({ tile: 32, chunk: 32, threads: 64 });
    expect(tilePlan({ ...LIMITS, maxComputeWorkgroupStorageSize: 8192 }, 4)).toEqual({ tile: 64, chunk: 16, threads: 256 });
    // f16 staging halves the bytes: the same memory holds twice the step.
    expect(tilePlan({ ...LIMITS, maxComputeWorkgroupStorageSize: 8192 }, 2)).toEqual({ tile: 64, chunk: 32, threads: 256 });
    expect(tilePlan({ ...LIMITS, maxComputeInvocationsPerWorkgroup: 64, maxComputeWorkgroupStorageSize: 4096 }, 4)).toEqual({ tile: 32, chunk: 16, threads: 64 });
    // Below 16 KiB and 256 invocations (smaller than WebGPU's minimums): the 16×16 fallback.
    expect(tilePlan({ ...LIMITS, maxComputeInvocationsPerWorkgroup: 32, maxComputeWorkgroupStorageSize: 1024 }, 4)).toEqual({ tile: 16, chunk: 8, threads: 16 });
  });

  it('refuses limits below any tile with a message naming them', () => {
    expect(() => tilePlan({ ...LIMITS, maxComputeInvocationsPerWorkgroup: 8 }, 4)).toThrow(/8 invocations/);
    expect(() => tilePlan({ ...LIMITS, maxComputeWorkgroupStorageSize: 512 }, 4)).toThrow(/512 bytes/);
  });
});
