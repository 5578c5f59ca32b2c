import { beforeAll, describe, expect, it } from 'vitest';
import { Matmul, MATMUL_TYPES, type MatmulPath } from '../../src/gpu/kernels/matmul';
import { Recorder } from '../../src/gpu/recorder';
import { dequantize, quantize } from '../../src/model/quant';
import { GgmlType, TYPE_LAYOUT, type GpuTensor } from '../../src/model/types';
import { randn, relErr, rng, stackedWeights, testGpu, type TestGpu } from '../helpers/gpu';
import { matmulBackwardInputRef, matmulRef } from './matmul.ref';
import { PROFILES, profileKc } from './profiles';

let t: TestGpu;
/** The kernels of each profile (software: the barrier-free *_sw variants; gpu: the workgroup designs). */
const mms = new Map<boolean, Matmul>();

beforeAll(async () => {
  t = await testGpu();
  for (const p of PROFILES) mms.set(p.software, await Matmul.create(profileKc(t, p.software)));
}, 1_200_000); // 70 pipelines: over the default 10 min on SwiftShader when the machine's cores are shared

/** A random [N, K] weight in `type` on the GPU, with its dequantized values for the reference. */
function weight(type: GgmlType, N: number, K: number, seed: number): { w: GpuTensor; deq: Float32Array } {
  const vals = Float32Array.from(randn(rng(seed), N * K, 0.5));
  const bytes = quantize(type, vals);
  return {
    w: { name: 'w', type, shape: [N, K], buffer: t.bytes(bytes) },
    deq: dequantize(type, bytes, N * K),
  };
}

/** K-quants: two super-blocks; Q4_0/Q8_0: three blocks; float types: K % 8 == 4 and K % 16 != 0 (tails). */
function kFor(type: GgmlType): number {
  const be = TYPE_LAYOUT[type].blockElems;
  return be === 256 ? 512 : be === 32 ? 96 : 100;
}

// M = 9 spans two matrix-vector chunks of 8 rows; 37 is not a multiple of the 64-row tile.
const CASES: Array<{ M: number; bias: boolean; accumulate: boolean }> = [
  { M: 1, bias: false, accumulate: false },
  { M: 3, bias: true, accumulate: false },
  { M: 9, bias: false, accumulate: true },
  { M: 37, bias: true, accumulate: true },
];
const PATHS: MatmulPath[] = ['matvec', 'tiled'];

for (const profile of PROFILES) {
  for (const type of MATMUL_TYPES) {
    const name = TYPE_LAYOUT[type].name;
    describe(`matmul ${name} (${profile.name} kernels)`, () => {
      const mm = () => mms.get(profile.software)!;
      const N = 45 + type; // 45..75: never a multiple of the row groups or tiles
      for (const path of PATHS) {
        it(`forward (${path}) matches the CPU reference`, async () => {
          const K = kFor(type);
          const { w, deq } = weight(type, N, K, 100 + type);
          for (const c of CASES) {
            const r = rng(c.M * 31 + type);
            const x = randn(r, c.M * K);
            const bias = c.bias ? randn(r, N) : undefined;
            const init = c.accumulate ? randn(r, c.M * N) : undefined;
            const y = t.f32(init ?? c.M * N);
            mm().forward(t.rec, {
              x: t.f32(x),
              w,
              y,
              M: c.M,
              bias: bias ? t.f32(bias) : undefined,
              accumulate: c.accumulate,
              path,
            });
            const got = await t.read(y, c.M * N);
            const err = relErr(got, matmulRef(x, deq, c.M, N, K, bias, init));
            expect(err, `M=${c.M} bias=${c.bias} acc=${c.accumulate}`).toBeLessThan(1e-3);
          }
        });

        it(`backwardInput (${path}) matches the CPU reference`, async () => {
          const K = kFor(type);
          const { w, deq } = weight(type, N, K, 200 + type);
          for (const c of CASES) {
            const r = rng(c.M * 17 + type);
            const dy = randn(r, c.M * N);
            const init = c.accumulate ? randn(r, c.M * K) : undefined;
            const dx = t.f32(init ?? c.M * K);
            mm().backwardInput(t.rec, { dy: t.f32(dy), w, dx, M: c.M, accumulate: c.accumulate, path });
            const got = await t.read(dx, c.M * K);
            const err = relErr(got, matmulBackwardInputRef(dy, deq, c.M, N, K, init));
            expect(err, `M=${c.M} acc=${c.accumulate}`).toBeLessThan(1e-3);
          }
        });
      }
    });
  }
}

for (const profile of PROFILES) {
  describe(`matmul stacked projections (${profile.name} kernels)`, () => {
    const mm = () => mms.get(profile.software)!;
    for (const type of MATMUL_TYPES) {
      const name = TYPE_LAYOUT[type].name;
      it(`${name}: one dispatch writes each part as its own matmul would, and sums their input gradients`, async () => {
        const K = kFor(type);
        for (const rows of [[40 + type, 13, 13], [37, 29]]) {
          const { ws, deq } = stackedWeights(t, type, rows, K, 300 + type);
          for (const path of PATHS) {
            for (const M of [1, 3, 37]) {
              const r = rng(M * 7 + type + rows.length);
              const x = randn(r, M * K);
              const bias = rows.length === 3 ? randn(r, rows.reduce((a, b) => a + b)) : undefined;
              // Output parts at 256-byte offsets, every word pre-set so untouched gaps are visible.
              const yOffsets: number[] = [];
              let words = 0;
              for (const n of rows) {
                yOffsets.push(words * 4);
                words = Math.ceil((words + M * n) / 64) * 64;
              }
              const y = t.f32(new Float32Array(words).fill(7));
              const before = t.rec.dispatches;
              mm().forwardStacked(t.rec, { x: t.f32(x), ws, y, yOffsets, M, bias: bias ? t.f32(bias) : undefined, path });
              expect(t.rec.dispatches - before).toBe(1);
              const got = await t.read(y, words);
              const want = new Float32Array(words).fill(7);
              let b0 = 0;
              rows.forEach((n, i) => {
                want.set(matmulRef(x, deq[i], M, n, K, bias?.slice(b0, b0 + n)), yOffsets[i] / 4);
                b0 += n;
              });
              expect(relErr(got, want), `${rows} ${path} M=${M}`).toBeLessThan(1e-3);

              // Backward: dx = Σ_i dy_i·W_i from the planar dy parts (same layout), in one dispatch.
              const dy = randn(r, words);
              const init = M === 3 ? randn(r, M * K) : undefined; // M = 3 accumulates into dx
              const dx = t.f32(init ?? M * K);
              const b4 = t.rec.dispatches;
              mm().backwardInputStacked(t.rec, { dy: t.f32(dy), dyOffsets: yOffsets, ws, dx, M, accumulate: !!init, path });
              expect(t.rec.dispatches - b4).toBe(1);
              let wantDx: ArrayLike<number> = init ?? new Float64Array(M * K);
              rows.forEach((n, i) => {
                const o = yOffsets[i] / 4;
                wantDx = matmulBackwardInputRef(dy.slice(o, o + M * n), deq[i], M, n, K, wantDx);
              });
              expect(relErr(await t.read(dx, M * K), wantDx), `backward ${rows} ${path} M=${M}`).toBeLessThan(1e-3);
            }
          }
          // A part bound on its own (its offset into the stack) works in the plain kernels too.
          const M = 3;
          const dy = randn(rng(5), M * rows[1]);
          const dx = t.f32(M * K);
          mm().backwardInput(t.rec, { dy: t.f32(dy), w: ws[1], dx, M });
          expect(relErr(await t.read(dx, M * K), matmulBackwardInputRef(dy, deq[1], M, rows[1], K))).toBeLessThan(1e-3);
          const x = randn(rng(6), M * K);
          const y1 = t.f32(M * rows[1]);
          mm().forward(t.rec, { x: t.f32(x), w: ws[1], y: y1, M });
          expect(relErr(await t.read(y1, M * rows[1]), matmulRef(x, deq[1], M, rows[1], K))).toBeLessThan(1e-3);
        }
      });
    }
  });
}

describe('matmul dispatch', () => {
  // Per-dimension limits that make each dispatch of the test need an x·y grid: [matvec fwd, matvec bwd,
  // tiled fwd, tiled bwd]. GPU: 18 groups → 5×4, 3 → 2×2, 6 tiles → 3×2, 15 → 4×4. Software: 5 → 3×2,
  // 5 → 3×2, 10 → 7×2 (8×8 blocks), 43 → 13×4.
  const LIMITS = { gpu: [5, 2, 4, 4], software: [3, 3, 7, 13] } as const;
  for (const profile of PROFILES) {
    it(`numbers workgroups over a 2-D grid when one dimension is not enough (${profile.name} kernels)`, async () => {
      const mm = mms.get(profile.software)!;
      const [mvF, mvB, tF, tB] = LIMITS[profile.name];
      // Recorders that believe only a few workgroups fit in a dimension force every kernel onto x·y grids
      // (with spare workgroups where the count does not factor exactly).
      const limited = (max: number) => new Recorder({ ...t.gpu, limits: { ...t.gpu.limits, maxComputeWorkgroupsPerDimension: max } });
      const type = GgmlType.Q8_0;
      const N = 70;
      const K = 320;
      const { w, deq } = weight(type, N, K, 5);
      const r = rng(9);
      for (const path of PATHS) {
        const M = path === 'matvec' ? 5 : 130;
        const x = randn(r, M * K);
        const y = t.f32(M * N);
        const rf = limited(path === 'matvec' ? mvF : tF);
        mm.forward(rf, { x: t.f32(x), w, y, M, path });
        rf.submit();
        expect(relErr(await t.read(y, M * N), matmulRef(x, deq, M, N, K)), path).toBeLessThan(1e-3);
        const dy = randn(r, M * N);
        const dx = t.f32(M * K);
        const rb = limited(path === 'matvec' ? mvB : tB);
        mm.backwardInput(rb, { dy: t.f32(dy), w, dx, M, path });
        rb.submit();
        expect(relErr(await t.read(dx, M * K), matmulBackwardInputRef(dy, deq, M, N, K)), path).toBeLessThan(1e-3);
        rf.destroy();
        rb.destroy();
      }
    });
  }

  it('rejects a K that is not a multiple of the block size', () => {
    const w: GpuTensor = { name: 'bad', type: GgmlType.Q4_K, shape: [4, 128], buffer: t.f32(4) };
    expect(() => mms.get(true)!.forward(t.rec, { x: t.f32(128), w, y: t.f32(4), M: 1 })).toThrow(/multiple of 256/);
  });
});
