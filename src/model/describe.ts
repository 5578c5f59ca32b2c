/**
 * One entry point for any model file: sniffs GGUF (magic), safetensors (length-prefixed JSON
 * header) or llama2.c (no magic: the header must imply exactly the file's size).
 */
import type { ByteSource } from './source';
import { describeGguf, GGUF_MAGIC } from './gguf';
import { describeLlama2c, llama2cExpectedSize, parseLlama2cHeader, LLAMA2C_HEADER_BYTES } from './llama2c';
import { describeSafetensors } from './safetensors';
import { ModelFormatError, type ModelDescription } from './types';

export type ModelFormat = ModelDescription['format'];

/** Which reader fits the first bytes; the llama2.c guess also needs the file size to agree. */
export async function sniffFormat(src: ByteSource, signal?: AbortSignal): Promise<ModelFormat | null> {
  const size = await src.size();
  const head = await src.read(0, Math.min(size, 32), signal);
  if (head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === GGUF_MAGIC) return 'gguf';
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(size - 8) && head[8] === 0x7b /* '{' */) return 'safetensors';
  }
  const h = parseLlama2cHeader(head);
  if (h && llama2cExpectedSize(h) === size) return 'llama2c';
  return null;
}

/** A header whose numbers are within the range of real models, to tell a truncated checkpoint from noise. */
function plausibleLlama2c(head: Uint8Array): boolean {
  const h = parseLlama2cHeader(head);
  return (
    !!h &&
    h.dim <= 1 << 16 &&
    h.hiddenDim <= 1 << 18 &&
    h.nLayers <= 1024 &&
    h.nHeads <= 1024 &&
    h.vocabSize <= 1 << 21 &&
    h.seqLen <= 1 << 24
  );
}

export async function describeModel(
  src: ByteSource,
  extra: { configJson?: unknown; signal?: AbortSignal } = {},
): Promise<ModelDescription> {
  const format = await sniffFormat(src, extra.signal);
  switch (format) {
    case 'gguf':
      return describeGguf(src, extra.signal);
    case 'llama2c':
      return describeLlama2c(src, extra.signal);
    case 'safetensors':
      if (extra.configJson === undefined) {
        throw new ModelFormatError(
          `"${src.name}" is a safetensors checkpoint; load its config.json together with it (it holds the model's dimensions).`,
        );
      }
      return describeSafetensors(src, extra.configJson, extra.signal);
  }
  const size = await src.size();
  const head = await src.read(0, Math.min(size, 64), extra.signal);
  // A checkpoint cut short still has a sensible header: let the llama2.c reader explain the size mismatch.
  if (size >= LLAMA2C_HEADER_BYTES && plausibleLlama2c(head)) return describeLlama2c(src, extra.signal);
  const text = new TextDecoder().decode(head).trimStart().toLowerCase();
  if (text.startsWith('<!doctype') || text.startsWith('<html')) {
    throw new ModelFormatError(`"${src.name}" is an HTML page, not a model file; check the URL.`);
  }
  throw new ModelFormatError(
    `"${src.name}" (${size} bytes) is not a model file this workbench reads: it is not GGUF (no "GGUF" magic), ` +
      'not safetensors (no JSON header), and not a llama2.c checkpoint (its header does not match the file size).',
  );
}
