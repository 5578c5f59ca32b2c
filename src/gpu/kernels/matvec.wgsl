// Fused matrix-vector kernels of the decode step: y = x·Wᵀ for a few x rows (M ≤ MV_M per workgroup z),
// W [N, K] in any GGUF type (dequant.wgsl and rope-angle.wgsl are prepended, and one of
// matvec-shared.wgsl / matvec-subgroups.wgsl is appended for the GPU variants' row reduction).
// They fold the small kernels around a projection into it, so a decoded layer is 5 dispatches:
//   mv_plain  y (=|+=) x·Wᵀ (+ bias)                                  — attention output, down projection
//   mv_norm   y = rmsnorm(x)·Wᵀ (+ bias); optionally xn = rmsnorm(x)  — the LM head (xn: final hidden)
//   mv_glu    y[:, j] = silu(rmsnorm(x)·gateⱼ) · (rmsnorm(x)·upⱼ)     — gate|up stacked, SwiGLU epilogue
//   mv_rope   q|k|v = rmsnorm(x)·[Wq|Wk|Wv]ᵀ (+ bias), then q, k rotated (RoPE at pos[m]); q → y,
//             k, v → the KV cache at (slot[m], pos[m])                — replaces norm, qkv, rope, kv_write
// rmsnorm(x) = x · rsqrt(mean(x²) + eps) · g: the kernels accumulate Σ W·(g∘x) and Σ x² in the same
// pass over K and scale at the end, so the normed x is never stored (mv_norm writes it only when asked).
// The pair modes (glu, rope) give each output slot two W rows sharing one read of x: gate row j with up
// row j; a rotated pair of q or k (2i, 2i+1 or i, i+hd/2) — or two neighbouring v rows.
//
// GPU variants (mv_*): workgroups of WGS = MV_ROWS · MV_TPR invocations (sizes from the adapter's
// limits, matvec.ts); MV_TPR threads share one output slot's reduction over K. Software adapters
// (mv_*_sw): one invocation per (output slot, chunk of MV_M x rows), whole K, no barrier (see matmul.wgsl).
// Workgroups are numbered x + y·nx (grid()); z is the chunk of MV_M x rows.
// mv_{plain,glu,rope}_lora(_sw) (end of file): the same, plus a LoRA adapter's B·(A·x_in) per output row
// before the bias / SwiGLU / RoPE / residual add, from A·x_in computed by lora.wgsl's lora_down.

struct Params {
  M: u32, N: u32, K: u32, flags: u32,   // flags bit 0: bias; bit 1: accumulate (plain); bit 2: write xn (norm)
  s1: u32, s2: u32, wb1: u32, wb2: u32, // stacked parts: rows [0, s1), [s1, s2), [s2, N) at W bytes 0, wb1, wb2
  eps: f32, hd: u32, neox: u32, invScale: f32,
  cHi: f32, cLo: f32, maxSeq: u32, posOff: u32, // rope: pos[m] = META[posOff + m], slot[m] = META[m]
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;        // x [M, K]
@group(0) @binding(2) var<storage, read> W: array<u32>;        // raw tensor bytes (stacked parts for glu/rope)
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;     // [N] (a dummy when unused)
@group(0) @binding(4) var<storage, read> G: array<f32>;        // norm weight [K] (a dummy in plain)
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;  // plain, norm [M, N]; glu [M, s1]; rope: q [M, s1]
// mv_norm
@group(0) @binding(6) var<storage, read_write> XN: array<f32>; // rmsnorm(x) [M, K] (a dummy unless flags bit 2)
// mv_rope: caches [slots, maxSeq, nKv, hd]; META u32: slot [M] at 0, pos [M] at posOff
@group(0) @binding(6) var<storage, read_write> KC: array<f32>;
@group(0) @binding(7) var<storage, read_write> VC: array<f32>;
@group(0) @binding(8) var<storage, read> META: array<u32>;
// LoRA variants (mv_*_lora): U [M, uStride] = scaled, adapter-masked A·x_in (lora.wgsl lora_down) and LB,
// the B pack of the projection's parts (adapters.ts): header words (bitcast) [0] uStride, per part i
// (0..2: rows [0, s1), [s1, s2), [s2, N)) [1+3i] R_i (0: not adapted), [2+3i] u column, [3+3i] B word
// offset of f32 [rows_i, R_i]. After the mode's own bindings: 6, 7 (plain, glu) or 9, 10 (rope).
@group(0) @binding(6) var<storage, read> LU6: array<f32>;
@group(0) @binding(7) var<storage, read> LB7: array<f32>;
@group(0) @binding(9) var<storage, read> LU9: array<f32>;
@group(0) @binding(10) var<storage, read> LB9: array<f32>;

override MODE: u32 = 0u;     // 0 plain, 1 norm, 2 glu, 3 rope (the entry point's own; selects the fused parts)
override MV_M: u32 = 8u;     // x rows per pass: 1 (single-sequence decode) or 8
override MV_ROWS: u32 = 4u;  // output slots per GPU workgroup
override MV_TPR: u32 = 64u;  // threads per output slot: a power of two ≥ MV_M (and ≥ the subgroup size)
override WGS: u32 = 256u;    // MV_ROWS · MV_TPR
override SWG: u32 = 16u;     // software variants: invocations per workgroup
const MV_MAX: u32 = 8u;

// Per x row of the chunk: Σ W_a·(g∘x), Σ W_b·(g∘x) (pair modes), Σ x² (norm modes).
struct Acc { a: array<f32, MV_MAX>, b: array<f32, MV_MAX>, ss: array<f32, MV_MAX> };

fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(X[i], X[i + 1u], X[i + 2u], X[i + 3u]);
}

fn g4(i: u32) -> vec4<f32> {
  return vec4<f32>(G[i], G[i + 1u], G[i + 2u], G[i + 3u]);
}

fn w_row(n: u32, rb: u32) -> u32 {
  if (n < P.s1) { return n * rb; }
  if (n < P.s2) { return P.wb1 + (n - P.s1) * rb; }
  return P.wb2 + (n - P.s2) * rb;
}

// Output slots of the dispatch: rows, or row pairs in the pair modes.
fn slots() -> u32 {
  if (MODE == 2u) { return P.s1; }
  if (MODE == 3u) { return P.N / 2u; }
  return P.N;
}

// The (first, second) W rows of output slot p.
fn slot_rows(p: u32) -> vec2<u32> {
  if (MODE == 2u) { return vec2<u32>(p, P.s1 + p); }
  if (MODE == 3u) {
    let half = P.hd / 2u;
    var base = 0u;
    var j = p;
    if (p >= P.s2 / 2u) {                         // v: neighbouring rows, not rotated
      let r = P.s2 + 2u * (p - P.s2 / 2u);
      return vec2<u32>(r, r + 1u);
    }
    if (p >= P.s1 / 2u) { base = P.s1; j = p - P.s1 / 2u; }
    let h = j / half;
    let i = j % half;
    if (P.neox != 0u) { return vec2<u32>(base + h * P.hd + i, base + h * P.hd + i + half); }
    return vec2<u32>(base + h * P.hd + 2u * i, base + h * P.hd + 2u * i + 1u);
  }
  return vec2<u32>(p, p);
}

// Partial sums over the pair units u = u0, u0 + step, … of rows `rows` for x rows m0 .. m0 + mc − 1.
fn accumulate(live: bool, rows: vec2<u32>, m0: u32, mc: u32, u0: u32, step: u32) -> Acc {
  var r = Acc(array<f32, MV_MAX>(), array<f32, MV_MAX>(), array<f32, MV_MAX>());
  if (!live) { return r; }
  let norm = MODE >= 1u;
  let pair = MODE >= 2u;
  let K = P.K;
  let off = pair_off();
  let rb = w_row_bytes(K);
  let ba = w_row(rows.x, rb);
  let bb = w_row(rows.y, rb);
  let units = K / 8u;
  if (MV_M == 1u) {
    // Single-row decode: no row loop (a loop iteration costs more than the arithmetic on SwiftShader).
    let xb = m0 * K;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    var s = vec4<f32>(0.0);
    for (var u = u0; u < units; u += step) {
      let k = pair_k(u);
      var xa = x4(xb + k);
      var xc = x4(xb + k + off);
      if (norm) {
        s += xa * xa + xc * xc;
        xa *= g4(k);
        xc *= g4(k + off);
      }
      let pa = dq_pair(ba, k);
      a += pa.a * xa + pa.b * xc;
      if (pair) {
        let pb = dq_pair(bb, k);
        b += pb.a * xa + pb.b * xc;
      }
    }
    if ((K & 4u) != 0u && u0 == 0u) {   // float types only: the last 4 elements when K % 8 == 4
      var xt = x4(xb + K - 4u);
      if (norm) { s += xt * xt; xt *= g4(K - 4u); }
      a += dq4(ba, K - 4u) * xt;
      if (pair) { b += dq4(bb, K - 4u) * xt; }
    }
    r.a[0] = (a.x + a.y) + (a.z + a.w);
    r.b[0] = (b.x + b.y) + (b.z + b.w);
    r.ss[0] = (s.x + s.y) + (s.z + s.w);
    return r;
  }
  for (var u = u0; u < units; u += step) {
    let k = pair_k(u);
    var ga = vec4<f32>(1.0);
    var gc = vec4<f32>(1.0);
    if (norm) { ga = g4(k); gc = g4(k + off); }
    let pa = dq_pair(ba, k);
    var pb = Pair(vec4<f32>(0.0), vec4<f32>(0.0));
    if (pair) { pb = dq_pair(bb, k); }
    for (var mi = 0u; mi < mc; mi++) {
      let xi = (m0 + mi) * K + k;
      let xa = x4(xi);
      let xc = x4(xi + off);
      if (norm) { r.ss[mi] += dot(xa, xa) + dot(xc, xc); }
      let ya = xa * ga;
      let yc = xc * gc;
      r.a[mi] += dot(pa.a, ya) + dot(pa.b, yc);
      if (pair) { r.b[mi] += dot(pb.a, ya) + dot(pb.b, yc); }
    }
  }
  if ((K & 4u) != 0u && u0 == 0u) {
    var gt = vec4<f32>(1.0);
    if (norm) { gt = g4(K - 4u); }
    let wa = dq4(ba, K - 4u);
    var wc = vec4<f32>(0.0);
    if (pair) { wc = dq4(bb, K - 4u); }
    for (var mi = 0u; mi < mc; mi++) {
      let xt = x4((m0 + mi) * K + K - 4u);
      if (norm) { r.ss[mi] += dot(xt, xt); }
      r.a[mi] += dot(wa, xt * gt);
      if (pair) { r.b[mi] += dot(wc, xt * gt); }
    }
  }
  return r;
}

// ---- epilogues: one output slot p, x row m, with the reduced sums ---------------------------------

fn rscale(ss: f32) -> f32 {
  if (MODE == 0u) { return 1.0; }
  return inverseSqrt(ss / f32(P.K) + P.eps);
}

fn bias_of(n: u32) -> f32 {
  if ((P.flags & 1u) != 0u) { return BIAS[n]; }
  return 0.0;
}

fn out_plain(p: u32, m: u32, a: f32) {
  let i = m * P.N + p;
  let v = a + bias_of(p);
  if ((P.flags & 2u) != 0u) { Y[i] = Y[i] + v; } else { Y[i] = v; }
}

fn out_norm(p: u32, m: u32, a: f32, ss: f32) {
  Y[m * P.N + p] = a * rscale(ss) + bias_of(p);
}

// rmsnorm(x) of row m, elements k = k0, k0 + step, … (the caller spreads the row over invocations).
fn write_xn(m: u32, ss: f32, k0: u32, step: u32) {
  let rs = rscale(ss);
  for (var k = k0; k < P.K; k += step) { XN[m * P.K + k] = X[m * P.K + k] * rs * G[k]; }
}

fn out_glu(p: u32, m: u32, a: f32, b: f32, ss: f32) { out_glu_l(p, m, a, b, ss, 0.0, 0.0); }

// la, lb: LoRA terms B·(A·xn) of the gate and up rows (0 without an adapter).
fn out_glu_l(p: u32, m: u32, a: f32, b: f32, ss: f32, la: f32, lb: f32) {
  let rs = rscale(ss);
  let gate = a * rs + la;
  Y[m * P.s1 + p] = gate / (1.0 + exp(-gate)) * (b * rs + lb);
}

fn out_rope(p: u32, m: u32, a: f32, b: f32, ss: f32) { out_rope_l(p, m, a, b, ss, 0.0, 0.0); }

// la, lb: LoRA terms of the slot's two rows, added before RoPE.
fn out_rope_l(p: u32, m: u32, a: f32, b: f32, ss: f32, la: f32, lb: f32) {
  let rows = slot_rows(p);
  let rs = rscale(ss);
  var x0 = a * rs + bias_of(rows.x) + la;
  var x1 = b * rs + bias_of(rows.y) + lb;
  let pos = META[P.posOff + m];
  if (rows.x < P.s2) {
    let i = select(((rows.x % P.hd) / 2u), rows.x % P.hd, P.neox != 0u);
    let sc = rope_sincos(i, pos, P.invScale, P.cHi, P.cLo);
    let r0 = x0 * sc.y - x1 * sc.x;
    x1 = x0 * sc.x + x1 * sc.y;
    x0 = r0;
  }
  if (rows.x < P.s1) {
    Y[m * P.s1 + rows.x] = x0;
    Y[m * P.s1 + rows.y] = x1;
    return;
  }
  if (pos >= P.maxSeq) { return; }
  let kvd = P.s2 - P.s1;
  let base = (META[m] * P.maxSeq + pos) * kvd;   // cache row (slot, pos): nKv·hd floats
  if (rows.x < P.s2) {
    KC[base + rows.x - P.s1] = x0;
    KC[base + rows.y - P.s1] = x1;
  } else {
    VC[base + rows.x - P.s2] = x0;
    VC[base + rows.y - P.s2] = x1;
  }
}

// ---- GPU variants ------------------------------------------------------------------------------
// Slot p = workgroup · MV_ROWS + t / MV_TPR; the MV_TPR threads of a slot stride over K's pair units,
// then row_sum (matvec-shared.wgsl or matvec-subgroups.wgsl) gives thread `lane` the total of x row
// m0 + lane. Every thread reaches every row_sum (barriers in uniform control flow).

struct Sums { a: f32, b: f32, ss: f32 };

fn gpu_sums(wid: vec3<u32>, nwg: vec3<u32>, t: u32) -> Sums {
  let r = t / MV_TPR;
  let lane = t % MV_TPR;
  let p = (wid.x + wid.y * nwg.x) * MV_ROWS + r;
  let m0 = wid.z * MV_M;
  let mc = min(MV_M, P.M - m0);
  let acc = accumulate(p < slots(), slot_rows(p), m0, mc, lane, MV_TPR);
  var s = Sums(row_sum(t, r, lane, acc.a), 0.0, 0.0);
  if (MODE >= 2u) { s.b = row_sum(t, r, lane, acc.b); }
  if (MODE >= 1u) { s.ss = row_sum(t, r, lane, acc.ss); }
  return s;
}

// Whether thread t holds a finished output: (slot, x row).
fn gpu_out(wid: vec3<u32>, nwg: vec3<u32>, t: u32) -> vec3<u32> {
  let lane = t % MV_TPR;
  let p = (wid.x + wid.y * nwg.x) * MV_ROWS + t / MV_TPR;
  let m = wid.z * MV_M + lane;
  return vec3<u32>(p, m, u32(p < slots() && lane < MV_M && m < P.M));
}

@compute @workgroup_size(WGS)
fn mv_plain(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_plain(o.x, o.y, s.a); }
}

var<workgroup> xn_ss: array<f32, MV_MAX>;

@compute @workgroup_size(WGS)
fn mv_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_norm(o.x, o.y, s.a, s.ss); }
  // The first workgroup of each row chunk also writes rmsnorm(x), all its threads along K.
  if ((P.flags & 4u) != 0u && wid.x + wid.y == 0u) {
    if (t < MV_M) { xn_ss[t] = s.ss; }    // slot 0's lanes 0 .. MV_M − 1 hold row m0 + lane
    workgroupBarrier();
    let m0 = wid.z * MV_M;
    for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { write_xn(m0 + mi, xn_ss[mi], t, WGS); }
  }
}

@compute @workgroup_size(WGS)
fn mv_glu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_glu(o.x, o.y, s.a, s.b, s.ss); }
}

@compute @workgroup_size(WGS)
fn mv_rope(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_rope(o.x, o.y, s.a, s.b, s.ss); }
}

// ---- software variants: one invocation per (output slot, chunk of MV_M x rows), whole K -------------

fn inv_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * SWG;
}

fn sw_acc(gid: vec3<u32>, nwg: vec3<u32>) -> Acc {
  let p = inv_sw(gid, nwg);
  let m0 = gid.z * MV_M;
  return accumulate(p < slots(), slot_rows(p), m0, min(MV_M, P.M - m0), 0u, 1u);
}

@compute @workgroup_size(SWG)
fn mv_plain_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_plain(p, m0 + mi, acc.a[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_norm_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  let m0 = gid.z * MV_M;
  let mc = min(MV_M, P.M - m0);
  // rmsnorm(x) is written by the first SWG invocations, each a strided part of every row.
  let lid = gid.x % SWG;
  let first = (P.flags & 4u) != 0u && gid.x < SWG && gid.y == 0u;
  if (p >= slots() && !first) { return; }
  let acc = accumulate(true, slot_rows(min(p, slots() - 1u)), m0, mc, 0u, 1u);
  for (var mi = 0u; mi < mc; mi++) {
    if (p < slots()) { out_norm(p, m0 + mi, acc.a[mi], acc.ss[mi]); }
    if (first) { write_xn(m0 + mi, acc.ss[mi], lid, SWG); }
  }
}

@compute @workgroup_size(SWG)
fn mv_glu_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_glu(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_rope_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_rope(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}

// ---- LoRA variants: the fused projections plus Σ_j U[m, j]·B[n, j] per output row n ---------------------
// U is already scaled and zero outside token m's adapter (lora_down), so no adapter table is read here;
// a part without an adapter (R_i = 0) costs one header read.

fn lora_part(n: u32) -> vec2<u32> {   // (part, first row)
  if (n < P.s1) { return vec2<u32>(0u, 0u); }
  if (n < P.s2) { return vec2<u32>(1u, P.s1); }
  return vec2<u32>(2u, P.s2);
}

fn lora6(n: u32, m: u32) -> f32 {
  let pt = lora_part(n);
  let R = bitcast<u32>(LB7[1u + 3u * pt.x]);
  if (R == 0u) { return 0.0; }
  let ub = m * bitcast<u32>(LB7[0]) + bitcast<u32>(LB7[2u + 3u * pt.x]);
  let bb = bitcast<u32>(LB7[3u + 3u * pt.x]) + (n - pt.y) * R;
  var acc = 0.0;
  for (var j = 0u; j < R; j++) { acc += LU6[ub + j] * LB7[bb + j]; }
  return acc;
}

fn lora9(n: u32, m: u32) -> f32 {
  let pt = lora_part(n);
  let R = bitcast<u32>(LB9[1u + 3u * pt.x]);
  if (R == 0u) { return 0.0; }
  let ub = m * bitcast<u32>(LB9[0]) + bitcast<u32>(LB9[2u + 3u * pt.x]);
  let bb = bitcast<u32>(LB9[3u + 3u * pt.x]) + (n - pt.y) * R;
  var acc = 0.0;
  for (var j = 0u; j < R; j++) { acc += LU9[ub + j] * LB9[bb + j]; }
  return acc;
}

fn out_plain_lora(p: u32, m: u32, a: f32) { out_plain(p, m, a + lora6(p, m)); }
fn out_glu_lora(p: u32, m: u32, a: f32, b: f32, ss: f32) { out_glu_l(p, m, a, b, ss, lora6(p, m), lora6(P.s1 + p, m)); }
fn out_rope_lora(p: u32, m: u32, a: f32, b: f32, ss: f32) {
  let rows = slot_rows(p);
  out_rope_l(p, m, a, b, ss, lora9(rows.x, m), lora9(rows.y, m));
}

@compute @workgroup_size(WGS)
fn mv_plain_lora(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_plain_lora(o.x, o.y, s.a); }
}

@compute @workgroup_size(WGS)
fn mv_glu_lora(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_glu_lora(o.x, o.y, s.a, s.b, s.ss); }
}

@compute @workgroup_size(WGS)
fn mv_rope_lora(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) t: u32) {
  let s = gpu_sums(wid, nwg, t);
  let o = gpu_out(wid, nwg, t);
  if (o.z != 0u) { out_rope_lora(o.x, o.y, s.a, s.b, s.ss); }
}

@compute @workgroup_size(SWG)
fn mv_plain_lora_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_plain_lora(p, m0 + mi, acc.a[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_glu_lora_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_glu_lora(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_rope_lora_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_rope_lora(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}
