/**
 * Random models with the real 7B shapes (issue 12, item 4) but 2 layers: every matrix, the embedding
 * table and the LM head at full size, so load, prefill, decode and training meet the real buffer
 * sizes and the real vocabularies. Q4_0, and a Q4_K_M-like mix (Q4_K, with Q6_K for the output and
 * for half the ffn_down matrices, as llama.cpp's Q4_K_M gives its more sensitive tensors more bits).
 */
import { randomGguf, type RandomGgufOptions } from '../src/model/random-model';
import { GgmlType } from '../src/model/types';

export interface Shape7b {
  name: string;
  opts: RandomGgufOptions;
}

const BASE = {
  llama2: { arch: 'llama', dModel: 4096, nHeads: 32, nKvHeads: 32, dFF: 11008, vocabSize: 32000 },
  // Mistral's GGUF files use the llama architecture; GQA 32/8.
  mistral: { arch: 'llama', dModel: 4096, nHeads: 32, nKvHeads: 8, dFF: 14336, vocabSize: 32000 },
  // Qwen2: q/k/v biases and NeoX RoPE come with the architecture.
  qwen25: { arch: 'qwen2', dModel: 3584, nHeads: 28, nKvHeads: 4, dFF: 18944, vocabSize: 152064 },
} as const satisfies Record<string, Partial<RandomGgufOptions>>;

export const LAYERS_7B = 2;

/** Q4_K_M-like: Q6_K for the output and for ffn_down of every other layer, Q4_K elsewhere. */
export function q4kmType(name: string): GgmlType | undefined {
  if (name === 'output.weight') return GgmlType.Q6_K;
  const m = /^blk\.(\d+)\.ffn_down\.weight$/.exec(name);
  if (m && Number(m[1]) % 2 === 0) return GgmlType.Q6_K;
  return GgmlType.Q4_K;
}

export function shape7b(base: keyof typeof BASE, mix: 'Q4_0' | 'Q4_K_M'): Shape7b {
  const label = { llama2: 'Llama-2-7B', mistral: 'Mistral-7B', qwen25: 'Qwen2.5-7B' }[base];
  return {
    name: `${label}-shape-${LAYERS_7B}L-${mix}`,
    opts: {
      ...BASE[base],
      nLayers: LAYERS_7B,
      type: mix === 'Q4_0' ? GgmlType.Q4_0 : GgmlType.Q4_K,
      typeOf: mix === 'Q4_K_M' ? q4kmType : (n) => (n === 'output.weight' ? GgmlType.Q6_K : undefined),
      tied: false,
      seed: 7,
      contextLength: 4096,
      includeTokenizer: true,
      fastFill: true,
    },
  };
}

export const SHAPES_7B: Shape7b[] = (['llama2', 'mistral', 'qwen25'] as const).flatMap((b) => [shape7b(b, 'Q4_0'), shape7b(b, 'Q4_K_M')]);

export function shape7bGguf(s: Shape7b): Uint8Array {
  return randomGguf(s.opts);
}
