import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, gotoPanel, liveCard, loadModel, resetStorage, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'workbench-data-train';
export const timeoutMs = 420_000;

/**
 * Data: import a CSV with bad rows and read the validation report. Train: a stage-1 tag on it for a
 * few steps, watching the loss chart move; the tag lands in the library.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);

  // ---- Data panel: upload, report, preview, split.
  await ensureDataset(page);
  const details = page.getByTestId('dataset-details');
  const skipped = Number(await page.getByTestId('skipped-count').innerText());
  const report = (await page.getByTestId('validation-report').innerText()).replace(/\s+/g, ' ');
  log(`report: ${report.slice(0, 300)}`);
  assert(skipped === 3, `expected 3 skipped rows (bad quotes, wrong field count, empty text), got ${skipped}`);
  assert(/malformed quotes/.test(report), 'the report should name the broken quote');
  assert(/expected 2/.test(report), 'the report should name the row with too many fields');
  assert(/empty "text"/.test(report), 'the report should name the empty value');
  assert((await page.getByTestId('skipped-row').count()) === 3, 'three report rows');
  assert((await page.getByTestId('usable-rows').innerText()) === '21', 'usable rows');
  assert((await page.getByTestId('preview-table').locator('tbody tr').count()) > 5, 'preview rows');
  // Mark the label numeric: the row with "not-a-number" is then skipped too, with its reason.
  await page.getByLabel('{label} must be a number').check();
  await waitUntil(page, async () => (await page.getByTestId('skipped-count').innerText()) === '4', { what: 'the numeric check to skip a row' });
  assert(/not a number/.test(await page.getByTestId('validation-report').innerText()), 'non-number reason');
  assert((await details.getByLabel('Dataset name').inputValue()) === 'tiny-stories.csv', 'dataset name shown');
  await shot(page, join(artifacts, 'panel-data.png'));

  // ---- Model, then a short stage-1 run.
  await loadModel(page);
  // URL loads are cache-first: the model and its tokenizer are listed, each with a delete button.
  const cached = page.getByTestId('cached-model');
  await waitUntil(page, async () => (await cached.count()) >= 2, { what: 'two cached files (model, tokenizer)' });
  assert(/stories260K\.bin/.test(await page.getByTestId('model-cache').innerText()), 'the model file is listed');
  await shot(page, join(artifacts, 'panel-model.png'));
  await page.getByRole('button', { name: 'Delete cached tok512.bin' }).click();
  await waitUntil(page, async () => !/tok512/.test(await page.getByTestId('model-cache').innerText()), { what: 'the cached tokenizer to be deleted' });
  await configureRun(page, { template: '<Story> {text}', steps: 5, checkpointEvery: 2 });
  assert((await page.getByTestId('template-preview').innerText()).includes('Story'), 'template preview shows the tag');
  await page.getByTestId('train-start').click();

  const live = liveCard(page);
  const chart = page.getByTestId('chart-loss');
  const losses = new Set();
  const paths = new Set();
  const t0 = Date.now();
  await waitUntil(
    page,
    async () => {
      const n = Number((await chart.getAttribute('data-points')) ?? 0);
      if (n > 0) {
        losses.add(await page.getByTestId('train-loss').innerText());
        const d = await chart.locator('path.recharts-line-curve').first().getAttribute('d').catch(() => null);
        if (d) paths.add(d);
      }
      return (await live.getAttribute('data-status')) === 'done' || (await live.getAttribute('data-status')) === 'error';
    },
    { timeoutMs: 300_000, intervalMs: 300, what: 'the run to finish', describe: async () => (await live.innerText()).replace(/\s+/g, ' ').slice(0, 300) },
  );
  await waitTrainingDone(page, 10_000);
  log(`trained 5 steps in ${((Date.now() - t0) / 1000).toFixed(1)} s; losses seen: ${[...losses].join(', ')}`);
  assert(Number(await chart.getAttribute('data-points')) === 5, 'five points on the loss chart');
  assert(losses.size >= 2, `the loss should change during training (saw ${[...losses].join(', ')})`);
  assert(paths.size >= 2, 'the loss curve should be redrawn as steps arrive');
  const result = await page.getByTestId('train-result').innerText();
  assert(/<Story>/.test(result), `result should name the saved tag: ${result}`);
  assert(Number(await page.getByTestId('chart-eval').getAttribute('data-points')) >= 2, 'validation metric before and after');
  await shot(page, join(artifacts, 'panel-train.png'));

  // The tag is in the library, with provenance.
  await gotoPanel(page, 'Library');
  const row = page.getByTestId('library-row-Story');
  await row.waitFor({ timeout: 10_000 });
  const rowText = (await row.innerText()).replace(/\s+/g, ' ');
  assert(/stage1/.test(rowText) && /5 steps/.test(rowText), `library row: ${rowText}`);
  assert(/loaded model/.test(rowText), `the tag should match the loaded model's embeddings: ${rowText}`);
  await expectNoErrorBanner(page);
}
