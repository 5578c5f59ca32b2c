import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  dequantize,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantize,
} from '../../src/model/quant';
import { GgmlType, TYPE_LAYOUT, tensorBytes } from '../../src/model/types';
import { randn, rng } from '../helpers/gpu';

const ALL = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];

function rmsRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('half-precision helpers', () => {
  it('encodes known f16 bit patterns', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(0.5)).toBe(0x3800);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds to +inf
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(3 * 2 ** -16)).toBe(0x0300);
    expect(f32ToF16Bits(2 ** -26)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    // ties to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('decodes f16 and round-trips every finite pattern', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });

  it('encodes and decodes bf16', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049);
    expect(f32ToBf16Bits(-1.5)).toBe(0xbfc0);
    expect(bf16BitsToF32(0x4049)).toBeCloseTo(3.140625, 10);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });
});

describe('dequantize hand-built blocks', () => {
  it('Q8_0', () => {
    const b = new Uint8Array(34);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0x3800, true); // d = 0.5
    for (let j = 0; j < 32; j++) dv.setInt8(2 + j, j * 8 - 128);
    const got = dequantize(GgmlType.Q8_0, b, 32);
    for (let j = 0; j < 32; j++) expect(got[j]).toBe(0.5 * (j * 8 - 128));
  });

  it('Q4_0: low nibble = element j, high nibble = element j + 16', () => {
    const b = new Uint8Array(36);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0x4000, true); // d = 2
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    dv.setUint16(18, 0xb400, true); // d = -0.25
    for (let j = 0; j < 16; j++) b[20 + j] = 0x8f;
    const got = dequantize(GgmlType.Q4_0, b, 64);
    for (let j = 0; j < 16; j++) {
      expect(got[j]).toBe(2 * (j - 8));
      expect(got[j + 16]).toBe(2 * (15 - j - 8));
      expect(got[32 + j]).toBe(-0.25 * 7);
      expect(got[48 + j] === 0).toBe(true); // -0 with a negative d
    }
  });

  it('Q4_K: 6-bit scales/mins in get_scale_min_k4 packing, 64-element chunks of nibbles', () => {
    const sc = [1, 2, 3, 4, 17, 33, 50, 63];
    const mn = [5, 6, 7, 8, 20, 40, 60, 31];
    const q = (i: number) => (i * 7 + (i >> 5)) % 16;
    const b = new Uint8Array(144 * 2);
    for (let blk = 0; blk < 2; blk++) {
      const o = 144 * blk;
      const dv = new DataView(b.buffer, o);
      dv.setUint16(0, blk === 0 ? 0x3c00 : 0x3800, true); // d = 1 / 0.5
      dv.setUint16(2, blk === 0 ? 0x3800 : 0x4000, true); // dmin = 0.5 / 2
      // scales bytes 0..3: low 6 bits sc[0..3], top 2 bits = sc[4..7] >> 4
      // bytes 4..7: low 6 bits mn[0..3], top 2 bits = mn[4..7] >> 4
      // bytes 8..11: low nibble sc[4..7] & 15, high nibble mn[4..7] & 15
      for (let j = 0; j < 4; j++) {
        b[o + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        b[o + 8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6);
        b[o + 12 + j] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
      }
      for (let i = 0; i < 256; i++) {
        const c = i >> 6;
        const w = i & 63;
        const byte = o + 16 + 32 * c + (w & 31);
        b[byte] |= w < 32 ? q(i) : q(i) << 4;
      }
    }
    const got = dequantize(GgmlType.Q4_K, b, 512);
    for (let blk = 0; blk < 2; blk++) {
      const d = blk === 0 ? 1 : 0.5;
      const dmin = blk === 0 ? 0.5 : 2;
      for (let i = 0; i < 256; i++) {
        const s = i >> 5;
        expect(got[256 * blk + i]).toBe(d * sc[s] * q(i) - dmin * mn[s]);
      }
    }
  });

  it('Q6_K: ql/qh/scales/d in ggml order', () => {
    const scales = [1, -2, 3, -4, 5, 127, -128, 8, 9, 10, -11, 12, 13, 14, 15, -1];
    const q = (i: number) => (i * 13 + 5) % 64;
    const b = new Uint8Array(210);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 256; i++) {
      const h = i >> 7;
      const r = i & 127;
      const qd = r >> 5;
      const l = r & 31;
      const qlByte = 64 * h + l + 32 * (qd & 1);
      b[qlByte] |= qd >= 2 ? (q(i) & 15) << 4 : q(i) & 15;
      b[128 + 32 * h + l] |= (q(i) >> 4) << (2 * qd);
    }
    for (let s = 0; s < 16; s++) dv.setInt8(192 + s, scales[s]);
    dv.setUint16(208, 0x3400, true); // d = 0.25
    const got = dequantize(GgmlType.Q6_K, b, 256);
    for (let i = 0; i < 256; i++) expect(got[i]).toBe(0.25 * scales[i >> 4] * (q(i) - 32));
  });

  it('F16 / BF16 / F32 are little-endian element arrays', () => {
    const h = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]);
    expect(Array.from(dequantize(GgmlType.F16, h, 2))).toEqual([1, -2]);
    const bf = new Uint8Array([0x80, 0x3f, 0xc0, 0xbf]);
    expect(Array.from(dequantize(GgmlType.BF16, bf, 2))).toEqual([1, -1.5]);
    const f = new Uint8Array(new Float32Array([3.5, -0.25]).buffer);
    expect(Array.from(dequantize(GgmlType.F32, f, 2))).toEqual([3.5, -0.25]);
  });
});

describe('quantize', () => {
  const tol: Record<GgmlType, number> = {
    [GgmlType.F32]: 1e-7,
    [GgmlType.F16]: 5e-4,
    [GgmlType.BF16]: 4e-3,
    [GgmlType.Q8_0]: 0.01,
    [GgmlType.Q4_0]: 0.15,
    [GgmlType.Q4_K]: 0.12,
    [GgmlType.Q6_K]: 0.04,
  };
  for (const type of ALL) {
    it(`${TYPE_LAYOUT[type].name}: produces the GGUF size and dequantizes close to the input`, () => {
      const r = rng(7 + type);
      const n = 1024;
      const x = Float32Array.from(randn(r, n, 0.3));
      // a few outliers and an all-zero block exercise the scale paths
      x[5] = 3;
      x[300] = -2.5;
      for (let i = 512; i < 768; i++) x[i] = 0;
      const bytes = quantize(type, x);
      expect(bytes.byteLength).toBe(tensorBytes(type, n));
      const y = dequantize(type, bytes, n);
      expect(rmsRel(y, x)).toBeLessThan(tol[type]);
      for (let i = 512; i < 768; i++) expect(y[i]).toBe(0);
      // quantizing what was dequantized is stable (a valid block re-encodes to the same values)
      const y2 = dequantize(type, quantize(type, y), n);
      expect(rmsRel(y2, y)).toBeLessThan(tol[type]);
    });
  }

  it('rejects element counts that are not a multiple of the block', () => {
    expect(() => quantize(GgmlType.Q4_K, new Float32Array(100))).toThrow(/multiple/);
    expect(() => dequantize(GgmlType.Q8_0, new Uint8Array(10), 32)).toThrow(/bytes/);
  });
});
