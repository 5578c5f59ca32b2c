/** Errors the GPU layer raises. Each message says what happened and what the user can do. */

export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

/** The device went away (driver reset, tab in background too long, `device.destroy()`). */
export class GpuDeviceLostError extends Error {
  override name = 'GpuDeviceLostError';
  constructor(readonly reason: string, detail: string) {
    super(
      `The GPU device was lost (${reason}): ${detail || 'no detail given'}. ` +
        'Reload the model to get a new device; training state is kept in the last checkpoint.',
    );
  }
}

/** A WGSL module or pipeline failed validation: a bug in a kernel or a limit the adapter lacks. */
export class GpuPipelineError extends Error {
  override name = 'GpuPipelineError';
}

/** A requested buffer exceeds what the adapter allows. */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
}
