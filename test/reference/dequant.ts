/**
 * Float64 dequantization written from GGML's block layouts (ggml-common.h / ggml-quants.c,
 * dequantize_row_*), independently of src/model/quant.ts, so that the CPU reference forward does not
 * share a bug with the code it checks. Type ids are GGML's (ggml_type).
 *
 *   F32   0  4 bytes, little-endian IEEE single
 *   F16   1  2 bytes, IEEE half
 *   BF16 30  2 bytes, the upper half of an IEEE single
 *   Q8_0  8  block of 32: d (f16), qs[32] (int8)                     y = d·q
 *   Q4_0  2  block of 32: d (f16), qs[16] (low nibbles = 0..15, high nibbles = 16..31)
 *                                                                      y = d·(q − 8)
 *   Q4_K 12  super-block of 256: d, dmin (f16), scales[12] (eight 6-bit scale/min pairs), qs[128]
 *            (4-bit; each 64 values = 32 bytes, low nibbles then high nibbles)   y = d·sc·q − dmin·m
 *   Q6_K 14  super-block of 256: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (f16)
 *                                                                      y = d·sc·(q − 32)
 */
export const REF_TYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 } as const;

/** IEEE 754 half → number, from its bits: sign, 5-bit exponent (bias 15), 10-bit fraction. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal: 0.frac × 2^-14
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 → number: the 16 bits are the top of an IEEE single. */
export function bf16ToNumber(b: number): number {
  const sign = b & 0x8000 ? -1 : 1;
  const exp = (b >> 7) & 0xff;
  const frac = b & 0x7f;
  if (exp === 0) return sign * frac * 2 ** -133; // subnormal: 0.frac × 2^-126, 7 fraction bits
  if (exp === 255) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 128) * 2 ** (exp - 127);
}

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const i8 = (x: number) => (x << 24) >> 24;

/** Bytes per block and values per block of each type. */
export const REF_BLOCK: Readonly<Record<number, { bytes: number; values: number }>> = {
  0: { bytes: 4, values: 1 },
  1: { bytes: 2, values: 1 },
  30: { bytes: 2, values: 1 },
  8: { bytes: 34, values: 32 },
  2: { bytes: 18, values: 32 },
  12: { bytes: 144, values: 256 },
  14: { bytes: 210, values: 256 },
};

/** Dequantizes `count` values of GGML type `type` from `bytes` into float64. */
export function dequantRef(type: number, bytes: Uint8Array, count: number): Float64Array {
  const blk = REF_BLOCK[type];
  if (!blk) throw new Error(`dequantRef: GGML type ${type} is not supported`);
  if (count % blk.values !== 0) throw new Error(`dequantRef: ${count} values is not a whole number of blocks of ${blk.values}`);
  const need = (count / blk.values) * blk.bytes;
  if (bytes.length < need) throw new Error(`dequantRef: ${count} values need ${need} bytes, got ${bytes.length}`);
  const y = new Float64Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count / blk.values; b++) {
    const o = b * blk.bytes;
    const out = b * blk.values;
    switch (type) {
      case 0:
        y[out] = dv.getFloat32(o, true);
        break;
      case 1:
        y[out] = halfToNumber(u16(bytes, o));
        break;
      case 30:
        y[out] = bf16ToNumber(u16(bytes, o));
        break;
      case 8: {
        const d = halfToNumber(u16(bytes, o));
        for (let j = 0; j < 32; j++) y[out + j] = d * i8(bytes[o + 2 + j]);
        break;
      }
      case 2: {
        const d = halfToNumber(u16(bytes, o));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j];
          y[out + j] = d * ((q & 0x0f) - 8);
          y[out + j + 16] = d * ((q >> 4) - 8);
        }
        break;
      }
      case 12: {
        const d = halfToNumber(u16(bytes, o));
        const dmin = halfToNumber(u16(bytes, o + 2));
        const sc = bytes.subarray(o + 4, o + 16);
        const qs = o + 16;
        // Sub-block j (0..7) of 32 values: 6-bit scale and min. j < 4: low 6 bits of sc[j], sc[j+4];
        // j ≥ 4: low nibble / high nibble of sc[j+4], topped with the 2 high bits of sc[j−4] / sc[j].
        const scale = (j: number) => (j < 4 ? sc[j] & 63 : (sc[j + 4] & 0x0f) | ((sc[j - 4] >> 6) << 4));
        const min = (j: number) => (j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4));
        for (let g = 0; g < 4; g++) {
          // 64 values from 32 bytes: sub-block 2g from the low nibbles, 2g+1 from the high nibbles.
          for (let l = 0; l < 32; l++) {
            const q = bytes[qs + 32 * g + l];
            y[out + 64 * g + l] = d * scale(2 * g) * (q & 0x0f) - dmin * min(2 * g);
            y[out + 64 * g + 32 + l] = d * scale(2 * g + 1) * (q >> 4) - dmin * min(2 * g + 1);
          }
        }
        break;
      }
      case 14: {
        const ql = o;
        const qh = o + 128;
        const scales = o + 192;
        const d = halfToNumber(u16(bytes, o + 208));
        for (let half = 0; half < 2; half++) {
          // Each half: 128 values from ql[64], qh[32], scales[8]; four runs of 32 values.
          const L = ql + 64 * half;
          const H = qh + 32 * half;
          const S = scales + 8 * half;
          for (let l = 0; l < 32; l++) {
            const s = l >> 4; // 16 values per scale
            const h = bytes[H + l];
            const q1 = (bytes[L + l] & 0x0f) | ((h & 3) << 4);
            const q2 = (bytes[L + 32 + l] & 0x0f) | (((h >> 2) & 3) << 4);
            const q3 = (bytes[L + l] >> 4) | (((h >> 4) & 3) << 4);
            const q4 = (bytes[L + 32 + l] >> 4) | (((h >> 6) & 3) << 4);
            const base = out + 128 * half;
            y[base + l] = d * i8(bytes[S + s]) * (q1 - 32);
            y[base + 32 + l] = d * i8(bytes[S + s + 2]) * (q2 - 32);
            y[base + 64 + l] = d * i8(bytes[S + s + 4]) * (q3 - 32);
            y[base + 96 + l] = d * i8(bytes[S + s + 6]) * (q4 - 32);
          }
        }
        break;
      }
    }
  }
  return y;
}
