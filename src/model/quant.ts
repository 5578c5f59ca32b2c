/**
 * CPU quantization and dequantization of every GgmlType, with byte layouts identical to ggml / GGUF
 * (little-endian, blocks packed back to back, no padding). Dequantization is exact to ggml's formulas;
 * the quantizers are simple round-to-nearest ones (valid blocks with sensible error, not ggml's
 * error-minimising searches). Used by tests, by the model loader for small tensors, and for export.
 *
 * Block layouts (bytes):
 *   Q8_0  (32 el, 34 B):  f16 d | int8 qs[32]                       x = d·q
 *   Q4_0  (32 el, 18 B):  f16 d | u8 qs[16]                          x[j] = d·((qs[j] & 15) − 8), x[j+16] = d·((qs[j] >> 4) − 8)
 *   Q4_K  (256 el, 144 B): f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
 *         8 sub-blocks of 32 with 6-bit scale sc and min m packed as in ggml's get_scale_min_k4;
 *         qs in 4 chunks of 32 bytes, chunk c holds elements 64c..64c+31 in low nibbles and
 *         64c+32..64c+63 in high nibbles; x = d·sc·q − dmin·m.
 *   Q6_K  (256 el, 210 B): u8 ql[128] | u8 qh[64] | int8 scales[16] | f16 d
 *         two halves of 128; in half h, for l < 32: ql[64h+l] = low nibbles of q[l] | q[l+64] << 4,
 *         ql[64h+32+l] = low nibbles of q[l+32] | q[l+96] << 4, qh[32h+l] packs the high 2 bits of
 *         q[l], q[l+32], q[l+64], q[l+96] at bits 0, 2, 4, 6; x = d·scales[el/16]·(q − 32).
 */
import { GgmlType, TYPE_LAYOUT, tensorBytes } from './types';

const cvF32 = new Float32Array(1);
const cvU32 = new Uint32Array(cvF32.buffer);

/** IEEE binary16 bits of `v`, rounded to nearest even (overflow → ±inf, NaN kept). */
export function f32ToF16Bits(v: number): number {
  cvF32[0] = v;
  const x = cvU32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is correct rounding
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of `v`, rounded to nearest even as ggml does (NaN stays a quiet NaN). */
export function f32ToBf16Bits(v: number): number {
  cvF32[0] = v;
  const x = cvU32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  cvU32[0] = (b & 0xffff) << 16;
  return cvF32[0];
}

/** Rounds through f16 (what a stored f16 scale will read back as). */
function f16Round(v: number): number {
  return f16BitsToF32(f32ToF16Bits(v));
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function checkCount(type: GgmlType, count: number): void {
  const be = TYPE_LAYOUT[type]?.blockElems;
  if (be === undefined) throw new Error(`Unsupported tensor type ${type}`);
  if (!Number.isInteger(count) || count < 0 || count % be !== 0) {
    throw new Error(`${TYPE_LAYOUT[type].name}: element count ${count} is not a multiple of the block size ${be}`);
  }
}

/** Encodes `values` in `type`'s GGUF byte layout. values.length must be a multiple of the block size. */
export function quantize(type: GgmlType, values: Float32Array): Uint8Array {
  const n = values.length;
  checkCount(type, n);
  const out = new Uint8Array(tensorBytes(type, n));
  const dv = new DataView(out.buffer);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i], true);
      break;
    case GgmlType.F16:
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToF16Bits(values[i]), true);
      break;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToBf16Bits(values[i]), true);
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b < n / 32; b++) quantQ8_0(values, 32 * b, dv, 34 * b);
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b < n / 32; b++) quantQ4_0(values, 32 * b, dv, 18 * b);
      break;
    case GgmlType.Q4_K:
      for (let b = 0; b < n / 256; b++) quantQ4_K(values, 256 * b, dv, 144 * b);
      break;
    case GgmlType.Q6_K:
      for (let b = 0; b < n / 256; b++) quantQ6_K(values, 256 * b, dv, 210 * b);
      break;
    default:
      throw new Error(`Unsupported tensor type ${type}`);
  }
  return out;
}

/** Decodes the first `count` elements of `bytes` (GGUF layout of `type`) to f32. */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number): Float32Array {
  checkCount(type, count);
  const need = tensorBytes(type, count);
  if (bytes.byteLength < need) {
    throw new Error(`${TYPE_LAYOUT[type].name}: ${count} elements need ${need} bytes, got ${bytes.byteLength}`);
  }
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case GgmlType.F16:
      for (let i = 0; i < count; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
      break;
    case GgmlType.BF16:
      for (let i = 0; i < count; i++) out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b < count / 32; b++) {
        const o = 34 * b;
        const d = f16BitsToF32(dv.getUint16(o, true));
        for (let j = 0; j < 32; j++) out[32 * b + j] = d * dv.getInt8(o + 2 + j);
      }
      break;
    case GgmlType.Q4_0:
      for (let b = 0; b < count / 32; b++) {
        const o = 18 * b;
        const d = f16BitsToF32(dv.getUint16(o, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j];
          out[32 * b + j] = d * ((q & 15) - 8);
          out[32 * b + j + 16] = d * ((q >> 4) - 8);
        }
      }
      break;
    case GgmlType.Q4_K:
      for (let b = 0; b < count / 256; b++) dequantQ4_K(bytes, dv, 144 * b, out, 256 * b);
      break;
    case GgmlType.Q6_K:
      for (let b = 0; b < count / 256; b++) dequantQ6_K(bytes, dv, 210 * b, out, 256 * b);
      break;
    default:
      throw new Error(`Unsupported tensor type ${type}`);
  }
  return out;
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `o`. */
export function scaleMinK4(bytes: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [bytes[o + j] & 63, bytes[o + j + 4] & 63];
  return [
    (bytes[o + j + 4] & 0xf) | ((bytes[o + j - 4] >> 6) << 4),
    (bytes[o + j + 4] >> 4) | ((bytes[o + j] >> 6) << 4),
  ];
}

function dequantQ4_K(bytes: Uint8Array, dv: DataView, o: number, out: Float32Array, e: number): void {
  const d = f16BitsToF32(dv.getUint16(o, true));
  const dmin = f16BitsToF32(dv.getUint16(o + 2, true));
  for (let c = 0; c < 4; c++) {
    const [sc1, m1] = scaleMinK4(bytes, o + 4, 2 * c);
    const [sc2, m2] = scaleMinK4(bytes, o + 4, 2 * c + 1);
    const d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
    for (let l = 0; l < 32; l++) {
      const q = bytes[o + 16 + 32 * c + l];
      out[e + 64 * c + l] = d1 * (q & 15) - mm1;
      out[e + 64 * c + 32 + l] = d2 * (q >> 4) - mm2;
    }
  }
}

function dequantQ6_K(bytes: Uint8Array, dv: DataView, o: number, out: Float32Array, e: number): void {
  const d = f16BitsToF32(dv.getUint16(o + 208, true));
  for (let h = 0; h < 2; h++) {
    const ql = o + 64 * h;
    const qh = o + 128 + 32 * h;
    const sc = o + 192 + 8 * h;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const hb = bytes[qh + l];
      const q1 = ((bytes[ql + l] & 15) | ((hb & 3) << 4)) - 32;
      const q2 = ((bytes[ql + l + 32] & 15) | (((hb >> 2) & 3) << 4)) - 32;
      const q3 = ((bytes[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
      const q4 = ((bytes[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
      const base = e + 128 * h;
      out[base + l] = d * dv.getInt8(sc + is) * q1;
      out[base + l + 32] = d * dv.getInt8(sc + is + 2) * q2;
      out[base + l + 64] = d * dv.getInt8(sc + is + 4) * q3;
      out[base + l + 96] = d * dv.getInt8(sc + is + 6) * q4;
    }
  }
}

function quantQ8_0(x: Float32Array, e: number, dv: DataView, o: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[e + j]));
  const dBits = f32ToF16Bits(amax / 127);
  const d = f16BitsToF32(dBits);
  const id = d ? 1 / d : 0;
  dv.setUint16(o, dBits, true);
  for (let j = 0; j < 32; j++) dv.setInt8(o + 2 + j, clamp(Math.round(x[e + j] * id), -127, 127));
}

function quantQ4_0(x: Float32Array, e: number, dv: DataView, o: number): void {
  // As ggml: the element of largest magnitude maps to −8 exactly, the rest round into −8..7.
  let amax = 0;
  let vmax = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[e + j];
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      vmax = v;
    }
  }
  const dBits = f32ToF16Bits(vmax / -8 || 0); // never -0
  const d = f16BitsToF32(dBits);
  const id = d ? 1 / d : 0;
  dv.setUint16(o, dBits, true);
  for (let j = 0; j < 16; j++) {
    const lo = clamp(Math.round(x[e + j] * id) + 8, 0, 15);
    const hi = clamp(Math.round(x[e + j + 16] * id) + 8, 0, 15);
    dv.setUint8(o + 2 + j, lo | (hi << 4));
  }
}

function quantQ4_K(x: Float32Array, e: number, dv: DataView, o: number): void {
  const scale = new Float64Array(8);
  const minv = new Float64Array(8);
  for (let s = 0; s < 8; s++) {
    let mn = 0;
    let mx = -Infinity;
    for (let l = 0; l < 32; l++) {
      const v = x[e + 32 * s + l];
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
    }
    scale[s] = Math.max(0, (mx - mn) / 15);
    minv[s] = -mn;
  }
  const dBits = f32ToF16Bits(Math.max(...scale) / 63);
  const mBits = f32ToF16Bits(Math.max(...minv) / 63);
  const d = f16BitsToF32(dBits);
  const dmin = f16BitsToF32(mBits);
  dv.setUint16(o, dBits, true);
  dv.setUint16(o + 2, mBits, true);
  const ls = new Uint8Array(8);
  const lm = new Uint8Array(8);
  for (let s = 0; s < 8; s++) {
    // Round the scale up so the top of the range never clamps; the min to nearest.
    ls[s] = d ? clamp(Math.ceil(scale[s] / d - 1e-6), 0, 63) : 0;
    lm[s] = dmin ? clamp(Math.round(minv[s] / dmin), 0, 63) : 0;
  }
  const sb = o + 4;
  for (let j = 0; j < 12; j++) dv.setUint8(sb + j, 0);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      dv.setUint8(sb + j, ls[j]);
      dv.setUint8(sb + j + 4, lm[j]);
    } else {
      dv.setUint8(sb + j + 4, (ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
      dv.setUint8(sb + j - 4, dv.getUint8(sb + j - 4) | ((ls[j] >> 4) << 6));
      dv.setUint8(sb + j, dv.getUint8(sb + j) | ((lm[j] >> 4) << 6));
    }
  }
  const q = new Uint8Array(256);
  for (let s = 0; s < 8; s++) {
    const sc = Math.fround(d * ls[s]);
    const m = Math.fround(dmin * lm[s]);
    for (let l = 0; l < 32; l++) {
      const v = x[e + 32 * s + l];
      q[32 * s + l] = sc ? clamp(Math.round((v + m) / sc), 0, 15) : 0;
    }
  }
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) dv.setUint8(o + 16 + 32 * c + l, q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

function quantQ6_K(x: Float32Array, e: number, dv: DataView, o: number): void {
  const sub = new Float64Array(16);
  for (let s = 0; s < 16; s++) {
    let amax = 0;
    let vmax = 0;
    for (let l = 0; l < 16; l++) {
      const v = x[e + 16 * s + l];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        vmax = v;
      }
    }
    sub[s] = vmax / -32 || 0; // the largest magnitude maps to −32, the rest into −32..31
  }
  let smax = 0;
  for (let s = 0; s < 16; s++) smax = Math.max(smax, Math.abs(sub[s]));
  const dBits = f32ToF16Bits(smax / 127);
  const d = f16BitsToF32(dBits);
  dv.setUint16(o + 208, dBits, true);
  const q = new Uint8Array(256);
  for (let s = 0; s < 16; s++) {
    const sc = d ? clamp(Math.round(sub[s] / d), -128, 127) : 0;
    dv.setInt8(o + 192 + s, sc);
    const eff = Math.fround(d * sc);
    for (let l = 0; l < 16; l++) {
      q[16 * s + l] = (eff ? clamp(Math.round(x[e + 16 * s + l] / eff), -32, 31) : 0) + 32;
    }
  }
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const b = 128 * h;
      const q1 = q[b + l], q2 = q[b + l + 32], q3 = q[b + l + 64], q4 = q[b + l + 96];
      dv.setUint8(o + 64 * h + l, (q1 & 15) | ((q3 & 15) << 4));
      dv.setUint8(o + 64 * h + l + 32, (q2 & 15) | ((q4 & 15) << 4));
      dv.setUint8(o + 128 + 32 * h + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}
