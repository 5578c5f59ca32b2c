import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { assert, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, gotoPanel, liveCard, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-model-keep';
export const timeoutMs = 300_000;

/**
 * Issue 9 item 10: Load is disabled on a card that says the file cannot be loaded; a load the
 * worker refuses (a training run in progress) leaves the header and the Composer on the model that
 * is still loaded.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);
  const status = page.getByTestId('model-status');
  assert(/stories260K/.test(await status.innerText()), `header: ${await status.innerText()}`);

  // A file that is not a model: the card says so and Load stays disabled.
  const junk = join(artifacts, 'junk.gguf');
  await writeFile(junk, Buffer.from('GGUF this is not really a model file, only its magic and some text '.repeat(40)));
  await page.getByRole('tab', { name: 'Files' }).click();
  await page.locator('#model-file').setInputFiles(junk);
  await page.getByTestId('fit-error').waitFor({ timeout: 30_000 });
  const said = await page.getByTestId('fit-error').innerText();
  log(`card: ${said.replace(/\s+/g, ' ').slice(0, 160)}`);
  assert(/cannot be loaded/.test(said), `the card should say the file cannot be loaded: ${said}`);
  assert(await page.getByRole('button', { name: 'Load file' }).isDisabled(), 'Load file is enabled for a file the card refuses');
  await shot(page, join(artifacts, 'ui-model-keep-refused.png'));

  // A load refused by the worker while training: the model stays, in the header and the Composer.
  await ensureDataset(page);
  await configureRun(page, { steps: 400, checkpointEvery: 1000 });
  await page.getByTestId('train-start').click();
  const live = liveCard(page);
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'running' && Number(await live.getAttribute('data-step')) >= 1, {
    timeoutMs: 120_000,
    what: 'training to run',
  });
  await gotoPanel(page, 'Model');
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await page.getByRole('button', { name: 'Load stories260K' }).click();
  await waitUntil(page, async () => (await page.getByTestId('error-banner').count()) > 0, { what: 'the refusal', timeoutMs: 30_000 }).catch(() => {});
  const banner = (await page.getByTestId('error-banner').allInnerTexts()).join(' ');
  log(`banner: ${banner.replace(/\s+/g, ' ')}`);
  assert(/in progress/.test(banner), `the refusal is explained: ${banner}`);
  await waitUntil(page, async () => /stories260K/.test(await status.innerText()), { what: 'the header to show the kept model', timeoutMs: 10_000 }).catch(() => {});
  assert(/stories260K/.test(await status.innerText()), `after the refused load the header says ${JSON.stringify(await status.innerText())}`);
  await gotoPanel(page, 'Composer');
  assert(!(await page.getByTestId('compose-run').isDisabled()), 'the Composer is disabled although the model is still loaded');
  await shot(page, join(artifacts, 'ui-model-keep.png'));
  await gotoPanel(page, 'Train');
  await liveCard(page).getByRole('button', { name: 'Cancel' }).click();
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'cancelled', { what: 'the run to cancel', timeoutMs: 60_000 }).catch(() => {});
  for (const b of await page.getByTestId('error-banner').all()) await b.getByRole('button').first().click().catch(() => {});
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
