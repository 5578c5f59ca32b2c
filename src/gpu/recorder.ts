import type { Gpu } from './device';
import { assertAlive } from './device';
import { MAX_PARAMS, type Kernel } from './kernel';

/** A storage binding: a whole buffer, or a range of one (offset must respect minStorageBufferOffsetAlignment). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

const SLOT = 256; // bytes per dispatch's params; the usual minUniformBufferOffsetAlignment

/**
 * Records many dispatches into one compute pass and submits them at once. The params of all dispatches
 * go into one uniform ring uploaded with a single writeBuffer per submit, and bind groups are cached,
 * so a steady-state forward or decode step creates no GPU objects.
 */
export class Recorder {
  private readonly paramBuf: GPUBuffer;
  private readonly staging: ArrayBuffer;
  private readonly view: DataView;
  private readonly capacity: number;
  private used = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  /** Dispatches recorded since creation, for tests that check a step's dispatch count. */
  dispatches = 0;
  submits = 0;
  /**
   * Benchmarks set this to see every dispatch (kernel, bindings, grid): how the roofline bench counts
   * dispatches per kernel and the weight bytes a step reads. Null on every hot path that is not measured.
   */
  trace: ((k: Kernel, bindings: readonly Binding[], groups: readonly [number, number, number]) => void) | null = null;

  constructor(readonly gpu: Gpu, slots = 8192) {
    this.capacity = slots;
    this.paramBuf = gpu.device.createBuffer({
      label: 'params-ring',
      size: slots * SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.staging = new ArrayBuffer(slots * SLOT);
    this.view = new DataView(this.staging);
  }

  dispatch(k: Kernel, bindings: readonly Binding[], params: readonly number[], groups: readonly [number, number?, number?]): void {
    if (bindings.length !== k.spec.bindings.length) {
      throw new Error(`${k.spec.label}: expected ${k.spec.bindings.length} bindings, got ${bindings.length}`);
    }
    if (params.length !== k.spec.params.length) {
      throw new Error(`${k.spec.label}: expected ${k.spec.params.length} params, got ${params.length}`);
    }
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxG = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxG || y > maxG || z > maxG) {
      throw new Error(`${k.spec.label}: dispatch ${x}×${y}×${z} exceeds ${maxG} workgroups per dimension`);
    }
    if (this.used === this.capacity) this.submit();
    const slot = this.used++;
    const base = slot * SLOT;
    const types = k.spec.params;
    for (let i = 0; i < params.length; i++) {
      const t = types[i];
      if (t === 'f32') this.view.setFloat32(base + 4 * i, params[i], true);
      else if (t === 'i32') this.view.setInt32(base + 4 * i, params[i], true);
      else this.view.setUint32(base + 4 * i, params[i] >>> 0, true);
    }
    if (!this.pass) {
      // Keep the encoder a copy() may have opened: replacing it would drop the work recorded before.
      this.encoder ??= this.gpu.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(k.pipeline);
    this.pass.setBindGroup(0, this.bindGroup(k, bindings), [base]);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    this.trace?.(k, bindings, [x, y, z]);
  }

  /** Buffer copy inside the same submit (closes the current pass; a new one opens on the next dispatch). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (!this.encoder) this.encoder = this.gpu.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Uploads the params ring and submits everything recorded so far. */
  submit(): void {
    assertAlive(this.gpu);
    if (!this.encoder) return;
    if (this.pass) this.pass.end();
    if (this.used > 0) this.gpu.device.queue.writeBuffer(this.paramBuf, 0, this.staging, 0, this.used * SLOT);
    this.gpu.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pass = null;
    this.used = 0;
    this.submits++;
  }

  /** Resolves when all submitted work is done (errors map to the device-lost error if the device died). */
  async done(): Promise<void> {
    await this.gpu.device.queue.onSubmittedWorkDone();
    assertAlive(this.gpu);
  }

  /** Drop cached bind groups that reference buffers about to be destroyed. */
  forget(): void {
    this.bindGroups.clear();
  }

  private bindGroup(k: Kernel, bindings: readonly Binding[]): GPUBindGroup {
    let key = String(k.id);
    for (const b of bindings) {
      const buf = isBuffer(b) ? b : b.buffer;
      let id = this.bufferIds.get(buf);
      if (id === undefined) {
        id = this.nextBufferId++;
        this.bufferIds.set(buf, id);
      }
      key += isBuffer(b) ? `|${id}` : `|${id}:${b.offset ?? 0}:${b.size ?? -1}`;
    }
    let bg = this.bindGroups.get(key);
    if (!bg) {
      bg = this.gpu.device.createBindGroup({
        label: k.spec.label,
        layout: k.layout,
        entries: [
          { binding: 0, resource: { buffer: this.paramBuf, offset: 0, size: MAX_PARAMS * 4 } },
          ...bindings.map((b, i) => ({
            binding: i + 1,
            resource: isBuffer(b) ? { buffer: b } : { buffer: b.buffer, offset: b.offset ?? 0, size: b.size },
          })),
        ],
      });
      this.bindGroups.set(key, bg);
    }
    return bg;
  }

  destroy(): void {
    this.paramBuf.destroy();
    this.bindGroups.clear();
  }
}

/** Splits a 1-D workgroup count over x and y so it stays under the per-dimension limit. */
export function grid(groups: number, max = 65535): [number, number] {
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** The buffer behind a binding. */
export function bufferOf(b: Binding): GPUBuffer {
  return isBuffer(b) ? b : b.buffer;
}

function isBuffer(b: Binding): b is GPUBuffer {
  return typeof (b as GPUBuffer).mapAsync === 'function';
}
