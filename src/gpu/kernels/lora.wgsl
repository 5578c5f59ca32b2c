// LoRA for inference with one adapter choice per token (several adapters resident at once).
// Per layer the adapted projections that share an input (q|k|v, o, gate|up, down) have their adapters'
// A matrices stacked row-wise in one f32 [R, K] (adapters.ts), so each input costs one down projection
// u = x·A_allᵀ for all of them: a few wasted rows are cheaper than a dispatch per adapter.
//   lora_up      y[t, n] += scale_a · Σ_{j<r_a} u[t, uOff + off_a + j] · B_all[n, off_a + j], a = adapter[t]
//                (tokens with NONE untouched); u comes from an ordinary f32 matmul (prefill, long chunks).
//   lora_down    decode chunks (fused path, matvec.wgsl): u[m, j] = scale_j · (x_in[m]·A[j]) when row j
//                belongs to token m's adapter, else 0, with x_in = rmsnorm(x) (norm flag) or x. The
//                fused projections then add Σ_j u[m, j]·B[n, j] over the part's columns with no table.
// One invocation per output element (lora_up, lora_down_sw) needs no barrier, so software adapters
// take those; GPUs reduce a lora_down row over K with a workgroup.

struct Params {
  T: u32, N: u32, R: u32, uOff: u32,   // up: tokens, outputs, B columns, u's first column for this matrix
  uStride: u32, K: u32, flags: u32, eps: f32, // up: u columns; down: K, bit 0 rmsnorm, eps
};

@group(0) @binding(0) var<uniform> P: Params;
// lora_up
@group(0) @binding(1) var<storage, read> u: array<f32>;        // [T, uStride]  x·A_allᵀ
@group(0) @binding(2) var<storage, read> bAll: array<f32>;     // [N, R]  B of every adapter side by side
@group(0) @binding(3) var<storage, read> adapter: array<u32>;  // [T]     adapter slot of each token or NONE
@group(0) @binding(4) var<storage, read> table: array<u32>;    // [slots, 4] (off, r, scale bits, _)
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // [T, N]
// lora_down: x [T, K], A [R, K], g [K] (a dummy without the norm), adapter [T], owner [R, 2], out [T, R]
@group(0) @binding(1) var<storage, read> dX: array<f32>;
@group(0) @binding(2) var<storage, read> dA: array<f32>;
@group(0) @binding(3) var<storage, read> dG: array<f32>;
@group(0) @binding(4) var<storage, read> dAdapter: array<u32>;
@group(0) @binding(5) var<storage, read> dOwner: array<u32>;   // per A row: (adapter slot, scale bits)
@group(0) @binding(6) var<storage, read_write> dU: array<f32>;

override WG: u32 = 256;
override SWG: u32 = 16u;  // lora_down_sw: invocations per workgroup (few outputs: small groups)
const NONE: u32 = 0xffffffffu;
override DWG: u32 = 64u;   // lora_down: threads per output row on GPUs (a power of two, from the limits)

@compute @workgroup_size(WG)
fn lora_up(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.T * P.N) { return; }
  let t = i / P.N;
  let n = i % P.N;
  let a = adapter[t];
  if (a == NONE) { return; }
  let off = table[4u * a];
  let r = table[4u * a + 1u];
  if (r == 0u) { return; }
  let scale = bitcast<f32>(table[4u * a + 2u]);
  var acc = 0.0;
  for (var j = 0u; j < r; j++) {
    acc += u[t * P.uStride + P.uOff + off + j] * bAll[n * P.R + off + j];
  }
  y[i] += scale * acc;
}

// Σ_k A[j, k]·g[k]·x[m, k] and Σ_k x[m, k]² over k = k0, k0 + step, …
fn down_part(j: u32, m: u32, k0: u32, step: u32) -> vec2<f32> {
  let norm = (P.flags & 1u) != 0u;
  var dot = 0.0;
  var ss = 0.0;
  for (var k = k0; k < P.K; k += step) {
    let x = dX[m * P.K + k];
    var xg = x;
    if (norm) { xg = x * dG[k]; ss += x * x; }
    dot += dA[j * P.K + k] * xg;
  }
  return vec2<f32>(dot, ss);
}

fn down_store(j: u32, m: u32, s: vec2<f32>) {
  var v = 0.0;
  if (dAdapter[m] == dOwner[2u * j]) {
    var rs = 1.0;
    if ((P.flags & 1u) != 0u) { rs = inverseSqrt(s.y / f32(P.K) + P.eps); }
    v = bitcast<f32>(dOwner[2u * j + 1u]) * s.x * rs;
  }
  dU[m * P.R + j] = v;
}

@compute @workgroup_size(SWG)
fn lora_down_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * SWG;
  if (i >= P.T * P.R) { return; }
  let m = i / P.R;
  let j = i % P.R;
  down_store(j, m, down_part(j, m, 0u, 1u));
}

var<workgroup> red: array<vec2<f32>, DWG>;

// Workgroup (x + y·nx) = A row j, z = token m.
@compute @workgroup_size(DWG)
fn lora_down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) t: u32) {
  let j = wid.x + wid.y * nwg.x;
  let live = j < P.R;
  var s = vec2<f32>(0.0);
  if (live) { s = down_part(j, wid.z, t, DWG); }
  red[t] = s;
  workgroupBarrier();
  for (var h = DWG / 2u; h > 0u; h >>= 1u) {
    if (t < h) { red[t] += red[t + h]; }
    workgroupBarrier();
  }
  if (live && t == 0u) { down_store(j, wid.z, red[0]); }
}
