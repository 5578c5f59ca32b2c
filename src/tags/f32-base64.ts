/**
 * Float32 arrays as base64 of their little-endian bytes: the exact bits survive (−0, denormals,
 * every mantissa bit), unlike decimal JSON numbers, and the text is 4/3 of the binary size.
 * btoa/atob exist in browsers, workers and Node ≥ 16.
 */

const CHUNK = 0x8000; // String.fromCharCode(...bytes) of a larger slice can overflow the call stack

export function f32ToBase64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i], true);
  let bin = '';
  for (let o = 0; o < bytes.length; o += CHUNK) bin += String.fromCharCode(...bytes.subarray(o, o + CHUNK));
  return btoa(bin);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes base64 of little-endian f32 bytes and checks it holds `count` values, all finite.
 * Throws an Error with a plain message (the caller adds which field it was).
 */
export function base64ToF32(text: unknown, count: number): Float32Array<ArrayBuffer> {
  if (typeof text !== 'string') throw new Error(`expected a base64 string, got ${text === null ? 'null' : typeof text}`);
  if (!BASE64.test(text)) throw new Error('is not valid base64');
  const bin = atob(text);
  if (bin.length !== count * 4) {
    throw new Error(`holds ${bin.length} bytes (${bin.length / 4} floats), expected ${count} floats = ${count * 4} bytes`);
  }
  const dv = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) dv.setUint8(i, bin.charCodeAt(i));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const v = dv.getFloat32(4 * i, true);
    if (!Number.isFinite(v)) throw new Error(`value ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}
