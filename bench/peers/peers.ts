/**
 * The peers page (bench/peers.mjs opens it in Chromium): the same prompt and token counts on
 *  - our engine (WebGPU),
 *  - onnxruntime-web on the ONNX export of the same loaded model (src/model/onnx), WebGPU and wasm
 *    execution providers: a prefill graph that returns the KV cache and a one-token step graph that
 *    takes it back, so its decode is incremental like ours (decode_mode 'kv-cache');
 *  - wllama (@wllama/wllama: llama.cpp's server compiled to wasm, n_gpu_layers 0) on the same GGUF
 *    (a llama2.c model such as stories260K is rewritten as GGUF for it: ./llama2c-gguf.ts).
 * Every peer appears in the result: one that cannot run here has status 'failed' or 'unsupported' and
 * its reason, and its ratio entry carries that reason instead of numbers.
 * Result: window.__peers = { ours, peers: [...], ratios } (ours ÷ peer tokens/s), also shown in #out.
 * Query: ?model=<url of the model>&tokenizer=<url> or ?random=small|100M (a random GGUF built in the
 * page, as bench/bench.ts's), &prompt=<tokens>&decode=<tokens>.
 */
import type { Tensor } from 'onnxruntime-web';
import { acquireGpu } from '../../src/gpu/device';
import { loadModel } from '../../src/model/model';
import { exportOnnx, onnxCacheNames } from '../../src/model/onnx/export';
import { randomGguf, type RandomGgufOptions } from '../../src/model/random-model';
import type { ByteSource } from '../../src/model/source';
import { BytesSource, UrlSource } from '../../src/model/sources';
import { GgmlType } from '../../src/model/types';
import { llama2cAsGguf } from './llama2c-gguf';

interface PeerResult {
  name: string;
  status: 'ok' | 'unsupported' | 'failed';
  error?: string;
  prefill_tok_s?: number;
  decode_tok_s?: number;
  decode_mode?: 'kv-cache' | 'recompute';
  /** Prompt tokens the peer itself counted, where its API takes text (wllama). */
  prompt_tokens?: number;
}

/** Random GGUF models: 'small' runs in seconds on SwiftShader; '100M' is bench/bench.ts's llama-100M-Q4_0. */
const RANDOM: Record<string, RandomGgufOptions> = {
  small: { arch: 'llama', type: GgmlType.Q4_0, dModel: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, dFF: 704, vocabSize: 2048, seed: 1, includeTokenizer: true },
  '100M': { arch: 'llama', type: GgmlType.Q4_0, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, dFF: 2048, vocabSize: 32000, seed: 1, tied: true, includeTokenizer: true },
};

const q = new URLSearchParams(location.search);
const random = q.get('random');
const modelUrl = q.get('model') ?? '/models/stories260K/stories260K.bin';
const tokUrl = q.get('tokenizer') ?? (modelUrl.endsWith('.bin') ? '/models/stories260K/tok512.bin' : null);
const P = Number(q.get('prompt') ?? 64);
const N = Number(q.get('decode') ?? 16);
const out = document.getElementById('out')!;
const r2 = (x: number) => Math.round(x * 100) / 100;
const message = (err: unknown) => String((err as Error)?.message ?? err);

async function main() {
  const gpu = await acquireGpu(navigator.gpu);
  let src: ByteSource;
  let gguf: Uint8Array | null = null; // the file wllama reads (GGUF only)
  let label: string;
  if (random) {
    const spec = RANDOM[random];
    if (!spec) throw new Error(`?random=${random}: use one of ${Object.keys(RANDOM).join(', ')}.`);
    gguf = randomGguf(spec);
    src = new BytesSource(gguf, `random-${random}.gguf`);
    label = `random-${random}-${GgmlType[spec.type]}`;
  } else {
    src = new UrlSource(new URL(modelUrl, location.href).href);
    label = modelUrl;
  }
  const e = await loadModel(gpu, src, { tokenizer: !random && tokUrl ? new UrlSource(new URL(tokUrl, location.href).href) : undefined, slots: 1, maxContext: P + N + 8 });
  const V = e.config.vocabSize;
  // The same prompt for every engine: story text tokenized by the model's tokenizer (BOS first) and cut
  // to P tokens; wllama, whose completion API takes text only, gets those tokens decoded back to text.
  const story = 'Once upon a time there was a little girl named Lily. She loved to play with her friend Tim in the park. ';
  const ids = e.tokenizer.encode(story.repeat(Math.ceil(P / 8) + 1), { bos: true }).slice(0, P);
  if (ids.length < P) throw new Error(`the story tokenized to ${ids.length} tokens, fewer than --prompt ${P}`);
  const promptText = e.tokenizer.decode(ids.slice(1));
  await e.generate({ prompts: [ids.slice(0, 4)], maxTokens: 2, stopTokens: [] });
  const res = await e.generate({ prompts: [ids], maxTokens: N + 1, stopTokens: [] });
  const t = res.timings;
  const ours = { name: 'ours-webgpu', prefill_tok_s: r2(P / (t.prefillMs / 1000)), decode_tok_s: r2(t.decodeTokens / (t.decodeMs / 1000)), decode_mode: 'kv-cache' };
  const peers: PeerResult[] = [];

  // onnxruntime-web on the export: prefill = one run of the prefill graph over the P prompt tokens;
  // decode = N runs of the step graph, each on one token and the cache the previous run returned.
  const ort = await import('onnxruntime-web');
  const L = e.config.nLayers;
  const maxContext = P + N + 1;
  const prefillModel = await exportOnnx(e.desc, src, { maxContext, present: true });
  const stepModel = await exportOnnx(e.desc, src, { maxContext, past: true, present: true });
  const int64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [xs.length]);
  const argmax = (x: Tensor) => {
    const d = x.data as Float32Array;
    const row = d.length - V; // the last position's logits
    let best = 0;
    for (let v = 1; v < V; v++) if (d[row + v] > d[row + best]) best = v;
    return best;
  };
  for (const ep of ['webgpu', 'wasm'] as const) {
    if (ep === 'webgpu' && !('gpu' in navigator)) {
      peers.push({ name: `onnxruntime-web-${ep}`, status: 'unsupported', error: 'navigator.gpu is missing in this browser' });
      continue;
    }
    try {
      // Cache tensors stay where the EP put them between steps (gpu-buffer on WebGPU): as a real app would.
      const opts = { executionProviders: [ep], ...(ep === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {}) };
      const pre = await ort.InferenceSession.create(prefillModel, opts);
      const step = await ort.InferenceSession.create(stepModel, opts);
      const readLogits = async (x: Tensor) => (x.location === 'gpu-buffer' ? new ort.Tensor('float32', (await x.getData()) as Float32Array, x.dims) : x);
      const decodeFrom = async (first: Record<string, Tensor>, steps: number) => {
        let outs = first;
        for (let i = 0; i < steps; i++) {
          const feed: Record<string, Tensor> = { ids: int64([argmax(await readLogits(outs.logits))]) };
          for (let l = 0; l < L; l++) {
            const c = onnxCacheNames(l);
            feed[c.pastKey] = outs[c.presentKey];
            feed[c.pastValue] = outs[c.presentValue];
          }
          outs = await step.run(feed);
        }
        return outs;
      };
      await decodeFrom(await pre.run({ ids: int64(ids) }), 1); // warm-up: both graphs once
      let t0 = performance.now();
      const first = await pre.run({ ids: int64(ids) });
      await readLogits(first.logits); // the prefill is done when its logits can be read
      const prefillS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await readLogits((await decodeFrom(first, N)).logits);
      const decodeS = (performance.now() - t0) / 1000;
      peers.push({ name: `onnxruntime-web-${ep}`, status: 'ok', prefill_tok_s: r2(P / prefillS), decode_tok_s: r2(N / decodeS), decode_mode: 'kv-cache' });
      await pre.release();
      await step.release();
    } catch (err) {
      peers.push({ name: `onnxruntime-web-${ep}`, status: 'failed', error: message(err) });
    }
  }

  // wllama: GGUF only, CPU (wasm) only. Its own timings (llama.cpp's prompt/predicted per second).
  try {
    const fetchBytes = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    // A llama2.c model is handed over rewritten as GGUF (same F32 weights and vocabulary).
    const bytes =
      gguf ??
      (e.desc.format === 'gguf' ? await fetchBytes(modelUrl) : e.desc.format === 'llama2c' && tokUrl ? await llama2cAsGguf(e.desc, src, await fetchBytes(tokUrl)) : null);
    if (!bytes) {
      peers.push({ name: 'wllama', status: 'unsupported', error: `wllama reads GGUF only; ${modelUrl} is ${e.desc.format} (pass --model <url>.gguf or --random small)` });
    } else {
      const { Wllama } = await import('@wllama/wllama');
      const base = new URL('/node_modules/@wllama/wllama/esm/', location.href).href;
      const w = new Wllama({ default: base + 'wasm/wllama.wasm' }, { suppressNativeLog: true });
      // n_gpu_layers 0: wllama is the peer a user WITHOUT WebGPU picks (llama.cpp on wasm).
      await w.loadModel([new Blob([bytes as Uint8Array<ArrayBuffer>])], { n_ctx: P + N + 8, n_gpu_layers: 0, n_batch: Math.max(64, P) });
      // Its reply is JSON text, which fails on invalid UTF-8: a random model left free would emit lone
      // byte tokens (<0x80>…), so every byte token (GGUF token type 6) is banned; real text is unaffected.
      const tok = e.desc.tokenizer;
      const types = (tok.kind === 'gguf' ? (tok.metadata['tokenizer.ggml.token_type'] as ArrayLike<number> | undefined) : undefined) ?? [];
      const banned = Object.fromEntries(Array.from(types).flatMap((ty, id) => (ty === 6 ? [[String(id), -1e9]] : [])));
      const run = (prompt: string, n: number) =>
        w.createCompletion({ prompt, max_tokens: n, temperature: 0, ignore_eos: true, cache_prompt: false, logit_bias: banned } as Parameters<typeof w.createCompletion>[0] & { stream?: false });
      await run('Once upon a time', 2);
      const r = (await run(promptText, N)) as { timings?: { prompt_n: number; prompt_ms: number; predicted_n: number; predicted_ms: number } };
      const tm = r.timings;
      if (!tm) throw new Error('wllama returned no timings');
      // llama.cpp's SPM tokenizer may cut the decoded text a token differently at the end.
      if (Math.abs(tm.prompt_n - P) > 2 || tm.predicted_n !== N) throw new Error(`wllama ran ${tm.prompt_n} prompt / ${tm.predicted_n} decoded tokens, expected ${P} / ${N}`);
      peers.push({ name: 'wllama', status: 'ok', prefill_tok_s: r2(tm.prompt_n / (tm.prompt_ms / 1000)), decode_tok_s: r2(tm.predicted_n / (tm.predicted_ms / 1000)), decode_mode: 'kv-cache', prompt_tokens: tm.prompt_n });
      await w.exit();
    }
  } catch (err) {
    peers.push({ name: 'wllama', status: 'failed', error: message(err) });
  }

  const ratios = Object.fromEntries(
    peers.map((p) => [p.name, p.status === 'ok' ? { prefill: r2(ours.prefill_tok_s / p.prefill_tok_s!), decode: r2(ours.decode_tok_s / p.decode_tok_s!) } : { error: `${p.status}: ${p.error}` }]),
  );
  e.dispose();
  return { model: label, prompt: P, decode: N, adapter: gpu.adapterInfo, ours, peers, ratios };
}

main().then(
  (r) => {
    (window as unknown as { __peers: unknown }).__peers = r;
    out.textContent = JSON.stringify(r, null, 2);
  },
  (err) => {
    (window as unknown as { __peers: unknown }).__peers = { error: String(err?.stack ?? err) };
    out.textContent = String(err?.stack ?? err);
  },
);
