import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, ensureTag, gotoPanel, loadModel, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'workbench-compose-library';
export const timeoutMs = 480_000;

/**
 * Composer: drag the tag into a prompt and generate (side by side with the tag-less prompt).
 * Library: export the tag, delete it, import the file and get the same bytes back.
 * Also a function tag with a head (stage 2) for head prediction, the composition matrix and the inspector.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await openApp(page, baseUrl);
  await loadModel(page);
  await ensureTag(page, 'Story');

  // ---- Composer: drag <Story> into the prompt, run side by side with the same prompt without tags.
  await gotoPanel(page, 'Composer');
  const editor = page.getByTestId('prompt-editor-a');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Once upon a time');
  await page.getByTestId('palette-tag-Story').dragTo(editor, { targetPosition: { x: 4, y: 12 } });
  await waitUntil(page, async () => (await editor.locator('[data-tag="Story"]').count()) === 1, { what: 'the dropped tag chip in the prompt' });
  const editorText = await editor.innerText();
  log(`prompt after drop: ${JSON.stringify(editorText)}`);
  await page.getByLabel('Side by side').selectOption('no-tags');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByTestId('compose-run').click();
  const status = page.getByTestId('compose-status');
  await waitUntil(page, async () => ['done', 'error', 'cancelled'].includes(await status.innerText()), { timeoutMs: 60_000, what: 'the composer run' });
  assert((await status.innerText()) === 'done', `composer run ended ${await status.innerText()}`);
  const withTag = await page.getByTestId('compose-output-0').innerText();
  const without = await page.getByTestId('compose-output-1').innerText();
  log(`with <Story>: ${JSON.stringify(withTag)}\n    without: ${JSON.stringify(without)}`);
  assert(withTag.trim().length > 0 && without.trim().length > 0, 'both columns have output');
  assert(/<Story>/.test(await page.getByTestId('compose-column-0').innerText()), 'the tagged template is shown');
  // Keyboard insertion: focus the palette chip, press Enter.
  await page.getByTestId('palette-tag-Story').focus();
  await page.keyboard.press('Enter');
  await waitUntil(page, async () => (await editor.locator('[data-tag="Story"]').count()) === 2, { what: 'a keyboard-inserted chip' });
  await shot(page, join(artifacts, 'panel-composer.png'));

  // ---- Library: export <Story>, delete it, import the file back: the same bytes.
  await gotoPanel(page, 'Library');
  await page.getByLabel('Select <Story>').check();
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.getByTestId('export-selected').click()]);
  const exported = join(artifacts, 'exported-story.json');
  await dl.saveAs(exported);
  const before = JSON.parse(await readFile(exported, 'utf8'));
  assert(before.format === 'tag-workbench/library' && before.tags.length === 1 && before.tags[0].name === 'Story', 'export holds exactly <Story>');
  log(`exported ${dl.suggestedFilename()} (${before.tags[0].p}×${before.tags[0].d})`);
  await page.getByTestId('delete-Story').click();
  await page.getByTestId('confirm-delete-Story').click();
  await waitUntil(page, async () => (await page.getByTestId('library-row-Story').count()) === 0, { what: 'the tag to be deleted' });
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(exported);
  // Same model, same embeddings: no confirmation needed.
  await page.getByTestId('import-result').waitFor({ timeout: 15_000 });
  assert((await page.getByTestId('confirm-import').count()) === 0, 'no confirmation for the same model');
  await page.getByTestId('library-row-Story').waitFor();
  await page.getByLabel('Select <Story>').check();
  const [dl2] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.getByTestId('export-selected').click()]);
  const again = JSON.parse(await readFile(await dl2.path(), 'utf8'));
  assert(again.tags[0].data === before.tags[0].data, 'the imported tag has the same bytes');
  assert(JSON.stringify(again.tags[0].provenance) === JSON.stringify(before.tags[0].provenance), 'and the same provenance');
  assert(again.tags[0].id === before.tags[0].id && again.tags[0].p === before.tags[0].p, 'and the same id and shape');

  // A file for another width is refused; one from another embedding table asks first.
  const wide = structuredClone(before);
  wide.tags[0].d = 128;
  wide.tags[0].data = Buffer.alloc(before.tags[0].p * 128 * 4).toString('base64');
  wide.tags[0].name = 'Wide';
  wide.tags[0].provenance.dModel = 128;
  const widePath = join(artifacts, 'import-wide.json');
  await writeFile(widePath, JSON.stringify(wide));
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(widePath);
  await page.getByTestId('import-error').waitFor({ timeout: 10_000 });
  const refusal = await page.getByTestId('import-error').innerText();
  assert(/d_model 64/.test(refusal), `refusal should name the width: ${refusal}`);
  const foreign = structuredClone(before);
  foreign.tags[0].name = 'Foreign';
  foreign.tags[0].id = 'tag-foreign';
  foreign.tags[0].provenance.embeddingFingerprint = '0000000000000000';
  const foreignPath = join(artifacts, 'import-foreign.json');
  await writeFile(foreignPath, JSON.stringify(foreign));
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(foreignPath);
  await page.getByTestId('confirm-import').waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(artifacts, 'library-confirm.png') });
  await page.getByTestId('confirm-import').click();
  await page.getByTestId('library-row-Foreign').waitFor({ timeout: 10_000 });
  await page.getByTestId('delete-Foreign').click();
  await page.getByTestId('confirm-delete-Foreign').click();
  // Banners from the refusal are expected; clear them.
  for (const b of await page.getByTestId('error-banner').all()) await b.getByRole('button').first().click().catch(() => {});

  // ---- A function tag with a regression head (stage 2), then head prediction in the composer.
  await ensureDataset(page);
  await page.getByLabel('{label} must be a number').check();
  await configureRun(page, { method: 'stage2', template: '<Story> {text} <Label> {label}', steps: 2, outputKind: 'regression', outputField: 'label' });
  await page.getByTestId('train-start').click();
  await waitTrainingDone(page);
  await gotoPanel(page, 'Composer');
  await page.getByRole('radio', { name: 'Head prediction' }).click();
  await page.getByLabel('Side by side').selectOption('off');
  await page.getByTestId('palette-tag-Label').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('compose-run').click();
  await waitUntil(page, async () => ['done', 'error'].includes(await status.innerText()), { timeoutMs: 60_000, what: 'the head prediction' });
  const pred = await page.getByTestId('head-prediction').innerText();
  log(`head prediction: ${pred.replace(/\s+/g, ' ')}`);
  assert(/Label/.test(pred) && /\d/.test(pred), 'a numeric prediction from the head of <Label>');
  await shot(page, join(artifacts, 'panel-composer-head.png'));

  // ---- Composition matrix: <Story> × <Label> on the dataset.
  await gotoPanel(page, 'Matrix');
  const dsSelect = page.getByLabel('Dataset', { exact: true });
  const value = await dsSelect.locator('option', { hasText: 'tiny-stories.csv' }).first().getAttribute('value');
  await dsSelect.selectOption(value);
  await page.getByLabel('Rows', { exact: true }).selectOption('all');
  await page.getByLabel('Cell template').fill('<$DOMAIN> {text} <$FUNCTION> {label}');
  await page.getByLabel('Output field').fill('label');
  await page.getByRole('button', { name: 'Evaluate all' }).click();
  const cell = page.getByTestId('cell-Story-Label');
  await waitUntil(page, async () => ['done', 'error'].includes(await cell.getAttribute('data-status')), { timeoutMs: 60_000, what: 'the matrix cell' });
  const cellText = (await cell.innerText()).replace(/\s+/g, ' ');
  log(`matrix cell: ${cellText}`);
  assert((await cell.getAttribute('data-status')) === 'done' && /mse/i.test(cellText) && /trained/.test(cellText), `cell: ${cellText}`);
  await shot(page, join(artifacts, 'panel-matrix.png'));

  // ---- Inspector: norms, nearest tokens, PCA; attention for a tagged prompt.
  await gotoPanel(page, 'Inspector');
  await page.getByRole('button', { name: /Story/ }).first().click();
  await page.getByTestId('inspector-norms').waitFor({ timeout: 30_000 });
  await page.getByTestId('inspector-pca').waitFor();
  assert((await page.getByTestId('inspector-nearest').locator('tbody tr').count()) === before.tags[0].p, 'one nearest-token row per tag row');
  await page.getByLabel('Prompt (tags written <Name>)').fill('<Story> Once upon a time');
  await page.getByRole('button', { name: 'Show attention' }).click();
  await page.getByTestId('attention-heatmap').waitFor({ timeout: 30_000 });
  await shot(page, join(artifacts, 'panel-inspector.png'));

  await gotoPanel(page, 'Library');
  await shot(page, join(artifacts, 'panel-library.png'));
  await expectNoErrorBanner(page);
}
