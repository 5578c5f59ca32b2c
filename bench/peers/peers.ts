/**
 * The peers page (bench/peers.mjs opens it in Chromium): the same prompt and token counts on
 *  - our engine (WebGPU),
 *  - onnxruntime-web on the ONNX export of the same loaded model (src/model/onnx), WebGPU and wasm
 *    execution providers. The export has no KV cache: its "decode" re-runs the whole sequence per token
 *    (decode_mode 'recompute'), so only its prefill is like for like;
 *  - wllama (@wllama/wllama, llama.cpp in wasm) on the same GGUF, when the package is installed.
 * Result: window.__peers = { ours, peers: [...], ratios } (ours ÷ peer tokens/s), also shown in #out.
 * Query: ?model=<url of the model>&tokenizer=<url>&prompt=<tokens>&decode=<tokens>.
 */
import { acquireGpu } from '../../src/gpu/device';
import { loadModel } from '../../src/model/model';
import { exportOnnx } from '../../src/model/onnx/export';
import { UrlSource } from '../../src/model/sources';

interface PeerResult {
  name: string;
  status: 'ok' | 'not installed' | 'failed';
  error?: string;
  prefill_tok_s?: number;
  decode_tok_s?: number;
  decode_mode?: 'kv-cache' | 'recompute';
}

const q = new URLSearchParams(location.search);
const modelUrl = q.get('model') ?? '/models/stories260K/stories260K.bin';
const tokUrl = q.get('tokenizer') ?? (modelUrl.endsWith('.bin') ? '/models/stories260K/tok512.bin' : null);
const P = Number(q.get('prompt') ?? 64);
const N = Number(q.get('decode') ?? 16);
const out = document.getElementById('out')!;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const gpu = await acquireGpu(navigator.gpu);
  const src = new UrlSource(new URL(modelUrl, location.href).href);
  const e = await loadModel(gpu, src, { tokenizer: tokUrl ? new UrlSource(new URL(tokUrl, location.href).href) : undefined, slots: 1, maxContext: P + N + 8 });
  const V = e.config.vocabSize;
  const ids = Array.from({ length: P }, (_, i) => 1 + ((i * 7919) % (V - 1)));
  await e.generate({ prompts: [ids.slice(0, 4)], maxTokens: 2, stopTokens: [] });
  const res = await e.generate({ prompts: [ids], maxTokens: N + 1, stopTokens: [] });
  const t = res.timings;
  const ours = { name: 'ours-webgpu', prefill_tok_s: r2(P / (t.prefillMs / 1000)), decode_tok_s: r2(t.decodeTokens / (t.decodeMs / 1000)), decode_mode: 'kv-cache' };
  const peers: PeerResult[] = [];

  // onnxruntime-web on the export: prefill = one run over the P prompt tokens; decode = N runs of
  // growing graphs is too costly to export, so one run over P + 1 tokens stands for each step.
  const ort = await import('onnxruntime-web');
  const prefillModel = await exportOnnx(e.desc, src, P);
  const stepModel = await exportOnnx(e.desc, src, P + 1);
  for (const ep of ['webgpu', 'wasm'] as const) {
    try {
      const pre = await ort.InferenceSession.create(prefillModel, { executionProviders: [ep] });
      const step = await ort.InferenceSession.create(stepModel, { executionProviders: [ep] });
      const feed = (n: number) => ({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.concat([1]).slice(0, n).map(BigInt)), [n]) });
      await pre.run(feed(P)); // warm-up
      let t0 = performance.now();
      await pre.run(feed(P));
      const prefillS = (performance.now() - t0) / 1000;
      await step.run(feed(P + 1));
      t0 = performance.now();
      for (let i = 0; i < N; i++) await step.run(feed(P + 1));
      const stepS = (performance.now() - t0) / 1000 / N;
      peers.push({ name: `onnxruntime-web-${ep}`, status: 'ok', prefill_tok_s: r2(P / prefillS), decode_tok_s: r2(1 / stepS), decode_mode: 'recompute' });
      await pre.release();
      await step.release();
    } catch (err) {
      peers.push({ name: `onnxruntime-web-${ep}`, status: 'failed', error: String((err as Error).message ?? err) });
    }
  }

  // wllama (a dev dependency; still reported cleanly if a trimmed install lacks it): GGUF only, CPU (wasm) only.
  try {
    const name = '@wllama/wllama';
    const mod = await import(/* @vite-ignore */ name).catch(() => null);
    if (!mod) peers.push({ name: 'wllama', status: 'not installed', error: 'npm install @wllama/wllama to compare with llama.cpp (wasm)' });
    else if (!modelUrl.endsWith('.gguf')) peers.push({ name: 'wllama', status: 'failed', error: 'wllama reads GGUF only; pass ?model=<url>.gguf' });
    else {
      const base = new URL('/node_modules/@wllama/wllama/esm/', location.href).href;
      const w = new mod.Wllama({ default: base + 'wasm/wllama.wasm' });
      // n_gpu_layers 0: wllama is the peer a user WITHOUT WebGPU picks (llama.cpp on wasm).
      await w.loadModelFromUrl(new URL(modelUrl, location.href).href, { n_ctx: P + N + 8, n_gpu_layers: 0 });
      let t0 = performance.now();
      await w.samplingInit({ temp: 0 });
      await w.decode(ids, {});
      const prefillS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      let last = ids[ids.length - 1];
      for (let i = 0; i < N; i++) {
        last = await w.samplingSample().then((s: { token: number }) => s.token);
        await w.decode([last], {});
      }
      peers.push({ name: 'wllama', status: 'ok', prefill_tok_s: r2(P / prefillS), decode_tok_s: r2(N / ((performance.now() - t0) / 1000)), decode_mode: 'kv-cache' });
      await w.exit();
    }
  } catch (err) {
    peers.push({ name: 'wllama', status: 'failed', error: String((err as Error).message ?? err) });
  }

  const ratios = Object.fromEntries(
    peers.filter((p) => p.status === 'ok').map((p) => [p.name, { prefill: r2(ours.prefill_tok_s / p.prefill_tok_s!), decode: r2(ours.decode_tok_s / p.decode_tok_s!) }]),
  );
  e.dispose();
  return { model: modelUrl, prompt: P, decode: N, adapter: gpu.adapterInfo, ours, peers, ratios };
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
