#!/usr/bin/env node
/**
 * End-to-end runner: builds the app (unless E2E_NO_BUILD=1), serves dist/ with `vite preview`,
 * opens Debian's Chromium with WebGPU on SwiftShader through playwright-core, and runs every
 * spec in e2e/specs/*.mjs. Each spec exports `name` and `async run({ page, baseUrl, artifacts })`
 * (and optionally `timeoutMs`). A screenshot per spec goes to e2e/artifacts/<spec>.png.
 *
 *   node e2e/run.mjs              all specs
 *   node e2e/run.mjs smoke        only specs whose file name or `name` contains "smoke"
 *
 * Environment: E2E_NO_BUILD=1 (reuse dist/), E2E_CHROMIUM=/path/to/chromium, E2E_VERBOSE=1 (browser
 * console), E2E_HEADFUL=1 (show the window; needs a display).
 * The last line printed is always `N passed, N failed`; the exit status is non-zero on any failure.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const specsDir = join(here, 'specs');
const artifacts = join(here, 'artifacts');
const viteBin = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
const chromiumPath = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const verbose = !!process.env.E2E_VERBOSE;
const DEFAULT_TIMEOUT_MS = 120_000;

const CHROMIUM_ARGS = [
  process.env.E2E_HEADFUL ? null : '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--hide-scrollbars',
  '--mute-audio',
].filter(Boolean);

const children = new Set();
let passed = 0;
let failed = 0;

function log(...a) {
  console.log(...a);
}

function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
    p.on('error', rej);
    p.on('exit', (code, sig) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? sig}`))));
  });
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitForHttp(url, timeoutMs, proc) {
  const t0 = Date.now();
  let lastErr;
  while (Date.now() - t0 < timeoutMs) {
    if (proc.exitCode !== null) throw new Error(`vite preview exited early with code ${proc.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
      lastErr = new Error(`HTTP ${r.status}`);
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${lastErr?.message ?? lastErr}`);
}

async function startPreview() {
  const port = await freePort();
  const proc = spawn(process.execPath, [viteBin, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  const keep = (d) => {
    out += d;
    if (verbose) process.stdout.write(`[preview] ${d}`);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const baseUrl = `http://127.0.0.1:${port}/`;
  try {
    await waitForHttp(baseUrl, 30_000, proc);
  } catch (e) {
    throw new Error(`${e.message}\n${out}`);
  }
  return { proc, baseUrl };
}

function stop(proc) {
  if (!proc || proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  children.delete(proc);
}

async function loadSpecs(filters) {
  if (!existsSync(specsDir)) return [];
  const files = (await readdir(specsDir)).filter((f) => f.endsWith('.mjs')).sort(specOrder);
  const specs = [];
  for (const f of files) {
    const mod = await import(pathToFileURL(join(specsDir, f)).href);
    const name = mod.name ?? f.replace(/\.mjs$/, '');
    if (filters.length && !filters.some((q) => f.includes(q) || name.includes(q))) continue;
    if (typeof mod.run !== 'function') throw new Error(`e2e/specs/${f} does not export run()`);
    specs.push({ file: f, name, run: mod.run, timeoutMs: mod.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  }
  return specs;
}

/** smoke first, then alphabetical. */
function specOrder(a, b) {
  const rank = (f) => (f.startsWith('smoke') ? 0 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}

function safeName(s) {
  return s.replace(/[^a-z0-9._-]+/gi, '_');
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

async function runSpec(context, spec, baseUrl) {
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => {
    pageErrors.push(e);
    log(`    [pageerror] ${e.message}`);
  });
  page.on('console', (m) => {
    const t = m.type();
    if (verbose || t === 'error') {
      const text = m.text();
      // Dawn on a headless box warns about XDG_RUNTIME_DIR; harmless.
      if (!verbose && /XDG_RUNTIME_DIR/.test(text)) return;
      // "Failed to load resource" names no URL in its text; its location does.
      const at = t === 'error' && m.location()?.url ? ` (${m.location().url})` : '';
      log(`    [console.${t}] ${text}${at}`);
    }
  });
  // A console "Failed to load resource: 404" does not say which URL: this does.
  page.on('response', (r) => {
    if (r.status() >= 400) log(`    [http ${r.status()}] ${r.request().method()} ${r.url()}`);
  });
  page.on('worker', (w) => {
    if (verbose) log(`    [worker] ${w.url()}`);
  });
  const t0 = Date.now();
  let error = null;
  try {
    await withTimeout(spec.run({ page, baseUrl, artifacts, log: (...a) => log('   ', ...a) }), spec.timeoutMs, spec.name);
    if (pageErrors.length) throw new Error(`uncaught page error: ${pageErrors[0].message}`);
  } catch (e) {
    error = e;
  }
  const shot = join(artifacts, `${safeName(spec.name)}.png`);
  try {
    await page.screenshot({ path: shot, fullPage: true, timeout: 15_000 });
  } catch (e) {
    log(`    (screenshot failed: ${e.message})`);
  }
  await page.close().catch(() => {});
  return { error, ms: Date.now() - t0, shot };
}

async function main() {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  await mkdir(artifacts, { recursive: true });
  const specs = await loadSpecs(filters);
  if (specs.length === 0) {
    log('no specs matched');
    failed++;
    return;
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} not found: install it with \`apt-get install -y chromium libvulkan1\` (or set E2E_CHROMIUM).`);
  }

  if (process.env.E2E_NO_BUILD === '1') {
    if (!existsSync(join(root, 'dist', 'index.html'))) throw new Error('E2E_NO_BUILD=1 but dist/index.html is missing: run `npm run build`.');
    log('e2e: using the existing dist/');
  } else {
    log('e2e: building with vite…');
    await run(process.execPath, [viteBin, 'build', '--logLevel', 'warn']);
  }

  const { proc, baseUrl } = await startPreview();
  log(`e2e: serving dist/ at ${baseUrl}`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'twb-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      // Headless mode is chosen by --headless=new in the args (Playwright's own flag would add its own).
      headless: false,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 900 },
      timeout: 60_000,
    });
    log(`e2e: chromium ${context.browser()?.version() ?? ''} — ${specs.length} spec(s)\n`);
    for (const spec of specs) {
      log(`▶ ${spec.name} (${spec.file})`);
      const { error, ms, shot } = await runSpec(context, spec, baseUrl);
      const rel = shot.slice(root.length + 1);
      if (error) {
        failed++;
        log(`✗ ${spec.name} — FAILED after ${(ms / 1000).toFixed(1)} s (${rel})`);
        log(`    ${String(error.stack ?? error).split('\n').join('\n    ')}\n`);
      } else {
        passed++;
        log(`✓ ${spec.name} — ${(ms / 1000).toFixed(1)} s (${rel})\n`);
      }
    }
  } finally {
    await context?.close().catch(() => {});
    stop(proc);
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) stop(c);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(130);
  });
}

try {
  await main();
} catch (e) {
  failed++;
  console.error(`e2e: ${e.stack ?? e}`);
} finally {
  for (const c of children) stop(c);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
