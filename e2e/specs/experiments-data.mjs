import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'experiments-data';
export const timeoutMs = 420_000;

const NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/;

/** 24 rows: a word, a number that depends on it, a small/big label (text). */
const WORDS = ['cat', 'dog', 'bird', 'fish', 'tree', 'house', 'river', 'stone', 'cloud', 'apple', 'bread', 'chair'];
const CSV = ['word,size,score', ...WORDS.flatMap((w, i) => [`${w},${w.length > 4 ? 'big' : 'small'},${w.length + i / 10}`, `the ${w},big,${w.length + 1 + i / 10}`])].join('\n');

/**
 * Issue 9 item 22: an experiment on an uploaded CSV. Upload it in the Data panel, add it as a task
 * in the Experiments form (input column, target, kind inferred), see a bad mapping refused with its
 * reason, run Tag-LLM and a linear probe on stories260K with a tiny budget, and read the results
 * table (a row per method, the data set's column with its metric) and its CSV export.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl, ['tag-workbench-experiments']);
  await openApp(page, baseUrl);
  await loadModel(page);

  // ---- Upload the CSV in the Data panel.
  await gotoPanel(page, 'Data');
  const file = join(artifacts, 'words.csv');
  await writeFile(file, CSV);
  await page.getByTestId('dataset-drop').locator('input[type=file]').setInputFiles(file);
  await page.getByTestId('dataset-details').waitFor({ timeout: 30_000 });

  // ---- The Experiments form: no built-in task, the uploaded data set as a task.
  await gotoPanel(page, 'Experiments');
  await page.getByTestId('exp-name').fill('e2e-data');
  const tasks = page.locator('label.check', { hasText: 'Descriptor' }).locator('input');
  if (await tasks.isChecked()) await tasks.uncheck();
  const pick = page.getByTestId('exp-data-pick');
  await pick.waitFor({ timeout: 10_000 });
  assert(/words\.csv \(24 rows\)/.test(await pick.locator('option:checked').innerText()), 'the uploaded data set is offered');
  await page.getByTestId('exp-add-data').click();
  const entry = page.getByTestId('exp-data-task');
  await entry.waitFor({ timeout: 5_000 });
  assert((await entry.getAttribute('data-dataset')) === 'words.csv', 'a task over words.csv');
  // Defaults: the first column is the input, the last the target; the kind is inferred from it.
  assert((await page.getByTestId('exp-data-target').inputValue()) === 'score', 'target = score');
  assert(await entry.getByTestId('exp-data-inputs').getByLabel('word').isChecked(), 'input = word');
  assert(/Auto \(regression\)/.test(await page.getByTestId('exp-data-kind').locator('option[value=auto]').innerText()), 'the kind is inferred from the target column');

  // A regression on a text column is refused, naming the column and what to choose instead.
  const validation = page.getByTestId('exp-validation');
  await page.getByTestId('exp-data-target').selectOption('size');
  await page.getByTestId('exp-data-kind').selectOption('regression');
  await waitUntil(page, async () => (await validation.getAttribute('data-ok')) === 'false', { what: 'the bad mapping to be refused' });
  const errors = await page.getByTestId('exp-error').allInnerTexts();
  log(`bad mapping: ${errors.join(' | ')}`);
  assert(errors.some((e) => /the target column "size" is not numeric .* choose classification or generation/.test(e)), `the reason is shown: ${errors.join(' | ')}`);
  assert(await page.getByTestId('exp-run').isDisabled(), 'Run is disabled while the mapping is wrong');
  await shot(page, join(artifacts, 'experiments-data-bad-mapping.png'));

  await page.getByTestId('exp-data-target').selectOption('score');
  await page.getByTestId('exp-data-kind').selectOption('auto');
  await page.getByLabel('Steps', { exact: true }).fill('2');
  await page.getByLabel('Tag length', { exact: true }).fill('1');
  await page.getByLabel('Max train rows', { exact: true }).fill('8');
  await page.getByLabel('Max eval rows', { exact: true }).fill('4');
  await waitUntil(page, async () => (await validation.getAttribute('data-ok')) === 'true' && /2 steps/.test(await validation.innerText()), {
    what: 'the definition to validate',
    describe: async () => (await validation.innerText()).replace(/\s+/g, ' '),
  });
  assert((await page.getByTestId('exp-cell-count').innerText()) === '2', 'two cells planned (Tag-LLM, linear probe)');

  // ---- Run it.
  await page.getByTestId('exp-run').click();
  const progress = page.getByTestId('exp-progress');
  await progress.waitFor({ timeout: 15_000 });
  const t0 = Date.now();
  await waitUntil(
    page,
    async () => {
      const st = await progress.getAttribute('data-status');
      if (st === 'error' || st === 'cancelled') throw new Error(`the experiment ended with ${st}: ${(await page.locator('main').innerText()).slice(0, 600)}`);
      return st === 'done';
    },
    { timeoutMs: 300_000, intervalMs: 300, what: 'the experiment to finish', describe: async () => (await progress.innerText()).replace(/\s+/g, ' ').slice(0, 400) },
  );
  log(`ran 2 cells in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await expectNoErrorBanner(page, 'after the run');

  // ---- The results table: a row per method, the data set's column with its metric.
  const table = page.getByTestId('exp-table-main');
  const rows = table.locator('tbody tr');
  assert((await rows.count()) === 2, 'a row per method');
  assert((await rows.nth(0).locator('th').innerText()) === 'Tag-LLM' && (await rows.nth(1).locator('th').innerText()) === 'Linear probe', 'method rows');
  const head = await table.locator('thead').innerText();
  assert(/words\.csv: score \(MSE ↓\)/.test(head), `the data set's column: ${head}`);
  const values = await table.getByTestId('exp-tcell').evaluateAll((els) => els.map((e) => ({ value: e.getAttribute('data-value'), text: e.textContent.trim() })));
  log(`table: ${values.map((v) => v.text).join(', ')}`);
  assert(values.length === 2 && values.every((v) => NUMBER.test(v.text) && Number.isFinite(Number(v.value))), `every cell is a number: ${JSON.stringify(values)}`);
  await table.scrollIntoViewIfNeeded();
  await shot(page, join(artifacts, 'experiments-data-results.png'));

  // ---- The same exports as the built-in tasks.
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.getByTestId('exp-download-csv').click()]);
  const csv = await readFile(await dl.path(), 'utf8');
  assert(dl.suggestedFilename() === 'e2e-data.csv' && /^method,params,words_mean,words_std,words_n/.test(csv), `CSV export: ${csv.slice(0, 80)}`);
}

/** Leaves no data sets or results behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl, ['tag-workbench-experiments']).catch(() => {});
  }
}
