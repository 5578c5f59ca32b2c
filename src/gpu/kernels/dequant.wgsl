// Shared readers and dequantizers for raw GGUF tensor bytes stored as array<u32>.
// Prepended (string concat in TS) to kernels that read quantized weights.
//
// The including shader must declare:
//   @group(0) @binding(n) var<storage, read> W: array<u32>;   // the tensor's bytes, as in the file, padded to 4
// and set the override constant declared here:
//   WTYPE: the GgmlType value of W (0 F32, 1 F16, 2 Q4_0, 8 Q8_0, 12 Q4_K, 14 Q6_K, 30 BF16).
// Every entry point that calls into this file must use WTYPE (all the dq* functions do).
//
// A tensor of shape [rows, K] stores each row in w_row_bytes(K) bytes (K a multiple of the block size),
// so row r starts at byte r * w_row_bytes(K). dq4(rowByte, k) returns elements k..k+3 of that row; k must
// be a multiple of 4 (four consecutive elements always share a block and a (sub-)scale for every type).
// Offsets are in bytes and fit u32 (tensors under 4 GiB). All arithmetic is f32: no shader-f16 needed.

override WTYPE: u32 = 0u;

// ---- byte readers -------------------------------------------------------------------------------

fn w_byte(a: u32) -> u32 {
  return (W[a >> 2u] >> ((a & 3u) * 8u)) & 0xFFu;
}

// 16-bit little-endian value at an even byte offset.
fn w_u16(a: u32) -> u32 {
  return (W[a >> 2u] >> ((a & 2u) * 8u)) & 0xFFFFu;
}

// 32-bit little-endian value at an even (not necessarily 4-aligned) byte offset.
fn w_u32a2(a: u32) -> u32 {
  let i = a >> 2u;
  let lo = W[i];
  if ((a & 2u) == 0u) {
    return lo;
  }
  return (lo >> 16u) | (W[i + 1u] << 16u);
}

// Bytes 2..5 after byte 4·i + sh/8 (sh 0 or 16) from wi = W[i], wj = W[i + 1]: a quant word of a block
// that starts at an even, not necessarily 4-aligned, byte with a 2-byte scale first (Q4_0, Q8_0), so
// one read of the block's words serves every quant word without a branch on the alignment.
fn w_funnel16(wi: u32, wj: u32, sh: u32) -> u32 {
  return ((wi >> 16u) >> sh) | (wj << (16u - sh));
}

fn w_f16(a: u32) -> f32 {
  return unpack2x16float(w_u16(a)).x;
}

fn bf16_lo(w: u32) -> f32 {
  return bitcast<f32>(w << 16u);
}

fn bf16_hi(w: u32) -> f32 {
  return bitcast<f32>(w & 0xFFFF0000u);
}

// The four bytes of w as signed int8, low byte first.
fn i8x4(w: u32) -> vec4<f32> {
  let v = bitcast<vec4<i32>>(vec4<u32>(w << 24u, w << 16u, w << 8u, w)) >> vec4<u32>(24u);
  return vec4<f32>(v);
}

// The four bytes of w as unsigned values, low byte first.
// (Converted as i32: the same values, and SwiftShader converts signed integers far faster.)
fn u8x4(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w & 0xFFu, (w >> 8u) & 0xFFu, (w >> 16u) & 0xFFu, w >> 24u)));
}

// Low (shift 0) or high (shift 4) nibbles of the four bytes of w.
fn nib4(w: u32, shift: u32) -> vec4<f32> {
  return u8x4((w >> shift) & 0x0F0F0F0Fu);
}

// ---- row geometry -------------------------------------------------------------------------------

fn w_row_bytes(K: u32) -> u32 {
  switch WTYPE {
    case 0u: { return K * 4u; }
    case 1u, 30u: { return K * 2u; }
    case 2u: { return (K / 32u) * 18u; }
    case 8u: { return (K / 32u) * 34u; }
    case 12u: { return (K / 256u) * 144u; }
    case 14u: { return (K / 256u) * 210u; }
    default: { return 0u; }
  }
}

// ---- per-type dequantizers: 4 consecutive elements k..k+3 (k % 4 == 0) of the row at rowByte ---------

fn dq4_f32(rowByte: u32, k: u32) -> vec4<f32> {
  let i = (rowByte >> 2u) + k;
  return bitcast<vec4<f32>>(vec4<u32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u]));
}

fn dq4_f16(rowByte: u32, k: u32) -> vec4<f32> {
  let i = (rowByte >> 2u) + (k >> 1u);
  return vec4<f32>(unpack2x16float(W[i]), unpack2x16float(W[i + 1u]));
}

fn dq4_bf16(rowByte: u32, k: u32) -> vec4<f32> {
  let i = (rowByte >> 2u) + (k >> 1u);
  let a = W[i];
  let b = W[i + 1u];
  return vec4<f32>(bf16_lo(a), bf16_hi(a), bf16_lo(b), bf16_hi(b));
}

// Q8_0: f16 d | int8 q[32]
fn dq4_q8_0(rowByte: u32, k: u32) -> vec4<f32> {
  let base = rowByte + (k >> 5u) * 34u;
  return w_f16(base) * i8x4(w_u32a2(base + 2u + (k & 31u)));
}

// Q4_0: f16 d | u8 qs[16]; element j < 16 in the low nibble of qs[j], element j + 16 in its high nibble.
fn dq4_q4_0(rowByte: u32, k: u32) -> vec4<f32> {
  let base = rowByte + (k >> 5u) * 18u;
  let j = k & 31u;
  let q = nib4(w_u32a2(base + 2u + (j & 15u)), (j >> 4u) * 4u);
  return w_f16(base) * (q - vec4<f32>(8.0));
}

// ggml's get_scale_min_k4: 6-bit scale and min of sub-block j (0..7) from the 12 bytes at sb.
fn k4_scale_min(sb: u32, j: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(w_byte(sb + j) & 63u), f32(w_byte(sb + j + 4u) & 63u));
  }
  let a = w_byte(sb + j + 4u);
  let sc = (a & 15u) | ((w_byte(sb + j - 4u) >> 6u) << 4u);
  let m = (a >> 4u) | ((w_byte(sb + j) >> 6u) << 4u);
  return vec2<f32>(f32(sc), f32(m));
}

// k4_scale_min of sub-blocks 2c and 2c + 1 (c = 0..3) from the three scale words: (sc, m, sc, m).
fn k4_scale_min_words(s0: u32, s1: u32, s2: u32, c: u32) -> vec4<f32> {
  let b = 16u * (c & 1u);
  let a0 = (s0 >> b) & 0xFFFFu;   // scales[j], scales[j + 1] (j = 2c, or 2c − 4 for c ≥ 2)
  let a1 = (s1 >> b) & 0xFFFFu;   // scales[j + 4], scales[j + 5]
  var v = vec4<u32>(a0 & 63u, a1 & 63u, (a0 >> 8u) & 63u, (a1 >> 8u) & 63u);
  if (c >= 2u) {
    let e = (s2 >> b) & 0xFFFFu;  // scales[j + 8], scales[j + 9]
    v = vec4<u32>((e & 15u) | ((a0 >> 2u) & 48u), ((e >> 4u) & 15u) | ((a1 >> 2u) & 48u),
                  ((e >> 8u) & 15u) | ((a0 >> 10u) & 48u), ((e >> 12u) & 15u) | ((a1 >> 10u) & 48u));
  }
  return vec4<f32>(bitcast<vec4<i32>>(v));
}

// Q4_K: f16 d | f16 dmin | scales[12] | qs[128]; chunk c of 64 elements: low nibbles of qs[32c..32c+31]
// are its first 32 elements (sub-block 2c), high nibbles the next 32 (sub-block 2c+1). Blocks are 4-aligned.
fn dq4_q4_k(rowByte: u32, k: u32) -> vec4<f32> {
  let base = rowByte + (k >> 8u) * 144u;
  let j = k & 255u;
  let c = j >> 6u;
  let hi = (j >> 5u) & 1u;
  let dm = unpack2x16float(W[base >> 2u]);
  let sm = k4_scale_min(base + 4u, 2u * c + hi);
  let q = nib4(W[(base + 16u + 32u * c + (j & 31u)) >> 2u], hi * 4u);
  return (dm.x * sm.x) * q - vec4<f32>(dm.y * sm.y);
}

// Q6_K: ql[128] | qh[64] | int8 scales[16] | f16 d; 6-bit q = low nibble from ql | 2 bits from qh, minus 32.
fn dq4_q6_k(rowByte: u32, k: u32) -> vec4<f32> {
  let base = rowByte + (k >> 8u) * 210u;
  let j = k & 255u;
  let h = j >> 7u;
  let qd = (j >> 5u) & 3u;
  let l = j & 31u;
  let ql = w_u32a2(base + 64u * h + 32u * (qd & 1u) + l);
  let qh = w_u32a2(base + 128u + 32u * h + l);
  let q = ((ql >> ((qd >> 1u) * 4u)) & 0x0F0F0F0Fu) | (((qh >> (2u * qd)) & 0x03030303u) << 4u);
  let sc = f32(bitcast<i32>(w_byte(base + 192u + (j >> 4u)) << 24u) >> 24u);
  return (w_f16(base + 208u) * sc) * (u8x4(q) - vec4<f32>(32.0));
}

fn dq4(rowByte: u32, k: u32) -> vec4<f32> {
  switch WTYPE {
    case 0u: { return dq4_f32(rowByte, k); }
    case 1u: { return dq4_f16(rowByte, k); }
    case 30u: { return dq4_bf16(rowByte, k); }
    case 8u: { return dq4_q8_0(rowByte, k); }
    case 2u: { return dq4_q4_0(rowByte, k); }
    case 12u: { return dq4_q4_k(rowByte, k); }
    case 14u: { return dq4_q6_k(rowByte, k); }
    default: { return vec4<f32>(0.0); }
  }
}

// ---- pairs: 8 elements sharing one read of quants and scales (for the matrix-vector kernels) --------
// A pair is elements k..k+3 (a) and k+pair_off()..+3 (b): the low and high nibbles of the same bytes for
// Q4_0 / Q4_K, the two nibbles of the same ql bytes (and the same qh bytes) for Q6_K, and simply the next
// four elements for the other types. Pair units u = 0..K/8-1 cover a row exactly once, in memory order:
// k = pair_k(u). For the float types with K % 8 == 4 the last 4 elements are not covered by any unit.

struct Pair { a: vec4<f32>, b: vec4<f32> };

fn pair_off() -> u32 {
  switch WTYPE {
    case 2u: { return 16u; }
    case 12u: { return 32u; }
    case 14u: { return 64u; }
    default: { return 4u; }
  }
}

fn pair_k(u: u32) -> u32 {
  let per = pair_off() / 4u;
  return 8u * per * (u / per) + 4u * (u % per);
}

fn dq_pair(rowByte: u32, k: u32) -> Pair {
  switch WTYPE {
    case 2u: {
      let base = rowByte + (k >> 5u) * 18u;
      let d = w_f16(base);
      let w = w_u32a2(base + 2u + (k & 15u));
      return Pair(d * (nib4(w, 0u) - vec4<f32>(8.0)), d * (nib4(w, 4u) - vec4<f32>(8.0)));
    }
    case 12u: {
      let base = rowByte + (k >> 8u) * 144u;
      let j = k & 255u;
      let c = j >> 6u;
      let dm = unpack2x16float(W[base >> 2u]);
      let s0 = k4_scale_min(base + 4u, 2u * c);
      let s1 = k4_scale_min(base + 4u, 2u * c + 1u);
      let w = W[(base + 16u + 32u * c + (j & 31u)) >> 2u];
      return Pair((dm.x * s0.x) * nib4(w, 0u) - vec4<f32>(dm.y * s0.y),
                  (dm.x * s1.x) * nib4(w, 4u) - vec4<f32>(dm.y * s1.y));
    }
    case 14u: {
      let base = rowByte + (k >> 8u) * 210u;
      let j = k & 255u;
      let h = j >> 7u;
      let qd = (j >> 5u) & 1u;
      let l = j & 31u;
      let ql = w_u32a2(base + 64u * h + 32u * qd + l);
      let qh = w_u32a2(base + 128u + 32u * h + l) >> (2u * qd);
      let qa = (ql & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4u);
      let qb = ((ql >> 4u) & 0x0F0F0F0Fu) | (((qh >> 4u) & 0x03030303u) << 4u);
      let d = w_f16(base + 208u);
      let sa = f32(bitcast<i32>(w_byte(base + 192u + (j >> 4u)) << 24u) >> 24u);
      let sb = f32(bitcast<i32>(w_byte(base + 196u + (j >> 4u)) << 24u) >> 24u);
      return Pair((d * sa) * (u8x4(qa) - vec4<f32>(32.0)), (d * sb) * (u8x4(qb) - vec4<f32>(32.0)));
    }
    default: {
      return Pair(dq4(rowByte, k), dq4(rowByte, k + 4u));
    }
  }
}

// One element k of the row at rowByte (any k).
fn dq1(rowByte: u32, k: u32) -> f32 {
  return dq4(rowByte, k & ~3u)[k & 3u];
}
