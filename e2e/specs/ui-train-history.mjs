import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, openApp, waitUntil } from '../lib.mjs';
import { importLibraryFile, libraryFile } from '../fixture-tags.mjs';
import { configureRun, ensureDataset, gotoPanel, loadModel, resetStorage, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'ui-train-history';
export const timeoutMs = 420_000;

/**
 * Issue 9 items 15, 16, 18: a regression run labels its loss as MSE on standardised labels; the run
 * is kept in the history with its configuration and can be overlaid; the Matrix then defaults to
 * that run's template, mapping and output field, and evaluates the pair.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);
  await importLibraryFile(page, artifacts, libraryFile([{ name: 'Story' }]), 'history-tags.json');
  await page.getByTestId('library-row-Story').waitFor({ timeout: 15_000 });
  await ensureDataset(page);
  await page.getByLabel('{label} must be a number').check();
  await configureRun(page, { method: 'stage2', template: '<Story> {text} <Label> {label}', steps: 2, outputKind: 'regression', outputField: 'label' });
  await page.getByTestId('train-start').click();
  await waitTrainingDone(page);

  const lossTitle = await page.getByTestId('chart-loss').locator('figcaption').textContent();
  log(`loss chart: ${lossTitle.replace(/\s+/g, ' ')}`);
  assert(/standardised labels/.test(lossTitle), `the regression loss says its units: ${lossTitle}`);
  const metricTitle = await page.getByTestId('chart-eval').locator('figcaption').textContent();
  assert(/label units|perplexity|accuracy/i.test(metricTitle), `the metric says its units: ${metricTitle}`);

  // Item 19/23: export the loss chart as PNG, SVG and CSV; log scale and smoothing.
  const lossFig = page.getByTestId('chart-loss');
  const grab = async (label) => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), lossFig.getByRole('button', { name: label, exact: true }).click()]);
    return readFile(await dl.path());
  };
  const png = await grab('PNG');
  assert(png.subarray(1, 4).toString() === 'PNG' && png.length > 500, `a PNG of the chart (${png.length} bytes)`);
  const svg = (await grab('SVG')).toString();
  assert(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/.test(svg) && /<path/.test(svg), `a standalone SVG: ${svg.slice(0, 120)}`);
  const csv = (await grab('CSV')).toString().trim().split('\n');
  assert(/^step,loss/.test(csv[0]) && csv.length === 3, `the chart's data as CSV: ${csv.join(' | ')}`);
  await lossFig.getByLabel('log').check();
  await lossFig.getByLabel('smooth').check();
  assert((await lossFig.locator('path.recharts-line-curve').count()) === 2, 'smoothing draws the smoothed curve over the raw one');

  const rows = page.getByTestId('history-row');
  await rows.first().waitFor({ timeout: 10_000 });
  const row = await rows.first().innerText();
  assert(/<Story> \{text\} <Label> \{label\}/.test(row) && /tiny-stories\.csv/.test(row), `the history keeps the configuration: ${row}`);
  await rows.first().getByRole('checkbox').check();
  await page.getByTestId('history-overlay').waitFor({ timeout: 5000 });
  await shot(page, join(artifacts, 'ui-train-history.png'));

  // Item 23: the Composer pre-fills the run's template (cut before the output) and predicts with the head.
  await gotoPanel(page, 'Composer');
  await page.getByTestId('compose-prefill').click();
  const sent = await page.getByTestId('prompt-sent-a').innerText();
  log(`prefilled: ${sent}`);
  assert(/^<Story> .+ <Label>$/.test(sent), `the prompt should be the training template up to the output: ${sent}`);
  await page.getByTestId('compose-run').click();
  await page.getByTestId('head-prediction').waitFor({ timeout: 60_000 });

  await gotoPanel(page, 'Matrix');
  await page.getByTestId('matrix-defaults').waitFor({ timeout: 10_000 });
  const pattern = await page.getByLabel('Cell template').inputValue();
  const outField = await page.getByLabel('Output field').inputValue();
  log(`matrix: ${pattern} / ${outField}`);
  assert(pattern === '<$DOMAIN> {text} <$FUNCTION> {label}' && outField === 'label', `the Matrix should default to the run's template: ${pattern} / ${outField}`);
  await page.getByLabel('Rows', { exact: true }).selectOption('all');
  await page.getByRole('button', { name: 'Evaluate all' }).click();
  const cell = page.getByTestId('cell-Story-Label');
  await waitUntil(page, async () => ['done', 'error'].includes(await cell.getAttribute('data-status')), { timeoutMs: 60_000, what: 'the matrix cell' });
  assert((await cell.getAttribute('data-status')) === 'done', `cell: ${(await cell.innerText()).replace(/\s+/g, ' ')}`);
  // Item 20: predicted vs true for the cell's rows; batch prediction of pasted inputs as CSV.
  await page.getByTestId('cell-rows-Story-Label').click();
  await page.getByTestId('pred-scatter').waitFor({ timeout: 10_000 });
  assert(Number(await page.getByTestId('pred-scatter').getAttribute('data-points')) > 0, 'the scatter has points');
  assert((await page.getByTestId('pred-table').locator('tbody tr').count()) > 0, 'the per-row table has rows');
  const batch = page.getByTestId('batch-prediction');
  await batch.getByLabel('Batch inputs').fill('The cat sat.\nA dog ran far.\nBirds sing.');
  await batch.getByTestId('batch-run').click();
  await batch.getByTestId('batch-csv').waitFor({ timeout: 60_000 });
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), batch.getByTestId('batch-csv').click()]);
  const lines = (await readFile(await dl.path(), 'utf8')).trim().split('\n');
  log(`batch csv: ${lines.join(' | ')}`);
  assert(lines.length === 4 && /^text,prediction$/.test(lines[0]) && /^A dog ran far\.,-?\d/.test(lines[2]), `batch CSV: ${lines.join(' | ')}`);
  await shot(page, join(artifacts, 'ui-train-history-matrix.png'));
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
