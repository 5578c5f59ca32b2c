/**
 * Finds the first non-finite value in a chunk of a tensor as stored in its file: the floats of
 * F32 / F16 / BF16 tensors, and the f16 scales (d, and dmin for Q4_K) of quantized blocks — a NaN
 * scale makes a whole block NaN once dequantized. Runs on each chunk while weights stream to the
 * GPU, where the bytes are in CPU memory anyway.
 */
import { GgmlType, TYPE_LAYOUT } from './types';

export interface NonFinite {
  /** "value" for float tensors, or which block scale. */
  what: string;
  /** NaN, Infinity or -Infinity. */
  value: number;
  /** Index of the element (float tensors) or of the first element of the block (quantized). */
  element: number;
}

/** Byte offsets of the f16 scales within one block, and their names. */
const SCALES: Partial<Record<GgmlType, Array<[number, string]>>> = {
  [GgmlType.Q8_0]: [[0, 'block scale d']],
  [GgmlType.Q4_0]: [[0, 'block scale d']],
  [GgmlType.Q4_K]: [
    [0, 'block scale d'],
    [2, 'block scale dmin'],
  ],
  [GgmlType.Q6_K]: [[208, 'block scale d']],
};

const F16_EXP = 0x7c00;
const BF16_EXP = 0x7f80;

function f16Special(bits: number): number {
  return bits & 0x3ff ? NaN : bits & 0x8000 ? -Infinity : Infinity;
}

/**
 * `bytes` are the tensor's bytes from `tensorOffset` on (chunks start anywhere; every value and
 * every scale is 2-byte aligned within its tensor, and chunks have even sizes, so none straddles).
 */
export function nonFiniteAt(type: GgmlType, bytes: Uint8Array, tensorOffset: number): NonFinite | null {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  switch (type) {
    case GgmlType.F32: {
      const first = tensorOffset / 4;
      for (let o = 0; o + 4 <= n; o += 4) {
        const v = dv.getFloat32(o, true);
        if (!Number.isFinite(v)) return { what: 'value', value: v, element: first + o / 4 };
      }
      return null;
    }
    case GgmlType.F16:
    case GgmlType.BF16: {
      const exp = type === GgmlType.F16 ? F16_EXP : BF16_EXP;
      const first = tensorOffset / 2;
      for (let o = 0; o + 2 <= n; o += 2) {
        const b = dv.getUint16(o, true);
        if ((b & exp) === exp) {
          const value = type === GgmlType.F16 ? f16Special(b) : bf16Special(b);
          return { what: 'value', value, element: first + o / 2 };
        }
      }
      return null;
    }
    default: {
      const scales = SCALES[type];
      const layout = TYPE_LAYOUT[type];
      if (!scales || !layout) return null;
      const bs = layout.blockBytes;
      // First block whose start is at or after this chunk's start; a block that began in the
      // previous chunk had its scales (at its start, or for Q6_K at 208 of 210) checked there.
      let block = Math.ceil(tensorOffset / bs);
      for (;;) {
        const start = block * bs - tensorOffset;
        if (start >= n) break;
        for (const [at, what] of scales) {
          const o = start + at;
          if (o + 2 > n) continue;
          const b = dv.getUint16(o, true);
          if ((b & F16_EXP) === F16_EXP) return { what, value: f16Special(b), element: block * layout.blockElems };
        }
        block++;
      }
      // A block that started in the previous chunk may keep its scales in this one (Q6_K's d at 208).
      const prev = Math.floor(tensorOffset / bs);
      if (prev * bs < tensorOffset) {
        for (const [at, what] of scales) {
          const o = prev * bs + at - tensorOffset;
          if (o < 0 || o + 2 > n) continue;
          const b = dv.getUint16(o, true);
          if ((b & F16_EXP) === F16_EXP) return { what, value: f16Special(b), element: prev * layout.blockElems };
        }
      }
      return null;
    }
  }
}

function bf16Special(bits: number): number {
  return bits & 0x7f ? NaN : bits & 0x8000 ? -Infinity : Infinity;
}
