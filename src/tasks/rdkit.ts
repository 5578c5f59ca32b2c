/**
 * Loads RDKit's WebAssembly build (npm `@rdkit/rdkit`, RDKit MinimalLib) once per JS realm, in
 * Node and in the browser (page or Web Worker). The wasm is ~7 MB, so it is fetched only when a
 * task first needs chemistry, never at start-up.
 */
import type { MainModule } from '@rdkit/rdkit';

export type RDKitModule = MainModule;
export type { Mol as RDKitMol } from '@rdkit/rdkit';

export interface RdkitLoadOptions {
  /**
   * Where RDKit_minimal.wasm lives (URL in the browser, file path or file: URL in Node).
   * Default: Node resolves it inside node_modules/@rdkit/rdkit/dist; the browser uses the URL
   * Vite emits for the asset.
   */
  wasmUrl?: string | URL;
  /** The wasm bytes themselves (e.g. already fetched or cached); wins over wasmUrl. */
  wasmBinary?: ArrayBuffer | Uint8Array;
}

let cached: Promise<RDKitModule> | null = null;

/**
 * The RDKit module. The first call decides how it is loaded; later calls return the same instance
 * (options are ignored then) because a second copy would cost another 7 MB and ~0.5 s.
 * A failed load is not cached, so a call with corrected options can retry.
 */
export function loadRdkit(opts: RdkitLoadOptions = {}): Promise<RDKitModule> {
  cached ??= instantiate(opts).catch((e: unknown) => {
    cached = null;
    throw new Error(`Could not load RDKit (WebAssembly): ${e instanceof Error ? e.message : String(e)}`);
  });
  return cached;
}

async function instantiate(opts: RdkitLoadOptions): Promise<RDKitModule> {
  const { default: init } = await import('@rdkit/rdkit');
  // Emscripten module options: wasmBinary skips the fetch; locateFile redirects it.
  const moduleArg: Record<string, unknown> = {};
  if (opts.wasmBinary) {
    moduleArg.wasmBinary = opts.wasmBinary instanceof Uint8Array ? opts.wasmBinary : new Uint8Array(opts.wasmBinary);
  } else {
    const url = opts.wasmUrl !== undefined ? String(opts.wasmUrl) : await defaultWasmLocation();
    moduleArg.locateFile = (file: string, dir: string) => (file.endsWith('.wasm') ? url : dir + file);
  }
  return init(moduleArg);
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

async function defaultWasmLocation(): Promise<string> {
  if (isNode()) {
    // A variable specifier keeps the Node-only import out of browser bundles.
    const nodeModule = 'node:module';
    const { createRequire } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('node:module');
    return createRequire(import.meta.url).resolve('@rdkit/rdkit/RDKit_minimal.wasm');
  }
  // Vite copies the asset into the build and hands back its URL.
  const { default: url } = await import('@rdkit/rdkit/RDKit_minimal.wasm?url');
  return url;
}
