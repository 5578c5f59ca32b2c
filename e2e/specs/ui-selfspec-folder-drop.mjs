import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, shot } from '../workbench-lib.mjs';

export const name = 'ui-selfspec-folder-drop';
export const timeoutMs = 90_000;

/**
 * Drops real folders on the Self-specialization corpus area through Chrome's own drag-and-drop
 * input (CDP Input.dispatchDragEvent with a directory path, what an OS drag hands the browser), so
 * the page sees genuine FileSystemDirectoryEntry objects: a folder of .txt documents (with a
 * sub-folder) becomes the corpus; a folder without .txt documents is refused with a message and the
 * corpus chosen before stays.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  const root = await mkdtemp(join(tmpdir(), 'folder-drop-'));
  try {
    const docs = join(root, 'docs');
    await mkdir(join(docs, 'sub'), { recursive: true });
    await writeFile(join(docs, 'lace.txt'), 'Lace plants shed leaf cells by programmed death.\n\nWindows form in the leaves.');
    await writeFile(join(docs, 'liver.txt'), 'The liver makes bile.');
    await writeFile(join(docs, 'notes.md'), '# not a document');
    await writeFile(join(docs, 'sub', 'kidney.txt'), 'The kidney filters blood.');
    const other = join(root, 'pictures');
    await mkdir(other);
    await writeFile(join(other, 'a.png'), 'not text');

    await openApp(page, baseUrl);
    await gotoPanel(page, 'Self-specialization');
    const cdp = await page.context().newCDPSession(page);
    const dropOn = async (testId, path) => {
      const box = await page.getByTestId(testId).boundingBox();
      const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      const data = { items: [], files: [path], dragOperationsMask: 1 };
      for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
    };

    const corpus = page.getByTestId('ss-corpus');
    await dropOn('ss-corpus-folder', docs);
    await waitUntil(page, async () => /docs: 3 \.txt documents/.test(await corpus.innerText()) || (await page.getByTestId('ss-corpus-error').count()) > 0, {
      timeoutMs: 15_000,
      what: 'the dropped folder to become the corpus',
    });
    const err = page.getByTestId('ss-corpus-error');
    assert((await err.count()) === 0, `the folder drop was refused: ${(await err.count()) ? await err.innerText() : ''}`);
    const chosen = await corpus.locator('option:checked').innerText();
    log(`dropped folder: ${chosen}`);
    assert(/^docs: 3 \.txt documents \(0\.1 KB\)$/.test(chosen), `corpus after the drop: ${chosen}`);
    await shot(page, join(artifacts, 'selfspec-folder-drop.png'));

    // The same drop on the "Upload a corpus" area (several files / a folder) works alike; a folder
    // without .txt is refused there with the picker's message and the corpus stays.
    await dropOn('ss-corpus-file', other);
    await err.waitFor({ timeout: 15_000 });
    const msg = await err.innerText();
    log(`no .txt: ${msg}`);
    assert(/^pictures: no \.txt documents among the 1 file\. /.test(msg), `a clear message for a folder without .txt: ${msg}`);
    assert(/^docs: 3 \.txt documents/.test(await corpus.locator('option:checked').innerText()), 'the corpus chosen before stays');
    await shot(page, join(artifacts, 'selfspec-folder-drop-refused.png'));
    await expectNoErrorBanner(page);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
