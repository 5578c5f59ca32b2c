// Row movement between a token-major buffer and a subset of its rows, by index.
//  gather:      out[outRow + r, :] = src[rows[r], :]        picks the rows whose logits are needed
//  scatter_add: out[rows[r], :]   += src[r, :]              rows unique: returns head gradients to tokens
//  segment_sum: out[j, :] += Σ_{t : rows[t] == j} src[t, :]  many tokens may share a row (one tag used by
//               several sequences); one workgroup owns one output row, so no float atomics are needed.

struct Params { R: u32, d: u32, outRow: u32, nOut: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x;
  if (r >= P.R) { return; }
  let src0 = rows[r] * P.d;
  for (var i = lid.x; i < P.d; i += WG) {
    out[(P.outRow + r) * P.d + i] = src[src0 + i];
  }
}

@compute @workgroup_size(WG)
fn scatter_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x;
  if (r >= P.R) { return; }
  let dst0 = rows[r] * P.d;
  for (var i = lid.x; i < P.d; i += WG) {
    out[dst0 + i] = out[dst0 + i] + src[r * P.d + i];
  }
}

@compute @workgroup_size(WG)
fn segment_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = wid.x;
  if (j >= P.nOut) { return; }
  for (var i = lid.x; i < P.d; i += WG) {
    var acc = 0.0;
    for (var t = 0u; t < P.R; t++) {
      if (rows[t] == j) { acc += src[t * P.d + i]; }
    }
    out[j * P.d + i] = out[j * P.d + i] + acc;
  }
}
