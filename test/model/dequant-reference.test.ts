/**
 * src/model/quant.ts against the independent float64 dequantization of test/reference/dequant.ts
 * (written from GGML's block layouts) on random bytes of every supported type — every bit pattern of
 * the quants, scales and mins, with finite f16 scales — plus hand-computed values that pin the
 * reference itself to the layout.
 */
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/model/quant';
import { GgmlType } from '../../src/model/types';
import { bf16ToNumber, dequantRef, halfToNumber, REF_BLOCK, REF_TYPES } from '../reference/dequant';
import { rng } from '../helpers/gpu';

/** Random bytes for `blocks` blocks of `type`, with every f16 scale field a finite value in ±[2^-10, 2). */
function randomBlocks(type: number, blocks: number, seed: number): Uint8Array {
  const r = rng(seed);
  const { bytes } = REF_BLOCK[type];
  const b = Uint8Array.from({ length: blocks * bytes }, () => Math.floor(r() * 256));
  const finiteHalf = (o: number) => {
    const exp = 5 + Math.floor(r() * 11); // 2^-10 … 2^0
    const h = (r() < 0.5 ? 0x8000 : 0) | (exp << 10) | Math.floor(r() * 1024);
    b[o] = h & 0xff;
    b[o + 1] = h >> 8;
  };
  for (let k = 0; k < blocks; k++) {
    const o = k * bytes;
    if (type === REF_TYPES.Q8_0 || type === REF_TYPES.Q4_0) finiteHalf(o);
    if (type === REF_TYPES.Q4_K) {
      finiteHalf(o);
      finiteHalf(o + 2);
    }
    if (type === REF_TYPES.Q6_K) finiteHalf(o + 208);
    if (type === REF_TYPES.F16 || type === REF_TYPES.BF16) {
      // Keep exponents off all-ones (Inf/NaN) so the comparison is between numbers.
      const hi = o + 1;
      if (type === REF_TYPES.F16 && ((b[hi] >> 2) & 0x1f) === 31) b[hi] &= ~0x04;
      if (type === REF_TYPES.BF16 && (((b[hi] & 0x7f) << 1) | (b[o] >> 7)) === 255) b[hi] &= ~0x01;
    }
    if (type === REF_TYPES.F32) new DataView(b.buffer).setFloat32(o, (r() - 0.5) * 1e3, true);
  }
  return b;
}

const TYPES: Array<[string, number, GgmlType]> = [
  ['F32', REF_TYPES.F32, GgmlType.F32],
  ['F16', REF_TYPES.F16, GgmlType.F16],
  ['BF16', REF_TYPES.BF16, GgmlType.BF16],
  ['Q8_0', REF_TYPES.Q8_0, GgmlType.Q8_0],
  ['Q4_0', REF_TYPES.Q4_0, GgmlType.Q4_0],
  ['Q4_K', REF_TYPES.Q4_K, GgmlType.Q4_K],
  ['Q6_K', REF_TYPES.Q6_K, GgmlType.Q6_K],
];

describe('quant.ts agrees with the independent GGML-layout reference', () => {
  for (const [name, refType, type] of TYPES) {
    it(name, () => {
      expect(refType).toBe(type); // the same GGML type ids
      const { values } = REF_BLOCK[refType];
      const blocks = Math.max(3, Math.ceil(1024 / values));
      const bytes = randomBlocks(refType, blocks, 17 + refType);
      const n = blocks * values;
      const ref = dequantRef(refType, bytes, n);
      const got = dequantize(type, bytes, n);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        // quant.ts works in float32; the reference in float64: equal to f32 rounding of the products.
        const err = Math.abs(got[i] - ref[i]) / Math.max(1e-30, Math.abs(ref[i]), 1e-6);
        if (err > worst) worst = err;
      }
      expect(worst).toBeLessThan(1e-6);
      expect(ref.every(Number.isFinite)).toBe(true);
    });
  }
});

describe('the reference itself, by hand', () => {
  it('decodes half and bfloat16 bit patterns', () => {
    expect(halfToNumber(0x3c00)).toBe(1);
    expect(halfToNumber(0xc000)).toBe(-2);
    expect(halfToNumber(0x0001)).toBe(2 ** -24);
    expect(halfToNumber(0x7bff)).toBe(65504);
    expect(halfToNumber(0x7c00)).toBe(Infinity);
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0xc0a0)).toBe(-5);
  });

  it('Q4_0: low nibbles are values 0–15, high nibbles 16–31, offset 8', () => {
    const b = new Uint8Array(18);
    b[0] = 0x00;
    b[1] = 0x40; // d = 2
    b[2] = 0x9f; // value 0: 15 − 8 = 7; value 16: 9 − 8 = 1
    const y = dequantRef(REF_TYPES.Q4_0, b, 32);
    expect(y[0]).toBe(14);
    expect(y[16]).toBe(2);
    expect(y[1]).toBe(-16); // nibble 0 → −8 · 2
  });

  it('Q4_K: 6-bit scales and mins, sub-blocks 4–7 taking their high bits from bytes 0–7', () => {
    const b = new Uint8Array(144);
    b[1] = 0x3c; // d = 1
    b[3] = 0x38; // dmin = 0.5
    const sc = 4;
    b[sc + 0] = 3; // sub-block 0: scale 3
    b[sc + 4] = 2; // sub-block 0: min 2
    b[sc + 8] = 0x15; // sub-block 4: scale low nibble 5, min low nibble 1
    b[sc + 0] |= 0x40; // scale of sub-block 4 gets high bits 01 → 16 + 5 = 21
    b[16] = 0x07; // value 0 (sub-block 0) = 7, value 32 (sub-block 1) = 0
    b[16 + 64] = 0x02; // value 128 (sub-block 4) = 2
    const y = dequantRef(REF_TYPES.Q4_K, b, 256);
    expect(y[0]).toBe(1 * 3 * 7 - 0.5 * 2);
    expect(y[128]).toBe(1 * 21 * 2 - 0.5 * 1);
  });

  it('Q6_K: 4 low bits from ql, 2 high bits from qh, int8 scales per 16 values, offset 32', () => {
    const b = new Uint8Array(210);
    b[208] = 0x00;
    b[209] = 0x38; // d = 0.5
    b[0] = 0x0a; // value 0 low = 10; value 64 low = 0
    b[128] = 0x02; // qh[0]: value 0 high bits 2 → q = 32 + 10 = 42
    b[192] = 0xfe; // scale 0 = −2
    b[192 + 4] = 3; // scale of values 64…79
    const y = dequantRef(REF_TYPES.Q6_K, b, 256);
    expect(y[0]).toBe(0.5 * -2 * (42 - 32));
    expect(y[64]).toBe(0.5 * 3 * (0 - 32));
  });
});
