// RMSNorm over the rows of x: y = x · rsqrt(mean(x²) + eps) · w. One workgroup per row; the
// reductions go through shared memory. Rows are contiguous: x, dy, dx, out are [T, d].

struct Params { T: u32, d: u32, eps: f32, accumulate: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
// forward: y. backward: dx. (Each binding number is declared once, so the module also suits
// implementations that reject duplicate bindings across entry points.)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>; // backward only

override WG: u32 = 256;

var<workgroup> red: array<vec2<f32>, WG>;

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Tree reduction of red[0..WG) (WG a power of two); every invocation gets the total.
fn reduce(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn rmsnorm_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= P.T) { return; } // uniform per workgroup
  let base = row * P.d;
  var ss = 0.0;
  for (var i = lid; i < P.d; i += WG) { let v = x[base + i]; ss += v * v; }
  let tot = reduce(lid, vec2<f32>(ss, 0.0)).x;
  let r = inverseSqrt(tot / f32(P.d) + P.eps);
  for (var i = lid; i < P.d; i += WG) { out[base + i] = x[base + i] * r * w[i]; }
}

// dx_j = r·w_j·dy_j − r³·x_j·Σ_i(w_i·dy_i·x_i)/d   (weights frozen: no dw)
@compute @workgroup_size(WG)
fn rmsnorm_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= P.T) { return; }
  let base = row * P.d;
  var acc = vec2<f32>(0.0);
  for (var i = lid; i < P.d; i += WG) {
    let v = x[base + i];
    acc += vec2<f32>(v * v, w[i] * dy[base + i] * v);
  }
  let tot = reduce(lid, acc);
  let r = inverseSqrt(tot.x / f32(P.d) + P.eps);
  let c = r * r * r * tot.y / f32(P.d);
  for (var i = lid; i < P.d; i += WG) {
    var g = r * w[i] * dy[base + i] - c * x[base + i];
    if (P.accumulate != 0u) { g += out[base + i]; }
    out[base + i] = g;
  }
}
