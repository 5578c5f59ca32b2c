// SwiGLU: out = silu(gate) · up, with silu(g) = g·σ(g); flat arrays of n floats.
// σ is evaluated in the stable form (exp of a non-positive argument only), so huge |g| gives no inf/NaN.

struct Params { n: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;  // out, or gate itself in place; bwd: dgate
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;       // not used in place
@group(0) @binding(4) var<storage, read> dout: array<f32>;       // backward only
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;  // backward only

override WG: u32 = 256;

fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, g >= 0.0);
}

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// bindings: out (rw), up, gate
@compute @workgroup_size(WG)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.n) { return; }
  let g = gate[i];
  dst[i] = g * sigmoid(g) * up[i];
}

// bindings: gate (rw, overwritten with the output), up
@compute @workgroup_size(WG)
fn swiglu_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.n) { return; }
  let g = dst[i];
  dst[i] = g * sigmoid(g) * up[i];
}

// bindings: dgate (rw), up, gate, dout, dup (rw)
//   dgate = dout · up · σ(g)·(1 + g·(1 − σ(g))),  dup = dout · silu(g)
@compute @workgroup_size(WG)
fn swiglu_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.n) { return; }
  let g = gate[i];
  let s = sigmoid(g);
  let d = dout[i];
  dst[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = d * g * s;
}
