import type { Gpu } from './device';
import { assertAlive } from './device';
import { GpuPipelineError } from './errors';

/**
 * How every kernel is declared. The WGSL must follow one convention so the recorder can bind it
 * without per-kernel code:
 *   @group(0) @binding(0) var<uniform> P: Params;   // `params` below, 4 bytes each, in order
 *   @group(0) @binding(1..n) storage buffers, `bindings` below, in order
 * Variants (workgroup size, block type…) use WGSL `override` constants, not string templating.
 */
export type ParamType = 'u32' | 'i32' | 'f32';

export interface KernelSpec {
  label: string;
  code: string;
  entry?: string;
  params: readonly ParamType[];
  bindings: readonly ('read' | 'rw')[];
  constants?: Record<string, number>;
}

export interface Kernel {
  id: number;
  spec: KernelSpec;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Max 4-byte words a kernel's Params struct may have; each dispatch takes one 256-byte slot. */
export const MAX_PARAMS = 64;

let nextKernelId = 1;

/** Compiles each (code, entry, constants) once per device; compilation errors become GpuPipelineError. */
export class KernelCache {
  private readonly cache = new Map<string, Promise<Kernel>>();
  private readonly modules = new Map<string, GPUShaderModule>();

  constructor(readonly gpu: Gpu) {}

  get(spec: KernelSpec): Promise<Kernel> {
    const key = `${spec.label}\0${spec.entry ?? 'main'}\0${JSON.stringify(spec.constants ?? {})}\0${spec.code.length}\0${hash(spec.code)}`;
    let k = this.cache.get(key);
    if (!k) {
      k = this.compile(spec);
      this.cache.set(key, k);
      k.catch(() => this.cache.delete(key));
    }
    return k;
  }

  private async compile(spec: KernelSpec): Promise<Kernel> {
    assertAlive(this.gpu);
    if (spec.params.length > MAX_PARAMS) throw new GpuPipelineError(`${spec.label}: too many params`);
    const device = this.gpu.device;
    const codeKey = hash(spec.code) + ':' + spec.code.length;
    let module = this.modules.get(codeKey);
    device.pushErrorScope('validation');
    if (!module) {
      module = device.createShaderModule({ label: spec.label, code: spec.code });
      this.modules.set(codeKey, module);
    }
    const layout = device.createBindGroupLayout({
      label: spec.label,
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
        ...spec.bindings.map((b, i) => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: (b === 'read' ? 'read-only-storage' : 'storage') as GPUBufferBindingType },
        })),
      ],
    });
    let pipeline: GPUComputePipeline | null = null;
    let thrown: unknown = null;
    try {
      pipeline = await device.createComputePipelineAsync({
        label: spec.label,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: spec.entry ?? 'main', constants: spec.constants },
      });
    } catch (e) {
      thrown = e;
    }
    const err = await device.popErrorScope();
    if (err || thrown || !pipeline) {
      this.modules.delete(codeKey);
      let detail = err?.message ?? String((thrown as Error)?.message ?? thrown);
      try {
        const info = await module.getCompilationInfo();
        const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}: ${m.message}`);
        if (msgs.length) detail = msgs.join('\n');
      } catch {
        /* compilation info is best effort */
      }
      throw new GpuPipelineError(`Kernel "${spec.label}" failed to compile: ${detail}`);
    }
    return { id: nextKernelId++, spec, pipeline, layout };
  }
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}
