// Global sums without float atomics. One entry point serves both levels of the reduction:
//   level 1: G workgroups, each a grid-stride loop over x[0..n), write dst[slot + g] = Σ (x² or x);
//   level 2: one workgroup over the G partials, dst = out, adding into out[slot] (or overwriting).
// With G = 1 a single dispatch goes straight to out. Workgroups are numbered x + y·nx.
// On software adapters (Gpu.software) reduce_sum_sw runs instead, with the same two levels but no
// shared memory and no barrier: `parts` invocations each sum one contiguous chunk of x serially.

struct Params { n: u32, slot: u32, flags: u32, parts: u32 };
// flags bit 0: square each element first; bit 1: add into dst instead of overwriting it.

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  let groups = nwg.x * nwg.y;
  let stride = groups * WG;
  let sq = (P.flags & 1u) != 0u;
  var s = 0.0;
  for (var i = g * WG + lid; i < P.n; i += stride) {
    let v = x[i];
    s += select(v, v * v, sq);
  }
  red[lid] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) { red[lid] = red[lid] + red[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = P.slot + g;
    var v = red[0];
    if ((P.flags & 2u) != 0u) { v += dst[o]; }
    dst[o] = v;
  }
}

// ---- software adapters ----------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn reduce_sum_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g >= P.parts) { return; }
  let chunk = ((P.n + P.parts - 1u) / P.parts + 3u) & ~3u;
  let lo = min(g * chunk, P.n);
  let hi = min(lo + chunk, P.n);
  let hi4 = lo + ((hi - lo) & ~3u);
  let sq = (P.flags & 1u) != 0u;
  // Blocks of 1024 elements, then the blocks: a single running sum over long chunks loses precision.
  var s4 = vec4<f32>(0.0);
  for (var b0 = lo; b0 < hi4; b0 += 1024u) {
    let e = min(b0 + 1024u, hi4);
    var b4 = vec4<f32>(0.0);
    for (var i = b0; i < e; i += 4u) {
      let v = vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
      b4 += select(v, v * v, sq);
    }
    s4 += b4;
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (var i = hi4; i < hi; i++) {
    let v = x[i];
    s += select(v, v * v, sq);
  }
  let o = P.slot + g;
  if ((P.flags & 2u) != 0u) { s += dst[o]; }
  dst[o] = s;
}
