import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { Gpu } from '../../src/gpu/device';
import { KernelCache } from '../../src/gpu/kernel';
import { Recorder } from '../../src/gpu/recorder';
import { GpuMemory, readF32 } from '../../src/gpu/memory';
import { dequantize, quantize } from '../../src/model/quant';
import type { GgmlType, GpuTensor } from '../../src/model/types';

export interface TestGpu {
  gpu: Gpu;
  kc: KernelCache;
  rec: Recorder;
  mem: GpuMemory;
  /** Uploads f32 data (or zeros of that length) into a fresh storage buffer. */
  f32(data: ArrayLike<number> | number): GPUBuffer;
  /** Uploads raw bytes (quantized blocks, u32 ids…). */
  bytes(data: ArrayBufferView): GPUBuffer;
  u32(data: ArrayLike<number>): GPUBuffer;
  /** Submits what the recorder holds and reads `n` floats back. */
  read(buf: GPUBuffer, n?: number): Promise<Float32Array>;
}

let shared: Promise<TestGpu> | null = null;

/** One device per test file (vitest forks a process per file). */
export function testGpu(): Promise<TestGpu> {
  shared ??= (async () => {
    const gpu = await acquireNodeGpu();
    const mem = new GpuMemory(gpu);
    const rec = new Recorder(gpu);
    return {
      gpu,
      kc: new KernelCache(gpu),
      rec,
      mem,
      f32: (d) => (typeof d === 'number' ? mem.create('t', d * 4, 'scratch') : mem.upload('t', Float32Array.from(d), 'scratch')),
      bytes: (d) => mem.upload('t', d, 'scratch'),
      u32: (d) => mem.upload('t', Uint32Array.from(d), 'scratch'),
      read: async (buf, n) => {
        rec.submit();
        return readF32(gpu, buf, 0, n);
      },
    };
  })();
  return shared;
}

/** Deterministic pseudo-random numbers for fixtures (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(r: () => number, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale;
  }
  return out;
}

/** Max |a-b| / max(|b|_inf, floor): a single relative number to compare GPU output with a reference. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = floor;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/**
 * Matrices [rows_i, K] of one type stacked in one buffer at 256-byte-aligned parts (as uploadWeights
 * stores q|k|v, gate|up), with their dequantized values. Padding — and `tail` bytes after the last
 * part — is 0xff, which poisons any read past a part. Part sizes differ, so each part's offset, row
 * count and output stride matter.
 */
export function stackedWeights(t: TestGpu, type: GgmlType, rows: number[], K: number, seed: number, tail = 0): { ws: GpuTensor[]; deq: Float32Array[] } {
  const parts = rows.map((n, i) => quantize(type, Float32Array.from(randn(rng(seed + i), n * K, 0.5))));
  const offsets: number[] = [];
  let size = 0;
  for (const p of parts) {
    offsets.push(size);
    size = Math.ceil((size + p.byteLength) / 256) * 256;
  }
  const all = new Uint8Array(size + tail).fill(0xff);
  parts.forEach((p, i) => all.set(p, offsets[i]));
  const buffer = t.bytes(all);
  return {
    ws: rows.map((n, i) => ({ name: `w${i}`, type, shape: [n, K], buffer, offset: offsets[i] })),
    deq: parts.map((p, i) => dequantize(type, p, rows[i] * K)),
  };
}
