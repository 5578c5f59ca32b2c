// Causal attention with GQA over a KV cache, with a per-query lower bound, and its backward pass.
//
// Layouts (f32 unless said): q, out, dq, dOut [T, nHeads, hd]; kCache, vCache, dk, dv
// [slots, maxSeq, nKv, hd]; slot, pos, start u32 [T]; lse [T, nHeads]; stats [T, nHeads, 2].
// Query t, head h sees the keys of cache slot[t] at positions start[t] ..= min(pos[t], maxSeq−1),
// through kv head h / (nHeads/nKv). An empty range gives out = 0.
//
// Every entry point binds @binding(1..n) in the order of its own list below. A binding number is
// shared by variables of different entry points (never by two of one entry point), as WGSL allows.
//
// Forward: one workgroup of WG = 64 invocations per (query, head); keys stream through in tiles of
// TK = 64 with an online softmax (running max m and sum l), so any context length works. Scores: the
// invocations form 8 groups of LN = 8 lanes; a group takes 8 keys of the tile, its lanes read 8
// consecutive dims of a key row at a time (32-byte runs), and the lane partial sums meet in shared
// memory. P·V: each invocation owns dims lid + c·WG (c < NACC, so hd ≤ 256) and reads V rows with the
// workgroup on consecutive dims. Three barriers per tile and none in inner loops (SwiftShader's
// compile time grows quickly with barriers inside nested loops).
//
// Software adapters (Gpu.software) use the *_sw entry points instead: one invocation per output row
// ((query, head) for the forward and dq, (slot, key, kv head) for dk/dv), each looping over its keys or
// queries alone with its rows in private arrays, SWG invocations per workgroup, no shared memory and no
// barrier. On a CPU emulation an invocation is a SIMD lane of a CPU thread; barriers are coroutine
// switches and the cooperative 64-invocation tiles above cost far more than the arithmetic.
//
// Private arrays are always declared with an explicit `array<f32, N>()`: on Dawn/SwiftShader a bare
// `var a: array<f32, N>;` inside a loop body was not re-zeroed on each iteration.

struct Params {
  T: u32, nHeads: u32, nKv: u32, hd: u32,
  maxSeq: u32, scale: f32, nKeys: u32, accumulate: u32,
  slots: u32,
};

@group(0) @binding(0) var<uniform> P: Params;

// kv_write: k, v, kCache, vCache, slot, pos
@group(0) @binding(1) var<storage, read> kNew: array<f32>;
@group(0) @binding(2) var<storage, read> vNew: array<f32>;
@group(0) @binding(3) var<storage, read_write> kcW: array<f32>;
@group(0) @binding(4) var<storage, read_write> vcW: array<f32>;
@group(0) @binding(5) var<storage, read> slotW: array<u32>;
@group(0) @binding(6) var<storage, read> posW: array<u32>;

// kv_gather (backward of kv_write): dkCache, dvCache, dk, dv, slot, pos
@group(0) @binding(1) var<storage, read> dkcR: array<f32>;
@group(0) @binding(2) var<storage, read> dvcR: array<f32>;
@group(0) @binding(3) var<storage, read_write> dkNew: array<f32>;
@group(0) @binding(4) var<storage, read_write> dvNew: array<f32>;

// attn_fwd[_lse]: q, kCache, vCache, slot, pos, start, out, (lse)
// attn_bwd_dq:    q, kCache, vCache, slot, pos, start, dq, dOut, stats
// attn_bwd_dkv:   q, kCache, vCache, slot, pos, start, dk, dOut, stats, dv
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read> slot: array<u32>;
@group(0) @binding(5) var<storage, read> pos: array<u32>;
@group(0) @binding(6) var<storage, read> start: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;   // out | dq | dk
@group(0) @binding(8) var<storage, read_write> lse: array<f32>;   // fwd_lse only
@group(0) @binding(8) var<storage, read> dOut: array<f32>;        // backward
@group(0) @binding(9) var<storage, read> stats: array<f32>;       // backward: (lse, D) per (t, h)
@group(0) @binding(10) var<storage, read_write> dv: array<f32>;   // bwd_dkv only

// attn_bwd_prep: out, dOut, lse, stats  →  stats[t,h] = (lse[t,h], Σ_d out·dOut)
@group(0) @binding(1) var<storage, read> outP: array<f32>;
@group(0) @binding(2) var<storage, read> dOutP: array<f32>;
@group(0) @binding(3) var<storage, read> lseP: array<f32>;
@group(0) @binding(4) var<storage, read_write> statsW: array<f32>;

const WG: u32 = 64u;     // invocations per workgroup of the row kernels (fixed by the tiling below)
override EWG: u32 = 256u; // one-invocation-per-element kernels (kv_write, kv_gather, attn_bwd_prep): from the adapter's limits
const TK: u32 = 64u;     // keys (or query heads) per tile
const LN: u32 = 8u;      // lanes sharing one row's dot product
const RPT: u32 = 8u;     // rows per invocation in a tile: TK / (WG / LN)
const RS: u32 = 9u;      // padded row stride of the lane partials
const NACC: u32 = 4u;    // dims owned per invocation
const KB: u32 = 4u;      // bwd_dkv: key positions per workgroup
const HD_MAX: u32 = 256u;
const NEG: f32 = -3.0e38;
const NONE: u32 = 0xffffffffu;

var<workgroup> qs: array<f32, HD_MAX>;        // scaled q row
var<workgroup> os: array<f32, HD_MAX>;        // dOut row (bwd_dq)
var<workgroup> red: array<f32, TK * RS>;      // lane partials of the tile's scores
var<workgroup> red2: array<f32, TK * RS>;     // bwd_dq: lane partials of dOut·v
var<workgroup> ps: array<f32, KB * TK>;
var<workgroup> ps2: array<f32, KB * TK>;
var<workgroup> kvb: array<f32, KB * HD_MAX>;  // bwd_dkv: the block's scaled k rows, then its v rows
var<workgroup> redk: array<f32, TK * KB * LN>; // bwd_dkv: lane partials [pair][key][lane]
var<workgroup> ridx: array<u32, TK>;
var<workgroup> flag: u32;

fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Float offset of cache row (slot, position j, kv head).
fn kv_row(sl: u32, j: u32, kvh: u32) -> u32 {
  return ((sl * P.maxSeq + j) * P.nKv + kvh) * P.hd;
}

// ---------------------------------------------------------------- kv write
@compute @workgroup_size(EWG)
fn kv_write(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * EWG;
  let row = P.nKv * P.hd;
  if (e >= P.T * row) { return; }
  let t = e / row;
  let r = e % row;
  let p = posW[t];
  if (p >= P.maxSeq) { return; }
  let dst = (slotW[t] * P.maxSeq + p) * row + r;
  kcW[dst] = kNew[e];
  vcW[dst] = vNew[e];
}

// The backward of kv_write: each token's rows of the cache gradients, [T, nKv, hd] (0 where pos ≥ maxSeq).
@compute @workgroup_size(EWG)
fn kv_gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * EWG;
  let row = P.nKv * P.hd;
  if (e >= P.T * row) { return; }
  let t = e / row;
  let p = posW[t];
  var gk = 0.0;
  var gv = 0.0;
  if (p < P.maxSeq) {
    let src = (slotW[t] * P.maxSeq + p) * row + e % row;
    gk = dkcR[src];
    gv = dvcR[src];
  }
  dkNew[e] = gk;
  dvNew[e] = gv;
}

// ---------------------------------------------------------------- forward
struct Row { index: u32, lse: f32 };

fn attend(gi: u32, lid: u32) -> Row {
  let t = gi / P.nHeads;
  let h = gi % P.nHeads;
  let kvh = h / (P.nHeads / P.nKv);
  let sl = slot[t];
  let st = start[t];
  let end = min(pos[t] + 1u, P.maxSeq);
  let qb = gi * P.hd;
  let rs = P.nKv * P.hd;
  for (var d = lid; d < P.hd; d += WG) { qs[d] = q[qb + d] * P.scale; }
  workgroupBarrier();

  var m = NEG;
  var l = 0.0;
  var acc = array<f32, NACC>();
  let kg = lid / LN;
  let lane = lid % LN;
  for (var kb = st; kb < end; kb += TK) {
    let nk = min(TK, end - kb);
    let b0 = kv_row(sl, kb, kvh);
    // scores of the tile: group kg takes keys kg + 8r
    var part = array<f32, RPT>();
    for (var d = lane; d < P.hd; d += LN) {
      let qd = qs[d];
      for (var r = 0u; r < RPT; r++) {
        let kk = kg + r * (WG / LN);
        if (kk < nk) { part[r] += qd * kc[b0 + kk * rs + d]; }
      }
    }
    for (var r = 0u; r < RPT; r++) { red[(kg + r * (WG / LN)) * RS + lane] = part[r]; }
    workgroupBarrier();
    var s = NEG;
    if (lid < nk) {
      s = 0.0;
      for (var i = 0u; i < LN; i++) { s += red[lid * RS + i]; }
    }
    ps[lid] = s;
    workgroupBarrier();
    var mt = NEG;
    for (var j = 0u; j < nk; j++) { mt = max(mt, ps[j]); }
    let mn = max(m, mt);
    let alpha = exp(m - mn);
    ps2[lid] = select(0.0, exp(s - mn), lid < nk);
    workgroupBarrier();
    // (no barrier needed at the end: red, ps, ps2 are next written after one, two, three barriers)
    var ls = 0.0;
    for (var j = 0u; j < nk; j++) { ls += ps2[j]; }
    l = l * alpha + ls;
    for (var c = 0u; c < NACC; c++) {
      let d = lid + c * WG;
      if (d < P.hd) {
        var a = acc[c] * alpha;
        for (var j = 0u; j < nk; j++) { a += ps2[j] * vc[b0 + j * rs + d]; }
        acc[c] = a;
      }
    }
    m = mn;
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = 0u; c < NACC; c++) {
    let d = lid + c * WG;
    if (d < P.hd) { out[qb + d] = acc[c] * inv; }
  }
  return Row(gi, select(NEG, m + log(l), l > 0.0));
}

@compute @workgroup_size(WG)
fn attn_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let gi = group_index(wid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  _ = attend(gi, lid);
}

// Same, also storing lse[t, h] = m + log(l) = log Σ_j exp(scale · q·k_j), the softmax statistic the
// backward pass needs (P_j = exp(scale · q·k_j − lse)).
@compute @workgroup_size(WG)
fn attn_fwd_lse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let gi = group_index(wid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  let r = attend(gi, lid);
  if (lid == 0u) { lse[r.index] = r.lse; }
}

// ---------------------------------------------------------------- backward
// With s_j = scale·q·k_j, P_j = exp(s_j − lse), D = Σ_d dOut·out:
//   dP_j = dOut·v_j,  dS_j = P_j·(dP_j − D),  dq = scale·Σ_j dS_j·k_j,
//   dk_j = scale·Σ_(t,h) dS·q,  dv_j = Σ_(t,h) P·dOut   (sums over queries and heads of the kv group)

// One invocation per (t, h).
@compute @workgroup_size(EWG)
fn attn_bwd_prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * EWG;
  if (i >= P.T * P.nHeads) { return; }
  var dsum = 0.0;
  let b = i * P.hd;
  for (var d = 0u; d < P.hd; d++) { dsum += outP[b + d] * dOutP[b + d]; }
  statsW[2u * i] = lseP[i];
  statsW[2u * i + 1u] = dsum;
}

// dq: one workgroup per (t, h), streaming key tiles like the forward.
@compute @workgroup_size(WG)
fn attn_bwd_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let gi = group_index(wid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  let t = gi / P.nHeads;
  let h = gi % P.nHeads;
  let kvh = h / (P.nHeads / P.nKv);
  let sl = slot[t];
  let st = start[t];
  let end = min(pos[t] + 1u, P.maxSeq);
  let qb = gi * P.hd;
  let rs = P.nKv * P.hd;
  let L = stats[2u * gi];
  let D = stats[2u * gi + 1u];
  for (var d = lid; d < P.hd; d += WG) {
    qs[d] = q[qb + d] * P.scale;
    os[d] = dOut[qb + d];
  }
  workgroupBarrier();

  let kg = lid / LN;
  let lane = lid % LN;
  var acc = array<f32, NACC>();
  for (var kb = st; kb < end; kb += TK) {
    let nk = min(TK, end - kb);
    let b0 = kv_row(sl, kb, kvh);
    var pa = array<f32, RPT>();
    var pb = array<f32, RPT>();
    for (var d = lane; d < P.hd; d += LN) {
      let qd = qs[d];
      let od = os[d];
      for (var r = 0u; r < RPT; r++) {
        let kk = kg + r * (WG / LN);
        if (kk < nk) {
          pa[r] += qd * kc[b0 + kk * rs + d];
          pb[r] += od * vc[b0 + kk * rs + d];
        }
      }
    }
    for (var r = 0u; r < RPT; r++) {
      red[(kg + r * (WG / LN)) * RS + lane] = pa[r];
      red2[(kg + r * (WG / LN)) * RS + lane] = pb[r];
    }
    workgroupBarrier();
    var ds = 0.0;
    if (lid < nk) {
      var s = 0.0;
      var dp = 0.0;
      for (var i = 0u; i < LN; i++) {
        s += red[lid * RS + i];
        dp += red2[lid * RS + i];
      }
      ds = exp(s - L) * (dp - D);
    }
    ps[lid] = ds;
    workgroupBarrier();
    for (var c = 0u; c < NACC; c++) {
      let d = lid + c * WG;
      if (d < P.hd) {
        var a = acc[c];
        for (var j = 0u; j < nk; j++) { a += ps[j] * kc[b0 + j * rs + d]; }
        acc[c] = a;
      }
    }
  }
  for (var c = 0u; c < NACC; c++) {
    let d = lid + c * WG;
    if (d < P.hd) { out[qb + d] = acc[c] * P.scale; }
  }
}

// dk, dv: one workgroup per (slot, block of KB key positions below nKeys, kv head), streaming the T·g
// (query, head) pairs of its kv group in tiles of TK; each pair's q and dOut rows serve all KB keys.
// Pairs whose query sees none of the block's keys are not read, and tiles without any are skipped.
// Each cache row is owned by one workgroup: no atomics.
@compute @workgroup_size(WG)
fn attn_bwd_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let gi = group_index(wid, nwg);
  let nBlocks = (P.nKeys + KB - 1u) / KB;
  if (gi >= P.slots * nBlocks * P.nKv) { return; }
  let kvh = gi % P.nKv;
  let r0 = gi / P.nKv;
  let sl = r0 / nBlocks;
  let jb = (r0 % nBlocks) * KB;
  let nj = min(KB, P.nKeys - jb);
  let g = P.nHeads / P.nKv;
  let U = P.T * g;
  let pg = lid / LN;
  let lane = lid % LN;

  var accK = array<f32, KB * NACC>();
  var accV = array<f32, KB * NACC>();
  for (var ub = 0u; ub < U; ub += TK) {
    if (lid == 0u) { flag = 0u; }
    workgroupBarrier();
    let u = ub + lid;
    var row = NONE;
    var lo = 1u;
    var hi = 0u;
    if (u < U) {
      let t = u / g;
      if (slot[t] == sl) {
        lo = max(start[t], jb);
        hi = min(min(pos[t], P.maxSeq - 1u), jb + nj - 1u);
        if (lo <= hi) {
          row = t * P.nHeads + kvh * g + u % g;
          flag = 1u;
        }
      }
    }
    ridx[lid] = row;
    if (workgroupUniformLoad(&flag) == 0u) {
      workgroupBarrier(); // nobody may reset flag before everyone has read it
      continue;
    }
    // ph 0: s = q·(scale·k) for the block's keys; ph 1: dp = dOut·v. One loop, one copy of the code.
    var s = array<f32, KB>();
    var dp = array<f32, KB>();
    for (var ph = 0u; ph < 2u; ph++) {
      for (var k = 0u; k < KB; k++) {
        let b = kv_row(sl, jb + min(k, nj - 1u), kvh);
        for (var d = lid; d < P.hd; d += WG) {
          var v = 0.0;
          if (k < nj) {
            if (ph == 0u) { v = kc[b + d] * P.scale; } else { v = vc[b + d]; }
          }
          kvb[k * HD_MAX + d] = v;
        }
      }
      workgroupBarrier();
      var part = array<f32, RPT * KB>();
      for (var r = 0u; r < RPT; r++) {
        let ri = ridx[pg + r * (WG / LN)];
        if (ri != NONE) {
          for (var d = lane; d < P.hd; d += LN) {
            var x = 0.0;
            if (ph == 0u) { x = q[ri * P.hd + d]; } else { x = dOut[ri * P.hd + d]; }
            for (var k = 0u; k < KB; k++) { part[r * KB + k] += x * kvb[k * HD_MAX + d]; }
          }
        }
      }
      for (var r = 0u; r < RPT; r++) {
        for (var k = 0u; k < KB; k++) {
          redk[((pg + r * (WG / LN)) * KB + k) * LN + lane] = part[r * KB + k];
        }
      }
      workgroupBarrier();
      for (var k = 0u; k < KB; k++) {
        var v = 0.0;
        for (var i = 0u; i < LN; i++) { v += redk[(lid * KB + k) * LN + i]; }
        if (ph == 0u) { s[k] = v; } else { dp[k] = v; }
      }
    }
    var L = 0.0;
    var D = 0.0;
    if (row != NONE) {
      L = stats[2u * row];
      D = stats[2u * row + 1u];
    }
    for (var k = 0u; k < KB; k++) {
      let j = jb + k;
      var p = 0.0;
      if (row != NONE && lo <= j && j <= hi) { p = exp(s[k] - L); }
      ps[k * TK + lid] = p;
      ps2[k * TK + lid] = p * (dp[k] - D);
    }
    workgroupBarrier();
    for (var c = 0u; c < NACC; c++) {
      let d = lid + c * WG;
      if (d < P.hd) {
        for (var i = 0u; i < TK; i++) {
          let ri = ridx[i];
          if (ri != NONE) {
            let qv = q[ri * P.hd + d];
            let ov = dOut[ri * P.hd + d];
            for (var k = 0u; k < KB; k++) {
              accK[k * NACC + c] += ps2[k * TK + i] * qv;
              accV[k * NACC + c] += ps[k * TK + i] * ov;
            }
          }
        }
      }
    }
    // The next tile writes ridx, kvb, ps only after further barriers.
  }
  for (var k = 0u; k < nj; k++) {
    let b = kv_row(sl, jb + k, kvh);
    for (var c = 0u; c < NACC; c++) {
      let d = lid + c * WG;
      if (d < P.hd) {
        var gk = accK[k * NACC + c] * P.scale;
        var gv = accV[k * NACC + c];
        if (P.accumulate != 0u) {
          gk += out[b + d];
          gv += dv[b + d];
        }
        out[b + d] = gk;
        dv[b + d] = gv;
      }
    }
  }
}

// ---------------------------------------------------------------- software adapters
// One invocation per output row, no shared memory, no barrier. On SwiftShader each loop iteration costs
// far more than the arithmetic in it (SIMD masks and spills per iteration), so the kernels take 4 keys
// (forward, dq) or 4 queries (dk/dv) per iteration, and rows are read 4 dims at a time (vec4).
//
// Head dims not a multiple of 4: the last chunk of a row is read whole in the hot loops (past the row
// end: the next row, or zeros past the binding); the invocation's own rows (qv, ov, kv, vv) are loaded
// with the extra lanes zeroed, so the extra products vanish from every dot, and the extra lanes of the
// accumulators are never stored. (Measured on SwiftShader: 4 items per step beat 1; unrolling the dim
// loop further, or 8 items per step, is slower again: Subzero spills the extra registers.)

override SWG: u32 = 8u;
const HD4: u32 = 64u;   // HD_MAX / 4

// The slots' query ranges for attn_bwd_dkv_sw: ranges[2s], ranges[2s+1] = first and last+1 query of
// slot s (T, 0 when it has none). Queries of a slot need not be contiguous: the range is a bound.
@group(0) @binding(1) var<storage, read> slotR: array<u32>;
@group(0) @binding(2) var<storage, read_write> rangesW: array<u32>;
@group(0) @binding(11) var<storage, read> ranges: array<u32>;

fn inv_sw(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * SWG;
}

fn q4(i: u32) -> vec4<f32> {
  return vec4<f32>(q[i], q[i + 1u], q[i + 2u], q[i + 3u]);
}

fn kc4(i: u32) -> vec4<f32> {
  return vec4<f32>(kc[i], kc[i + 1u], kc[i + 2u], kc[i + 3u]);
}

fn vc4(i: u32) -> vec4<f32> {
  return vec4<f32>(vc[i], vc[i + 1u], vc[i + 2u], vc[i + 3u]);
}

fn dout4(i: u32) -> vec4<f32> {
  return vec4<f32>(dOut[i], dOut[i + 1u], dOut[i + 2u], dOut[i + 3u]);
}

// Zeroes the lanes of chunk c past the head dim.
fn lanes(v: vec4<f32>, c: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, vec4<u32>(4u * c) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(P.hd));
}

fn out_store4(i: u32, rem: u32, v: vec4<f32>, add: bool) {
  if (rem >= 4u) {
    var x = v;
    if (add) { x += vec4<f32>(out[i], out[i + 1u], out[i + 2u], out[i + 3u]); }
    out[i] = x.x;
    out[i + 1u] = x.y;
    out[i + 2u] = x.z;
    out[i + 3u] = x.w;
    return;
  }
  for (var c = 0u; c < rem; c++) {
    var x = v[c];
    if (add) { x += out[i + c]; }
    out[i + c] = x;
  }
}

fn dv_store4(i: u32, rem: u32, v: vec4<f32>, add: bool) {
  if (rem >= 4u) {
    var x = v;
    if (add) { x += vec4<f32>(dv[i], dv[i + 1u], dv[i + 2u], dv[i + 3u]); }
    dv[i] = x.x;
    dv[i + 1u] = x.y;
    dv[i + 2u] = x.z;
    dv[i + 3u] = x.w;
    return;
  }
  for (var c = 0u; c < rem; c++) {
    var x = v[c];
    if (add) { x += dv[i + c]; }
    dv[i + c] = x;
  }
}

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Which of 4 consecutive items (keys or queries) from the first one exist, of n left.
fn live4(n: u32) -> vec4<bool> {
  return vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n);
}

// One (query, head) row: online softmax over its keys, 4 keys per step (keys past the end re-read the
// last key and get probability 0).
fn attend_sw(gi: u32) -> Row {
  let t = gi / P.nHeads;
  let h = gi % P.nHeads;
  let kvh = h / (P.nHeads / P.nKv);
  let sl = slot[t];
  let st = start[t];
  let end = min(pos[t] + 1u, P.maxSeq);
  let hd = P.hd;
  let nc = (hd + 3u) / 4u;
  let rs = P.nKv * hd;
  let qb = gi * hd;
  var qv = array<vec4<f32>, HD4>();
  var acc = array<vec4<f32>, HD4>();
  for (var c = 0u; c < nc; c++) { qv[c] = lanes(q4(qb + 4u * c), c) * P.scale; }
  var m = NEG;
  var l = 0.0;
  for (var j = st; j < end; j += 4u) {
    let n = min(4u, end - j);
    let b0 = kv_row(sl, j, kvh);
    let b1 = b0 + min(1u, n - 1u) * rs;
    let b2 = b0 + min(2u, n - 1u) * rs;
    let b3 = b0 + min(3u, n - 1u) * rs;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var o = 0u; o < 4u * nc; o += 4u) {
      let qc = qv[o / 4u];
      s0 += qc * kc4(b0 + o);
      s1 += qc * kc4(b1 + o);
      s2 += qc * kc4(b2 + o);
      s3 += qc * kc4(b3 + o);
    }
    let s = select(vec4<f32>(NEG), vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3)), live4(n));
    let mn = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    let alpha = exp(m - mn);
    let p = exp(s - vec4<f32>(mn));
    l = l * alpha + hsum(p);
    for (var o = 0u; o < 4u * nc; o += 4u) {
      let c = o / 4u;
      acc[c] = acc[c] * alpha + p.x * vc4(b0 + o) + p.y * vc4(b1 + o) + p.z * vc4(b2 + o) + p.w * vc4(b3 + o);
    }
    m = mn;
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = 0u; c < nc; c++) { out_store4(qb + 4u * c, hd - 4u * c, acc[c] * inv, false); }
  return Row(gi, select(NEG, m + log(l), l > 0.0));
}

@compute @workgroup_size(SWG)
fn attn_fwd_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = inv_sw(gid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  _ = attend_sw(gi);
}

@compute @workgroup_size(SWG)
fn attn_fwd_lse_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = inv_sw(gid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  let r = attend_sw(gi);
  lse[r.index] = r.lse;
}

// dq of one (query, head) row: dq = scale·Σ_j P_j·(dOut·v_j − D)·k_j, 4 keys per step.
@compute @workgroup_size(SWG)
fn attn_bwd_dq_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = inv_sw(gid, nwg);
  if (gi >= P.T * P.nHeads) { return; }
  let t = gi / P.nHeads;
  let h = gi % P.nHeads;
  let kvh = h / (P.nHeads / P.nKv);
  let sl = slot[t];
  let st = start[t];
  let end = min(pos[t] + 1u, P.maxSeq);
  let hd = P.hd;
  let nc = (hd + 3u) / 4u;
  let rs = P.nKv * hd;
  let qb = gi * hd;
  let L = stats[2u * gi];
  let D = stats[2u * gi + 1u];
  var qv = array<vec4<f32>, HD4>();
  var ov = array<vec4<f32>, HD4>();
  var acc = array<vec4<f32>, HD4>();
  for (var c = 0u; c < nc; c++) {
    qv[c] = lanes(q4(qb + 4u * c), c) * P.scale;
    ov[c] = lanes(dout4(qb + 4u * c), c);
  }
  for (var j = st; j < end; j += 4u) {
    let n = min(4u, end - j);
    let b0 = kv_row(sl, j, kvh);
    let b1 = b0 + min(1u, n - 1u) * rs;
    let b2 = b0 + min(2u, n - 1u) * rs;
    let b3 = b0 + min(3u, n - 1u) * rs;
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    var d0 = vec4<f32>(0.0);
    var d1 = vec4<f32>(0.0);
    var d2 = vec4<f32>(0.0);
    var d3 = vec4<f32>(0.0);
    for (var o = 0u; o < 4u * nc; o += 4u) {
      let qa = qv[o / 4u];
      let oa = ov[o / 4u];
      s0 += qa * kc4(b0 + o);
      s1 += qa * kc4(b1 + o);
      s2 += qa * kc4(b2 + o);
      s3 += qa * kc4(b3 + o);
      d0 += oa * vc4(b0 + o);
      d1 += oa * vc4(b1 + o);
      d2 += oa * vc4(b2 + o);
      d3 += oa * vc4(b3 + o);
    }
    let s = vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3));
    let dp = vec4<f32>(hsum(d0), hsum(d1), hsum(d2), hsum(d3));
    let ds = select(vec4<f32>(0.0), exp(s - vec4<f32>(L)) * (dp - vec4<f32>(D)), live4(n));
    for (var o = 0u; o < 4u * nc; o += 4u) {
      let c = o / 4u;
      acc[c] += ds.x * kc4(b0 + o) + ds.y * kc4(b1 + o) + ds.z * kc4(b2 + o) + ds.w * kc4(b3 + o);
    }
  }
  for (var c = 0u; c < nc; c++) { out_store4(qb + 4u * c, hd - 4u * c, acc[c] * P.scale, false); }
}

// Bindings: slot, ranges (rw). One invocation per slot.
@compute @workgroup_size(SWG)
fn attn_slot_ranges_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let sl = inv_sw(gid, nwg);
  if (sl >= P.slots) { return; }
  var lo = P.T;
  var hi = 0u;
  for (var t = 0u; t < P.T; t++) {
    if (slotR[t] == sl) {
      lo = min(lo, t);
      hi = t + 1u;
    }
  }
  rangesW[2u * sl] = lo;
  rangesW[2u * sl + 1u] = hi;
}

// dk, dv of one cache row (slot, key j < nKeys, kv head): sums over the (query, head) pairs of its kv
// group whose query sees key j, over the slot's query range, 4 queries per step. Consecutive
// invocations take consecutive kv heads, then keys, so the lanes of a SIMD group mostly agree on which
// queries see their keys.
@compute @workgroup_size(SWG)
fn attn_bwd_dkv_sw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = inv_sw(gid, nwg);
  if (gi >= P.slots * P.nKeys * P.nKv) { return; }
  let kvh = gi % P.nKv;
  let r0 = gi / P.nKv;
  let j = r0 % P.nKeys;
  let sl = r0 / P.nKeys;
  let g = P.nHeads / P.nKv;
  let hd = P.hd;
  let nc = (hd + 3u) / 4u;
  let b = kv_row(sl, j, kvh);
  var kv = array<vec4<f32>, HD4>();
  var vv = array<vec4<f32>, HD4>();
  var accK = array<vec4<f32>, HD4>();
  var accV = array<vec4<f32>, HD4>();
  for (var c = 0u; c < nc; c++) {
    kv[c] = lanes(kc4(b + 4u * c), c) * P.scale;
    vv[c] = lanes(vc4(b + 4u * c), c);
  }
  let tEnd = ranges[2u * sl + 1u];
  for (var t0 = ranges[2u * sl]; t0 < tEnd; t0 += 4u) {
    // Which of queries t0..t0+3 see key j (a query past the range is never seen).
    var vis = vec4<bool>(false);
    for (var i = 0u; i < 4u; i++) {
      let t = min(t0 + i, tEnd - 1u);
      vis[i] = (t0 + i < tEnd) & (slot[t] == sl) & (start[t] <= j) & (j <= min(pos[t], P.maxSeq - 1u));
    }
    if (!any(vis)) { continue; }
    let tq = vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u);
    let tc = min(tq, vec4<u32>(tEnd - 1u));   // in-range row to read for masked lanes
    for (var hh = 0u; hh < g; hh++) {
      let hr = kvh * g + hh;
      let row = tc * P.nHeads + vec4<u32>(hr);
      let rb = row * hd;
      var s0 = vec4<f32>(0.0);
      var s1 = vec4<f32>(0.0);
      var s2 = vec4<f32>(0.0);
      var s3 = vec4<f32>(0.0);
      var d0 = vec4<f32>(0.0);
      var d1 = vec4<f32>(0.0);
      var d2 = vec4<f32>(0.0);
      var d3 = vec4<f32>(0.0);
      for (var o = 0u; o < 4u * nc; o += 4u) {
        let ka = kv[o / 4u];
        let va = vv[o / 4u];
        s0 += ka * q4(rb.x + o);
        s1 += ka * q4(rb.y + o);
        s2 += ka * q4(rb.z + o);
        s3 += ka * q4(rb.w + o);
        d0 += va * dout4(rb.x + o);
        d1 += va * dout4(rb.y + o);
        d2 += va * dout4(rb.z + o);
        d3 += va * dout4(rb.w + o);
      }
      let L = vec4<f32>(stats[2u * row.x], stats[2u * row.y], stats[2u * row.z], stats[2u * row.w]);
      let D = vec4<f32>(stats[2u * row.x + 1u], stats[2u * row.y + 1u], stats[2u * row.z + 1u], stats[2u * row.w + 1u]);
      let s = vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3));
      let dp = vec4<f32>(hsum(d0), hsum(d1), hsum(d2), hsum(d3));
      let p = select(vec4<f32>(0.0), exp(s - L), vis);
      let ds = p * (dp - D);
      for (var o = 0u; o < 4u * nc; o += 4u) {
        let c = o / 4u;
        accK[c] += ds.x * q4(rb.x + o) + ds.y * q4(rb.y + o) + ds.z * q4(rb.z + o) + ds.w * q4(rb.w + o);
        accV[c] += p.x * dout4(rb.x + o) + p.y * dout4(rb.y + o) + p.z * dout4(rb.z + o) + p.w * dout4(rb.w + o);
      }
    }
  }
  let add = P.accumulate != 0u;
  for (var c = 0u; c < nc; c++) {
    out_store4(b + 4u * c, hd - 4u * c, accK[c] * P.scale, add);
    dv_store4(b + 4u * c, hd - 4u * c, accV[c], add);
  }
}
