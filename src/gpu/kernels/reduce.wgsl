// Global sums without float atomics. One entry point serves both levels of the reduction:
//   level 1: G workgroups, each a grid-stride loop over x[0..n), write dst[slot + g] = Σ (x² or x);
//   level 2: one workgroup over the G partials, dst = out, adding into out[slot] (or overwriting).
// With G = 1 a single dispatch goes straight to out. Workgroups are numbered x + y·nx.

struct Params { n: u32, slot: u32, flags: u32 };
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
