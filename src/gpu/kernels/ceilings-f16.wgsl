// The FMA ceiling in f16 (only compiled where the adapter has `shader-f16`); same chains and
// bindings as fma_f32 in ceilings.wgsl, with the arithmetic in vec4<f16>.
enable f16;

struct Params { n: u32, iters: u32, a: f32, b: f32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn fma_f16(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P.n) { return; }
  let s = vec4<f16>(src[i]);
  var a0 = s;
  var a1 = s + vec4<f16>(1.0h);
  var a2 = s + vec4<f16>(2.0h);
  var a3 = s + vec4<f16>(3.0h);
  let m = vec4<f16>(f16(P.a));
  let c = vec4<f16>(f16(P.b));
  // 8 rounds per loop iteration (the rest after): see "unrolled" in ceilings.wgsl's header.
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
