// Greedy decoding on the GPU: out[b] = argmax_v logits[b, v], the lowest index on ties. NaNs are
// never chosen; a row with no value above −FLT_MAX (all −inf/NaN) gives 0. One workgroup per row;
// on software adapters (Gpu.software) argmax_row: one invocation per row, 4 logits per step, no barrier.

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

// ---- software adapters: one invocation per row ---------------------------------------------------

@compute @workgroup_size(WG)
fn argmax_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * WG;
  if (b >= P.B) { return; }
  let V = P.V;
  let V4 = V & ~3u;
  let base = b * V;
  // Four interleaved scans (element v in lane v % 4), each keeping its lowest index on ties.
  var bv4 = vec4<f32>(bitcast<f32>(0xff7fffffu));
  var bi4 = vec4<u32>(NONE);
  for (var v = 0u; v < V4; v += 4u) {
    let x = vec4<f32>(logits[base + v], logits[base + v + 1u], logits[base + v + 2u], logits[base + v + 3u]);
    let take = (x > bv4) | ((bi4 == vec4<u32>(NONE)) & (x == bv4));
    bv4 = select(bv4, x, take);
    bi4 = select(bi4, vec4<u32>(v) + vec4<u32>(0u, 1u, 2u, 3u), take);
  }
  var bv = bv4.x;
  var bi = bi4.x;
  for (var c = 1u; c < 4u; c++) {
    if (better(bv4[c], bi4[c], bv, bi)) {
      bv = bv4[c];
      bi = bi4[c];
    }
  }
  for (var v = V4; v < V; v++) {   // the tail has the highest indices: strictly larger only
    let x = logits[base + v];
    if (x > bv || (bi == NONE && x == bv)) { bv = x; bi = v; }
  }
  out[b] = select(bi, 0u, bi == NONE);
}
