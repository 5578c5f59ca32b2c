import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';

export const name = 'golden';
export const timeoutMs = 300_000;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Loads the shipped stories260K and checks its greedy continuation against the reference. */
export async function run({ page, baseUrl, artifacts, log }) {
  const golden = JSON.parse(await readFile(join(root, 'public/models/stories260K/golden_greedy.json'), 'utf8'));
  await openApp(page, baseUrl);

  // Load the default catalog entry.
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Load stories260K' }).click();
  const summary = page.getByTestId('model-summary');
  // A look at the progress card while it loads (best effort: while SwiftShader compiles kernels
  // the GPU process can be too busy to paint).
  const progress = page.getByTestId('load-progress');
  await progress
    .waitFor({ timeout: 10_000 })
    .then(() => page.screenshot({ path: join(artifacts, 'golden-progress.png'), timeout: 3_000 }))
    .catch(() => log('(no progress screenshot)'));
  await waitUntil(page, () => summary.isVisible(), {
    timeoutMs: 120_000,
    what: 'stories260K to load',
    describe: async () => {
      const p = page.getByTestId('load-progress');
      return (await p.count()) ? (await p.innerText()).replace(/\s+/g, ' ') : 'no progress card';
    },
  });
  const summaryText = (await summary.innerText()).replace(/\s+/g, ' ');
  log(`loaded in ${Date.now() - t0} ms: ${summaryText.slice(0, 200)}`);
  await page.screenshot({ path: join(artifacts, 'golden-model.png'), fullPage: true });
  assert(/^stories260K/.test(summaryText), `model name should be the catalog's: ${summaryText.slice(0, 80)}`);
  assert(/Layers/.test(summaryText) && /Vocabulary 512/.test(summaryText), `unexpected summary: ${summaryText}`);

  // Greedy generation.
  await page.getByRole('navigation', { name: 'Panels' }).getByRole('link', { name: 'Generate' }).click();
  await page.getByRole('textbox', { name: 'Prompt' }).fill(golden.prompt);
  await page.getByLabel('Max tokens').fill('64');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Seed').fill('1');
  const t1 = Date.now();
  await page.getByRole('button', { name: 'Generate', exact: true }).click();

  const output = page.getByTestId('output');
  await waitUntil(
    page,
    async () => {
      const text = await output.textContent();
      if (text.includes(golden.text)) return true;
      const status = await output.getAttribute('data-status');
      if (status === 'done' || status === 'cancelled' || status === 'error') {
        throw new Error(`generation ended (${status}) without the golden text.\n  expected: ${JSON.stringify(golden.text)}\n  got:      ${JSON.stringify(text)}`);
      }
      return false;
    },
    { timeoutMs: 180_000, what: 'the golden continuation', describe: async () => JSON.stringify(await output.textContent()) },
  );
  // Let the run finish so tokens/s is final.
  await waitUntil(page, async () => (await output.getAttribute('data-status')) !== 'running', { timeoutMs: 60_000, what: 'the run to end' });
  const tps = await page.getByTestId('tokens-per-sec').innerText();
  log(`generated in ${Date.now() - t1} ms, ${tps} tokens/s`);
  await expectNoErrorBanner(page);
}
