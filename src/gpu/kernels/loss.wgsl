// Loss heads with their gradients, fused: each pass writes the per-row loss and dLoss/dinput.
//   ce_fwd_bwd   softmax cross-entropy over the rows of logits [R, V]; one workgroup per row. The
//                gradient (softmax − onehot)·scale overwrites the logits in place (flags bit 0 clear:
//                loss only, logits left untouched). Target 0xFFFFFFFF (or any id ≥ V) = ignored row:
//                loss 0 and, when writing the gradient, a zero gradient row.
//   mse_fwd_bwd  squared error per row of pred [B, k] against target [B, k], optionally weighted by
//                mask [B, k]: loss[b] = Σ_j m·(pred − target)², dpred = 2·m·(pred − target)·scale.
// Both gradients are ∂(scale · Σ_rows loss)/∂input. Rows are numbered x + y·nx (see grid()).
// On software adapters (Gpu.software) the *_row variants run instead: one invocation per row (WG rows
// per workgroup, numbered gid.x + gid.y·nx·WG), 4 elements per loop step, no shared memory, no barrier.

struct Params { R: u32, V: u32, scale: f32, flags: u32 };
// flags bit 0: write the gradient; bit 1 (mse): a mask is bound; bit 2 (ce): the targets are class
// ids stored as f32 (regression-style target buffers); negative or NaN = ignored row.

@group(0) @binding(0) var<uniform> P: Params;
// ce: logits in, gradient out (in place). mse: dpred out.
@group(0) @binding(1) var<storage, read_write> io: array<f32>;
// ce: target ids. mse: target values, f32 bits read through u32 (one declaration per binding number).
@group(0) @binding(2) var<storage, read> lab: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read> pred: array<f32>; // mse only
@group(0) @binding(5) var<storage, read> mask: array<f32>; // mse only (a dummy when unused)

override WG: u32 = 256;

const NEG_MAX: f32 = -3.40282346638528859812e+38;

var<workgroup> red: array<vec2<f32>, WG>;

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Merge two (running max, Σ exp(x − max)) pairs.
fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn ce_fwd_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= P.R) { return; } // uniform per workgroup
  let V = P.V;
  let base = row * V;
  var tgt = lab[row];
  if ((P.flags & 4u) != 0u) {
    let f = bitcast<f32>(tgt);
    tgt = select(0xffffffffu, u32(f), f >= 0.0 && f < 4.0e9);
  }
  let live = tgt < V;
  // Ignored rows skip the scan (the bound is per-invocation data, but the loop holds no barrier).
  let n = select(0u, V, live);
  // Online max / sum of exponentials: one read of the row. Starting at −FLT_MAX (not −inf) keeps
  // exp(m_old − m_new) finite when the row holds −inf entries.
  var acc = vec2<f32>(NEG_MAX, 0.0);
  for (var v = lid; v < n; v += WG) {
    let x = io[base + v];
    if (x > acc.x) {
      acc = vec2<f32>(x, acc.y * exp(acc.x - x) + 1.0);
    } else {
      acc.y += exp(x - acc.x);
    }
  }
  // Read the target logit before any invocation overwrites the row (the barriers below order it).
  var xt = 0.0;
  if (live) { xt = io[base + tgt]; }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = lse_merge(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let tot = red[0];
  let lse = tot.x + log(tot.y);
  if (lid == 0u) {
    loss[row] = select(0.0, lse - xt, live);
  }
  if ((P.flags & 1u) == 0u) { return; }
  let sc = P.scale;
  for (var v = lid; v < V; v += WG) {
    var g = 0.0;
    if (live) {
      g = exp(io[base + v] - lse) * sc;
      if (v == tgt) { g -= sc; }
    }
    io[base + v] = g;
  }
}

@compute @workgroup_size(WG)
fn mse_fwd_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= P.R) { return; }
  let k = P.V;
  let base = row * k;
  let masked = (P.flags & 2u) != 0u;
  let grad = (P.flags & 1u) != 0u;
  let g2 = 2.0 * P.scale;
  var ss = 0.0;
  for (var j = lid; j < k; j += WG) {
    let i = base + j;
    let e = pred[i] - bitcast<f32>(lab[i]);
    var w = 1.0;
    if (masked) { w = mask[i]; }
    ss += w * e * e;
    if (grad) { io[i] = g2 * w * e; }
  }
  red[lid] = vec2<f32>(ss, 0.0);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { loss[row] = red[0].x; }
}

// ---- software adapters: one invocation per row ---------------------------------------------------

fn row_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn io4(i: u32) -> vec4<f32> {
  return vec4<f32>(io[i], io[i + 1u], io[i + 2u], io[i + 3u]);
}

@compute @workgroup_size(WG)
fn ce_fwd_bwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_sw(gid, nwg);
  if (row >= P.R) { return; }
  let V = P.V;
  let V4 = V & ~3u;
  let base = row * V;
  var tgt = lab[row];
  if ((P.flags & 4u) != 0u) {
    let f = bitcast<f32>(tgt);
    tgt = select(0xffffffffu, u32(f), f >= 0.0 && f < 4.0e9);
  }
  let live = tgt < V;
  let grad = (P.flags & 1u) != 0u;
  if (!live) {
    loss[row] = 0.0;
    if (grad) {
      for (var v = 0u; v < V; v++) { io[base + v] = 0.0; }
    }
    return;
  }
  // Two passes, max then Σ exp(x − max): one exponential per element (the online form needs two).
  var m4 = vec4<f32>(NEG_MAX);
  for (var v = 0u; v < V4; v += 4u) { m4 = max(m4, io4(base + v)); }
  var m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  for (var v = V4; v < V; v++) { m = max(m, io[base + v]); }
  // Summed in blocks of 1024 elements, then the blocks: one long running sum loses precision at 152k.
  var l4 = vec4<f32>(0.0);
  for (var v0 = 0u; v0 < V4; v0 += 1024u) {
    let e = min(v0 + 1024u, V4);
    var b4 = vec4<f32>(0.0);
    for (var v = v0; v < e; v += 4u) { b4 += exp(io4(base + v) - vec4<f32>(m)); }
    l4 += b4;
  }
  var l = (l4.x + l4.y) + (l4.z + l4.w);
  for (var v = V4; v < V; v++) { l += exp(io[base + v] - m); }
  let lse = m + log(l);
  loss[row] = lse - io[base + tgt];
  if (!grad) { return; }
  let sc = P.scale;
  for (var v = 0u; v < V4; v += 4u) {
    let g = exp(io4(base + v) - vec4<f32>(lse)) * sc;
    io[base + v] = g.x;
    io[base + v + 1u] = g.y;
    io[base + v + 2u] = g.z;
    io[base + v + 3u] = g.w;
  }
  for (var v = V4; v < V; v++) { io[base + v] = exp(io[base + v] - lse) * sc; }
  io[base + tgt] -= sc;
}

@compute @workgroup_size(WG)
fn mse_fwd_bwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_sw(gid, nwg);
  if (row >= P.R) { return; }
  let k = P.V;
  let base = row * k;
  let masked = (P.flags & 2u) != 0u;
  let grad = (P.flags & 1u) != 0u;
  let g2 = 2.0 * P.scale;
  var ss = 0.0;
  for (var j = 0u; j < k; j++) {
    let i = base + j;
    let e = pred[i] - bitcast<f32>(lab[i]);
    var w = 1.0;
    if (masked) { w = mask[i]; }
    ss += w * e * e;
    if (grad) { io[i] = g2 * w * e; }
  }
  loss[row] = ss;
}
