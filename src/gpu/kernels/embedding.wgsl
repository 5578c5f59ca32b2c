// Token embedding lookup from a table in any GGUF type (dequant.wgsl is prepended), with caller-provided
// rows (tags, soft prompts) injected at chosen positions. One thread per 4 output elements.

struct Params { T: u32, d: u32, vocab: u32, scale: f32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;       // [T] token ids
@group(0) @binding(2) var<storage, read> inject: array<u32>;    // [T] row of `injected`, or 0xFFFFFFFF
@group(0) @binding(3) var<storage, read> injected: array<f32>;  // [nInjected, d]
@group(0) @binding(4) var<storage, read> W: array<u32>;         // table [vocab, d], raw bytes
@group(0) @binding(5) var<storage, read_write> out: array<f32>; // [T, d]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let q = P.d / 4u;
  if (i >= P.T * q) {
    return;
  }
  let t = i / q;
  let c = (i % q) * 4u;
  let src = inject[t];
  var v = vec4<f32>(0.0);
  if (src != 0xFFFFFFFFu) {
    let o = src * P.d + c;
    v = vec4<f32>(injected[o], injected[o + 1u], injected[o + 2u], injected[o + 3u]);
  } else {
    let id = ids[t];
    if (id < P.vocab) {
      v = dq4(id * w_row_bytes(P.d), c);
    }
  }
  v *= P.scale;
  let o = t * P.d + c;
  out[o] = v.x;
  out[o + 1u] = v.y;
  out[o + 2u] = v.z;
  out[o + 3u] = v.w;
}
