/**
 * WebGPU in Node through Dawn (npm `webgpu`). Only the CLI, benchmarks and tests import this file;
 * the browser build never does.
 */
import { existsSync } from 'node:fs';
import { acquireGpu, type AcquireOptions, type Gpu } from './device';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let cached: Promise<GPU> | null = null;

export function nodeNavigatorGpu(): Promise<GPU> {
  // Dawn reads the ICD variable once, when it loads; set it first so machines without a GPU use SwiftShader.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !existsSync('/dev/dri')) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  cached ??= import('webgpu').then(({ create, globals }) => {
    Object.assign(globalThis, globals);
    return create([]) as GPU;
  });
  return cached;
}

export async function acquireNodeGpu(opts?: AcquireOptions): Promise<Gpu> {
  return acquireGpu(await nodeNavigatorGpu(), opts);
}
