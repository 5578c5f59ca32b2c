import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, gotoPanel, liveCard, loadModel, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'workbench-resume';
export const timeoutMs = 420_000;

const stepOf = async (page) => Number((await page.getByTestId('train-step').innerText()).split('/')[0].replace(/\D/g, ''));

/** Reload the page in the middle of a run; after the reload the last checkpoint resumes the same run. */
export async function run({ page, baseUrl, artifacts, log }) {
  await openApp(page, baseUrl);
  await loadModel(page);
  await ensureDataset(page);
  await configureRun(page, { template: '<Resumed> {text}', steps: 40, checkpointEvery: 2 });
  await page.getByTestId('train-start').click();
  const lastCp = page.getByTestId('last-checkpoint');
  await waitUntil(page, async () => /step ([4-9]|\d\d)/.test(await lastCp.innerText()), { timeoutMs: 180_000, what: 'a checkpoint at step ≥ 4' });
  const cpStep = Number((await lastCp.innerText()).replace(/\D/g, ''));
  log(`checkpoint at step ${cpStep}, reloading at step ${await stepOf(page)}`);

  // The page goes away mid-run (the worker and its GPU state with it).
  await page.reload();
  await openApp(page, baseUrl);
  await loadModel(page);
  await gotoPanel(page, 'Train');
  const item = page.getByTestId('checkpoint-item').filter({ hasText: '<Resumed>' });
  await item.waitFor({ timeout: 15_000 });
  const itemText = (await item.innerText()).replace(/\s+/g, ' ');
  log(`after reload: ${itemText}`);
  const saved = Number(/step (\d+) of 40/.exec(itemText)?.[1]);
  assert(saved >= cpStep, `the saved checkpoint (step ${saved}) should be at least the one seen before the reload (${cpStep})`);
  await item.getByRole('button', { name: 'Resume', exact: true }).click();

  const live = liveCard(page);
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'running' && (await stepOf(page)) >= saved + 2, {
    timeoutMs: 120_000,
    what: 'the resumed run to take steps',
    describe: async () => (await live.innerText()).replace(/\s+/g, ' ').slice(0, 300),
  });
  // Read both in one go (steps keep arriving).
  const [now, points] = await page.evaluate(() => [
    Number(document.querySelector('[data-testid=train-live]').getAttribute('data-step')),
    Number(document.querySelector('[data-testid=chart-loss]').getAttribute('data-points')),
  ]);
  log(`resumed from ${saved}, now at step ${now}, ${points} points on the loss chart`);
  assert(points === now, `the chart should hold the whole run (history before the checkpoint included): ${points} points at step ${now}`);
  assert(/resumed from\s*step \d+/i.test(await live.innerText()), 'the card says where it resumed');
  await shot(page, join(artifacts, 'panel-train-resumed.png'));

  // Finish now: stop early and save what was learned.
  await page.getByRole('button', { name: 'Finish now' }).click();
  await waitTrainingDone(page, 120_000);
  const result = await page.getByTestId('train-result').innerText();
  assert(/Stopped early/.test(result) && /<Resumed>/.test(result), `result: ${result}`);
  // The finished run's checkpoint is gone; the tag is in the library.
  await waitUntil(page, async () => (await page.getByTestId('checkpoint-item').filter({ hasText: '<Resumed>' }).count()) === 0, { what: 'the used checkpoint to be removed' });
  await gotoPanel(page, 'Library');
  await page.getByTestId('library-row-Resumed').waitFor({ timeout: 10_000 });
  await expectNoErrorBanner(page);
}
