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

/**
 * Canonical base64 check in one linear pass. A regex with a repeated group backtracks through a
 * stack frame per group in V8 and overflows the call stack on ~1M floats (5 MB of text).
 */
function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const end = text.length - pad;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

/**
 * Decodes base64 of little-endian f32 bytes and checks it holds `count` values, all finite.
 * Throws an Error with a plain message (the caller adds which field it was).
 */
export function base64ToF32(text: unknown, count: number): Float32Array<ArrayBuffer> {
  if (typeof text !== 'string') throw new Error(`expected a base64 string, got ${text === null ? 'null' : typeof text}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`declared count ${count} is not a whole number ≥ 0`);
  if (!isBase64(text)) throw new Error('is not valid base64');
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
