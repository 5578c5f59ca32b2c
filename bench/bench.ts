/**
 * Inference benchmark with a roofline: the adapter's ceilings (bench/roofline.ts), then per model
 * prefill and decode tokens/s, the same as fractions of those ceilings (decode against weight bytes ÷
 * copy bandwidth, prefill against the FMA ceiling), dispatches and submits per decoded token, and the
 * weight bytes a decoded token reads against the model's weight bytes. The last line printed is one
 * JSON object; nothing is asserted.
 *   npm run -s bench:infer -- [--quick] [--only name] [--shapes7b] [--prefill N] [--write-docs]
 * --quick: short prompts, 100M models only in Q4_0 (+ stories260K); --shapes7b adds the 2-layer 7B
 * shapes (bench/shapes7b.ts) to a --quick run (the full run has them); --write-docs rewrites the
 * inference table in docs/perf.md with the date and adapter. --prefill N: the 100M cases' prompt length
 * (default 512, --quick 16), e.g. `--quick --prefill 512 --only llama-100M-Q4_0` for the issue's prefill
 * target alone in a few minutes on a software adapter.
 * `tile_variants`: each variant of the tiled prefill/backward kernels on one layer (bench/tiles.ts).
 * `mixture` compares k = 5 marginalised decoding (one continuation from 5 prompts, self-specialization's
 * retrieval mixture) with plain decoding of the same 5 prompts as independent slots: same forward
 * rows, so `ratio` isolates the cost of the mixture (target ≤ 1.15).
 */
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../src/gpu/node-gpu';
import { loadModel, type Engine } from '../src/model/model';
import { randomGguf } from '../src/model/random-model';
import { NodeFileSource } from '../src/model/source-node';
import { BytesSource } from '../src/model/sources';
import type { ByteSource } from '../src/model/source';
import { GgmlType } from '../src/model/types';
import { adapterName, decodeFlops, embeddingRowBytes, mdTable, measureCeilings, prefillFlops, round, traced, weightBytes, writePerfSection, type CeilingResult, type TraceCounts } from './roofline';
import { SHAPES_7B, shape7bGguf } from './shapes7b';
import { measureTileVariants } from './tiles';

interface Case {
  name: string;
  model: () => ByteSource;
  tokenizer?: () => ByteSource;
  prompt: number;
  decode: number;
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    shapes7b: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    prefill: { type: 'string' },
  },
});
const prefillArg = args.prefill === undefined ? undefined : Number(args.prefill);
if (prefillArg !== undefined && !(Number.isInteger(prefillArg) && prefillArg >= 1 && prefillArg <= 512)) {
  throw new Error(`--prefill ${args.prefill}: give a whole number of tokens from 1 to 512 (one prefill chunk).`);
}

const realistic = (type: GgmlType): Case => ({
  // A ~100M-parameter Llama shape (GPT-2-small-sized), weights random: speed does not depend on values.
  name: `llama-100M-${GgmlType[type]}`,
  model: () =>
    new BytesSource(
      randomGguf({ arch: 'llama', type, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 2048, vocabSize: 32000, seed: 1, tied: true, includeTokenizer: true, contextLength: 1024 }),
      `llama-100M-${GgmlType[type]}.gguf`,
    ),
  // The prefill target is stated at 512 tokens; a 1024 context leaves room for the decode after it.
  prompt: prefillArg ?? (args.quick ? 16 : 512),
  decode: args.quick ? 4 : 16,
});

const cases: Case[] = [
  {
    name: 'stories260K',
    model: () => new NodeFileSource('public/models/stories260K/stories260K.bin'),
    tokenizer: () => new NodeFileSource('public/models/stories260K/tok512.bin'),
    prompt: 128,
    decode: args.quick ? 16 : 64,
  },
  ...(args.quick ? [GgmlType.Q4_0] : [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K]).map(realistic),
];
if (!args.quick || args.shapes7b) {
  for (const s of SHAPES_7B) {
    cases.push({ name: s.name, model: () => new BytesSource(shape7bGguf(s), `${s.name}.gguf`), prompt: 64, decode: 8 });
  }
}

/** The prompt: `n` ids spread over the vocabulary (speed does not depend on which). */
function promptIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % (vocab - 1)));
}

async function runCase(c: Case, ceil: CeilingResult, gpu: Awaited<ReturnType<typeof acquireNodeGpu>>) {
  const tLoad = performance.now();
  const model: Engine = await loadModel(gpu, c.model(), { tokenizer: c.tokenizer?.(), slots: 1, maxContext: Math.max(256, c.prompt + c.decode + 8), maxTokens: Math.min(512, Math.max(64, c.prompt)) });
  const loadMs = performance.now() - tLoad;
  try {
    const cfg = model.config;
    const prompt = promptIds(c.prompt, cfg.vocabSize);
    const rec = model.transformer.rec;
    // Warm-up compiles every pipeline so it is not counted.
    await model.generate({ prompts: [prompt.slice(0, 4)], maxTokens: 2, stopTokens: [] });
    // Prefill + 1 decode step, then prefill + n steps, both traced: the difference is n − 1 decode steps
    // exactly as generate() records them (whatever the engine's per-step recording is).
    const short = await traced(rec, model.mem, () => model.generate({ prompts: [prompt], maxTokens: 2, stopTokens: [] }));
    const all = await traced(rec, model.mem, () => model.generate({ prompts: [prompt], maxTokens: c.decode + 1, stopTokens: [] }));
    const t = all.result.timings;
    const n = t.decodeTokens;
    const steps = n - short.result.timings.decodeTokens;
    const per = (f: (x: TraceCounts) => number) => (f(all.counts) - f(short.counts)) / steps;
    const byKernel: Record<string, number> = {};
    for (const [k, v] of Object.entries(all.counts.byKernel)) {
      const d = (v - (short.counts.byKernel[k] ?? 0)) / steps;
      if (d) byKernel[k] = round(d, 2);
    }
    const step = { counts: { dispatches: per((x) => x.dispatches), submits: per((x) => x.submits), weightBytes: per((x) => x.weightBytes), byKernel } };
    t.prefillMs = Math.min(t.prefillMs, short.result.timings.prefillMs);
    const prefillS = t.prefillMs / 1000;
    const decodeS = t.decodeMs / 1000;
    const wBytes = weightBytes(model.weights);
    const wPerTok = step.counts.weightBytes + embeddingRowBytes(model.weights);
    const ctx = c.prompt + n / 2; // mean context of the decode steps
    const pFlops = prefillFlops(cfg, c.prompt);
    const dFlops = decodeFlops(cfg, ctx);
    const decodeTokS = n / decodeS;
    const dispatchesPerToken = step.counts.dispatches;
    return {
      name: c.name,
      layers: cfg.nLayers,
      load_s: round(loadMs / 1000, 2),
      prefill_tokens: c.prompt,
      prefill_tok_s: round(c.prompt / prefillS, 2),
      prefill_gflops: round(pFlops / prefillS / 1e9, 3),
      prefill_fma_fraction: round(pFlops / prefillS / (ceil.fma_gflops * 1e9), 4),
      prefill_dispatches: all.counts.dispatches - n * step.counts.dispatches,
      decode_tokens: n,
      decode_tok_s: round(decodeTokS, 2),
      decode_gbps: round((wPerTok * decodeTokS) / 1e9, 3),
      decode_roofline_fraction: round((wPerTok * decodeTokS) / (ceil.copy_gbps * 1e9), 4),
      decode_fma_fraction: round((dFlops * decodeTokS) / (ceil.fma_gflops * 1e9), 4),
      dispatches_per_token: round(dispatchesPerToken, 2),
      dispatch_target: 2 + 6 * cfg.nLayers,
      submits_per_token: step.counts.submits,
      dispatches_per_token_by_kernel: step.counts.byKernel,
      weight_bytes_per_token: Math.round(wPerTok),
      weight_bytes: wBytes,
      weight_read_fraction: round(wPerTok / wBytes, 4),
      gpu_bytes: model.memory(),
    };
  } finally {
    model.dispose();
  }
}

async function main() {
  const gpu = await acquireNodeGpu();
  const ceilings = await measureCeilings(gpu);
  process.stderr.write(`ceilings: ${JSON.stringify(ceilings)}\n`);
  // Each tiled-kernel variant (bench/tiles.ts): whole prefills run only the variant this adapter picks.
  const tile_variants = await measureTileVariants(gpu, ceilings);
  process.stderr.write(`tile_variants: ${JSON.stringify(tile_variants)}\n`);
  const results = [];
  for (const c of cases) {
    if (args.only && c.name !== args.only) continue;
    const r = await runCase(c, ceilings, gpu);
    process.stderr.write(`${c.name}: ${JSON.stringify(r)}\n`);
    results.push(r);
  }
  const mixture = [];
  // The mixture comparison on the small cases (the 7B shapes are for the roofline only).
  for (const c of cases) {
    if (args.only && c.name !== args.only) continue;
    if (c.name.includes('-shape-')) continue;
    const k = 5;
    const model = await loadModel(gpu, c.model(), { tokenizer: c.tokenizer?.(), slots: k, maxContext: 512, maxTokens: 128 });
    const prompts = Array.from({ length: k }, (_, j) => promptIds(Math.min(c.prompt, args.quick ? 16 : 48), 500).map((id) => 1 + ((id + 13 * j) % 500)));
    const decode = args.quick ? 8 : 48;
    // --quick keeps only the sampled mode (what self-specialization decodes with) and best of 2: the
    // 100M case otherwise takes most of a quick run on a software adapter.
    const sampled = { temperature: 1, topP: 0.98, seed: 1 };
    const modes = args.quick ? { sampled } : { greedy: { temperature: 0 }, sampled };
    const repeats = args.quick ? 2 : 3;
    const row: Record<string, unknown> = { name: c.name, k, decode_steps: decode };
    for (const [mode, o] of Object.entries(modes)) {
      const base = { prompts, maxTokens: decode, stopTokens: [] as number[], ...o };
      const mix = { ...base, mixture: { group: new Array(k).fill(0), weights: [0.4, 0.25, 0.15, 0.12, 0.08] } };
      await model.generate({ ...base, maxTokens: 2 });
      await model.generate({ ...mix, maxTokens: 2 });
      // Alternate and keep the best run so machine noise does not decide the ratio.
      let plainMs = Infinity;
      let mixMs = Infinity;
      for (let i = 0; i < repeats; i++) {
        plainMs = Math.min(plainMs, (await model.generate(base)).timings.decodeMs);
        mixMs = Math.min(mixMs, (await model.generate(mix)).timings.decodeMs);
      }
      row[mode] = { plain_ms_per_step: +(plainMs / decode).toFixed(3), mixture_ms_per_step: +(mixMs / decode).toFixed(3), ratio: +(mixMs / plainMs).toFixed(3) };
    }
    mixture.push(row);
    model.dispose();
  }
    const out = { bench: 'inference', date: new Date().toISOString(), adapter: gpu.adapterInfo, software: gpu.software, features: gpu.features, quick: args.quick, ceilings, tile_variants, results, mixture };
  if (args['write-docs']) {
    writePerfSection(
      'bench:infer',
      `## Inference (${out.date.slice(0, 10)}, ${adapterName(gpu)}${gpu.software ? ', software adapter' : ''}${args.quick ? ', --quick' : ''})\n\n` +
        `Ceilings: copy ${ceilings.copy_gbps} GB/s, FMA f32 ${ceilings.fma_gflops} GFLOP/s` +
        (ceilings.fma_f16_gflops ? `, f16 ${ceilings.fma_f16_gflops} GFLOP/s` : ', no shader-f16') +
        '.\n\n' +
        mdTable(results, ['name', 'prefill_tokens', 'prefill_tok_s', 'prefill_fma_fraction', 'decode_tok_s', 'decode_roofline_fraction', 'dispatches_per_token', 'dispatch_target', 'submits_per_token', 'weight_read_fraction']),
    );
  }
  // One line: tools read the last line of output as the result.
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
