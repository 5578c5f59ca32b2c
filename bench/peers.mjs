#!/usr/bin/env node
/**
 * Peers in the same run (issue 12, item 3): serves bench/peers/ with Vite's dev server, opens it in
 * Debian's Chromium (WebGPU, flags as e2e/run.mjs) through playwright-core, waits for the page's
 * result and prints it as one JSON line: ours vs onnxruntime-web (WebGPU and wasm EPs on our ONNX
 * export, with its KV cache) vs wllama, with ours ÷ peer for prefill and decode, per model case.
 *   npm run -s bench:peers -- [--quick] [--model /models/x.gguf | --random small|100M]… [--prompt 64] [--decode 16]
 * Cases: each --model (a URL path the dev server serves, e.g. /models/stories260K/stories260K.bin) and
 * each --random (a random GGUF built in the page); none given: stories260K and random small (plus the
 * 100M random model without --quick). --quick: prompt 16, decode 4 unless given.
 * Environment: E2E_CHROMIUM=/path/to/chromium; PEERS_GPU=1 uses the real GPU instead of SwiftShader.
 */
import { realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: { model: { type: 'string', multiple: true }, random: { type: 'string', multiple: true }, tokenizer: { type: 'string' }, prompt: { type: 'string' }, decode: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const prompt = args.prompt ?? (args.quick ? '16' : '64');
const decode = args.decode ?? (args.quick ? '4' : '16');
for (const [k, v] of [['prompt', prompt], ['decode', decode]]) {
  if (!/^[1-9]\d*$/.test(v)) {
    console.error(`bench:peers: --${k} must be a positive integer, got "${v}".`);
    process.exit(2);
  }
}
const cases = [...(args.model ?? []).map((m) => ({ model: m })), ...(args.random ?? []).map((r) => ({ random: r }))];
if (!cases.length) cases.push({ model: '/models/stories260K/stories260K.bin' }, { random: 'small' }, ...(args.quick ? [] : [{ random: '100M' }]));
const software = !process.env.PEERS_GPU;
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
  ...(software ? ['--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader'] : []),
  '--disable-gpu-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// node_modules may be a link to a shared install: its real path must be servable too (ORT's .wasm).
const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, fs: { allow: [root, realpathSync(join(root, 'node_modules'))] } } });
await server.listen();
const userDataDir = await mkdtemp(join(tmpdir(), 'twb-peers-'));
let code = 0;
const results = [];
try {
  const ctx = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium', headless: false, args: CHROMIUM_ARGS, timeout: 60_000 });
  for (const c of cases) {
    const q = new URLSearchParams({ prompt, decode, ...c, ...(args.tokenizer && c.model ? { tokenizer: args.tokenizer } : {}) });
    // One fresh page per case: nothing (GPU buffers, ORT sessions, wllama's worker) carries over.
    const page = await ctx.newPage();
    page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
    await page.goto(`http://127.0.0.1:${server.httpServer.address().port}/bench/peers/index.html?${q}`);
    await page.waitForFunction(() => window.__peers, null, { timeout: 30 * 60_000, polling: 1000 });
    const result = await page.evaluate(() => window.__peers);
    if (result.error) code = 1;
    results.push(result.error ? { ...c, ...result } : result);
    await page.close();
  }
  await ctx.close();
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await server.close();
  await rm(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ bench: 'peers', date: new Date().toISOString(), software, quick: args.quick, prompt: Number(prompt), decode: Number(decode), cases: results }));
process.exit(code);
