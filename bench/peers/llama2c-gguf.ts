/**
 * A llama2.c model (`.bin` + `tokenizer.bin`, e.g. stories260K) rewritten as a GGUF file, for the peers
 * that read GGUF only (wllama). The weights are copied as they are (F32, already in GGUF's tensor
 * names, shapes and Meta row order: llama2.c and GGUF llama both keep q/k rows interleaved, see
 * src/model/rope-layout.ts); the tokenizer becomes llama.cpp's SPM metadata with the same pieces,
 * scores and token types as our own conversion (src/model/tokenizer-convert.ts).
 */
import { writeGguf } from '../../src/model/gguf-writer';
import { gv, type GgufValue } from '../../src/model/gguf-values';
import type { ByteSource } from '../../src/model/source';
import { parseLlama2cTokenizer } from '../../src/model/tokenizer-convert';
import type { HostTensor, ModelDescription } from '../../src/model/types';

/** GGUF token types (llama.cpp's llama_token_type). */
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

export async function llama2cAsGguf(desc: ModelDescription, src: ByteSource, tokenizer: Uint8Array): Promise<Uint8Array> {
  if (desc.format !== 'llama2c') throw new Error(`llama2cAsGguf: the model is ${desc.format}, not a llama2.c .bin.`);
  const c = desc.config;
  const { tokens: raw, scores } = parseLlama2cTokenizer(tokenizer, c.vocabSize);
  const types: number[] = [];
  const tokens = raw.map((t, i) => {
    if (i < 3) {
      types.push(i === 0 ? UNKNOWN : CONTROL);
      return ['<unk>', '<s>', '</s>'][i]!;
    }
    if (/^<0x[0-9A-F]{2}>$/.test(t)) {
      types.push(BYTE);
      return t;
    }
    types.push(NORMAL);
    return t.replaceAll(' ', '\u2581');
  });
  const md: Record<string, GgufValue> = {
    'general.architecture': gv.str('llama'),
    'general.name': gv.str(c.name || 'llama2c'),
    'llama.context_length': gv.u32(c.maxSeqLen),
    'llama.embedding_length': gv.u32(c.dModel),
    'llama.block_count': gv.u32(c.nLayers),
    'llama.feed_forward_length': gv.u32(c.dFF),
    'llama.attention.head_count': gv.u32(c.nHeads),
    'llama.attention.head_count_kv': gv.u32(c.nKvHeads),
    'llama.attention.layer_norm_rms_epsilon': gv.f32(c.normEps),
    'llama.rope.freq_base': gv.f32(c.ropeTheta),
    'llama.rope.dimension_count': gv.u32(c.headDim),
    'tokenizer.ggml.model': gv.str('llama'),
    'tokenizer.ggml.pre': gv.str('default'),
    'tokenizer.ggml.tokens': gv.arr('string', tokens),
    'tokenizer.ggml.scores': gv.arr('f32', Array.from(scores)),
    'tokenizer.ggml.token_type': gv.arr('i32', types),
    'tokenizer.ggml.bos_token_id': gv.u32(1),
    'tokenizer.ggml.eos_token_id': gv.u32(2),
    'tokenizer.ggml.unknown_token_id': gv.u32(0),
    'tokenizer.ggml.add_bos_token': gv.bool(true),
    'tokenizer.ggml.add_eos_token': gv.bool(false),
  };
  const tensors: HostTensor[] = [];
  for (const t of desc.tensors.values()) tensors.push({ name: t.name, type: t.type, shape: t.shape, data: await src.read(t.offset, t.bytes) });
  return writeGguf(md, tensors);
}
