// Elementwise ops on flat f32 arrays. The residual add is the hot one; the rest serve training.

// seed/threshold are used by dropout only.
struct Params { n: u32, alpha: f32, seed: u32, threshold: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 256;

// dst += alpha * src
@compute @workgroup_size(WG)
fn add_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.n) { return; }
  dst[i] = dst[i] + P.alpha * src[i];
}

// dst = alpha * src
@compute @workgroup_size(WG)
fn copy_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.n) { return; }
  dst[i] = P.alpha * src[i];
}

// dst = alpha (src is bound but unread; clearing gradients without a CPU upload)
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.n) { return; }
  dst[i] = P.alpha;
}

// A stateless 32-bit hash (PCG's output permutation): the dropout mask of element i is a pure function
// of (seed, i), so the backward pass and a recomputed forward regenerate exactly the same mask.
fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// dst = src · keep / (1 − p), keep = hash(i ^ hash(seed)) ≥ p·2³²  (alpha = 1/(1 − p))
@compute @workgroup_size(WG)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.n) { return; }
  let keep = pcg_hash(i ^ pcg_hash(P.seed)) >= P.threshold;
  dst[i] = select(0.0, src[i] * P.alpha, keep);
}
