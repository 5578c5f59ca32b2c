// Rotary position embedding, in place on x [T, nHeads, headDim] (row stride `rowStride` floats per
// token). Pair i (0 ≤ i < headDim/2) is rotated by angle = (pos[t] / scale) · theta^(-2i/headDim):
//   'normal' (neox = 0): elements (2i, 2i+1)      — llama.cpp GGUF llama, llama2.c
//   'neox'   (neox = 1): elements (i, i+headDim/2) — HF / Qwen2
// dir = +1 rotates, dir = −1 applies the inverse rotation (the backward pass of the forward rotation).
//
// Precision (all f32; the angle code is rope-angle.wgsl, prepended, shared with the fused decode matvec):
//  * freq_i = 2^(−i·c), c = 2·log2(theta)/headDim passed as c_hi + c_lo with c_hi holding 12 significant
//    bits, so i·c_hi is exact and only the fractional part goes through exp2: freq_i is within a few ulp.
//  * angle = f32(pos · invScale) · freq_i, rounded once: |error| ≲ 1–2 ulp(angle), e.g. ~2e-3 rad at
//    pos = 32k (the same order as the f32 angles of llama.cpp / HF). Positions are exact below 2^24.
//  * sin/cos do not trust the built-ins outside [−π, π]: angle is reduced by k·π/2 with a three-part
//    Cody–Waite constant (k·C1, k·C2 exact for k < 2^16, i.e. angles < ~1e5 rad), then evaluated with
//    Taylor polynomials on [−π/4, π/4] (truncation < 2e-9): sin/cos of the f32 angle to ~1e-7.

struct Params {
  T: u32, nHeads: u32, headDim: u32, rowStride: u32,
  invScale: f32, cHi: f32, cLo: f32, neox: u32, dir: f32,
  nHeads2: u32, off2: u32, rowStride2: u32,
};
// A second tensor rotated in the same dispatch (q and k of one stacked projection): nHeads2 heads of
// [T, nHeads2, headDim] at word off2 of x, row stride rowStride2. nHeads2 = 0 when there is none.

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn rope(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.headDim / 2u;
  let e = gid.x + gid.y * nwg.x * WG;
  let H = P.nHeads + P.nHeads2;
  if (e >= P.T * H * half) { return; }
  let i = e % half;
  let th = e / half;
  let h = th % H;
  let t = th / H;

  let sc = rope_sincos(i, pos[t], P.invScale, P.cHi, P.cLo);
  let sn = sc.x * P.dir;
  let cs = sc.y;

  var base = t * P.rowStride + h * P.headDim;
  if (h >= P.nHeads) {
    base = P.off2 + t * P.rowStride2 + (h - P.nHeads) * P.headDim;
  }
  var i0 = base + 2u * i;
  var i1 = i0 + 1u;
  if (P.neox != 0u) {
    i0 = base + i;
    i1 = i0 + half;
  }
  let x0 = x[i0];
  let x1 = x[i1];
  x[i0] = x0 * cs - x1 * sn;
  x[i1] = x0 * sn + x1 * cs;
}
