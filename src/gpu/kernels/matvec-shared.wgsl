// matvec.wgsl's row reduction through workgroup memory (adapters without `subgroups`): a tree over the
// MV_TPR threads of each output slot, log2(MV_TPR) barriers.

var<workgroup> red: array<f32, MV_M * WGS>;

// Σ over the slot's threads of v[mi], returned to thread `lane` for mi = lane (lane < MV_M; 0 otherwise).
fn row_sum(t: u32, r: u32, lane: u32, v: array<f32, MV_MAX>) -> f32 {
  for (var mi = 0u; mi < MV_M; mi++) { red[mi * WGS + t] = v[mi]; }
  workgroupBarrier();
  for (var s = MV_TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var mi = 0u; mi < MV_M; mi++) { red[mi * WGS + t] += red[mi * WGS + t + s]; }
    }
    workgroupBarrier();
  }
  var out = 0.0;
  if (lane < MV_M) { out = red[lane * WGS + r * MV_TPR]; }
  workgroupBarrier();
  return out;
}
