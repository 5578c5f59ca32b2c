// y = x·Wᵀ (+ bias) and dx = dy·W for a weight W [N, K] stored in any GGUF type (dequant.wgsl is prepended).
// Weights are dequantized in registers / shared memory only, never materialised.
//
// Entry points (one pipeline per WTYPE × entry):
//   mv_fwd   matrix-vector path (decode): each workgroup owns MV_ROWS rows of W and up to MV_M rows of x
//            (workgroup z = chunk of MV_M x rows); MV_TPR threads share one row's reduction, each reading
//            8 weights per step through dq_pair (one read of quants and scales for both halves).
//            Two pipelines per type: MV_M = 1 (single-sequence decode) and MV_M = 8.
//   tile_fwd tiled path (prefill): TT×TT output tiles, K in steps of TKC through shared memory (below).
//   mv_bwd   dx = dy·W for small M: each workgroup owns 4·BV_CG columns of dx and up to MV_MAX rows of dy
//            (workgroup z = chunk of rows), BV_NS threads split N.
//   tile_bwd dx = dy·W tiled: TT×TT tiles of dx over (M, K), N in steps of TKC.
// Workgroups are numbered x + y·nx (grid() splits large counts over two dimensions).
//
// Software adapters (Gpu.software: SwiftShader, llvmpipe…) get barrier-free variants instead, where each
// invocation owns whole outputs and loops over the reduction dimension itself; workgroups of SWG
// invocations only batch them. On a CPU emulation an invocation is a SIMD lane of a CPU thread and a
// barrier is a coroutine switch per lane group, so the cooperative 256-thread designs above spend most
// of their time in barriers and idle lanes:
//   mv_fwd_sw   one invocation per (W row n, chunk of MV_M x rows), whole K.
//   tile_fwd_sw one invocation per SW_MB×SW_NB block of y (default 8×8), whole K in pair units of 8.
//   mv_bwd_sw   one invocation per (4 dx columns, chunk of MV_MAX dy rows), whole N.
//   tile_bwd_sw one invocation per 8 rows × 4 columns of dx, whole N (float types);
//   tile_bwd_q_sw (quantized types) per 8 rows × 8 columns (a dq_pair unit).
// Invocations are numbered gid.x + gid.y·(nx·SWG); workgroup z is the row chunk as above.

struct Params { M: u32, N: u32, K: u32, flags: u32, s1: u32, s2: u32, wb1: u32, wb2: u32, o1: u32, o2: u32 };
// flags bit 0: add bias (forward); bit 1: accumulate into the output instead of overwriting it.
// Stacked forward (fused projections, e.g. q|k|v or gate|up in one dispatch): W's rows are up to three
// matrices of the same type and K, rows [0, s1), [s1, s2), [s2, N), starting at bytes 0, wb1, wb2 of W
// (each part aligned for its own binding), and y is three planar outputs [M, s1], [M, s2 - s1],
// [M, N - s2] at words 0, o1, o2 of Y. A plain matmul has s1 = s2 = N.
// Stacked backward (dx = Σ_i dy_i·W_i, e.g. q|k|v's input gradient in one dispatch): the same W parts, and
// dy is three planar parts [M, ·] at words 0, o1, o2 of A; the sum over N runs part by part (stack_part).

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;        // x [M, K] (forward) or dy [M, N] (backward)
@group(0) @binding(2) var<storage, read> W: array<u32>;        // raw tensor bytes
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;     // [N] (a dummy when unused)
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;  // y [M, N] (forward) or dx [M, K] (backward)

override MV_M: u32 = 8u;      // x rows per matrix-vector pass: 1 (single-sequence decode) or up to 8
override MV_ROWS: u32 = 4u;
override MV_TPR: u32 = 64u;   // MV_TPR a power of two ≥ MV_M; MV_ROWS · MV_TPR from the adapter's limits (Matmul.create)
const MV_MAX: u32 = 8u;       // register arrays are sized for the largest MV_M
override SWG: u32 = 16u;      // software variants: invocations per workgroup

fn store(i: u32, v: f32) {
  if ((P.flags & 2u) != 0u) {
    Y[i] = Y[i] + v;
  } else {
    Y[i] = v;
  }
}

fn w_row(n: u32, rb: u32) -> u32 {
  if (n < P.s1) { return n * rb; }
  if (n < P.s2) { return P.wb1 + (n - P.s1) * rb; }
  return P.wb2 + (n - P.s2) * rb;
}

fn y_idx(m: u32, n: u32) -> u32 {
  if (n < P.s1) { return m * P.s1 + n; }
  if (n < P.s2) { return P.o1 + m * (P.s2 - P.s1) + (n - P.s1); }
  return P.o2 + m * (P.N - P.s2) + (n - P.s2);
}

// Part p (0..2) of a stack: W rows [lo, hi) starting at byte wb of W, their dy [M, hi - lo] at word o of A.
// A plain matmul's parts 1 and 2 are empty.
struct StackPart { lo: u32, hi: u32, wb: u32, o: u32 };

fn stack_part(p: u32) -> StackPart {
  if (p == 0u) { return StackPart(0u, P.s1, 0u, 0u); }
  if (p == 1u) { return StackPart(P.s1, P.s2, P.wb1, P.o1); }
  return StackPart(P.s2, P.N, P.wb2, P.o2);
}

fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(A[i], A[i + 1u], A[i + 2u], A[i + 3u]);
}

// ---- forward, matrix-vector ---------------------------------------------------------------------

override MV_WGS: u32 = MV_ROWS * MV_TPR;   // invocations per workgroup
var<workgroup> red: array<f32, MV_M * MV_WGS>;

@compute @workgroup_size(MV_WGS)
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
    let rowByte = w_row(n, w_row_bytes(K));
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
    red[mi * MV_WGS + t] = acc[mi];
  }
  workgroupBarrier();
  for (var s = MV_TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var mi = 0u; mi < MV_M; mi++) {
        red[mi * MV_WGS + t] += red[mi * MV_WGS + t + s];
      }
    }
    workgroupBarrier();
  }
  if (n < N && lane < mc) {
    var v = red[lane * MV_WGS + r * MV_TPR];
    if ((P.flags & 1u) != 0u) {
      v += BIAS[n];
    }
    store(y_idx(m0 + lane, n), v);
  }
}

// ---- tiled (shared memory) ----------------------------------------------------------------------
// tile_fwd and tile_bwd compute a TT×TT block of outputs per workgroup of TWG = (TT/4)² invocations,
// each owning 4×4 outputs strided by TT/4 (conflict-free shared reads, coalesced writes). Per step of
// the reduction both operands are staged k-major in shared memory: TT×TKC activations and TT×TKC
// weights, the weights dequantized there once per tile (one invocation per 8 weights, through dq_pair
// when a pair lies inside the step: one read of a block's quants and scales for 8 values) and then
// reused by all TT output rows. TT, TKC, TWG come from the adapter's limits (src/gpu/tiles.ts).
// TH is the staging and product type, declared by the including TS: f32, or f16 (`enable f16`) where
// the adapter has shader-f16 — products in f16, accumulation always in f32.

override TT: u32 = 64u;
override TKC: u32 = 32u;
override TWG: u32 = 256u;
var<workgroup> ta: array<TH, TT * TKC>;   // [TKC][TT]: x tile (forward) or dy tile (backward), k-major
var<workgroup> tb: array<TH, TT * TKC>;   // forward [TKC][TT] W tile, k-major; backward [TKC n][TT columns]

fn w_float() -> bool {
  return WTYPE == 0u || WTYPE == 1u || WTYPE == 30u;
}

// Offsets within a staged run of C weights (a multiple of 8, starting at a multiple of C) of the two
// halves of load unit u (8 weights): a dq_pair when the type's pair span fits the run, else k..k+7.
fn unit_offs(u: u32, C: u32) -> vec2<u32> {
  if (!w_float() && 2u * pair_off() <= C) {
    let k = pair_k(u);
    return vec2<u32>(k, k + pair_off());
  }
  return vec2<u32>(8u * u, 8u * u + 4u);
}

// The 8 weights of unit u of the run starting at kc of the row at rowByte, zero past K.
fn unit_load(rowByte: u32, kc: u32, u: u32, C: u32, K: u32) -> Pair {
  let o = unit_offs(u, C);
  if (!w_float() && 2u * pair_off() <= C) {
    if (kc + o.x < K) { return dq_pair(rowByte, kc + o.x); }   // quant blocks lie wholly inside K
    return Pair(vec4<f32>(0.0), vec4<f32>(0.0));
  }
  var p = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
  if (kc + o.x < K) { p.a = dq4(rowByte, kc + o.x); }
  if (kc + o.y < K) { p.b = dq4(rowByte, kc + o.y); }   // float types: K % 8 may be 4
  return p;
}

// acc[i][j] += Σ_kk ta[kk][ty + S·i] · tb[kk][tx + S·j] over the staged step (S = TT/4).
fn tile_mac(acc: ptr<function, array<vec4<f32>, 4>>, tx: u32, ty: u32) {
  let S = TT / 4u;
  for (var kk = 0u; kk < TKC; kk++) {
    let o = kk * TT;
    let b = vec4<TH>(tb[o + tx], tb[o + tx + S], tb[o + tx + 2u * S], tb[o + tx + 3u * S]);
    for (var i = 0u; i < 4u; i++) {
      (*acc)[i] += vec4<f32>(ta[o + ty + S * i] * b);
    }
  }
}

@compute @workgroup_size(TWG)
fn tile_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesN = (N + TT - 1u) / TT;
  let g = wid.x + wid.y * nwg.x;
  if (g >= tilesN * ((M + TT - 1u) / TT)) {
    return;
  }
  let n0 = (g % tilesN) * TT;
  let m0 = (g / tilesN) * TT;
  let rowBytes = w_row_bytes(K);
  let S = TT / 4u;
  let tx = t % S;
  let ty = t / S;
  let upr = TKC / 8u;   // load units per W row and step
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += TKC) {
    // x[m0.., k0..]: consecutive invocations read consecutive k of a row (coalesced).
    for (var i = t; i < TT * TKC; i += TWG) {
      let m = m0 + i / TKC;
      let kk = i % TKC;
      var v = 0.0;
      if (m < M && k0 + kk < K) {
        v = A[m * K + k0 + kk];
      }
      ta[kk * TT + i / TKC] = TH(v);
    }
    // W[n0.., k0..]: each 8 weights dequantized by one invocation, once for the whole tile.
    for (var u = t; u < TT * upr; u += TWG) {
      let r = u / upr;
      let uu = u % upr;
      var p = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
      if (n0 + r < N) {
        p = unit_load(w_row(n0 + r, rowBytes), k0, uu, TKC, K);
      }
      let o = unit_offs(uu, TKC);
      for (var i = 0u; i < 4u; i++) {
        tb[(o.x + i) * TT + r] = TH(p.a[i]);
        tb[(o.y + i) * TT + r] = TH(p.b[i]);
      }
    }
    workgroupBarrier();
    tile_mac(&acc, tx, ty);
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + S * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + S * j;
      if (m < M && n < N) {
        var v = acc[i][j];
        if ((P.flags & 1u) != 0u) {
          v += BIAS[n];
        }
        store(y_idx(m, n), v);
      }
    }
  }
}

// ---- backward (dx = dy·W), small M ---------------------------------------------------------------

// BV_CG · BV_NS invocations, from the adapter's limits (Matmul.create); any BV_NS ≥ 1 is exact.
override BV_CG: u32 = 32u;   // column groups of 4 per workgroup → 4·BV_CG columns
override BV_NS: u32 = 8u;    // threads splitting N
var<workgroup> red4: array<vec4<f32>, BV_CG * BV_NS>;

@compute @workgroup_size(BV_CG * BV_NS)
fn mv_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
  let K = P.K;
  let cg = t % BV_CG;
  let ns = t / BV_CG;
  let k = ((wid.x + wid.y * nwg.x) * BV_CG + cg) * 4u;
  let m0 = wid.z * MV_MAX;
  let mc = min(MV_MAX, P.M - m0);
  var acc: array<vec4<f32>, MV_MAX>;
  if (k < K) {
    let rowBytes = w_row_bytes(K);
    for (var p = 0u; p < 3u; p++) {
      let sp = stack_part(p);
      let wn = sp.hi - sp.lo;
      for (var n = ns; n < wn; n += BV_NS) {
        let w = dq4(sp.wb + n * rowBytes, k);
        for (var mi = 0u; mi < MV_MAX; mi++) {
          if (mi < mc) {
            acc[mi] += A[sp.o + (m0 + mi) * wn + n] * w;
          }
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

// ---- backward, tiled (see "tiled" above) --------------------------------------------------------------

@compute @workgroup_size(TWG)
fn tile_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesK = (K + TT - 1u) / TT;
  let g = wid.x + wid.y * nwg.x;
  if (g >= tilesK * ((M + TT - 1u) / TT)) {
    return;
  }
  let c0 = (g % tilesK) * TT;   // first dx column (k)
  let m0 = (g / tilesK) * TT;
  let rowBytes = w_row_bytes(K);
  let S = TT / 4u;
  let tx = t % S;
  let ty = t / S;
  let upr = TT / 8u;   // load units per W row (TT columns) and step
  var acc: array<vec4<f32>, 4>;
  for (var n0 = 0u; n0 < N; n0 += TKC) {
    // dy[m0.., n0..]: consecutive invocations read consecutive n of a row.
    for (var i = t; i < TT * TKC; i += TWG) {
      let m = m0 + i / TKC;
      let nn = i % TKC;
      var v = 0.0;
      if (m < M && n0 + nn < N) {
        v = A[y_idx(m, n0 + nn)];
      }
      ta[nn * TT + i / TKC] = TH(v);
    }
    // W[n0.., c0..c0+TT]: TKC rows of TT columns, each 8 weights dequantized once for the tile.
    for (var u = t; u < TKC * upr; u += TWG) {
      let r = u / upr;
      let uu = u % upr;
      var p = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
      if (n0 + r < N) {
        p = unit_load(w_row(n0 + r, rowBytes), c0, uu, TT, K);
      }
      let o = unit_offs(uu, TT);
      for (var i = 0u; i < 4u; i++) {
        tb[r * TT + o.x + i] = TH(p.a[i]);
        tb[r * TT + o.y + i] = TH(p.b[i]);
      }
    }
    workgroupBarrier();
    tile_mac(&acc, tx, ty);
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + S * i;
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + tx + S * j;
      if (m < M && c < K) {
        store(m * K + c, acc[i][j]);
      }
    }
  }
}

// ---- software adapters (no shared memory, no barriers) --------------------------------------------

fn inv_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * SWG;
}

@compute @workgroup_size(SWG)
fn mv_fwd_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let K = P.K;
  let N = P.N;
  let n = inv_sw(gid, nwg);
  if (n >= N) { return; }
  let m0 = gid.z * MV_M;
  let mc = min(MV_M, P.M - m0);
  let off = pair_off();
  let rowByte = w_row(n, w_row_bytes(K));
  let units = K / 8u;
  var bias = 0.0;
  if ((P.flags & 1u) != 0u) { bias = BIAS[n]; }
  if (MV_M == 1u) {
    // Single-row decode: no row loop (a loop iteration costs more than the arithmetic on SwiftShader).
    let xb = m0 * K;
    var acc = vec4<f32>(0.0);
    for (var u = 0u; u < units; u++) {
      let k = pair_k(u);
      let p = dq_pair(rowByte, k);
      acc += p.a * x4(xb + k) + p.b * x4(xb + k + off);
    }
    if ((K & 4u) != 0u) { acc += dq4(rowByte, K - 4u) * x4(xb + K - 4u); }
    store(y_idx(m0, n), (acc.x + acc.y) + (acc.z + acc.w) + bias);
    return;
  }
  var acc = array<vec4<f32>, MV_MAX>();
  for (var u = 0u; u < units; u++) {
    let k = pair_k(u);
    let p = dq_pair(rowByte, k);
    for (var mi = 0u; mi < mc; mi++) {
      let xi = (m0 + mi) * K + k;
      acc[mi] += p.a * x4(xi) + p.b * x4(xi + off);
    }
  }
  if ((K & 4u) != 0u) {   // float types only: the last 4 elements when K % 8 == 4
    let w = dq4(rowByte, K - 4u);
    for (var mi = 0u; mi < mc; mi++) { acc[mi] += w * x4((m0 + mi) * K + K - 4u); }
  }
  for (var mi = 0u; mi < mc; mi++) {
    let a = acc[mi];
    store(y_idx(m0 + mi, n), (a.x + a.y) + (a.z + a.w) + bias);
  }
}

// acc (one x row × 4 W rows) += Σ_c v[c] · t[c], where t[c] holds element c of the 4 W rows' 4-vectors
// (a transpose: on a SIMD-over-invocations emulation it costs no instruction). fma(), so that each
// multiply-add is one instruction where the adapter fuses (SwiftShader does; it leaves a*b+c unfused).
fn mac4(acc: vec4<f32>, v: vec4<f32>, t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>) -> vec4<f32> {
  return fma(vec4<f32>(v.w), t3, fma(vec4<f32>(v.z), t2, fma(vec4<f32>(v.y), t1, fma(vec4<f32>(v.x), t0, acc))));
}

override SW_MB: u32 = 8u;   // tile_fwd_sw: x rows per invocation, 4 or 8
override SW_NB: u32 = 4u;   // tile_fwd_sw: W rows (y columns) per invocation, 4 or 8
// tile_fwd_sw reads x as vec4 (K % 4 == 0, so every x4 it needs is one aligned vec4): one load with one
// bounds check instead of four. Aliases A's binding; no entry point uses both.
@group(0) @binding(1) var<storage, read> A4: array<vec4<f32>>;

// The weights q[j] = w[n0 + j][k..k+3] (j < SW_NB) against SW_MB rows of x at k: a[i + 8h] holds the
// outputs (m0 + i, n0 + 4h .. n0 + 4h + 3). Indices are constants: function arrays indexed by a variable
// would be per-lane memory gathers on a SIMD-over-invocations emulation.
fn fwd_sw_step(a: ptr<function, array<vec4<f32>, 16>>, xr: array<u32, 8>, k: u32, q: array<vec4<f32>, 8>) {
  let t0 = vec4<f32>(q[0].x, q[1].x, q[2].x, q[3].x);
  let t1 = vec4<f32>(q[0].y, q[1].y, q[2].y, q[3].y);
  let t2 = vec4<f32>(q[0].z, q[1].z, q[2].z, q[3].z);
  let t3 = vec4<f32>(q[0].w, q[1].w, q[2].w, q[3].w);
  let u0 = vec4<f32>(q[4].x, q[5].x, q[6].x, q[7].x);
  let u1 = vec4<f32>(q[4].y, q[5].y, q[6].y, q[7].y);
  let u2 = vec4<f32>(q[4].z, q[5].z, q[6].z, q[7].z);
  let u3 = vec4<f32>(q[4].w, q[5].w, q[6].w, q[7].w);
  let i = k >> 2u;
  var v = A4[xr[0] + i];
  (*a)[0] = mac4((*a)[0], v, t0, t1, t2, t3);
  if (SW_NB == 8u) { (*a)[8] = mac4((*a)[8], v, u0, u1, u2, u3); }
  v = A4[xr[1] + i];
  (*a)[1] = mac4((*a)[1], v, t0, t1, t2, t3);
  if (SW_NB == 8u) { (*a)[9] = mac4((*a)[9], v, u0, u1, u2, u3); }
  v = A4[xr[2] + i];
  (*a)[2] = mac4((*a)[2], v, t0, t1, t2, t3);
  if (SW_NB == 8u) { (*a)[10] = mac4((*a)[10], v, u0, u1, u2, u3); }
  v = A4[xr[3] + i];
  (*a)[3] = mac4((*a)[3], v, t0, t1, t2, t3);
  if (SW_NB == 8u) { (*a)[11] = mac4((*a)[11], v, u0, u1, u2, u3); }
  if (SW_MB == 8u) {
    v = A4[xr[4] + i];
    (*a)[4] = mac4((*a)[4], v, t0, t1, t2, t3);
    if (SW_NB == 8u) { (*a)[12] = mac4((*a)[12], v, u0, u1, u2, u3); }
    v = A4[xr[5] + i];
    (*a)[5] = mac4((*a)[5], v, t0, t1, t2, t3);
    if (SW_NB == 8u) { (*a)[13] = mac4((*a)[13], v, u0, u1, u2, u3); }
    v = A4[xr[6] + i];
    (*a)[6] = mac4((*a)[6], v, t0, t1, t2, t3);
    if (SW_NB == 8u) { (*a)[14] = mac4((*a)[14], v, u0, u1, u2, u3); }
    v = A4[xr[7] + i];
    (*a)[7] = mac4((*a)[7], v, t0, t1, t2, t3);
    if (SW_NB == 8u) { (*a)[15] = mac4((*a)[15], v, u0, u1, u2, u3); }
  }
}

// One invocation per SW_MB × SW_NB block of y, whole K. Per 8 weights of a W row one dq_pair (one read
// of a quant block's scale and quants for both halves of the pair); each dequantized weight then feeds
// SW_MB FMAs and each x vec4 4 · SW_NB. Loads, not FMAs, bound this kernel on a CPU emulation (every
// storage load is a per-lane gather with a bounds check), hence the large block.
@compute @workgroup_size(SWG)
fn tile_fwd_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = P.M;
  let N = P.N;
  let K = P.K;
  let tilesN = (N + SW_NB - 1u) / SW_NB;
  let g = inv_sw(gid, nwg);
  if (g >= tilesN * ((M + SW_MB - 1u) / SW_MB)) { return; }
  let n0 = (g % tilesN) * SW_NB;
  let m0 = (g / tilesN) * SW_MB;
  let rowBytes = w_row_bytes(K);
  // Rows past the edge re-read the last row (valid memory) and are not stored.
  var wr: array<u32, 8>;
  for (var j = 0u; j < 8u; j++) { wr[j] = w_row(min(n0 + j, N - 1u), rowBytes); }
  let K4 = K / 4u;
  var xr: array<u32, 8>;   // vec4 index of each x row
  for (var i = 0u; i < 8u; i++) { xr[i] = min(m0 + i, M - 1u) * K4; }
  var a = array<vec4<f32>, 16>();
  let off = pair_off();
  let units = K / 8u;
  var qa: array<vec4<f32>, 8>;
  var qb: array<vec4<f32>, 8>;
  for (var u = 0u; u < units; u++) {
    let k = pair_k(u);
    var p = dq_pair(wr[0], k); qa[0] = p.a; qb[0] = p.b;
    p = dq_pair(wr[1], k); qa[1] = p.a; qb[1] = p.b;
    p = dq_pair(wr[2], k); qa[2] = p.a; qb[2] = p.b;
    p = dq_pair(wr[3], k); qa[3] = p.a; qb[3] = p.b;
    if (SW_NB == 8u) {
      p = dq_pair(wr[4], k); qa[4] = p.a; qb[4] = p.b;
      p = dq_pair(wr[5], k); qa[5] = p.a; qb[5] = p.b;
      p = dq_pair(wr[6], k); qa[6] = p.a; qb[6] = p.b;
      p = dq_pair(wr[7], k); qa[7] = p.a; qb[7] = p.b;
    }
    fwd_sw_step(&a, xr, k, qa);
    fwd_sw_step(&a, xr, k + off, qb);
  }
  if ((K & 4u) != 0u) {   // float types only: the last 4 elements when K % 8 == 4
    let kt = K - 4u;
    for (var j = 0u; j < 8u; j++) { qa[j] = dq4(wr[j], kt); }   // once per invocation: the loop is fine here
    fwd_sw_step(&a, xr, kt, qa);
  }
  var bias = array<f32, 8>();
  if ((P.flags & 1u) != 0u) {
    for (var j = 0u; j < SW_NB; j++) { bias[j] = BIAS[min(n0 + j, N - 1u)]; }
  }
  for (var i = 0u; i < SW_MB; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    for (var j = 0u; j < SW_NB; j++) {
      let n = n0 + j;
      if (n < N) { store(y_idx(m, n), a[i + 8u * (j / 4u)][j % 4u] + bias[j]); }
    }
  }
}

@compute @workgroup_size(SWG)
fn mv_bwd_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let K = P.K;
  let k = inv_sw(gid, nwg) * 4u;
  if (k >= K) { return; }
  let m0 = gid.z * MV_MAX;
  let mc = min(MV_MAX, P.M - m0);
  let rowBytes = w_row_bytes(K);
  var acc = array<vec4<f32>, MV_MAX>();
  for (var p = 0u; p < 3u; p++) {
    let sp = stack_part(p);
    let wn = sp.hi - sp.lo;
    let N4 = wn & ~3u;
    for (var n = 0u; n < N4; n += 4u) {
      let wr = sp.wb + n * rowBytes;
      let wa = dq4(wr, k);
      let wb = dq4(wr + rowBytes, k);
      let wc = dq4(wr + 2u * rowBytes, k);
      let wd = dq4(wr + 3u * rowBytes, k);
      for (var mi = 0u; mi < mc; mi++) {
        let d = x4(sp.o + (m0 + mi) * wn + n);
        acc[mi] += d.x * wa + d.y * wb + d.z * wc + d.w * wd;
      }
    }
    for (var n = N4; n < wn; n++) {
      let w = dq4(sp.wb + n * rowBytes, k);
      for (var mi = 0u; mi < mc; mi++) { acc[mi] += A[sp.o + (m0 + mi) * wn + n] * w; }
    }
  }
  for (var mi = 0u; mi < mc; mi++) {
    let o = (m0 + mi) * K + k;
    for (var i = 0u; i < 4u; i++) { store(o + i, acc[mi][i]); }
  }
}

// Float types: one invocation per 8 rows × 4 columns of dx, whole N, one W row per step (each 4 weights
// read feed 8 rows of dy). Measured on SwiftShader (F32, stories260K shapes): 1.04–1.27× faster than
// 4×4 blocks with 4 W rows per step.
@compute @workgroup_size(SWG)
fn tile_bwd_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = P.M;
  let K = P.K;
  let units = K / 4u;
  let g = inv_sw(gid, nwg);
  if (g >= units * ((M + 7u) / 8u)) { return; }
  let k = (g % units) * 4u;
  let m0 = (g / units) * 8u;
  let rowBytes = w_row_bytes(K);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0);
  var a5 = vec4<f32>(0.0);
  var a6 = vec4<f32>(0.0);
  var a7 = vec4<f32>(0.0);
  for (var p = 0u; p < 3u; p++) {
    let sp = stack_part(p);
    let wn = sp.hi - sp.lo;
    // Rows past the edge re-read the last row (valid memory) and are not stored.
    let y0 = sp.o + min(m0, M - 1u) * wn;
    let y1 = sp.o + min(m0 + 1u, M - 1u) * wn;
    let y2 = sp.o + min(m0 + 2u, M - 1u) * wn;
    let y3 = sp.o + min(m0 + 3u, M - 1u) * wn;
    let y4 = sp.o + min(m0 + 4u, M - 1u) * wn;
    let y5 = sp.o + min(m0 + 5u, M - 1u) * wn;
    let y6 = sp.o + min(m0 + 6u, M - 1u) * wn;
    let y7 = sp.o + min(m0 + 7u, M - 1u) * wn;
    for (var n = 0u; n < wn; n++) {
      let w = dq4(sp.wb + n * rowBytes, k);
      a0 += A[y0 + n] * w;
      a1 += A[y1 + n] * w;
      a2 += A[y2 + n] * w;
      a3 += A[y3 + n] * w;
      a4 += A[y4 + n] * w;
      a5 += A[y5 + n] * w;
      a6 += A[y6 + n] * w;
      a7 += A[y7 + n] * w;
    }
  }
  let acc = array<vec4<f32>, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    let o = m * K + k;
    for (var j = 0u; j < 4u; j++) { store(o + j, acc[i][j]); }
  }
}

// Quantized types: one invocation per 8 rows × one pair unit (8 columns: k..k+3 and k+pair_off()..+3) of
// dx, whole N, one W row per step. A pair is one read of a block's scale and quants for 8 weights
// (dq_pair), and each dequantized weight feeds 8 rows of dy (4×4 blocks of dq4: 4 weights per read, 4
// rows each). Consecutive invocations take consecutive units of the same rows (neighbouring columns of
// W). Measured on SwiftShader (Q4_0, Q8_0, Q4_K, 100M shapes, M = 32, same process): 1.8–2.1× faster
// than 4×4 blocks of dq4 and 1.35–2.2× faster than 4 rows × 8 columns with 4 W rows per step; the extra
// accumulators' spills cost less than the dequantization they save. Float types take tile_bwd_sw (4 columns: nothing to dequantize, and K % 8
// may be 4 there; 8 columns measured slower for F32).
@compute @workgroup_size(SWG)
fn tile_bwd_q_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let M = P.M;
  let K = P.K;
  let units = K / 8u;   // K is a multiple of the block size (≥ 32)
  let g = inv_sw(gid, nwg);
  if (g >= units * ((M + 7u) / 8u)) { return; }
  let u = g % units;
  let m0 = (g / units) * 8u;
  let k = pair_k(u);
  let kb = k + pair_off();
  let rowBytes = w_row_bytes(K);
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0);
  var a5 = vec4<f32>(0.0);
  var a6 = vec4<f32>(0.0);
  var a7 = vec4<f32>(0.0);
  var b0 = vec4<f32>(0.0);
  var b1 = vec4<f32>(0.0);
  var b2 = vec4<f32>(0.0);
  var b3 = vec4<f32>(0.0);
  var b4 = vec4<f32>(0.0);
  var b5 = vec4<f32>(0.0);
  var b6 = vec4<f32>(0.0);
  var b7 = vec4<f32>(0.0);
  for (var p = 0u; p < 3u; p++) {
    let sp = stack_part(p);
    let wn = sp.hi - sp.lo;
    // Rows past the edge re-read the last row (valid memory) and are not stored.
    let y0 = sp.o + min(m0, M - 1u) * wn;
    let y1 = sp.o + min(m0 + 1u, M - 1u) * wn;
    let y2 = sp.o + min(m0 + 2u, M - 1u) * wn;
    let y3 = sp.o + min(m0 + 3u, M - 1u) * wn;
    let y4 = sp.o + min(m0 + 4u, M - 1u) * wn;
    let y5 = sp.o + min(m0 + 5u, M - 1u) * wn;
    let y6 = sp.o + min(m0 + 6u, M - 1u) * wn;
    let y7 = sp.o + min(m0 + 7u, M - 1u) * wn;
    for (var n = 0u; n < wn; n++) {
      let q = dq_pair(sp.wb + n * rowBytes, k);
      let e0 = A[y0 + n];
      let e1 = A[y1 + n];
      let e2 = A[y2 + n];
      let e3 = A[y3 + n];
      let e4 = A[y4 + n];
      let e5 = A[y5 + n];
      let e6 = A[y6 + n];
      let e7 = A[y7 + n];
      a0 += e0 * q.a;
      b0 += e0 * q.b;
      a1 += e1 * q.a;
      b1 += e1 * q.b;
      a2 += e2 * q.a;
      b2 += e2 * q.b;
      a3 += e3 * q.a;
      b3 += e3 * q.b;
      a4 += e4 * q.a;
      b4 += e4 * q.b;
      a5 += e5 * q.a;
      b5 += e5 * q.b;
      a6 += e6 * q.a;
      b6 += e6 * q.b;
      a7 += e7 * q.a;
      b7 += e7 * q.b;
    }
  }
  let acc = array<vec4<f32>, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
  let bcc = array<vec4<f32>, 8>(b0, b1, b2, b3, b4, b5, b6, b7);
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    let o = m * K;
    for (var j = 0u; j < 4u; j++) { store(o + k + j, acc[i][j]); }
    for (var j = 0u; j < 4u; j++) { store(o + kb + j, bcc[i][j]); }
  }
}
