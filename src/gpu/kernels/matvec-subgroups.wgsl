// matvec.wgsl's row reduction with subgroup operations (adapters with `subgroups`; matvec.ts puts
// `enable subgroups;` first in the module). subgroupAdd sums each subgroup's lanes; one barrier then
// hands the MV_TPR / subgroup-size partials of a slot to the thread that owns the x row.
// Assumes subgroups are consecutive runs of local_invocation_index, aligned to the subgroup size (as on
// every 1-D workgroup in practice), and MV_TPR a multiple of the largest subgroup size (matvec.ts).

var<workgroup> red: array<f32, MV_M * WGS>;

fn row_sum(t: u32, r: u32, lane: u32, v: array<f32, MV_MAX>) -> f32 {
  // Size and lane of this subgroup without the builtins (the entry points are shared with the
  // workgroup-memory variant).
  let sgs = subgroupAdd(1u);
  let sl = subgroupExclusiveAdd(1u);
  for (var mi = 0u; mi < MV_M; mi++) {
    let s = subgroupAdd(v[mi]);
    if (sl == 0u) { red[mi * WGS + t] = s; }
  }
  workgroupBarrier();
  var out = 0.0;
  if (lane < MV_M) {
    for (var j = 0u; j < MV_TPR; j += sgs) { out += red[lane * WGS + r * MV_TPR + j]; }
  }
  workgroupBarrier();
  return out;
}
