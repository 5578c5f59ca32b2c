// RMSNorm over the rows of x: y = x · rsqrt(mean(x²) + eps) · w. Rows are contiguous: x, dy, dx, out are [T, d].
//   rmsnorm_fwd / rmsnorm_bwd          GPUs: one workgroup of WG invocations per row; the reductions go
//                                      through shared memory (log2(WG) barriers).
//   rmsnorm_fwd_row / rmsnorm_bwd_row  software adapters (Gpu.software): one invocation per row, WG rows
//                                      per workgroup, no shared memory and no barrier. On a CPU emulation
//                                      an invocation is a SIMD lane of a CPU thread, so a serial loop over
//                                      the row is the cheap part; barriers (coroutine switches per lane
//                                      group) and idle invocations are what cost.

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

// ---- software adapters: one invocation per row ---------------------------------------------------

fn row_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

fn w4(i: u32) -> vec4<f32> {
  return vec4<f32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u]);
}

fn dy4(i: u32) -> vec4<f32> {
  return vec4<f32>(dy[i], dy[i + 1u], dy[i + 2u], dy[i + 3u]);
}

fn sum4(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WG)
fn rmsnorm_fwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_sw(gid, nwg);
  if (row >= P.T) { return; }
  let d = P.d;
  let d4 = d & ~3u;
  let base = row * d;
  var s4 = vec4<f32>(0.0);
  for (var i = 0u; i < d4; i += 4u) { let v = x4(base + i); s4 += v * v; }
  var ss = sum4(s4);
  for (var i = d4; i < d; i++) { let v = x[base + i]; ss += v * v; }
  let r = inverseSqrt(ss / f32(d) + P.eps);
  for (var i = 0u; i < d4; i += 4u) {
    let o = x4(base + i) * r * w4(i);
    out[base + i] = o.x;
    out[base + i + 1u] = o.y;
    out[base + i + 2u] = o.z;
    out[base + i + 3u] = o.w;
  }
  for (var i = d4; i < d; i++) { out[base + i] = x[base + i] * r * w[i]; }
}

@compute @workgroup_size(WG)
fn rmsnorm_bwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_sw(gid, nwg);
  if (row >= P.T) { return; }
  let d = P.d;
  let d4 = d & ~3u;
  let base = row * d;
  var a4 = vec4<f32>(0.0);
  var b4 = vec4<f32>(0.0);
  for (var i = 0u; i < d4; i += 4u) {
    let v = x4(base + i);
    a4 += v * v;
    b4 += w4(i) * dy4(base + i) * v;
  }
  var ss = sum4(a4);
  var sw = sum4(b4);
  for (var i = d4; i < d; i++) {
    let v = x[base + i];
    ss += v * v;
    sw += w[i] * dy[base + i] * v;
  }
  let r = inverseSqrt(ss / f32(d) + P.eps);
  let c = r * r * r * sw / f32(d);
  let acc = P.accumulate != 0u;
  for (var i = 0u; i < d4; i += 4u) {
    var g = r * w4(i) * dy4(base + i) - c * x4(base + i);
    if (acc) { g += vec4<f32>(out[base + i], out[base + i + 1u], out[base + i + 2u], out[base + i + 3u]); }
    out[base + i] = g.x;
    out[base + i + 1u] = g.y;
    out[base + i + 2u] = g.z;
    out[base + i + 3u] = g.w;
  }
  for (var i = d4; i < d; i++) {
    var g = r * w[i] * dy[base + i] - c * x[base + i];
    if (acc) { g += out[base + i]; }
    out[base + i] = g;
  }
}
