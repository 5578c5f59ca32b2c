/**
 * Every GGML tensor type a file may carry, supported or not, so that messages can name what a
 * file holds and size checks can work before we decide to reject a tensor.
 */
import { GgmlType, TYPE_LAYOUT, isSupportedType } from './types';

interface TypeInfo {
  name: string;
  blockElems: number;
  blockBytes: number;
}

/** Indexed by GGUF type number. Removed types (4, 5, 31–33, 36–38) keep their name for messages. */
const ALL_TYPES: Record<number, TypeInfo> = {
  0: { name: 'F32', blockElems: 1, blockBytes: 4 },
  1: { name: 'F16', blockElems: 1, blockBytes: 2 },
  2: { name: 'Q4_0', blockElems: 32, blockBytes: 18 },
  3: { name: 'Q4_1', blockElems: 32, blockBytes: 20 },
  4: { name: 'Q4_2 (removed)', blockElems: 32, blockBytes: 18 },
  5: { name: 'Q4_3 (removed)', blockElems: 32, blockBytes: 20 },
  6: { name: 'Q5_0', blockElems: 32, blockBytes: 22 },
  7: { name: 'Q5_1', blockElems: 32, blockBytes: 24 },
  8: { name: 'Q8_0', blockElems: 32, blockBytes: 34 },
  9: { name: 'Q8_1', blockElems: 32, blockBytes: 36 },
  10: { name: 'Q2_K', blockElems: 256, blockBytes: 84 },
  11: { name: 'Q3_K', blockElems: 256, blockBytes: 110 },
  12: { name: 'Q4_K', blockElems: 256, blockBytes: 144 },
  13: { name: 'Q5_K', blockElems: 256, blockBytes: 176 },
  14: { name: 'Q6_K', blockElems: 256, blockBytes: 210 },
  15: { name: 'Q8_K', blockElems: 256, blockBytes: 292 },
  16: { name: 'IQ2_XXS', blockElems: 256, blockBytes: 66 },
  17: { name: 'IQ2_XS', blockElems: 256, blockBytes: 74 },
  18: { name: 'IQ3_XXS', blockElems: 256, blockBytes: 98 },
  19: { name: 'IQ1_S', blockElems: 256, blockBytes: 50 },
  20: { name: 'IQ4_NL', blockElems: 32, blockBytes: 18 },
  21: { name: 'IQ3_S', blockElems: 256, blockBytes: 110 },
  22: { name: 'IQ2_S', blockElems: 256, blockBytes: 82 },
  23: { name: 'IQ4_XS', blockElems: 256, blockBytes: 136 },
  24: { name: 'I8', blockElems: 1, blockBytes: 1 },
  25: { name: 'I16', blockElems: 1, blockBytes: 2 },
  26: { name: 'I32', blockElems: 1, blockBytes: 4 },
  27: { name: 'I64', blockElems: 1, blockBytes: 8 },
  28: { name: 'F64', blockElems: 1, blockBytes: 8 },
  29: { name: 'IQ1_M', blockElems: 256, blockBytes: 56 },
  30: { name: 'BF16', blockElems: 1, blockBytes: 2 },
  31: { name: 'Q4_0_4_4 (removed)', blockElems: 32, blockBytes: 18 },
  32: { name: 'Q4_0_4_8 (removed)', blockElems: 32, blockBytes: 18 },
  33: { name: 'Q4_0_8_8 (removed)', blockElems: 32, blockBytes: 18 },
  34: { name: 'TQ1_0', blockElems: 256, blockBytes: 54 },
  35: { name: 'TQ2_0', blockElems: 256, blockBytes: 66 },
  36: { name: 'IQ4_NL_4_4 (removed)', blockElems: 32, blockBytes: 18 },
  37: { name: 'IQ4_NL_4_8 (removed)', blockElems: 32, blockBytes: 18 },
  38: { name: 'IQ4_NL_8_8 (removed)', blockElems: 32, blockBytes: 18 },
  39: { name: 'MXFP4', blockElems: 32, blockBytes: 17 },
};

/** "Q5_K (13)", or "unknown type 99" for numbers no ggml version has used. */
export function ggmlTypeLabel(t: number): string {
  const info = ALL_TYPES[t];
  return info ? `${info.name} (${t})` : `unknown type ${t}`;
}

/** Layout of any known type (supported or not); undefined for unknown numbers. */
export function ggmlTypeInfo(t: number): TypeInfo | undefined {
  return ALL_TYPES[t];
}

/** "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K": the types the engine accepts, for messages. */
export function supportedTypeList(): string {
  return [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K]
    .filter(isSupportedType)
    .map((t) => TYPE_LAYOUT[t].name)
    .join(', ');
}

/** Bytes of `count` elements of any known type, or null when the type is unknown or count isn't whole blocks. */
export function ggmlTensorBytes(t: number, count: number): number | null {
  const info = ALL_TYPES[t];
  if (!info || count % info.blockElems !== 0) return null;
  return (count / info.blockElems) * info.blockBytes;
}
