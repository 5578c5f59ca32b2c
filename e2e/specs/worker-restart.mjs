import { join } from 'node:path';
import { assert, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, liveCard, loadModel, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'worker-restart';
export const timeoutMs = 600_000;

const stepOf = async (page) => Number((await page.getByTestId('train-step').innerText()).split('/')[0].replace(/\D/g, ''));

/**
 * The engine worker is killed in the middle of a training run (as an out-of-memory kill would): the
 * page starts a new one, reloads stories260K and offers the run's last checkpoint, which resumes.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await openApp(page, baseUrl);
  await loadModel(page);
  await ensureDataset(page);
  await configureRun(page, { template: '<Restarted> {text}', steps: 40, checkpointEvery: 2 });
  await page.getByTestId('train-start').click();
  const lastCp = page.getByTestId('last-checkpoint');
  await waitUntil(page, async () => /step ([4-9]|\d\d)/.test(await lastCp.innerText()), { timeoutMs: 180_000, what: 'a checkpoint at step ≥ 4' });
  const cpStep = Number((await lastCp.innerText()).replace(/\D/g, ''));
  log(`checkpoint at step ${cpStep}, killing the worker at step ${await stepOf(page)}`);

  await page.evaluate(() => window.__twKillWorker());
  const banner = page.getByTestId('engine-restart');
  await banner.waitFor({ timeout: 10_000 });
  await waitUntil(page, async () => (await banner.getAttribute('data-status')) === 'restarted', {
    timeoutMs: 120_000,
    what: 'the engine to restart and reload the model',
    describe: async () => (await banner.innerText()).replace(/\s+/g, ' '),
  });
  const text = (await banner.innerText()).replace(/\s+/g, ' ');
  log(`banner: ${text}`);
  const m = /The engine stopped \((.+)\); it was restarted and stories260K reloaded\. Resume training from the checkpoint at step (\d+)\?/.exec(text);
  assert(m, `banner text: ${text}`);
  assert(/killed/.test(m[1]), `the reason names the kill: ${m[1]}`);
  const offered = Number(m[2]);
  assert(offered >= cpStep, `the offered checkpoint (step ${offered}) should be at least the one seen before the kill (${cpStep})`);
  const header = await page.getByTestId('model-status').innerText();
  assert(/stories260K/.test(header), `the header shows the reloaded model: ${header}`);
  await shot(page, join(artifacts, 'worker-restart-banner.png'));

  await page.getByTestId('engine-restart-resume').click();
  await banner.waitFor({ state: 'detached', timeout: 10_000 });
  const live = liveCard(page);
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'running' && (await stepOf(page)) >= offered + 2, {
    timeoutMs: 120_000,
    what: 'the resumed run to take steps past the checkpoint',
    describe: async () => (await live.innerText()).replace(/\s+/g, ' ').slice(0, 300),
  });
  log(`resumed from ${offered}, now at step ${await stepOf(page)}`);
  assert(new RegExp(`resumed from\\s*step ${offered}`, 'i').test(await live.innerText()), 'the card says where it resumed');
  await shot(page, join(artifacts, 'worker-restart-resumed.png'));

  // Killed without a word (as the browser kills an out-of-memory worker): the liveness ping notices.
  const before = await stepOf(page);
  await page.evaluate(() => window.__twKillWorker({ silently: true }));
  await banner.waitFor({ timeout: 120_000 });
  await waitUntil(page, async () => (await banner.getAttribute('data-status')) === 'restarted', { timeoutMs: 120_000, what: 'the second restart' });
  const text2 = (await banner.innerText()).replace(/\s+/g, ' ');
  log(`after a silent kill at step ${before}: ${text2}`);
  const m2 = /\((the engine worker stopped answering[^)]*)\).*stories260K reloaded\. Resume training from the checkpoint at step (\d+)\?/.exec(text2);
  assert(m2, `second banner: ${text2}`);
  const offered2 = Number(m2[2]);
  assert(offered2 >= offered, `the second checkpoint (${offered2}) is not older than the first (${offered})`);
  await page.getByTestId('engine-restart-resume').click();
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'running' && (await stepOf(page)) >= offered2 + 1, {
    timeoutMs: 120_000,
    what: 'the run resumed a second time to take steps',
  });

  await page.getByRole('button', { name: 'Finish now' }).click();
  await waitTrainingDone(page, 120_000);
  const result = await page.getByTestId('train-result').innerText();
  assert(/Stopped early/.test(result) && /<Restarted>/.test(result), `result: ${result}`);
}
