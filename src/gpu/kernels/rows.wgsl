// Row gather: out[outRow + r, :] = src[rows[r], :]. Picks the hidden states whose logits are needed
// (last token of each sequence) so the LM head runs on R rows, not on every prompt token.

struct Params { R: u32, d: u32, outRow: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = wid.x;
  if (r >= P.R) { return; }
  let src0 = rows[r] * P.d;
  for (var i = lid.x; i < P.d; i += WG) {
    out[(P.outRow + r) * P.d + i] = src[src0 + i];
  }
}
