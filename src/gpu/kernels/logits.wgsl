// Greedy decoding on the GPU: out[b] = argmax_v logits[b, v], the lowest index on ties. NaNs are
// never chosen; a row with no value above −FLT_MAX (all −inf/NaN) gives 0. One workgroup per row.

struct Params { B: u32, V: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

override WG: u32 = 256;

const NONE: u32 = 0xffffffffu;

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;

// Whether (v, i) beats (bv, bi): larger value, or equal value at a lower index; NONE never wins.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return i != NONE && (bi == NONE || v > bv || (v == bv && i < bi));
}

@compute @workgroup_size(WG)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= P.B) { return; }
  let base = b * P.V;
  var bv = bitcast<f32>(0xff7fffffu); // −FLT_MAX
  var bi = NONE;
  // Strided scan: consecutive invocations read consecutive logits; indices rise per invocation, so
  // the strict '>' keeps the lowest index among equal values.
  for (var v = lid; v < P.V; v += WG) {
    let x = logits[base + v];
    if (x > bv || (bi == NONE && x == bv)) { bv = x; bi = v; }
  }
  bestV[lid] = bv;
  bestI[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let ov = bestV[lid + s];
      let oi = bestI[lid + s];
      if (better(ov, oi, bestV[lid], bestI[lid])) {
        bestV[lid] = ov;
        bestI[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[b] = select(bestI[0], 0u, bestI[0] == NONE);
  }
}
