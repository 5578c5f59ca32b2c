import type { Gpu } from './device';
import { GpuOutOfMemoryError } from './errors';

/** What a buffer holds, for the memory report the UI and the benchmark show. */
export type MemCategory = 'weights' | 'kv' | 'scratch' | 'train';

// Evaluated lazily: in Node the GPU globals exist only after the webgpu package is loaded.
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Every long-lived GPU buffer goes through here so the engine can report, per category, the bytes it
 * holds, and so no buffer is created on a hot path unnoticed (`allocations` counts them).
 */
export class GpuMemory {
  private readonly sizes = new Map<GPUBuffer, { size: number; category: MemCategory }>();
  private readonly totals: Record<MemCategory, number> = { weights: 0, kv: 0, scratch: 0, train: 0 };
  allocations = 0;

  constructor(readonly gpu: Gpu) {}

  /** A storage buffer; `size` is rounded up to 4 bytes (WGSL arrays are of 32-bit words). */
  create(label: string, size: number, category: MemCategory, usage: number = storageUsage()): GPUBuffer {
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    if (bytes > this.gpu.limits.maxBufferSize) {
      throw new GpuOutOfMemoryError(
        `Buffer "${label}" needs ${fmtBytes(bytes)} but this GPU allows at most ${fmtBytes(this.gpu.limits.maxBufferSize)} per buffer.`,
      );
    }
    const buffer = this.gpu.device.createBuffer({ label, size: bytes, usage });
    this.sizes.set(buffer, { size: bytes, category });
    this.totals[category] += bytes;
    this.allocations++;
    return buffer;
  }

  /** Creates a buffer and fills it from CPU memory. */
  upload(label: string, data: ArrayBufferView, category: MemCategory): GPUBuffer {
    const buf = this.create(label, data.byteLength, category);
    writeAligned(this.gpu.device, buf, 0, data);
    return buf;
  }

  destroy(buffer: GPUBuffer): void {
    const rec = this.sizes.get(buffer);
    if (rec) {
      this.totals[rec.category] -= rec.size;
      this.sizes.delete(buffer);
    }
    buffer.destroy();
  }

  destroyAll(category?: MemCategory): void {
    for (const [b, rec] of [...this.sizes]) if (!category || rec.category === category) this.destroy(b);
  }

  /** The category a buffer was created in, or null for one this allocator does not own. */
  categoryOf(buffer: GPUBuffer): MemCategory | null {
    return this.sizes.get(buffer)?.category ?? null;
  }

  bytes(): Record<MemCategory, number> & { total: number } {
    const t = this.totals;
    return { ...t, total: t.weights + t.kv + t.scratch + t.train };
  }
}

/** queue.writeBuffer needs a size that is a multiple of 4; pad the tail instead of failing. */
export function writeAligned(device: GPUDevice, buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
  const u8 = bytesOf(data);
  const whole = u8.byteLength & ~3;
  if (whole > 0) device.queue.writeBuffer(buf, offset, u8, 0, whole);
  if (whole < u8.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(u8.subarray(whole));
    device.queue.writeBuffer(buf, offset + whole, tail);
  }
}

/** The bytes of a typed array, typed as queue.writeBuffer wants them (never a SharedArrayBuffer here). */
export function bytesOf(v: ArrayBufferView): Uint8Array<ArrayBuffer> {
  return new Uint8Array(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
}

/** Copies `size` bytes of a GPU buffer to the CPU. Each call is a GPU→CPU sync: keep them off hot paths. */
export async function readBuffer(gpu: Gpu, src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
  const bytes = Math.ceil(size / 4) * 4;
  const staging = gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = gpu.device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, bytes);
  gpu.device.queue.submit([enc.finish()]);
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    if (gpu.lostError) throw gpu.lostError;
    throw e;
  }
  const out = staging.getMappedRange().slice(0, size);
  staging.unmap();
  staging.destroy();
  return out;
}

export async function readF32(gpu: Gpu, src: GPUBuffer, offset = 0, count?: number): Promise<Float32Array> {
  const size = count === undefined ? src.size - offset : count * 4;
  return new Float32Array(await readBuffer(gpu, src, offset, size));
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${u[i]}`;
}
