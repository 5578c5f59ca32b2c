import { readFileSync } from 'node:fs';
import { readGgufMetadata } from '../model/gguf';
import { buildTokenizer } from '../model/tokenizer';
import type { Tokenizer } from '../model/tokenizer-api';
import { openSource } from './sources';

/** The tokenizer of a GGUF model (or vocab-only GGUF), a tokenizer.json, or a llama2.c tokenizer.bin. */
export async function tokenizerForFile(path: string): Promise<Tokenizer> {
  const src = openSource(path);
  const head = await src.read(0, 4);
  if (new TextDecoder().decode(head) === 'GGUF') {
    return buildTokenizer({ kind: 'gguf', metadata: await readGgufMetadata(src) });
  }
  const bytes = /^https?:/.test(path) ? await src.read(0, await src.size()) : new Uint8Array(readFileSync(path));
  const text = new TextDecoder().decode(bytes.subarray(0, 16)).trimStart();
  if (text.startsWith('{')) return buildTokenizer({ kind: 'hf-json', json: JSON.parse(new TextDecoder().decode(bytes)) });
  // llama2.c tokenizer.bin has no vocab size inside: count its entries.
  return buildTokenizer({ kind: 'llama2c', data: bytes, vocabSize: countLlama2cTokens(bytes) });
}

function countLlama2cTokens(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 4;
  let n = 0;
  while (off + 8 <= bytes.byteLength) {
    const len = dv.getInt32(off + 4, true);
    if (len < 0 || off + 8 + len > bytes.byteLength) break;
    off += 8 + len;
    n++;
  }
  return n;
}
