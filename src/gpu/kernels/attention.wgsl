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

const WG: u32 = 64u;     // invocations per workgroup
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
@compute @workgroup_size(256)
fn kv_write(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
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
@compute @workgroup_size(256)
fn kv_gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 256u;
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
@compute @workgroup_size(WG)
fn attn_bwd_prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
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
