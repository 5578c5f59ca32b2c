/**
 * GGUF metadata values with their stored type kept explicit. JavaScript numbers alone can't say
 * whether a value was u32 or f32, so the writer takes tagged values and the reader can return
 * them, which is what makes write → read round trips exact.
 */

/** GGUF's value type codes. */
export const GGUF_TYPE_CODE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufTypeName = keyof typeof GGUF_TYPE_CODE;
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigType = 'u64' | 'i64';
export type GgufScalarType = GgufNumberType | GgufBigType | 'bool' | 'string';

/** Plain (untagged) scalar as the reader returns it; 64-bit integers are numbers when safe, else bigint. */
export type GgufPlainScalar = number | bigint | boolean | string;

export type GgufArray =
  | { type: 'array'; elemType: GgufScalarType; value: GgufPlainScalar[] }
  | { type: 'array'; elemType: 'array'; value: GgufArray[] };

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigType; value: number | bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArray;

const TYPE_BY_CODE: GgufTypeName[] = [];
for (const [name, code] of Object.entries(GGUF_TYPE_CODE)) TYPE_BY_CODE[code] = name as GgufTypeName;

export function ggufTypeFromCode(code: number): GgufTypeName | undefined {
  return TYPE_BY_CODE[code];
}

/** Tag helpers: `gv.u32(5)`, `gv.str('llama')`, `gv.arr('string', tokens)`, `gv.arrOfArr([...])`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  u64: (value: number | bigint): GgufValue => ({ type: 'u64', value }),
  i64: (value: number | bigint): GgufValue => ({ type: 'i64', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  arr: (elemType: GgufScalarType, value: GgufPlainScalar[]): GgufArray => ({ type: 'array', elemType, value }),
  arrOfArr: (value: GgufArray[]): GgufArray => ({ type: 'array', elemType: 'array', value }),
};

/** The plain value a tagged one stands for (nested arrays become nested plain arrays). */
export function ggufPlain(v: GgufValue): unknown {
  if (v.type !== 'array') return v.value;
  if (v.elemType === 'array') return (v.value as GgufArray[]).map(ggufPlain);
  return v.value;
}
