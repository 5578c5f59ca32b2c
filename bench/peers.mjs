#!/usr/bin/env node
/**
 * Peers in the same run (issue 12, item 3): serves bench/peers/ with Vite's dev server, opens it in
 * Debian's Chromium (WebGPU, flags as e2e/run.mjs) through playwright-core, waits for the page's
 * result and prints it as one JSON line: ours vs onnxruntime-web (WebGPU and wasm EPs on our ONNX
 * export) vs wllama (when @wllama/wllama is installed), with ours ÷ peer for prefill and decode.
 *   npm run -s bench:peers -- [--model /models/x.gguf] [--prompt 64] [--decode 16]
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
const { values: args } = parseArgs({ options: { model: { type: 'string' }, tokenizer: { type: 'string' }, prompt: { type: 'string', default: '64' }, decode: { type: 'string', default: '16' } } });
const software = !process.env.PEERS_GPU;
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
  ...(software ? ['--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader'] : []),
  '--disable-gpu-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// node_modules may be a link to a shared install: its real path must be servable too (ORT's .wasm).
const server = await createServer({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn', server: { host: '127.0.0.1', port: 0, fs: { allow: [root, realpathSync(join(root, 'node_modules'))] } } });
await server.listen();
const addr = server.httpServer.address();
const q = new URLSearchParams({ prompt: args.prompt, decode: args.decode, ...(args.model ? { model: args.model } : {}), ...(args.tokenizer ? { tokenizer: args.tokenizer } : {}) });
const url = `http://127.0.0.1:${addr.port}/bench/peers/index.html?${q}`;
const userDataDir = await mkdtemp(join(tmpdir(), 'twb-peers-'));
let code = 0;
try {
  const ctx = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium', headless: false, args: CHROMIUM_ARGS, timeout: 60_000 });
  const page = await ctx.newPage();
  page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
  await page.goto(url);
  await page.waitForFunction(() => window.__peers, null, { timeout: 30 * 60_000, polling: 1000 });
  const result = await page.evaluate(() => window.__peers);
  if (result.error) code = 1;
  await ctx.close();
  console.log(JSON.stringify({ bench: 'peers', date: new Date().toISOString(), software, ...result }));
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await server.close();
  await rm(userDataDir, { recursive: true, force: true });
}
process.exit(code);
