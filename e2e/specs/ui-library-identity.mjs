import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { importLibraryFile, libraryFile } from '../fixture-tags.mjs';
import { gotoPanel, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-library-identity';
export const timeoutMs = 240_000;

/**
 * Issue 9 item 14: renaming a tag in the Library keeps the Composer's chips and the Train template
 * on that tag; re-importing the same file adds nothing ("already in the library"); a changed tag of
 * the same id asks before anything is added.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);
  const file = libraryFile([{ name: 'Story' }]);
  await importLibraryFile(page, artifacts, file, 'identity.json');
  await page.getByTestId('library-row-Story').waitFor({ timeout: 15_000 });

  await gotoPanel(page, 'Composer');
  const editor = page.getByTestId('prompt-editor-a');
  await page.getByTestId('compose-clear').click();
  await editor.click();
  await page.keyboard.type('Once ');
  await page.getByTestId('palette-tag-Story').focus();
  await page.keyboard.press('Enter');
  await waitUntil(page, async () => (await page.getByTestId('prompt-sent-a').innerText()) === 'Once <Story>', { what: 'the chip in the prompt', describe: async () => `editor ${JSON.stringify(await editor.innerHTML())} sends ${JSON.stringify(await page.getByTestId('prompt-sent-a').innerText())}` });
  await gotoPanel(page, 'Train');
  await page.getByTestId('train-method').selectOption('stage1');
  await page.getByTestId('train-template').fill('<Story> {text}');

  // Rename in the Library.
  await gotoPanel(page, 'Library');
  await page.getByTestId('library-row-Story').getByRole('button', { name: 'Rename' }).click();
  await page.getByLabel('New name for <Story>').fill('Tale');
  await page.getByLabel('New name for <Story>').press('Enter');
  await page.getByTestId('library-row-Tale').waitFor({ timeout: 10_000 });

  await gotoPanel(page, 'Composer');
  const sent = await page.getByTestId('prompt-sent-a').innerText();
  const chip = await editor.locator('[data-tag]').first().getAttribute('data-tag');
  log(`after rename: sends ${sent}; chip ${chip}`);
  assert(sent === 'Once <Tale>' && chip === 'Tale', `the chip should follow the renamed tag: sends ${sent}, chip ${chip}`);
  const cls = await editor.locator('[data-tag]').first().getAttribute('class');
  assert(/tagchip-domain/.test(cls), `the chip is still a known (domain) tag: ${cls}`);
  await gotoPanel(page, 'Train');
  const tpl = await page.getByTestId('train-template').inputValue();
  assert(tpl === '<Tale> {text}', `the Train template should follow: ${tpl}`);

  // The same file again: nothing added.
  await importLibraryFile(page, artifacts, file, 'identity.json');
  await waitUntil(page, async () => /already/i.test(await page.getByTestId('import-result').innerText().catch(() => '')), { what: 'the re-import result', timeoutMs: 15_000 }).catch(() => {});
  const result = await page.getByTestId('import-result').innerText();
  log(`re-import: ${result}`);
  assert(/already in the library/i.test(result) && /Tale/.test(result), `re-import should say it is already there: ${result}`);
  assert((await page.getByTestId('library-tags').locator('tbody tr[data-testid^="library-row-"]').count()) === 1, 'the re-import duplicated the tag');

  // A changed tag of the same id: asked, and Cancel adds nothing.
  const changed = libraryFile([{ name: 'Story' }]);
  changed.tags[0].data = libraryFile([{ name: 'X', p: 2 }, { name: 'Y', p: 2 }]).tags[1].data;
  await importLibraryFile(page, artifacts, changed, 'identity-changed.json');
  await page.getByTestId('import-conflicts').waitFor({ timeout: 15_000 });
  const asked = await page.getByTestId('import-conflicts').innerText();
  assert(/same id/.test(asked), `the conflict names the id clash: ${asked}`);
  await shot(page, join(artifacts, 'ui-library-identity.png'));
  await page.getByRole('button', { name: 'Cancel' }).last().click();
  assert((await page.getByTestId('library-tags').locator('tbody tr[data-testid^="library-row-"]').count()) === 1, 'Cancel still imported');
  await expectNoErrorBanner(page);
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
