import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { importLibraryFile, libraryFile } from '../fixture-tags.mjs';
import { gotoPanel, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-composer-chips';
export const timeoutMs = 300_000;

const count = (s, re) => (s.match(re) ?? []).length;

/**
 * Issue 9 item 8: chips are atomic (a click after a trailing chip, then Enter on a palette chip,
 * inserts a second chip beside it, not inside it); the rendered prompt line equals what is sent;
 * typing and Backspace keep working; Clear empties the prompt; head mode does not offer the
 * tag-less side by side.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);
  await importLibraryFile(page, artifacts, libraryFile([{ name: 'Story' }, { name: 'Label', kind: 'function', head: true }]), 'composer-tags.json');
  await page.getByTestId('library-row-Story').waitFor({ timeout: 15_000 });

  await gotoPanel(page, 'Composer');
  const editor = page.getByTestId('prompt-editor-a');
  const sent = page.getByTestId('prompt-sent-a');
  // Clear empties the prompt (and the outputs).
  await page.getByTestId('compose-clear').click();
  assert((await editor.innerText()).trim() === '', `Clear leaves the prompt: ${JSON.stringify(await editor.innerText())}`);
  await editor.click();
  await page.keyboard.type('Once upon a time ');
  await page.getByTestId('palette-tag-Story').focus();
  await page.keyboard.press('Enter');
  await waitUntil(page, async () => (await editor.locator('[data-tag]').count()) === 1, { what: 'the first chip' });

  // Click just right of the trailing chip, then insert from the palette again.
  const box = await editor.locator('[data-tag]').first().boundingBox();
  await page.mouse.click(box.x + box.width + 6, box.y + box.height / 2);
  await page.getByTestId('palette-tag-Story').focus();
  await page.keyboard.press('Enter');
  await waitUntil(page, async () => (await editor.locator('[data-tag]').count()) >= 2, { what: 'the second chip' });
  const nested = await editor.locator('[data-tag] [data-tag]').count();
  assert(nested === 0, `a chip was nested inside another (${nested})`);

  // Typing after the chips still works, and lands in the prompt that is sent.
  await editor.click({ position: { x: (await editor.boundingBox()).width - 4, y: 10 } });
  await page.keyboard.press('End');
  await page.keyboard.type(' there');
  const visibleChips = await editor.locator('[data-tag]').count();
  let line = await sent.innerText();
  log(`editor: ${JSON.stringify(await editor.innerText())} · sends: ${line}`);
  assert(visibleChips === 2, `two chips visible, got ${visibleChips}`);
  assert(count(line, /<Story>/g) === visibleChips, `the sent line has ${count(line, /<Story>/g)} tags, the editor shows ${visibleChips}`);
  assert(/there$/.test(line), `typed text reaches the sent prompt: ${line}`);

  // Backspace removes the text, then a chip as a whole.
  for (let i = 0; i < ' there'.length + 1; i++) await page.keyboard.press('Backspace');
  await waitUntil(page, async () => (await editor.locator('[data-tag]').count()) === 1, { what: 'Backspace to delete a whole chip' });
  line = await sent.innerText();
  assert(count(line, /<Story>/g) === 1 && line.startsWith('Once upon a time'), `after Backspace the sent line is ${line}`);

  // What runs is what was shown.
  await page.getByLabel('Max tokens').fill('2');
  await page.getByTestId('compose-run').click();
  const status = page.getByTestId('compose-status');
  await waitUntil(page, async () => ['done', 'error', 'cancelled'].includes(await status.innerText()), { timeoutMs: 60_000, what: 'the composer run' });
  const template = await page.getByTestId('compose-column-0').locator('.column-template').innerText();
  // Read what the prompt shows now (nothing edits it during the run): right after the Backspaces the
  // line can lag the editor by a render on a loaded machine.
  line = await sent.innerText();
  assert(template === line, `sent ${JSON.stringify(template)} but showed ${JSON.stringify(line)}`);

  // Ctrl+A, Delete empties it.
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await waitUntil(page, async () => (await editor.locator('[data-tag]').count()) === 0 && (await sent.innerText()) === '(empty)', { what: 'Ctrl+A Delete to empty the prompt', timeoutMs: 5000, describe: async () => `editor ${JSON.stringify(await editor.innerHTML())} sends ${JSON.stringify(await sent.innerText())}` });

  // Head mode: the tag-less comparison is not offered (it has no head to read).
  await page.getByRole('radio', { name: 'Head prediction' }).click();
  const noTags = page.getByLabel('Side by side').locator('option[value="no-tags"]');
  assert(await noTags.isDisabled(), 'head mode still offers "same prompt without its tags"');
  await shot(page, join(artifacts, 'ui-composer-chips.png'));
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
