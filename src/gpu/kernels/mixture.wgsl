// Next-token choice on the GPU for plain, mixture and contrastive decoding, so a decode step reads
// back only the chosen ids (and each member's probability of its group's id), never logits.
//
// A step decodes G groups; group g owns member entries first … first+count−1, each a row of the
// logits with a weight and an inverse temperature. Kinds:
//   0 mixture:     q(t) = Σ_e w_e · softmax(l_e · invT_e)(t)   (a plain sequence is a group of one)
//   1 contrastive: entry 0 = expert, entry 1 = amateur, both at T = 1;
//                  q(t) = log p_exp(t) − log p_ama(t) on {t : log p_exp(t) ≥ log α + max log p_exp}
//                  With 2h entries (h > 1) the first h are the expert's mixture and the last h the
//                  amateur's: p_exp = Σ_{e<h} w_e·softmax(l_e), p_ama = Σ_{e≥h} w_e·softmax(l_e); the
//                  cut then needs max p_exp over the vocabulary, so select applies it.
// Then top-k, top-p and an inverse-CDF draw (in token-index order, with a uniform number u given per
// group) pick the id; greedy takes the first index of the largest q.
//
//   stats  (one workgroup per member entry): max and Σ exp((l − max)·invT) of the entry's row
//   mix    (one invocation per group × token): q
//   select (one workgroup per group): the id, then each member's p_e(id)
//
// Plan words (u32, f32 as bits): groups [G, 8] = (kind | greedy << 4, first, count, topK, topP,
// u, invT, log α); members [M, 4] from word 8G on = (row, weight, invT, unused). Software adapters
// run stats and select with WG = 1: no barrier ever waits on another invocation.

struct Params { G: u32, M: u32, V: u32, _pad: u32 };

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;     // [rows, V]
@group(0) @binding(2) var<storage, read> plan: array<u32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>; // [M, 2] (max, z)
@group(0) @binding(4) var<storage, read_write> q: array<f32>;     // [G, V]
@group(0) @binding(5) var<storage, read_write> out: array<u32>;   // [G] ids, then [M] f32 p_e(id)

override WG: u32 = 256;
const NEG: f32 = -3.4028234663852886e38; // −FLT_MAX: outside the plausible set
const NONE: u32 = 0xffffffffu;
const INF_BITS: u32 = 0x7f800000u;

var<workgroup> redF: array<f32, WG>;
var<workgroup> redU: array<u32, WG>;
var<workgroup> one: f32;
var<workgroup> oneU: u32;

fn memberRow(e: u32) -> u32 { return plan[8u * P.G + 4u * e]; }
fn memberW(e: u32) -> f32 { return bitcast<f32>(plan[8u * P.G + 4u * e + 1u]); }
fn memberInvT(e: u32) -> f32 { return bitcast<f32>(plan[8u * P.G + 4u * e + 2u]); }

fn sumAll(lid: u32, v: f32) -> f32 {
  redF[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { redF[lid] += redF[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { one = redF[0]; }
  let r = workgroupUniformLoad(&one);
  return r;
}

fn maxAll(lid: u32, v: f32) -> f32 {
  redF[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { redF[lid] = max(redF[lid], redF[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { one = redF[0]; }
  let r = workgroupUniformLoad(&one);
  return r;
}

fn countAll(lid: u32, v: u32) -> u32 {
  redU[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { redU[lid] += redU[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { oneU = redU[0]; }
  let r = workgroupUniformLoad(&oneU);
  return r;
}

@compute @workgroup_size(WG)
fn stats_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let e = wid.x + wid.y * nwg.x;
  if (e >= P.M) { return; }
  let base = memberRow(e) * P.V;
  let invT = memberInvT(e);
  var m = NEG;
  for (var t = lid; t < P.V; t += WG) { m = max(m, logits[base + t]); }
  m = maxAll(lid, m);
  var z = 0.0;
  for (var t = lid; t < P.V; t += WG) { z += exp((logits[base + t] - m) * invT); }
  z = sumAll(lid, z);
  if (lid == 0u) {
    stats[2u * e] = m;
    stats[2u * e + 1u] = z;
  }
}

// Σ over entries first … first+n−1 of w_e · softmax(l_e · invT_e)(t).
fn mixAt(first: u32, n: u32, t: u32) -> f32 {
  var acc = 0.0;
  for (var e = first; e < first + n; e++) {
    acc += memberW(e) * exp((logits[memberRow(e) * P.V + t] - stats[2u * e]) * memberInvT(e)) / stats[2u * e + 1u];
  }
  return acc;
}

@compute @workgroup_size(WG)
fn mix(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P.G * P.V) { return; }
  let g = i / P.V;
  let t = i % P.V;
  let kind = plan[8u * g] & 15u;
  let greedy = (plan[8u * g] >> 4u) != 0u;
  let first = plan[8u * g + 1u];
  let count = plan[8u * g + 2u];
  if (kind == 1u && count > 2u) {
    let h = count / 2u;
    q[i] = log(mixAt(first, h, t)) - log(mixAt(first + h, h, t));
    return;
  }
  if (kind == 1u) {
    let ex = first;
    let am = first + 1u;
    let le = logits[memberRow(ex) * P.V + t] - stats[2u * ex];
    if (le < bitcast<f32>(plan[8u * g + 7u])) {
      q[i] = NEG;
      return;
    }
    let la = logits[memberRow(am) * P.V + t] - stats[2u * am];
    q[i] = (le - log(stats[2u * ex + 1u])) - (la - log(stats[2u * am + 1u]));
    return;
  }
  if (greedy && count == 1u) {
    // A lone greedy sequence: its raw logits order the tokens exactly as plain greedy decoding does.
    q[i] = logits[memberRow(first) * P.V + t];
    return;
  }
  q[i] = mixAt(first, count, t);
}

// Σ of q over the thread's chunk where bits(q) ≥ b (q ≥ 0 here, so bit order is value order).
fn chunkMass(base: u32, c0: u32, c1: u32, b: u32) -> f32 {
  var s = 0.0;
  for (var t = c0; t < c1; t++) {
    let x = q[base + t];
    if (bitcast<u32>(x) >= b) { s += x; }
  }
  return s;
}

var<workgroup> winner: u32;
var<workgroup> winnerCum: f32;
var<workgroup> chosen: u32;

@compute @workgroup_size(WG)
fn select_token(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.G) { return; }
  let kind = plan[8u * g] & 15u;
  let greedy = (plan[8u * g] >> 4u) != 0u;
  let first = plan[8u * g + 1u];
  let count = plan[8u * g + 2u];
  let base = g * P.V;
  // Contiguous chunks: every pass of this kernel touches only its own chunk of q.
  let C = (P.V + WG - 1u) / WG;
  let c0 = min(P.V, lid * C);
  let c1 = min(P.V, c0 + C);

  if (kind == 1u && count > 2u) {
    // Contrastive mixtures: the plausibility cut against the expert mixture's largest probability.
    let h = count / 2u;
    var m = 0.0;
    for (var t = c0; t < c1; t++) { m = max(m, mixAt(first, h, t)); }
    m = maxAll(lid, m);
    let cut = log(m) + bitcast<f32>(plan[8u * g + 7u]);
    for (var t = c0; t < c1; t++) {
      if (log(mixAt(first, h, t)) < cut) { q[base + t] = NEG; }
    }
    workgroupBarrier();
  }

  if (greedy) {
    var bv = NEG;
    var bi = NONE;
    for (var t = c0; t < c1; t++) {
      let x = q[base + t];
      if (x > bv || (bi == NONE && x == bv)) { bv = x; bi = t; }
    }
    redF[lid] = bv;
    redU[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
      if (lid < s) {
        let ov = redF[lid + s];
        let oi = redU[lid + s];
        let mine = redU[lid];
        if (oi != NONE && (mine == NONE || ov > redF[lid] || (ov == redF[lid] && oi < mine))) {
          redF[lid] = ov;
          redU[lid] = oi;
        }
      }
      workgroupBarrier();
    }
    if (lid == 0u) { chosen = select(redU[0], 0u, redU[0] == NONE); }
  } else {
    if (kind == 1u) {
      // Log scores → weights exp((s − max s)·invT); tokens outside the plausible set weigh 0.
      var m = NEG;
      for (var t = c0; t < c1; t++) { m = max(m, q[base + t]); }
      m = maxAll(lid, m);
      let invT = bitcast<f32>(plan[8u * g + 6u]);
      for (var t = c0; t < c1; t++) {
        let x = q[base + t];
        q[base + t] = select(exp((x - m) * invT), 0.0, x == NEG);
      }
    }
    // Top-k: the largest threshold (as float bits) that still keeps ≥ k tokens.
    var lo = 0u;
    let K = plan[8u * g + 3u];
    if (K > 0u && K < P.V) {
      var hi = INF_BITS;
      loop {
        if (lo >= hi) { break; }
        let mid = lo + (hi - lo + 1u) / 2u;
        var n = 0u;
        for (var t = c0; t < c1; t++) { n += select(0u, 1u, bitcast<u32>(q[base + t]) >= mid); }
        if (countAll(lid, n) >= K) { lo = mid; } else { hi = mid - 1u; }
      }
    }
    // Top-p: the largest threshold keeping mass ≥ p of what top-k kept.
    let topP = bitcast<f32>(plan[8u * g + 4u]);
    if (topP < 1.0) {
      let want = topP * sumAll(lid, chunkMass(base, c0, c1, lo));
      var hi = INF_BITS;
      loop {
        if (lo >= hi) { break; }
        let mid = lo + (hi - lo + 1u) / 2u;
        if (sumAll(lid, chunkMass(base, c0, c1, mid)) >= want) { lo = mid; } else { hi = mid - 1u; }
      }
    }
    // Inverse CDF in token order: the first kept token whose running sum exceeds u·Z.
    let mine = chunkMass(base, c0, c1, lo);
    redF[lid] = mine;
    workgroupBarrier();
    if (lid == 0u) {
      var total = 0.0;
      for (var i = 0u; i < WG; i++) { total += redF[i]; }
      let goal = bitcast<f32>(plan[8u * g + 5u]) * total;
      var cum = 0.0;
      var w = NONE;
      var wc = 0.0;
      for (var i = 0u; i < WG; i++) {
        if (cum <= goal && redF[i] > 0.0) { w = i; wc = cum; }
        cum += redF[i];
      }
      winner = w;
      winnerCum = wc;
      chosen = NONE;
    }
    workgroupBarrier();
    if (lid == winner) {
      // The same goal as thread 0: u · Σ of the chunk masses in thread order.
      var total = 0.0;
      for (var i = 0u; i < WG; i++) { total += redF[i]; }
      let stop = bitcast<f32>(plan[8u * g + 5u]) * total;
      var cum = winnerCum;
      var last = NONE;
      var pick = NONE;
      for (var t = c0; t < c1; t++) {
        let x = q[base + t];
        if (bitcast<u32>(x) >= lo && x > 0.0) {
          cum += x;
          last = t;
          if (cum > stop) { pick = t; break; }
        }
      }
      chosen = select(pick, last, pick == NONE);
    }
  }
  workgroupBarrier();
  if (lid == 0u) {
    var id = chosen;
    if (id == NONE) { id = 0u; }
    out[g] = id;
    // Each member's probability of the chosen token (mixtures, contrastive ones too), for the
    // posterior shares.
    for (var e = first; e < first + count; e++) {
      var p = 1.0;
      if ((kind == 0u && !(greedy && count == 1u)) || (kind == 1u && count > 2u)) {
        p = exp((logits[memberRow(e) * P.V + id] - stats[2u * e]) * memberInvT(e)) / stats[2u * e + 1u];
      }
      out[P.G + e] = bitcast<u32>(p);
    }
  }
}
