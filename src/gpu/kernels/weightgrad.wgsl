// Gradients of trainable weights of y = x·Wᵀ (+ b):
//   wg_tile  dw[N, K] (+)= scale · dyᵀ·x  with dy [M, N], x [M, K]: TT×TT tiles of dw over (N, K), each
//            workgroup looping over M in chunks of TMC rows staged in shared memory; every invocation
//            owns 4×4 outputs strided by TT/4 (conflict-free shared reads, coalesced global writes).
//            TT and TMC come from the adapter's limits; staging stays f32 (gradients underflow f16).
//   wg_bias  db[N] (+)= scale · Σ_m dy[m, n]: BC columns per workgroup, BL lanes over m each (BC·BL
//            invocations from the adapter's limits, src/gpu/workgroup.ts).
// Workgroups are numbered x + y·nx (grid() splits large counts over two dimensions).
// Software adapters (Gpu.software) use barrier-free variants, invocations numbered gid.x + gid.y·nx·SWG:
//   wg_tile_sw  one invocation per 4×4 block of dw, looping over all M rows.
//   wg_bias_sw  one invocation per column of db.

struct Params { M: u32, N: u32, K: u32, scale: f32, accumulate: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;       // [M, N]
@group(0) @binding(2) var<storage, read_write> dw: array<f32>; // [N, K] (wg_tile) or db [N] (wg_bias)
@group(0) @binding(3) var<storage, read> x: array<f32>;        // [M, K] (wg_tile only)

override SWG: u32 = 16u;

// Tile shape from the adapter's limits (src/gpu/tiles.ts): TT×TT outputs per workgroup of TWG = (TT/4)²
// invocations, M staged TMC rows at a time.
override TT: u32 = 64u;
override TMC: u32 = 16u;
override TWG: u32 = 256u;

var<workgroup> sdy: array<f32, TMC * TT>; // [m][n]
var<workgroup> sx: array<f32, TMC * TT>;  // [m][k]

@compute @workgroup_size(TWG)
fn wg_tile(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesK = (K + TT - 1u) / TT;
  let g = wid.x + wid.y * nwg.x;
  if (g >= tilesK * ((N + TT - 1u) / TT)) { return; } // uniform per workgroup
  let k0 = (g % tilesK) * TT;
  let n0 = (g / tilesK) * TT;
  let S = TT / 4u;
  let tn = t / S;
  let tk = t % S;
  var acc: array<vec4<f32>, 4>; // acc[i][j]: n = n0 + tn + S·i, k = k0 + tk + S·j
  for (var m0 = 0u; m0 < M; m0 += TMC) {
    // Stage dy[m0.., n0..] and x[m0.., k0..], consecutive invocations on consecutive columns.
    for (var idx = t; idx < TMC * TT; idx += TWG) {
      let mm = m0 + idx / TT;
      let c = idx % TT;
      var a = 0.0;
      var b = 0.0;
      if (mm < M) {
        if (n0 + c < N) { a = dy[mm * N + n0 + c]; }
        if (k0 + c < K) { b = x[mm * K + k0 + c]; }
      }
      sdy[idx] = a;
      sx[idx] = b;
    }
    workgroupBarrier();
    for (var mm = 0u; mm < TMC; mm++) {
      let o = mm * TT;
      let xv = vec4<f32>(sx[o + tk], sx[o + tk + S], sx[o + tk + 2u * S], sx[o + tk + 3u * S]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += sdy[o + tn + S * i] * xv;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + tn + S * i;
    if (n >= N) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + tk + S * j;
      if (k >= K) { continue; }
      let o = n * K + k;
      var v = P.scale * acc[i][j];
      if (P.accumulate != 0u) { v += dw[o]; }
      dw[o] = v;
    }
  }
}

override BC: u32 = 64u;
override BL: u32 = 4u;
var<workgroup> sb: array<f32, BC * BL>;

@compute @workgroup_size(BC * BL)
fn wg_bias(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let c = t % BC;
  let lane = t / BC;
  let n = (wid.x + wid.y * nwg.x) * BC + c;
  var s = 0.0;
  if (n < N) {
    for (var m = lane; m < M; m += BL) { s += dy[m * N + n]; }
  }
  sb[t] = s;
  workgroupBarrier();
  if (lane == 0u && n < N) {
    var sum = 0.0;
    for (var l = 0u; l < BL; l++) { sum += sb[l * BC + c]; }
    var v = P.scale * sum;
    if (P.accumulate != 0u) { v += dw[n]; }
    dw[n] = v;
  }
}

// ---- software adapters (no shared memory, no barriers) --------------------------------------------

@compute @workgroup_size(SWG)
fn wg_tile_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesK = (K + 3u) / 4u;
  let g = gid.x + gid.y * nwg.x * SWG;
  if (g >= tilesK * ((N + 3u) / 4u)) { return; }
  let k0 = (g % tilesK) * 4u;
  let n0 = (g / tilesK) * 4u;
  let lane = vec4<u32>(0u, 1u, 2u, 3u);
  // Columns past the edge re-read the last one (valid memory) and are not stored.
  let kc = min(vec4<u32>(k0) + lane, vec4<u32>(K - 1u));
  let nc = min(vec4<u32>(n0) + lane, vec4<u32>(N - 1u));
  var a0 = vec4<f32>(0.0); // a_i[j]: n = n0 + i, k = k0 + j
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var m = 0u; m < M; m++) {
    let xr = m * K;
    let dr = m * N;
    let xv = vec4<f32>(x[xr + kc.x], x[xr + kc.y], x[xr + kc.z], x[xr + kc.w]);
    let dv = vec4<f32>(dy[dr + nc.x], dy[dr + nc.y], dy[dr + nc.z], dy[dr + nc.w]);
    a0 += dv.x * xv;
    a1 += dv.y * xv;
    a2 += dv.z * xv;
    a3 += dv.w * xv;
  }
  var acc = array<vec4<f32>, 4>(a0, a1, a2, a3);
  for (var i = 0u; i < 4u; i++) {
    let n = n0 + i;
    if (n >= N) { break; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + j;
      if (k >= K) { break; }
      let o = n * K + k;
      var v = P.scale * acc[i][j];
      if (P.accumulate != 0u) { v += dw[o]; }
      dw[o] = v;
    }
  }
}

@compute @workgroup_size(SWG)
fn wg_bias_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = P.M;
  let N = P.N;
  let n = gid.x + gid.y * nwg.x * SWG;
  if (n >= N) { return; }
  let M4 = M & ~3u;
  var s4 = vec4<f32>(0.0);
  for (var m = 0u; m < M4; m += 4u) {
    s4 += vec4<f32>(dy[m * N + n], dy[(m + 1u) * N + n], dy[(m + 2u) * N + n], dy[(m + 3u) * N + n]);
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (var m = M4; m < M; m++) { s += dy[m * N + n]; }
  var v = P.scale * s;
  if (P.accumulate != 0u) { v += dw[n]; }
  dw[n] = v;
}
