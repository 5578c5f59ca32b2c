// y = x·Wᵀ (+ bias) and dx = dy·W for a weight W [N, K] stored in any GGUF type (dequant.wgsl is prepended).
// Weights are dequantized in registers / shared memory only, never materialised.
//
// Entry points (one pipeline per WTYPE × entry):
//   mv_fwd   matrix-vector path (decode): each workgroup owns MV_ROWS rows of W and up to MV_M rows of x
//            (workgroup z = chunk of MV_M x rows); MV_TPR threads share one row's reduction, each reading
//            8 weights per step through dq_pair (one read of quants and scales for both halves).
//            Two pipelines per type: MV_M = 1 (single-sequence decode) and MV_M = 8.
//   tile_fwd tiled path (prefill): 64×64 output tiles, K in steps of 16 through shared memory.
//   mv_bwd   dx = dy·W for small M: each workgroup owns 4·BV_CG columns of dx and up to MV_MAX rows of dy
//            (workgroup z = chunk of rows), BV_NS threads split N.
//   tile_bwd dx = dy·W tiled: 64×64 tiles of dx over (M, K), N in steps of 16.
// Workgroups are numbered x + y·nx (grid() splits large counts over two dimensions).

struct Params { M: u32, N: u32, K: u32, flags: u32 };
// flags bit 0: add bias (forward); bit 1: accumulate into the output instead of overwriting it.

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;        // x [M, K] (forward) or dy [M, N] (backward)
@group(0) @binding(2) var<storage, read> W: array<u32>;        // raw tensor bytes
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;     // [N] (a dummy when unused)
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;  // y [M, N] (forward) or dx [M, K] (backward)

override MV_M: u32 = 8u;      // x rows per matrix-vector pass: 1 (single-sequence decode) or up to 8
override MV_ROWS: u32 = 4u;
override MV_TPR: u32 = 64u;   // MV_ROWS * MV_TPR = 256, MV_TPR a power of two ≥ MV_M
const MV_MAX: u32 = 8u;       // register arrays are sized for the largest MV_M

fn store(i: u32, v: f32) {
  if ((P.flags & 2u) != 0u) {
    Y[i] = Y[i] + v;
  } else {
    Y[i] = v;
  }
}

fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(A[i], A[i + 1u], A[i + 2u], A[i + 3u]);
}

// ---- forward, matrix-vector ---------------------------------------------------------------------

var<workgroup> red: array<f32, MV_M * 256u>;

@compute @workgroup_size(256)
fn mv_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
  let K = P.K;
  let N = P.N;
  let r = t / MV_TPR;
  let lane = t % MV_TPR;
  let n = (wid.x + wid.y * nwg.x) * MV_ROWS + r;
  let m0 = wid.z * MV_M;
  let mc = min(MV_M, P.M - m0);
  let off = pair_off();
  var acc: array<f32, MV_MAX>;
  if (n < N) {
    let rowByte = n * w_row_bytes(K);
    let units = K / 8u;
    for (var u = lane; u < units; u += MV_TPR) {
      let k = pair_k(u);
      let p = dq_pair(rowByte, k);
      for (var mi = 0u; mi < MV_M; mi++) {
        if (mi < mc) {
          let xi = (m0 + mi) * K + k;
          acc[mi] += dot(p.a, x4(xi)) + dot(p.b, x4(xi + off));
        }
      }
    }
    if ((K & 4u) != 0u && lane == 0u) {   // float types only: the last 4 elements when K % 8 == 4
      let w = dq4(rowByte, K - 4u);
      for (var mi = 0u; mi < MV_M; mi++) {
        if (mi < mc) {
          acc[mi] += dot(w, x4((m0 + mi) * K + K - 4u));
        }
      }
    }
  }
  for (var mi = 0u; mi < MV_M; mi++) {
    red[mi * 256u + t] = acc[mi];
  }
  workgroupBarrier();
  for (var s = MV_TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var mi = 0u; mi < MV_M; mi++) {
        red[mi * 256u + t] += red[mi * 256u + t + s];
      }
    }
    workgroupBarrier();
  }
  if (n < N && lane < mc) {
    var v = red[lane * 256u + r * MV_TPR];
    if ((P.flags & 1u) != 0u) {
      v += BIAS[n];
    }
    store((m0 + lane) * N + n, v);
  }
}

// ---- forward, tiled -----------------------------------------------------------------------------

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
var<workgroup> ta: array<f32, 1024>;   // [TK][TM]: x tile (forward) or dy tile (backward), k-major
var<workgroup> tb: array<f32, 1024>;   // [TK][TN]: dequantized W tile, k-major

@compute @workgroup_size(256)
fn tile_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesN = (N + TN - 1u) / TN;
  let g = wid.x + wid.y * nwg.x;
  if (g >= tilesN * ((M + TM - 1u) / TM)) {
    return;
  }
  let n0 = (g % tilesN) * TN;
  let m0 = (g / tilesN) * TM;
  let rowBytes = w_row_bytes(K);
  // loader roles: row lr of the tile, 4 consecutive k at lk
  let lr = t / 4u;
  let lk = (t % 4u) * 4u;
  // compute roles: rows ty + 16i, columns tx + 16j
  let tx = t % 16u;
  let ty = t / 16u;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    let k = k0 + lk;
    var xv = vec4<f32>(0.0);
    if (m0 + lr < M && k < K) {
      xv = x4((m0 + lr) * K + k);
    }
    var wv = vec4<f32>(0.0);
    if (n0 + lr < N && k < K) {
      wv = dq4((n0 + lr) * rowBytes, k);
    }
    for (var i = 0u; i < 4u; i++) {
      ta[(lk + i) * TM + lr] = xv[i];
      tb[(lk + i) * TN + lr] = wv[i];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let b = vec4<f32>(tb[kk * TN + tx], tb[kk * TN + tx + 16u], tb[kk * TN + tx + 32u], tb[kk * TN + tx + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += ta[kk * TM + ty + 16u * i] * b;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (m < M && n < N) {
        var v = acc[i][j];
        if ((P.flags & 1u) != 0u) {
          v += BIAS[n];
        }
        store(m * N + n, v);
      }
    }
  }
}

// ---- backward (dx = dy·W), small M ---------------------------------------------------------------

const BV_CG: u32 = 32u;   // column groups of 4 per workgroup → 128 columns
const BV_NS: u32 = 8u;    // threads splitting N
var<workgroup> red4: array<vec4<f32>, 256>;

@compute @workgroup_size(256)
fn mv_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
  let N = P.N;
  let K = P.K;
  let cg = t % BV_CG;
  let ns = t / BV_CG;
  let k = ((wid.x + wid.y * nwg.x) * BV_CG + cg) * 4u;
  let m0 = wid.z * MV_MAX;
  let mc = min(MV_MAX, P.M - m0);
  var acc: array<vec4<f32>, MV_MAX>;
  if (k < K) {
    let rowBytes = w_row_bytes(K);
    for (var n = ns; n < N; n += BV_NS) {
      let w = dq4(n * rowBytes, k);
      for (var mi = 0u; mi < MV_MAX; mi++) {
        if (mi < mc) {
          acc[mi] += A[(m0 + mi) * N + n] * w;
        }
      }
    }
  }
  for (var mi = 0u; mi < MV_MAX; mi++) {
    red4[t] = acc[mi];
    workgroupBarrier();
    if (ns == 0u && k < K && mi < mc) {
      var v = red4[cg];
      for (var s = 1u; s < BV_NS; s++) {
        v += red4[s * BV_CG + cg];
      }
      let o = (m0 + mi) * K + k;
      for (var i = 0u; i < 4u; i++) {
        store(o + i, v[i]);
      }
    }
    workgroupBarrier();
  }
}

// ---- backward, tiled ----------------------------------------------------------------------------

@compute @workgroup_size(256)
fn tile_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesK = (K + TN - 1u) / TN;
  let g = wid.x + wid.y * nwg.x;
  if (g >= tilesK * ((M + TM - 1u) / TM)) {
    return;
  }
  let c0 = (g % tilesK) * TN;   // first dx column (k)
  let m0 = (g / tilesK) * TM;
  let rowBytes = w_row_bytes(K);
  // dy loader: row lr, 4 consecutive n at ln
  let lr = t / 4u;
  let ln = (t % 4u) * 4u;
  // W loader: row wn of the n-chunk, 4 consecutive columns at wc
  let wn = t / 16u;
  let wc = (t % 16u) * 4u;
  let tx = t % 16u;
  let ty = t / 16u;
  var acc: array<vec4<f32>, 4>;
  for (var n0 = 0u; n0 < N; n0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let n = n0 + ln + i;
      var v = 0.0;
      if (m0 + lr < M && n < N) {
        v = A[(m0 + lr) * N + n];
      }
      ta[(ln + i) * TM + lr] = v;
    }
    var wv = vec4<f32>(0.0);
    if (n0 + wn < N && c0 + wc < K) {
      wv = dq4((n0 + wn) * rowBytes, c0 + wc);
    }
    for (var i = 0u; i < 4u; i++) {
      tb[wn * TN + wc + i] = wv[i];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let b = vec4<f32>(tb[kk * TN + tx], tb[kk * TN + tx + 16u], tb[kk * TN + tx + 32u], tb[kk * TN + tx + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += ta[kk * TM + ty + 16u * i] * b;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + tx + 16u * j;
      if (m < M && c < K) {
        store(m * K + c, acc[i][j]);
      }
    }
  }
}
