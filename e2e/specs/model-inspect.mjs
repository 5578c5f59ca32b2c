import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';

export const name = 'model-inspect';
export const timeoutMs = 240_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Writes the fixture models (e2e/fixtures/inspect-models.ts, through vite-node). */
async function writeFixtures(dir) {
  await new Promise((res, rej) => {
    const p = spawn(process.execPath, [join(root, 'node_modules', 'vite-node', 'dist', 'cli.mjs'), 'e2e/fixtures/inspect-models.ts', '--', dir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`fixture script exited with ${code}: ${out}`))));
  });
  return JSON.parse(await readFile(join(dir, 'files.json'), 'utf8'));
}

/**
 * A cross-origin static server like the hub's CDN: HEAD, single Range requests, CORS. Header-only
 * files are served as sparse files of their declared size (header, then zeros), so a "4.4 GB"
 * model costs its header; those refuse whole-file GETs.
 */
async function startModelServer(files) {
  const bodies = {};
  for (const [n, f] of Object.entries(files)) bodies[n] = { bytes: await readFile(f.path), size: f.size };
  const stats = { bytes: 0, requests: [] };
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'range',
    'access-control-expose-headers': 'content-length, content-range, accept-ranges',
  };
  const server = createServer((req, res) => {
    const file = decodeURIComponent(new URL(req.url, 'http://x').pathname).split('/').pop();
    stats.requests.push(`${req.method} ${file} ${req.headers.range ?? ''}`);
    if (req.method === 'OPTIONS') return res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, HEAD' }).end();
    const f = bodies[file];
    if (!f) return res.writeHead(404, cors).end('not found');
    const headers = { ...cors, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (req.method === 'HEAD') return res.writeHead(200, { ...headers, 'content-length': String(f.size) }).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      if (f.size !== f.bytes.length) return res.writeHead(500, cors).end('sparse files are served by range only');
      stats.bytes += f.bytes.length;
      return res.writeHead(200, { ...headers, 'content-length': String(f.size) }).end(f.bytes);
    }
    const start = Number(m[1]);
    const end = Math.min(f.size - 1, m[2] ? Number(m[2]) : f.size - 1);
    if (start >= f.size) return res.writeHead(416, { ...cors, 'content-range': `bytes */${f.size}` }).end();
    const body = Buffer.alloc(end - start + 1);
    if (start < f.bytes.length) f.bytes.copy(body, 0, start, Math.min(f.bytes.length, end + 1));
    stats.bytes += body.length;
    res.writeHead(206, { ...headers, 'content-length': String(body.length), 'content-range': `bytes ${start}-${end}/${f.size}` }).end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, stats, base: `http://127.0.0.1:${server.address().port}/` };
}

/**
 * The Model panel inspects before loading: the default stories260K fits, an unreachable hub entry
 * says so, a locally served GGUF shows its estimate and loads, and over-size models are refused
 * (largest tensor over maxStorageBufferBindingSize; estimate over the budget) with Load disabled.
 */
export async function run({ page, baseUrl, log, artifacts }) {
  const dir = await mkdtemp(join(tmpdir(), 'twb-inspect-'));
  let srv;
  try {
    const files = await writeFixtures(dir);
    srv = await startModelServer(files);
    await openApp(page, baseUrl);
    const fit = page.getByTestId('model-fit');
    const settled = async () => ['ready', 'error'].includes(await fit.getAttribute('data-status').catch(() => null));
    const describe = async () => `fit ${await fit.getAttribute('data-status').catch(() => '?')}: ${(await fit.innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 400)}`;
    const waitSettled = (what, timeoutMs = 60_000) => waitUntil(page, settled, { what, timeoutMs, describe });

    // 1. The default entry (stories260K, shipped) is inspected at once and fits.
    await waitSettled('the inspection of stories260K');
    assert((await fit.getAttribute('data-status')) === 'ready', `stories260K inspection: ${await describe()}`);
    assert((await fit.getAttribute('data-verdict')) === 'ok', `stories260K should fit: ${await describe()}`);
    const est0 = await page.getByTestId('fit-estimate').innerText();
    log(`stories260K: ${est0.replace(/\s+/g, ' ')}`);
    assert(/Needs ≈ .*\(weights .* \+ KV .* \+ scratch .*\)/.test(est0), `estimate line: ${est0}`);
    assert(/maxStorageBufferBindingSize/.test(await fit.innerText()), 'the adapter limits are shown against the estimate');
    assert(/does not expose/.test(await fit.innerText()), 'the note that WebGPU does not expose total memory');
    assert(await page.getByRole('button', { name: 'Load stories260K' }).isEnabled(), 'Load stories260K should be enabled');
    const entries = await page.getByTestId('catalog-entry').count();
    assert(entries >= 6, `the catalog should list the hub models too (${entries} entries)`);
    await page.screenshot({ path: join(artifacts, 'model-inspect-catalog.png'), fullPage: true }).catch(() => {});

    // 2. A hub entry, with the hub unreachable here: a clear message on the card, no crash, no banner.
    await page.getByTestId('catalog-entry').filter({ hasText: 'Mistral-7B-v0.1 Q4_0' }).click();
    await waitUntil(page, async () => (await fit.innerText()).includes('Mistral-7B-v0.1'), { what: 'the Mistral inspection to start', describe });
    const t0 = Date.now();
    while ((await fit.getAttribute('data-status')) === 'pending' && Date.now() - t0 < 45_000) await page.waitForTimeout(250);
    const hubStatus = await fit.getAttribute('data-status');
    log(`hub entry (${hubStatus}): ${(await describe()).slice(0, 300)}`);
    if (hubStatus === 'error') {
      const msg = await page.getByTestId('fit-error').innerText();
      assert(/huggingface\.co/.test(msg), `the message should name the hub: ${msg}`);
    } else {
      assert(hubStatus === 'ready' || hubStatus === 'pending', `unexpected state: ${await describe()}`);
    }
    await expectNoErrorBanner(page, 'inspecting an unreachable hub entry');

    // 3. A GGUF served locally (another origin, Range requests): estimate shown, fits, loads.
    await page.getByRole('tab', { name: 'URL' }).click();
    await page.getByLabel('Model URL').fill(`${srv.base}tiny.gguf`);
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    await waitSettled('the inspection of tiny.gguf');
    assert((await fit.getAttribute('data-status')) === 'ready', `tiny.gguf: ${await describe()}`);
    assert((await fit.getAttribute('data-verdict')) === 'ok', `tiny.gguf should fit: ${await describe()}`);
    const est1 = await page.getByTestId('fit-estimate').innerText();
    log(`tiny.gguf: ${est1.replace(/\s+/g, ' ')}`);
    assert(/Needs ≈/.test(est1) && /4 slots × 128-token context/.test(est1), `tiny estimate: ${est1}`);
    assert(/random-llama-q8_0/.test(await fit.innerText()) || /tiny\.gguf/.test(await fit.innerText()), 'the card names the model');
    const load = page.getByRole('button', { name: 'Load from URL' });
    assert(await load.isEnabled(), 'Load from URL should be enabled for a model that fits');
    await load.click();
    const summary = page.getByTestId('model-summary');
    await waitUntil(page, () => summary.isVisible(), { timeoutMs: 120_000, what: 'tiny.gguf to load' });
    log(`loaded: ${(await summary.innerText()).split('\n')[0]}`);

    // 4. A header declaring an 8 GiB tensor (the file is served sparse): refused on the adapter's binding limit.
    const bytesBefore = srv.stats.bytes;
    await page.getByLabel('Model URL').fill(`${srv.base}huge.header`);
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    await waitUntil(page, async () => (await fit.getAttribute('data-verdict')) === 'refused', { what: 'the huge model to be refused', describe });
    const refusal = await page.getByTestId('fit-refusal').innerText();
    log(`huge: ${refusal.replace(/\s+/g, ' ')}`);
    assert(/token_embd\.weight/.test(refusal) && /maxStorageBufferBindingSize/.test(refusal), `refusal should name the tensor and the limit: ${refusal}`);
    assert(await load.isDisabled(), 'Load from URL should be disabled for a refused model');
    assert(srv.stats.bytes - bytesBefore < 16 << 20, `inspection should read the header only, read ${srv.stats.bytes - bytesBefore} bytes`);

    // 5. A Qwen2.5-7B-shaped file (4.4 GB, header only) against a 2 GiB budget: refused on the budget.
    await page.getByLabel('Memory budget (GiB, 0 = none)').fill('2');
    await page.getByLabel('Model URL').fill(`${srv.base}qwen7b.header`);
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    await waitSettled('the inspection of the Qwen header');
    await waitUntil(page, async () => (await fit.getAttribute('data-verdict')) === 'refused', { what: 'the Qwen model to be refused', describe });
    const est2 = await page.getByTestId('fit-estimate').innerText();
    const refusal2 = await page.getByTestId('fit-refusal').innerText();
    log(`qwen7b: ${est2.replace(/\s+/g, ' ')} → ${refusal2.replace(/\s+/g, ' ')}`);
    assert(/budget of 2\.00 GB/.test(refusal2), `refusal should name the budget: ${refusal2}`);
    assert(await load.isDisabled(), 'Load should be disabled over the budget');
    // Without a budget only the adapter's per-buffer limits decide.
    await page.getByLabel('Memory budget (GiB, 0 = none)').fill('0');
    await waitUntil(page, async () => !/budget of/.test(await fit.innerText()), { what: 'the budget refusal to go', describe });
    log(`qwen7b without budget: ${await fit.getAttribute('data-verdict')}`);
    await expectNoErrorBanner(page);
  } finally {
    // Restore the default budget (the browser profile is shared by the specs of a run).
    await page.getByLabel('Memory budget (GiB, 0 = none)').fill('8').catch(() => {});
    srv?.server.closeAllConnections();
    await new Promise((r) => (srv ? srv.server.close(() => r()) : r()));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
