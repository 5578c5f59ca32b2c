// Its own file: loadRdkit caches one instance per module realm, and each test file gets a fresh one.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadRdkit } from '../../src/tasks/rdkit';

describe('loadRdkit', () => {
  it('reports a bad wasm location, then loads from given bytes and caches the instance', async () => {
    await expect(loadRdkit({ wasmUrl: '/nonexistent/RDKit_minimal.wasm' })).rejects.toThrow(/Could not load RDKit/);
    const wasmPath = createRequire(import.meta.url).resolve('@rdkit/rdkit/RDKit_minimal.wasm');
    const t0 = performance.now();
    const rdkit = await loadRdkit({ wasmBinary: readFileSync(wasmPath) });
    const ms = performance.now() - t0;
    expect(rdkit.version()).toMatch(/^\d{4}\.\d{2}\.\d+/);
    expect(ms).toBeLessThan(30_000);
    expect(await loadRdkit()).toBe(rdkit);
  });
});
