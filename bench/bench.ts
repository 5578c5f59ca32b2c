/**
 * Inference benchmark: prefill and decode tokens/s and GPU bytes, printed as one JSON object so runs
 * can be compared. Nothing here is asserted; speed is judged from these numbers across commits.
 *   npm run bench -- [--quick] [--only name]
 * `mixture` compares k = 5 marginalised decoding (one continuation from 5 prompts, self-specialization's
 * retrieval mixture) with plain decoding of the same 5 prompts as independent slots: same forward
 * rows, so `ratio` isolates the cost of the mixture (target ≤ 1.15).
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { loadModel } from '../src/model/model';
import { randomGguf } from '../src/model/random-model';
import { NodeFileSource } from '../src/model/source-node';
import { BytesSource } from '../src/model/sources';
import type { ByteSource } from '../src/model/source';
import { GgmlType } from '../src/model/types';

interface Case {
  name: string;
  model: () => ByteSource;
  tokenizer?: () => ByteSource;
  prompt: number[];
  decode: number;
}

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });

const realistic = (type: GgmlType): Case => ({
  // A ~100M-parameter Llama shape (GPT-2-small-sized), weights random: speed does not depend on values.
  name: `llama-100M-${GgmlType[type]}`,
  model: () =>
    new BytesSource(
      randomGguf({ arch: 'llama', type, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 2048, vocabSize: 32000, seed: 1, tied: true, includeTokenizer: true }),
      `llama-100M-${GgmlType[type]}.gguf`,
    ),
  prompt: Array.from({ length: args.quick ? 16 : 64 }, (_, i) => 1 + ((i * 7919) % 31000)),
  decode: args.quick ? 4 : 16,
});

const cases: Case[] = [
  {
    name: 'stories260K',
    model: () => new NodeFileSource('public/models/stories260K/stories260K.bin'),
    tokenizer: () => new NodeFileSource('public/models/stories260K/tok512.bin'),
    prompt: Array.from({ length: 128 }, (_, i) => 1 + ((i * 37) % 500)),
    decode: 64,
  },
  realistic(GgmlType.Q4_0),
  realistic(GgmlType.Q8_0),
];

async function main() {
  const gpu = await acquireNodeGpu();
  const results = [];
  for (const c of cases) {
    if (args.only && c.name !== args.only) continue;
    const model = await loadModel(gpu, c.model(), { tokenizer: c.tokenizer?.(), slots: 1, maxContext: 512, maxTokens: 128 });
    // Warm-up compiles every pipeline so it is not counted.
    await model.generate({ prompts: [c.prompt.slice(0, 4)], maxTokens: 2 });
    const res = await model.generate({ prompts: [c.prompt], maxTokens: c.decode, stopTokens: [] });
    const t = res.timings;
    const params = [...model.desc.tensors.values()].reduce((s, x) => s + x.shape.reduce((a, b) => a * b, 1), 0);
    results.push({
      name: c.name,
      params,
      prefill_tokens: t.prefillTokens,
      prefill_tok_s: +(t.prefillTokens / (t.prefillMs / 1000)).toFixed(2),
      decode_tokens: t.decodeTokens,
      decode_tok_s: t.decodeTokens ? +(t.decodeTokens / (t.decodeMs / 1000)).toFixed(2) : 0,
      gpu_bytes: model.memory(),
    });
    model.dispose();
  }
  const mixture = [];
  for (const c of cases) {
    if (args.only && c.name !== args.only) continue;
    const k = 5;
    const model = await loadModel(gpu, c.model(), { tokenizer: c.tokenizer?.(), slots: k, maxContext: 512, maxTokens: 128 });
    const prompts = Array.from({ length: k }, (_, j) => c.prompt.slice(0, args.quick ? 16 : 48).map((id) => 1 + ((id + 13 * j) % 500)));
    const decode = args.quick ? 8 : 48;
    const modes = { greedy: { temperature: 0 }, sampled: { temperature: 1, topP: 0.98, seed: 1 } };
    const row: Record<string, unknown> = { name: c.name, k, decode_steps: decode };
    for (const [mode, o] of Object.entries(modes)) {
      const base = { prompts, maxTokens: decode, stopTokens: [] as number[], ...o };
      const mix = { ...base, mixture: { group: new Array(k).fill(0), weights: [0.4, 0.25, 0.15, 0.12, 0.08] } };
      await model.generate({ ...base, maxTokens: 2 });
      await model.generate({ ...mix, maxTokens: 2 });
      // Alternate and keep the best of 3 so machine noise does not decide the ratio.
      let plainMs = Infinity;
      let mixMs = Infinity;
      for (let i = 0; i < 3; i++) {
        plainMs = Math.min(plainMs, (await model.generate(base)).timings.decodeMs);
        mixMs = Math.min(mixMs, (await model.generate(mix)).timings.decodeMs);
      }
      row[mode] = { plain_ms_per_step: +(plainMs / decode).toFixed(3), mixture_ms_per_step: +(mixMs / decode).toFixed(3), ratio: +(mixMs / plainMs).toFixed(3) };
    }
    mixture.push(row);
    model.dispose();
  }
  console.log(JSON.stringify({ bench: 'inference', adapter: gpu.adapterInfo, features: gpu.features, results, mixture }, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
