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
// (mv_*_sw, mv_*_lora_sw): one invocation per (SW_R output slots when MV_M = 1, else one slot and a
// chunk of MV_M x rows), whole K, no barrier (see matmul.wgsl).
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
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;  // x [M, K] (K % 4 == 0: one index per 4)
@group(0) @binding(2) var<storage, read> W: array<u32>;        // raw tensor bytes (stacked parts for glu/rope)
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;     // [N] (a dummy when unused)
@group(0) @binding(4) var<storage, read> G: array<vec4<f32>>;  // norm weight [K] (a dummy in plain)
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

// x[i .. i+3], g[i .. i+3] for i % 4 == 0: one vector load (a single bounds check and index on SwiftShader).
fn x4(i: u32) -> vec4<f32> {
  return X[i >> 2u];
}

fn g4(i: u32) -> vec4<f32> {
  return G[i >> 2u];
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
      var xa = vec4<f32>(1.0);
      var xc = vec4<f32>(1.0);
      if (STREAM == 0u) {
        xa = x4(xb + k);
        xc = x4(xb + k + off);
      }
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
  for (var k = k0; k < P.K; k += step) { XN[m * P.K + k] = x4(m * P.K + k - (k & 3u))[k & 3u] * rs * g4(k - (k & 3u))[k & 3u]; }
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

// ---- software variants: one invocation per (SW_R output slots, chunk of MV_M x rows), whole K ---------
// Single-row decode (MV_M = 1) takes acc_sw1: SwiftShader runs 4 invocations per SIMD lane group and
// turns every storage load with per-lane offsets into 4 scalar loads with bounds checks, and its JIT is
// slow at per-byte shifts and unsigned conversions. acc_sw1 therefore (a) gives each invocation SW_R
// slots (2·SW_R W rows in the pair modes) sharing one load of x per step, (b) walks Q4_0 / Q8_0 rows a
// whole block and Q4_K rows a 64-element chunk at a time, reading the block's words once (funnel-shifted
// where blocks are 2-aligned), (c) turns quants into floats with unpack4x8unorm and applies the block's
// scale and offset once: Σ d(q−8)x = d(Σ q·x − 8·Σx), with Σx shared by all rows. Other types step
// through dq_pair units (8 elements). Batched rows (MV_M = 8) take acc_swm (below acc_sw1); the LoRA
// variants take the same two paths and add B·u per output.

fn inv_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * SWG;
}

fn sw_acc(gid: vec3<u32>, nwg: vec3<u32>) -> Acc {
  let p = inv_sw(gid, nwg);
  let m0 = gid.z * MV_M;
  return acc_swm(p, m0, min(MV_M, P.M - m0));
}

override SW_R: u32 = 1u;     // software, MV_M = 1: output slots per invocation (1, 2, 4 or 8)
// 1: the dequantization ceiling (bench/roofline.ts): x is taken as all ones and never read, so
// mv_plain_sw only streams W, dequantizes and sums each row — what acc_sw1 costs without x.
override STREAM: u32 = 0u;

// Elements of x for one step of acc_sw1 (times g in the norm modes), in the order the step's quants
// come: Q4_0 v0..v3 = elements 0..15 of the block (low nibbles), v4..v7 = 16..31; Q8_0 v0..v7 = 0..31;
// Q4_K v0..v7 = elements 0..31 of a 64-element chunk (low nibbles), v8..v15 = 32..63; other types
// v0 = k..k+3, v1 = k+off..k+off+3 of a dq_pair unit. s = Σ v0..v7, t = Σ v8..v15, q = Σ x² (norm).
struct XB { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>,
            v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>,
            v8: vec4<f32>, v9: vec4<f32>, v10: vec4<f32>, v11: vec4<f32>,
            v12: vec4<f32>, v13: vec4<f32>, v14: vec4<f32>, v15: vec4<f32>, s: f32, t: f32, q: f32 };

// Elements per step of acc_sw1: a Q4_0 / Q8_0 block, a Q4_K chunk (two sub-blocks sharing quant
// bytes), else a dq_pair unit.
fn sw_step() -> u32 {
  switch WTYPE {
    case 2u, 8u: { return 32u; }
    case 12u: { return 64u; }
    default: { return 8u; }
  }
}

// x[xb + k .. + 3] ∘ g[k .. k+3] (norm modes), adding Σ x² to q.
fn xg(xb: u32, k: u32, q: ptr<function, f32>) -> vec4<f32> {
  if (STREAM != 0u) { return vec4<f32>(1.0); }
  let x = x4(xb + k);
  if (MODE == 0u) { return x; }
  *q += dot(x, x);
  return x * g4(k);
}

fn load_xb(xb: u32, k: u32) -> XB {
  let z = vec4<f32>(0.0);
  var r = XB(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, 0.0, 0.0, 0.0);
  var q = 0.0;
  if (sw_step() == 8u) {
    r.v0 = xg(xb, k, &q);
    r.v1 = xg(xb, k + pair_off(), &q);
    r.q = q;
    return r;
  }
  r.v0 = xg(xb, k, &q); r.v1 = xg(xb, k + 4u, &q); r.v2 = xg(xb, k + 8u, &q); r.v3 = xg(xb, k + 12u, &q);
  r.v4 = xg(xb, k + 16u, &q); r.v5 = xg(xb, k + 20u, &q); r.v6 = xg(xb, k + 24u, &q); r.v7 = xg(xb, k + 28u, &q);
  if (sw_step() == 64u) {
    r.v8 = xg(xb, k + 32u, &q); r.v9 = xg(xb, k + 36u, &q); r.v10 = xg(xb, k + 40u, &q); r.v11 = xg(xb, k + 44u, &q);
    r.v12 = xg(xb, k + 48u, &q); r.v13 = xg(xb, k + 52u, &q); r.v14 = xg(xb, k + 56u, &q); r.v15 = xg(xb, k + 60u, &q);
  }
  r.q = q;
  r.s = hsum(((r.v0 + r.v1) + (r.v2 + r.v3)) + ((r.v4 + r.v5) + (r.v6 + r.v7)));
  r.t = hsum(((r.v8 + r.v9) + (r.v10 + r.v11)) + ((r.v12 + r.v13) + (r.v14 + r.v15)));
  return r;
}

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Row `row`'s part of step `st` (elements k..) against x: a whole block for Q4_0 / Q8_0, a chunk for
// Q4_K, else a unit. Quants become floats through unpack4x8unorm (u/255: the 255 is folded into the
// block scale), which SwiftShader runs far faster than shifting each byte out and converting it.
fn step_dot(row: u32, st: u32, k: u32, x: XB) -> f32 {
  switch WTYPE {
    case 2u: {
      let a = row + st * 18u;
      let i = a >> 2u;
      let sh = (a & 2u) * 8u;
      let w0 = W[i]; let w1 = W[i + 1u]; let w2 = W[i + 2u]; let w3 = W[i + 3u]; let w4 = W[i + 4u];
      let q0 = w_funnel16(w0, w1, sh); let q1 = w_funnel16(w1, w2, sh);
      let q2 = w_funnel16(w2, w3, sh); let q3 = w_funnel16(w3, w4, sh);
      let m = 0x0F0F0F0Fu;
      let t = ((unpack4x8unorm(q0 & m) * x.v0 + unpack4x8unorm(q1 & m) * x.v1)
            + (unpack4x8unorm(q2 & m) * x.v2 + unpack4x8unorm(q3 & m) * x.v3))
            + ((unpack4x8unorm((q0 >> 4u) & m) * x.v4 + unpack4x8unorm((q1 >> 4u) & m) * x.v5)
            + (unpack4x8unorm((q2 >> 4u) & m) * x.v6 + unpack4x8unorm((q3 >> 4u) & m) * x.v7));
      // Σ d(q − 8)x = d(255·Σ(q/255)x − 8·Σx)
      return unpack2x16float(w0 >> sh).x * (255.0 * hsum(t) - 8.0 * x.s);
    }
    case 8u: {
      let a = row + st * 34u;
      let i = a >> 2u;
      let sh = (a & 2u) * 8u;
      let w0 = W[i]; let w1 = W[i + 1u]; let w2 = W[i + 2u]; let w3 = W[i + 3u]; let w4 = W[i + 4u];
      let w5 = W[i + 5u]; let w6 = W[i + 6u]; let w7 = W[i + 7u]; let w8 = W[i + 8u];
      // int8 q = u − 128 with u = q ^ 0x80 read unsigned: exact, unlike unpack4x8snorm (clamps −128).
      let f = 0x80808080u;
      let t = ((unpack4x8unorm(w_funnel16(w0, w1, sh) ^ f) * x.v0 + unpack4x8unorm(w_funnel16(w1, w2, sh) ^ f) * x.v1)
            + (unpack4x8unorm(w_funnel16(w2, w3, sh) ^ f) * x.v2 + unpack4x8unorm(w_funnel16(w3, w4, sh) ^ f) * x.v3))
            + ((unpack4x8unorm(w_funnel16(w4, w5, sh) ^ f) * x.v4 + unpack4x8unorm(w_funnel16(w5, w6, sh) ^ f) * x.v5)
            + (unpack4x8unorm(w_funnel16(w6, w7, sh) ^ f) * x.v6 + unpack4x8unorm(w_funnel16(w7, w8, sh) ^ f) * x.v7));
      return unpack2x16float(w0 >> sh).x * (255.0 * hsum(t) - 128.0 * x.s);
    }
    case 12u: {
      // Chunk c = st % 4 of super-block st / 4: sub-blocks 2c (low nibbles) and 2c + 1 (high).
      let i = (row >> 2u) + (st >> 2u) * 36u;
      let c = st & 3u;
      let dm = unpack2x16float(W[i]);
      let sm = k4_scale_min_words(W[i + 1u], W[i + 2u], W[i + 3u], c);
      let j = i + 4u + 8u * c;
      let q0 = W[j]; let q1 = W[j + 1u]; let q2 = W[j + 2u]; let q3 = W[j + 3u];
      let q4 = W[j + 4u]; let q5 = W[j + 5u]; let q6 = W[j + 6u]; let q7 = W[j + 7u];
      let m = 0x0F0F0F0Fu;
      let lo = ((unpack4x8unorm(q0 & m) * x.v0 + unpack4x8unorm(q1 & m) * x.v1)
             + (unpack4x8unorm(q2 & m) * x.v2 + unpack4x8unorm(q3 & m) * x.v3))
             + ((unpack4x8unorm(q4 & m) * x.v4 + unpack4x8unorm(q5 & m) * x.v5)
             + (unpack4x8unorm(q6 & m) * x.v6 + unpack4x8unorm(q7 & m) * x.v7));
      let hi = ((unpack4x8unorm((q0 >> 4u) & m) * x.v8 + unpack4x8unorm((q1 >> 4u) & m) * x.v9)
             + (unpack4x8unorm((q2 >> 4u) & m) * x.v10 + unpack4x8unorm((q3 >> 4u) & m) * x.v11))
             + ((unpack4x8unorm((q4 >> 4u) & m) * x.v12 + unpack4x8unorm((q5 >> 4u) & m) * x.v13)
             + (unpack4x8unorm((q6 >> 4u) & m) * x.v14 + unpack4x8unorm((q7 >> 4u) & m) * x.v15));
      // Σ (d·sc·q − dmin·mn)·x per sub-block, sc and mn of sub-blocks 2c, 2c + 1 in sm.xy, sm.zw.
      return (255.0 * dm.x) * (sm.x * hsum(lo) + sm.z * hsum(hi)) - dm.y * (sm.y * x.s + sm.w * x.t);
    }
    default: {
      let p = dq_pair(row, k);
      return dot(p.a, x.v0) + dot(p.b, x.v1);
    }
  }
}

// Sums of slots p0 .. p0 + SW_R − 1 (clamped to the last slot; the caller drops the extras), x row m0:
// a[r], b[r] = Σ W·(g∘x) of slot p0 + r's first and second row (r < 4; a2, b2 for r = 4..7), ss = Σ x².
struct AccR { a: vec4<f32>, b: vec4<f32>, a2: vec4<f32>, b2: vec4<f32>, ss: f32 };

fn acc_a(acc: AccR, r: u32) -> f32 {
  return select(acc.a2[r & 3u], acc.a[r & 3u], r < 4u);
}

fn acc_b(acc: AccR, r: u32) -> f32 {
  return select(acc.b2[r & 3u], acc.b[r & 3u], r < 4u);
}

// Byte offsets of the first (xy) and second (zw) rows of slots p, p + 1 (clamped to the last slot).
fn slot_bytes2(p: u32, rb: u32) -> vec4<u32> {
  let last = slots() - 1u;
  let r0 = slot_rows(min(p, last));
  let r1 = slot_rows(min(p + 1u, last));
  return vec4<u32>(w_row(r0.x, rb), w_row(r1.x, rb), w_row(r0.y, rb), w_row(r1.y, rb));
}

fn acc_sw1(p0: u32, m0: u32) -> AccR {
  let K = P.K;
  let pair = MODE >= 2u;
  let rb = w_row_bytes(K);
  let o01 = slot_bytes2(p0, rb);
  let o23 = slot_bytes2(p0 + 2u, rb);
  let o45 = slot_bytes2(p0 + 4u, rb);
  let o67 = slot_bytes2(p0 + 6u, rb);
  let xb = m0 * K;
  var A = vec4<f32>(0.0);
  var B = vec4<f32>(0.0);
  var A2 = vec4<f32>(0.0);
  var B2 = vec4<f32>(0.0);
  var q = 0.0;
  let steps = K / sw_step();
  for (var st = 0u; st < steps; st++) {
    let k = select(pair_k(st), st * sw_step(), sw_step() > 8u);
    let x = load_xb(xb, k);
    q += x.q;
    A.x += step_dot(o01.x, st, k, x);
    if (pair) { B.x += step_dot(o01.z, st, k, x); }
    if (SW_R >= 2u) {
      A.y += step_dot(o01.y, st, k, x);
      if (pair) { B.y += step_dot(o01.w, st, k, x); }
    }
    if (SW_R >= 4u) {
      A.z += step_dot(o23.x, st, k, x);
      if (pair) { B.z += step_dot(o23.z, st, k, x); }
      A.w += step_dot(o23.y, st, k, x);
      if (pair) { B.w += step_dot(o23.w, st, k, x); }
    }
    if (SW_R >= 8u) {
      A2.x += step_dot(o45.x, st, k, x);
      if (pair) { B2.x += step_dot(o45.z, st, k, x); }
      A2.y += step_dot(o45.y, st, k, x);
      if (pair) { B2.y += step_dot(o45.w, st, k, x); }
      A2.z += step_dot(o67.x, st, k, x);
      if (pair) { B2.z += step_dot(o67.z, st, k, x); }
      A2.w += step_dot(o67.y, st, k, x);
      if (pair) { B2.w += step_dot(o67.w, st, k, x); }
    }
  }
  if ((K & 4u) != 0u) {   // float types only: the last 4 elements when K % 8 == 4
    let xt = xg(xb, K - 4u, &q);
    A += vec4<f32>(dot(dq4(o01.x, K - 4u), xt), dot(dq4(o01.y, K - 4u), xt), dot(dq4(o23.x, K - 4u), xt), dot(dq4(o23.y, K - 4u), xt));
    A2 += vec4<f32>(dot(dq4(o45.x, K - 4u), xt), dot(dq4(o45.y, K - 4u), xt), dot(dq4(o67.x, K - 4u), xt), dot(dq4(o67.y, K - 4u), xt));
    if (pair) {
      B += vec4<f32>(dot(dq4(o01.z, K - 4u), xt), dot(dq4(o01.w, K - 4u), xt), dot(dq4(o23.z, K - 4u), xt), dot(dq4(o23.w, K - 4u), xt));
      B2 += vec4<f32>(dot(dq4(o45.z, K - 4u), xt), dot(dq4(o45.w, K - 4u), xt), dot(dq4(o67.z, K - 4u), xt), dot(dq4(o67.w, K - 4u), xt));
    }
  }
  return AccR(A, B, A2, B2, q);
}

// ---- software, batched rows (MV_M = 8): acc_swm -------------------------------------------------------
// One output slot per invocation, walking its row(s) a step of acc_sw1 at a time (a Q4_0 / Q8_0 block,
// a Q4_K chunk, else a dq_pair unit): the step's weights are dequantized once — words read once,
// quants through unpack4x8unorm, the block's scale and offset applied in one multiply-add per vec4,
// g folded in (norm modes) — and then dotted with each of the chunk's x rows, so the dequantization is
// paid once per 8 rows instead of once per row, and x is read without a g multiply.
// 0: the unit-wise accumulate() (kept for the side-by-side measurement, bench/decode-batched-sw.ts).
override SW_MB: u32 = 1u;

// W · g of row byte offset `row` for step st (elements k..), in XB's element order (see XB).
fn dq_step(row: u32, st: u32, k: u32) -> XB {
  let z = vec4<f32>(0.0);
  var r = XB(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, 0.0, 0.0, 0.0);
  switch WTYPE {
    case 2u: {
      let a = row + st * 18u;
      let i = a >> 2u;
      let sh = (a & 2u) * 8u;
      let w0 = W[i]; let w1 = W[i + 1u]; let w2 = W[i + 2u]; let w3 = W[i + 3u]; let w4 = W[i + 4u];
      let q0 = w_funnel16(w0, w1, sh); let q1 = w_funnel16(w1, w2, sh);
      let q2 = w_funnel16(w2, w3, sh); let q3 = w_funnel16(w3, w4, sh);
      let m = 0x0F0F0F0Fu;
      // d(q − 8) = (255d)·(q/255) − 8d
      let d = unpack2x16float(w0 >> sh).x;
      let s = vec4<f32>(255.0 * d);
      let o = vec4<f32>(-8.0 * d);
      r.v0 = fma(unpack4x8unorm(q0 & m), s, o); r.v1 = fma(unpack4x8unorm(q1 & m), s, o);
      r.v2 = fma(unpack4x8unorm(q2 & m), s, o); r.v3 = fma(unpack4x8unorm(q3 & m), s, o);
      r.v4 = fma(unpack4x8unorm((q0 >> 4u) & m), s, o); r.v5 = fma(unpack4x8unorm((q1 >> 4u) & m), s, o);
      r.v6 = fma(unpack4x8unorm((q2 >> 4u) & m), s, o); r.v7 = fma(unpack4x8unorm((q3 >> 4u) & m), s, o);
    }
    case 8u: {
      let a = row + st * 34u;
      let i = a >> 2u;
      let sh = (a & 2u) * 8u;
      let w0 = W[i]; let w1 = W[i + 1u]; let w2 = W[i + 2u]; let w3 = W[i + 3u]; let w4 = W[i + 4u];
      let w5 = W[i + 5u]; let w6 = W[i + 6u]; let w7 = W[i + 7u]; let w8 = W[i + 8u];
      let f = 0x80808080u;   // int8 q = u − 128, u = q ^ 0x80 read unsigned (exact)
      let d = unpack2x16float(w0 >> sh).x;
      let s = vec4<f32>(255.0 * d);
      let o = vec4<f32>(-128.0 * d);
      r.v0 = fma(unpack4x8unorm(w_funnel16(w0, w1, sh) ^ f), s, o); r.v1 = fma(unpack4x8unorm(w_funnel16(w1, w2, sh) ^ f), s, o);
      r.v2 = fma(unpack4x8unorm(w_funnel16(w2, w3, sh) ^ f), s, o); r.v3 = fma(unpack4x8unorm(w_funnel16(w3, w4, sh) ^ f), s, o);
      r.v4 = fma(unpack4x8unorm(w_funnel16(w4, w5, sh) ^ f), s, o); r.v5 = fma(unpack4x8unorm(w_funnel16(w5, w6, sh) ^ f), s, o);
      r.v6 = fma(unpack4x8unorm(w_funnel16(w6, w7, sh) ^ f), s, o); r.v7 = fma(unpack4x8unorm(w_funnel16(w7, w8, sh) ^ f), s, o);
    }
    case 12u: {
      let i = (row >> 2u) + (st >> 2u) * 36u;
      let c = st & 3u;
      let dm = unpack2x16float(W[i]);
      let sm = k4_scale_min_words(W[i + 1u], W[i + 2u], W[i + 3u], c);
      let j = i + 4u + 8u * c;
      let q0 = W[j]; let q1 = W[j + 1u]; let q2 = W[j + 2u]; let q3 = W[j + 3u];
      let q4 = W[j + 4u]; let q5 = W[j + 5u]; let q6 = W[j + 6u]; let q7 = W[j + 7u];
      let m = 0x0F0F0F0Fu;
      let sl = vec4<f32>(255.0 * dm.x * sm.x);
      let ol = vec4<f32>(-dm.y * sm.y);
      let shi = vec4<f32>(255.0 * dm.x * sm.z);
      let oh = vec4<f32>(-dm.y * sm.w);
      r.v0 = fma(unpack4x8unorm(q0 & m), sl, ol); r.v1 = fma(unpack4x8unorm(q1 & m), sl, ol);
      r.v2 = fma(unpack4x8unorm(q2 & m), sl, ol); r.v3 = fma(unpack4x8unorm(q3 & m), sl, ol);
      r.v4 = fma(unpack4x8unorm(q4 & m), sl, ol); r.v5 = fma(unpack4x8unorm(q5 & m), sl, ol);
      r.v6 = fma(unpack4x8unorm(q6 & m), sl, ol); r.v7 = fma(unpack4x8unorm(q7 & m), sl, ol);
      r.v8 = fma(unpack4x8unorm((q0 >> 4u) & m), shi, oh); r.v9 = fma(unpack4x8unorm((q1 >> 4u) & m), shi, oh);
      r.v10 = fma(unpack4x8unorm((q2 >> 4u) & m), shi, oh); r.v11 = fma(unpack4x8unorm((q3 >> 4u) & m), shi, oh);
      r.v12 = fma(unpack4x8unorm((q4 >> 4u) & m), shi, oh); r.v13 = fma(unpack4x8unorm((q5 >> 4u) & m), shi, oh);
      r.v14 = fma(unpack4x8unorm((q6 >> 4u) & m), shi, oh); r.v15 = fma(unpack4x8unorm((q7 >> 4u) & m), shi, oh);
    }
    default: {
      let p = dq_pair(row, k);
      r.v0 = p.a;
      r.v1 = p.b;
    }
  }
  if (MODE >= 1u) {
    if (sw_step() == 8u) {
      r.v0 *= g4(k); r.v1 *= g4(k + pair_off());
    } else {
      r.v0 *= g4(k); r.v1 *= g4(k + 4u); r.v2 *= g4(k + 8u); r.v3 *= g4(k + 12u);
      r.v4 *= g4(k + 16u); r.v5 *= g4(k + 20u); r.v6 *= g4(k + 24u); r.v7 *= g4(k + 28u);
      if (sw_step() == 64u) {
        r.v8 *= g4(k + 32u); r.v9 *= g4(k + 36u); r.v10 *= g4(k + 40u); r.v11 *= g4(k + 44u);
        r.v12 *= g4(k + 48u); r.v13 *= g4(k + 52u); r.v14 *= g4(k + 56u); r.v15 *= g4(k + 60u);
      }
    }
  }
  return r;
}

// (Σ wa·x, Σ wb·x (pair modes), Σ x² (norm modes)) of one step against x row starting at xb.
fn step_x(wa: XB, wb: XB, xb: u32, k: u32) -> vec3<f32> {
  let pair = MODE >= 2u;
  let norm = MODE >= 1u;
  if (sw_step() == 8u) {
    let x0 = x4(xb + k);
    let x1 = x4(xb + k + pair_off());
    var r = vec3<f32>(hsum(wa.v0 * x0 + wa.v1 * x1), 0.0, 0.0);
    if (pair) { r.y = hsum(wb.v0 * x0 + wb.v1 * x1); }
    if (norm) { r.z = hsum(x0 * x0 + x1 * x1); }
    return r;
  }
  let x0 = x4(xb + k); let x1 = x4(xb + k + 4u); let x2 = x4(xb + k + 8u); let x3 = x4(xb + k + 12u);
  let x4_ = x4(xb + k + 16u); let x5 = x4(xb + k + 20u); let x6 = x4(xb + k + 24u); let x7 = x4(xb + k + 28u);
  var a = ((wa.v0 * x0 + wa.v1 * x1) + (wa.v2 * x2 + wa.v3 * x3)) + ((wa.v4 * x4_ + wa.v5 * x5) + (wa.v6 * x6 + wa.v7 * x7));
  var b = vec4<f32>(0.0);
  if (pair) { b = ((wb.v0 * x0 + wb.v1 * x1) + (wb.v2 * x2 + wb.v3 * x3)) + ((wb.v4 * x4_ + wb.v5 * x5) + (wb.v6 * x6 + wb.v7 * x7)); }
  var q = vec4<f32>(0.0);
  if (norm) { q = ((x0 * x0 + x1 * x1) + (x2 * x2 + x3 * x3)) + ((x4_ * x4_ + x5 * x5) + (x6 * x6 + x7 * x7)); }
  if (sw_step() == 64u) {
    let y0 = x4(xb + k + 32u); let y1 = x4(xb + k + 36u); let y2 = x4(xb + k + 40u); let y3 = x4(xb + k + 44u);
    let y4 = x4(xb + k + 48u); let y5 = x4(xb + k + 52u); let y6 = x4(xb + k + 56u); let y7 = x4(xb + k + 60u);
    a += ((wa.v8 * y0 + wa.v9 * y1) + (wa.v10 * y2 + wa.v11 * y3)) + ((wa.v12 * y4 + wa.v13 * y5) + (wa.v14 * y6 + wa.v15 * y7));
    if (pair) { b += ((wb.v8 * y0 + wb.v9 * y1) + (wb.v10 * y2 + wb.v11 * y3)) + ((wb.v12 * y4 + wb.v13 * y5) + (wb.v14 * y6 + wb.v15 * y7)); }
    if (norm) { q += ((y0 * y0 + y1 * y1) + (y2 * y2 + y3 * y3)) + ((y4 * y4 + y5 * y5) + (y6 * y6 + y7 * y7)); }
  }
  return vec3<f32>(hsum(a), hsum(b), hsum(q));
}

// accumulate()'s sums for output slot p (clamped to the last slot), x rows m0 .. m0 + mc − 1.
fn acc_swm(p: u32, m0: u32, mc: u32) -> Acc {
  if (SW_MB == 0u) { return accumulate(true, slot_rows(min(p, slots() - 1u)), m0, mc, 0u, 1u); }
  var r = Acc(array<f32, MV_MAX>(), array<f32, MV_MAX>(), array<f32, MV_MAX>());
  let K = P.K;
  let pair = MODE >= 2u;
  let rows = slot_rows(min(p, slots() - 1u));
  let rb = w_row_bytes(K);
  let ba = w_row(rows.x, rb);
  let bb = w_row(rows.y, rb);
  let steps = K / sw_step();
  for (var st = 0u; st < steps; st++) {
    let k = select(pair_k(st), st * sw_step(), sw_step() > 8u);
    let wa = dq_step(ba, st, k);
    var wb = wa;
    if (pair) { wb = dq_step(bb, st, k); }
    for (var mi = 0u; mi < mc; mi++) {
      let s = step_x(wa, wb, (m0 + mi) * K, k);
      r.a[mi] += s.x;
      r.b[mi] += s.y;
      r.ss[mi] += s.z;
    }
  }
  if ((K & 4u) != 0u) {   // float types only: the last 4 elements when K % 8 == 4
    var gt = vec4<f32>(1.0);
    if (MODE >= 1u) { gt = g4(K - 4u); }
    let wa = dq4(ba, K - 4u) * gt;
    var wc = vec4<f32>(0.0);
    if (pair) { wc = dq4(bb, K - 4u) * gt; }
    for (var mi = 0u; mi < mc; mi++) {
      let xt = x4((m0 + mi) * K + K - 4u);
      r.ss[mi] += dot(xt, xt);
      r.a[mi] += dot(wa, xt);
      r.b[mi] += dot(wc, xt);
    }
  }
  return r;
}

// Slots of invocation gid in the MV_M = 1 path: first slot, how many of the SW_R are real.
fn sw1_slots(gid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let p0 = inv_sw(gid, nwg) * SW_R;
  return vec2<u32>(p0, select(0u, min(SW_R, slots() - p0), p0 < slots()));
}

@compute @workgroup_size(SWG)
fn mv_plain_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_plain(s.x + r, gid.z, acc_a(acc, r)); }
    return;
  }
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_plain(p, m0 + mi, acc.a[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_norm_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // rmsnorm(x) is written by the first SWG invocations, each a strided part of every row.
  let lid = gid.x % SWG;
  let first = (P.flags & 4u) != 0u && gid.x < SWG && gid.y == 0u;
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u && !first) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_norm(s.x + r, gid.z, acc_a(acc, r), acc.ss); }
    if (first) { write_xn(gid.z, acc.ss, lid, SWG); }
    return;
  }
  let p = inv_sw(gid, nwg);
  let m0 = gid.z * MV_M;
  let mc = min(MV_M, P.M - m0);
  if (p >= slots() && !first) { return; }
  let acc = acc_swm(p, m0, mc);
  for (var mi = 0u; mi < mc; mi++) {
    if (p < slots()) { out_norm(p, m0 + mi, acc.a[mi], acc.ss[mi]); }
    if (first) { write_xn(m0 + mi, acc.ss[mi], lid, SWG); }
  }
}

@compute @workgroup_size(SWG)
fn mv_glu_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_glu(s.x + r, gid.z, acc_a(acc, r), acc_b(acc, r), acc.ss); }
    return;
  }
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_glu(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_rope_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_rope(s.x + r, gid.z, acc_a(acc, r), acc_b(acc, r), acc.ss); }
    return;
  }
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
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_plain_lora(s.x + r, gid.z, acc_a(acc, r)); }
    return;
  }
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_plain_lora(p, m0 + mi, acc.a[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_glu_lora_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_glu_lora(s.x + r, gid.z, acc_a(acc, r), acc_b(acc, r), acc.ss); }
    return;
  }
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_glu_lora(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}

@compute @workgroup_size(SWG)
fn mv_rope_lora_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  if (MV_M == 1u) {
    let s = sw1_slots(gid, nwg);
    if (s.y == 0u) { return; }
    let acc = acc_sw1(s.x, gid.z);
    for (var r = 0u; r < s.y; r++) { out_rope_lora(s.x + r, gid.z, acc_a(acc, r), acc_b(acc, r), acc.ss); }
    return;
  }
  let p = inv_sw(gid, nwg);
  if (p >= slots()) { return; }
  let acc = sw_acc(gid, nwg);
  let m0 = gid.z * MV_M;
  for (var mi = 0u; mi < min(MV_M, P.M - m0); mi++) { out_rope_lora(p, m0 + mi, acc.a[mi], acc.b[mi], acc.ss[mi]); }
}
