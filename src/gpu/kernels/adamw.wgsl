// AdamW step over flat f32 parameters, one invocation per element (PyTorch's formulation):
//   g  = grad · gradScale · clip
//   p ← p · (1 − lr·wd)                                   (decoupled weight decay)
//   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
// clip (flags bit 1): c = min(1, maxNorm / (|gradScale|·sqrt(sumsq[slot]) + 1e-6)), the norm of the
// scaled grads from a GPU-side Σ grad² of the raw ones, so
// clipping needs no readback; a non-finite Σ skips the step (p, m, v untouched).
// flags bit 0: zero the gradient afterwards (even when the step is skipped).
// flags bit 2 (probe): write nothing but flag[flagSlot] = 1 when this element's update would make
//   p, m or v non-finite (an lr·decay that overflows, say); run over every parameter first, so that
// flags bit 3 (guard): skips the whole step (as for a non-finite norm) when flag[flagSlot] ≠ 0.
// The flag shares the sumsq buffer (the trainer's stats), hence read_write.

struct Params {
  n: u32,
  flags: u32,
  slot: u32,
  beta1: f32,
  beta2: f32,
  omb1: f32,      // 1 − β1 (computed in float64 on the CPU)
  omb2: f32,      // 1 − β2
  eps: f32,
  decay: f32,     // 1 − lr·wd
  stepSize: f32,  // lr / (1 − β1^t)
  invSqrtBc2: f32, // 1 / sqrt(1 − β2^t)
  gradScale: f32,
  maxNorm: f32,
  flagSlot: u32,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;
@group(0) @binding(5) var<storage, read_write> sumsq: array<f32>; // a dummy when not clipping

override WG: u32 = 256;

fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.n) { return; }
  var scale = P.gradScale;
  var skip = false;
  if ((P.flags & 2u) != 0u) {
    let ss = sumsq[P.slot];
    if (finite(ss)) {
      scale *= min(1.0, P.maxNorm / (sqrt(ss) * abs(P.gradScale) + 1e-6));
    } else {
      skip = true;
    }
  }
  if ((P.flags & 8u) != 0u && sumsq[P.flagSlot] != 0.0) { skip = true; }
  let probe = (P.flags & 4u) != 0u;
  if (!skip) {
    let g = grad[i] * scale;
    let m = P.beta1 * m1[i] + P.omb1 * g;
    let v = P.beta2 * m2[i] + P.omb2 * g * g;
    let p = param[i] * P.decay;
    let next = p - P.stepSize * m / (sqrt(v) * P.invSqrtBc2 + P.eps);
    if (probe) {
      if (!(finite(next) && finite(m) && finite(v))) { sumsq[P.flagSlot] = 1.0; }
      return;
    }
    m1[i] = m;
    m2[i] = v;
    param[i] = next;
  }
  if (probe) { return; }
  if ((P.flags & 1u) != 0u) { grad[i] = 0.0; }
}
