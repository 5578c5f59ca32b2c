import { GpuDeviceLostError, GpuUnavailableError } from './errors';

/** What the engine knows about its device; every kernel reads features from here, never from the adapter. */
export interface Gpu {
  device: GPUDevice;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
    minStorageBufferOffsetAlignment: number;
    minUniformBufferOffsetAlignment: number;
    /** The adapter's subgroup sizes (adapter.info; 0 or absent when unknown: matvec then reduces without subgroups). */
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /**
   * True when the adapter is a CPU emulation of a GPU (SwiftShader, llvmpipe, lavapipe, or any adapter
   * the browser flags as a fallback). Such adapters run each workgroup's invocations as a few SIMD
   * lanes on a CPU thread and implement workgroupBarrier() by switching between them, so a dispatch
   * costs roughly (invocations × barriers), not (work / parallelism) as on a real GPU. Kernels read
   * this at pipeline creation to pick small workgroups, several rows per invocation and few barriers
   * (see the `software` notes in src/gpu/kernels); on real GPUs they keep their 256-thread designs.
   */
  software: boolean;
  /** Resolves when the device is lost; rejected promises of callers should be mapped to this. */
  lost: Promise<GpuDeviceLostError>;
  /** Set once the device is lost; checked before each submit so work fails fast with a clear message. */
  lostError: GpuDeviceLostError | null;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Turn optional features off, e.g. to test the f32 fallbacks on a GPU that has f16. */
  disableFeatures?: Array<'shader-f16' | 'subgroups' | 'timestamp-query'>;
  /**
   * Override the detected device profile (Gpu.software): tests and benchmarks use it to run the
   * real-GPU kernel variants on a software adapter, or the software variants on a GPU.
   */
  software?: boolean;
}

const SOFTWARE_NAMES = ['swiftshader', 'llvmpipe', 'lavapipe'];

/** Whether an adapter is a CPU emulation (see Gpu.software). */
export function isSoftwareAdapter(adapter: GPUAdapter, info: Partial<GPUAdapterInfo>): boolean {
  const fallback =
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (fallback === true) return true;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ').toLowerCase();
  return SOFTWARE_NAMES.some((n) => text.includes(n));
}

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/**
 * Requests an adapter and a device with the adapter's real limits: the defaults (256 MiB buffers,
 * 128 MiB bindings) are far too small for 7B weights.
 */
export async function acquireGpu(gpu: GPU | undefined, opts: AcquireOptions = {}): Promise<Gpu> {
  if (!gpu) {
    throw new GpuUnavailableError(
      'WebGPU is not available here. Use a recent Chrome or Edge (or enable chrome://flags/#enable-unsafe-webgpu), ' +
        'and make sure the page is served from https or localhost.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new GpuUnavailableError(
      'No WebGPU adapter was found. Check that hardware acceleration is on, or start Chrome with a software adapter ' +
        '(--enable-unsafe-swiftshader).',
    );
  }
  const wanted = OPTIONAL_FEATURES.filter(
    (f) => adapter.features.has(f) && !(opts.disableFeatures ?? []).includes(f),
  ) as GPUFeatureName[];
  const al = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxBufferSize: al.maxBufferSize,
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const g: Gpu = {
    device,
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
    },
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: device.limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
      subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
      subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0,
    },
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    },
    software: opts.software ?? isSoftwareAdapter(adapter, info),
    lost: undefined as unknown as Promise<GpuDeviceLostError>,
    lostError: null,
  };
  g.lost = device.lost.then((l) => {
    g.lostError = new GpuDeviceLostError(l.reason ?? 'unknown', l.message);
    return g.lostError;
  });
  return g;
}

/** Throws the typed error if the device is gone, so callers never submit into a dead device. */
export function assertAlive(gpu: Gpu): void {
  if (gpu.lostError) throw gpu.lostError;
}
