// The device's own ceilings, so every speed figure can be stated as a fraction of what this adapter
// can do at all (bench/roofline.ts):
//  copy: dst = src, vec4 words, grid-stride. Bytes moved = read + write: the streaming bandwidth a
//        weight-bound decode step can at best reach.
//  fma:  16 independent FMA chains per invocation (4 × vec4, enough to hide FMA latency), `iters`
//        rounds of acc = acc·a + b; the sum of the chains is written so no chain is dead code.
//        FLOPs = 2 · 16 · iters per invocation.
//        The loop is unrolled 8 rounds deep (128 FMAs per iteration) so the figure is FMA throughput,
//        not loop control: on SwiftShader one loop iteration (SIMD condition, lane masks, branch) cost
//        more than its 16 FMAs, so the 1-round loop measured ~4 GFLOP/s of CPU time where 8 rounds
//        measure ~15-22 (×2: 8, ×16/×32 no higher than ×8; same process, 2026-12-03; docs/perf.md).
//        A GPU compiler unrolls such a loop itself, so real GPUs should see no change.
//        FT is the arithmetic type, declared by ceilings.ts before this source: `alias FT = f32;`, or
//        `enable f16; alias FT = f16;` for the f16 ceiling (compiled only where shader-f16 exists).

struct Params { n: u32, iters: u32, a: f32, b: f32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  for (var i = gid.x; i < P.n; i += stride) {
    dst[i] = src[i];
  }
}

@compute @workgroup_size(WG)
fn fma_chains(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P.n) { return; }
  let s = vec4<FT>(src[i]);
  var a0 = s;
  var a1 = s + vec4<FT>(FT(1.0));
  var a2 = s + vec4<FT>(FT(2.0));
  var a3 = s + vec4<FT>(FT(3.0));
  let m = vec4<FT>(FT(P.a));
  let c = vec4<FT>(FT(P.b));
  let main = P.iters & ~7u;
  for (var k = 0u; k < main; k += 8u) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  for (var k = main; k < P.iters; k++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  dst[i] = vec4<f32>(a0 + a1 + a2 + a3);
}
