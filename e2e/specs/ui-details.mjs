import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { assert, openApp, waitUntil } from '../lib.mjs';
import { importLibraryFile, libraryFile } from '../fixture-tags.mjs';
import { configureRun, ensureDataset, gotoPanel, liveCard, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-details';
export const timeoutMs = 360_000;

/**
 * Issue 9 item 13: the "Check the run" warning goes once the run is fixed; the dataset list and the
 * details count the same skipped rows; deleting a dataset asks first; a paused run's checkpoint
 * says Paused, not Running; the attention map has a colour scale and hover values, and shows
 * whitespace tokens as ␣.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);

  // Skipped rows: 1 at parse (wrong field count), 2 at mapping (labels that are not numbers).
  const csv = join(artifacts, 'skips.csv');
  await writeFile(csv, 'text,label\nthe cat sat,1\nbad,row,here\na dog ran,x\nthe sun,2\nbirds,y\n');
  await gotoPanel(page, 'Data');
  await page.getByTestId('dataset-drop').locator('input[type=file]').setInputFiles(csv);
  await page.getByTestId('dataset-details').waitFor({ timeout: 30_000 });
  await page.getByLabel('{label} must be a number').check();
  const details = (await page.getByTestId('skipped-count').innerText()).trim();
  const listed = await page.getByRole('list', { name: 'Saved datasets' }).getByRole('button', { name: /skips\.csv/ }).innerText();
  log(`details ${details}; list ${listed.replace(/\s+/g, ' ')}`);
  assert(details === '3' && new RegExp(`${details} skipped`).test(listed), `the list and the details disagree: list "${listed}", details ${details}`);
  // Deleting asks first.
  await page.getByTestId('delete-dataset').click();
  assert((await page.getByRole('list', { name: 'Saved datasets' }).getByRole('button', { name: /skips\.csv/ }).count()) === 1, 'the dataset was deleted without confirmation');
  await page.getByTestId('confirm-delete-dataset').click();
  await waitUntil(page, async () => (await page.getByRole('list', { name: 'Saved datasets' }).getByRole('button', { name: /skips\.csv/ }).count()) === 0, { what: 'the dataset to be deleted' });

  // "Check the run": refused without a dataset, gone once one is chosen.
  await ensureDataset(page);
  await gotoPanel(page, 'Train');
  await page.getByTestId('train-method').selectOption('stage1');
  await page.getByTestId('train-template').fill('<Story> {text}');
  await page.getByTestId('train-dataset').selectOption('').catch(() => {});
  const notices = page.getByTestId('notice');
  const checkShown = async () => (await notices.allInnerTexts()).some((t) => /Check the run/.test(t));
  await page.getByTestId('train-start').click();
  const refused = await checkShown();
  await configureRun(page, { steps: 400, checkpointEvery: 1000 });
  await waitUntil(page, async () => !(await checkShown()), { what: 'the stale "Check the run" warning to go', timeoutMs: 5000 });
  log(`warning shown when refused: ${refused}`);

  // Pause: the checkpoint says Paused.
  await page.getByTestId('train-start').click();
  const live = liveCard(page);
  await waitUntil(page, async () => Number(await live.getAttribute('data-step')) >= 1, { what: 'a training step', timeoutMs: 120_000 });
  await live.getByRole('button', { name: 'Pause' }).click();
  await waitUntil(page, async () => (await live.getAttribute('data-phase')) === 'paused', { what: 'the pause', timeoutMs: 60_000 });
  await page.getByTestId('checkpoint-item').first().waitFor({ timeout: 30_000 });
  const cpButton = await page.getByTestId('checkpoint-item').first().getByRole('button').first().innerText();
  assert(cpButton === 'Paused', `a paused run's checkpoint says ${cpButton}`);
  await shot(page, join(artifacts, 'ui-details-train.png'));
  await live.getByRole('button', { name: 'Cancel' }).click();
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'cancelled', { what: 'the cancel', timeoutMs: 60_000 });

  // Attention: scale, hover values, visible whitespace.
  await importLibraryFile(page, artifacts, libraryFile([{ name: 'Story' }, { name: 'Other', p: 3 }]), 'details-tags.json');
  await gotoPanel(page, 'Inspector');
  await page.getByLabel('Prompt (tags written <Name>)').fill('<Story> Once upon a time');
  await page.getByRole('button', { name: 'Show attention' }).click();
  const map = page.getByTestId('attention-heatmap');
  await map.waitFor({ timeout: 30_000 });
  await page.getByTestId('attention-scale').waitFor();
  const box = await map.boundingBox();
  await map.hover({ position: { x: box.width - 3, y: box.height - 3 } });
  await page.getByTestId('attention-tip').waitFor({ timeout: 5000 });
  const tip = await page.getByTestId('attention-tip').innerText();
  log(`tip: ${tip.replace(/\s+/g, ' ')}`);
  assert(/␣/.test(tip) && /\d\.\d{4}/.test(tip), `the hover shows the tokens (whitespace as ␣) and the weight: ${tip}`);
  // Item 23: several tags in one PCA.
  await page.getByRole('list', { name: 'Tags' }).getByRole('button', { name: /Story/ }).click();
  await page.getByTestId('inspector-pca').waitFor({ timeout: 30_000 });
  await page.getByRole('group', { name: 'Tags in the PCA' }).getByLabel('‹Other›').check();
  await waitUntil(page, async () => /<Other> \(3\)/.test(await page.getByTestId('inspector-pca').innerText()), { what: 'the second tag in the PCA', timeoutMs: 30_000 });
  await shot(page, join(artifacts, 'ui-details-inspector.png'));
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
