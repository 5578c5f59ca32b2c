// LoRA for inference with one adapter choice per token (several adapters resident at once).
// The down projection u = x·A_allᵀ runs as an ordinary f32 matmul over the adapters' A matrices
// stacked row-wise ([Σr, K]): a few wasted rows are cheaper than a dispatch per adapter. This kernel
// is the up projection: y[t, n] += scale_a · Σ_{j<r_a} u[t, off_a + j] · B_all[n, off_a + j] with
// a = adapter[t]; tokens with NONE are left untouched. One invocation per output element, no barrier,
// so the same entry serves GPUs and software adapters.

struct Params { T: u32, N: u32, R: u32, _pad: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;        // [T, R]  x·A_allᵀ
@group(0) @binding(2) var<storage, read> bAll: array<f32>;     // [N, R]  B of every adapter side by side
@group(0) @binding(3) var<storage, read> adapter: array<u32>;  // [T]     adapter slot of each token or NONE
@group(0) @binding(4) var<storage, read> table: array<u32>;    // [slots, 4] (off, r, scale bits, _)
@group(0) @binding(5) var<storage, read_write> y: array<f32>;  // [T, N]

override WG: u32 = 256;
const NONE: u32 = 0xffffffffu;

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
    acc += u[t * P.R + off + j] * bAll[n * P.R + off + j];
  }
  y[i] += scale * acc;
}
