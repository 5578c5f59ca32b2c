/**
 * The model's token embedding table on the CPU, and a fingerprint of it. Tags initialise from the
 * table, and a tag records the fingerprint of the table it was trained against so that loading it
 * into a different model (or a different quantization of it) is noticed.
 */
import { readBuffer } from '../gpu/memory';
import type { Engine } from '../model/model';
import { dequantize } from '../model/quant';
import { tensorBytes, TYPE_LAYOUT } from '../model/types';

// A 32k × 4096 table is 512 MiB in f32: read it in pieces so the staging buffer stays small, and
// keep one copy per engine (the table never changes: the model is frozen).
const CHUNK_BYTES = 32 << 20;
const cache = new WeakMap<Engine, Promise<Float32Array<ArrayBuffer>>>();

/** f32 [vocab, d] copy of `engine.weights.tokEmbd` (dequantized), read once per engine. */
export function embeddingTable(engine: Engine): Promise<Float32Array<ArrayBuffer>> {
  let p = cache.get(engine);
  if (!p) {
    p = readEmbeddingTable(engine);
    cache.set(engine, p);
    p.catch(() => cache.delete(engine)); // a failed read (device lost…) may be retried
  }
  return p;
}

/** Uncached read of the table, `chunkBytes` at a time (tests pass a small size to exercise chunking). */
export async function readEmbeddingTable(engine: Engine, chunkBytes = CHUNK_BYTES): Promise<Float32Array<ArrayBuffer>> {
  const t = engine.weights.tokEmbd;
  const vocab = engine.config.vocabSize;
  const d = engine.config.dModel;
  const rowBytes = tensorBytes(t.type, d);
  if (!Number.isInteger(rowBytes) || d % TYPE_LAYOUT[t.type].blockElems !== 0) {
    throw new Error(`Embedding rows of ${d} values do not fill whole ${TYPE_LAYOUT[t.type].name} blocks.`);
  }
  // Whole rows, a multiple of 4 of them, so every chunk starts on a 4-byte boundary as copies require.
  const rowsPer = Math.max(4, Math.floor(chunkBytes / rowBytes / 4) * 4);
  const out = new Float32Array(vocab * d);
  for (let r0 = 0; r0 < vocab; r0 += rowsPer) {
    const rows = Math.min(rowsPer, vocab - r0);
    const bytes = new Uint8Array(await readBuffer(engine.gpu, t.buffer, r0 * rowBytes, rows * rowBytes));
    out.set(dequantize(t.type, bytes, rows * d), r0 * d);
  }
  return out;
}

const SAMPLE_ROWS = 64;
const SAMPLE_DIMS = 256;

/**
 * 16 hex digits (64 bits of SHA-256) over vocab, d and a fixed, evenly spaced sample of up to
 * 64 rows × 256 dims, as little-endian f32 bytes. Sampling keeps it fast on 7B tables; evenly spaced
 * rows span the whole vocabulary, so a different model or quantization changes it. Uses
 * crypto.subtle, present in Node ≥ 20 and in browsers (secure contexts).
 */
export async function embeddingFingerprint(table: Float32Array, vocab: number, d: number): Promise<string> {
  if (table.length < vocab * d) throw new Error(`Embedding table has ${table.length} values, expected vocab·d = ${vocab * d}.`);
  const rows = spread(vocab, SAMPLE_ROWS);
  const dims = spread(d, SAMPLE_DIMS);
  const buf = new DataView(new ArrayBuffer(8 + rows.length * dims.length * 4));
  buf.setUint32(0, vocab, true);
  buf.setUint32(4, d, true);
  let o = 8;
  for (const r of rows) {
    for (const j of dims) {
      buf.setFloat32(o, table[r * d + j], true);
      o += 4;
    }
  }
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', buf.buffer));
  return [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Up to `k` distinct indices spread evenly over 0..n−1, first and last included. */
function spread(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1)));
}
