import { describe, expect, it } from 'vitest';
import { LoraUp, NO_ADAPTER } from '../../src/gpu/kernels/lora';
import { randn, relErr, rng, testGpu } from '../helpers/gpu';
import { loraUpRef } from './lora.ref';

describe('lora_up', () => {
  it('adds each token’s own adapter (or none) and leaves other tokens alone', async () => {
    const t = await testGpu();
    const k = await LoraUp.create(t.kc);
    const r = rng(5);
    const T = 7;
    const N = 37;
    // Three adapter slots: ranks 4 and 8 side by side, and one that does not adapt this matrix (r = 0).
    const table = [
      { off: 0, r: 4, scale: 2 },
      { off: 4, r: 8, scale: 0.5 },
      { off: 12, r: 0, scale: 3 },
    ];
    const R = 12;
    const adapter = [0, NO_ADAPTER, 1, 1, 2, 0, NO_ADAPTER];
    const y = randn(r, T * N);
    const u = randn(r, T * R);
    const b = randn(r, N * R);
    const tab = new Uint32Array(table.length * 4);
    const tf = new Float32Array(tab.buffer);
    table.forEach((e, i) => {
      tab[4 * i] = e.off;
      tab[4 * i + 1] = e.r;
      tf[4 * i + 2] = e.scale;
    });
    const yb = t.f32(y);
    k.forward(t.rec, { u: t.f32(u), b: t.f32(b), adapter: t.u32(adapter), table: t.bytes(tab), y: yb, T, N, R });
    const got = await t.read(yb);
    const want = loraUpRef(y, u, b, adapter, table, T, N, R);
    expect(relErr(got, want)).toBeLessThan(1e-6);
    // Tokens without an adapter (and the r = 0 slot) are bit-for-bit unchanged.
    for (const tok of [1, 4, 6]) expect(Array.from(got.subarray(tok * N, (tok + 1) * N))).toEqual(Array.from(Float32Array.from(y.subarray(tok * N, (tok + 1) * N))));
    expect(relErr(got, y)).toBeGreaterThan(1e-2);
  });
});
