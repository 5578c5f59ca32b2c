/** Helpers shared by the workbench specs (data, training, composer, library, resume). */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, openApp, waitUntil } from './lib.mjs';

export const FIXTURE_CSV = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiny-stories.csv');

/**
 * Deletes the app's saved state (IndexedDB `tag-workbench` and the databases named in `alsoDbs`,
 * localStorage), from a page that does not hold a db open.
 */
export async function resetStorage(page, baseUrl, alsoDbs = []) {
  await page.goto(`${baseUrl}data/SOURCES.md`);
  await page.evaluate(
    (names) => {
      localStorage.clear();
      return Promise.all(
        names.map(
          (name) =>
            new Promise((resolve, reject) => {
              const req = indexedDB.deleteDatabase(name);
              req.onsuccess = () => resolve();
              req.onerror = () => reject(req.error);
              req.onblocked = () => reject(new Error(`deleteDatabase ${name} blocked`));
            }),
        ),
      );
    },
    ['tag-workbench', ...alsoDbs],
  );
}

export function nav(page) {
  return page.getByRole('navigation', { name: 'Panels' });
}

export async function gotoPanel(page, label) {
  await nav(page).getByRole('link', { name: label, exact: true }).click();
  await page.locator('#panel-title', { hasText: label }).waitFor({ timeout: 10_000 });
}

/** Loads stories260K from the catalog (the Model panel). */
export async function loadModel(page) {
  await gotoPanel(page, 'Model');
  const summary = page.getByTestId('model-summary');
  if (await summary.isVisible()) return;
  await page.getByRole('button', { name: 'Load stories260K' }).click();
  await waitUntil(page, () => summary.isVisible(), { timeoutMs: 120_000, what: 'stories260K to load' });
}

/** Imports the fixture CSV in the Data panel unless it is there already. */
export async function ensureDataset(page) {
  await gotoPanel(page, 'Data');
  const item = page.getByRole('button', { name: /tiny-stories\.csv/ });
  if ((await item.count()) === 0) {
    await page.getByTestId('dataset-drop').locator('input[type=file]').setInputFiles(FIXTURE_CSV);
    await item.first().waitFor({ timeout: 30_000 });
  }
  await item.first().click();
  await page.getByTestId('dataset-details').waitFor();
}

export async function selectDataset(page, testId, namePart) {
  const sel = page.getByTestId(testId);
  const value = await sel.locator('option', { hasText: namePart }).first().getAttribute('value');
  assert(value, `no ${namePart} option in ${testId}`);
  await sel.selectOption(value);
}

async function setNumber(page, label, value) {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(String(value));
}

/** Sets a field and checks it held: a preset's state update can land after the fill on a busy machine. */
async function setNumberChecked(page, label, value) {
  const input = page.getByLabel(label, { exact: true });
  const t0 = Date.now();
  for (;;) {
    await input.fill(String(value));
    await page.waitForTimeout(200);
    if ((await input.inputValue()) === String(value)) return;
    if (Date.now() - t0 > 10_000) throw new Error(`${label} does not keep the value ${value} (shows ${await input.inputValue()})`);
  }
}

/**
 * Configures a run in the Train panel: stage 1 on the fixture with the tiny-model preset
 * (or `opts.method`, `opts.template`, …).
 */
export async function configureRun(page, { method = 'stage1', template = '<Story> {text}', steps = 4, tagLength = 2, checkpointEvery = 2, outputKind, outputField } = {}) {
  await gotoPanel(page, 'Train');
  await page.getByTestId('train-method').selectOption(method);
  await page.getByTestId('train-template').fill(template);
  await page.getByRole('button', { name: 'Tiny model' }).click();
  await setNumber(page, 'Steps', steps);
  await setNumber(page, 'Tag length (rows)', tagLength);
  await setNumber(page, 'Checkpoint every', checkpointEvery);
  await selectDataset(page, 'train-dataset', 'tiny-stories.csv');
  // The run length matters to the specs that resume: make sure the preset did not overwrite it.
  await setNumberChecked(page, 'Steps', steps);
  if (outputKind) await page.getByLabel('Output', { exact: true }).selectOption(outputKind);
  if (outputField) await page.getByLabel('Output field', { exact: true }).selectOption(outputField);
}

export function liveCard(page) {
  return page.getByTestId('train-live');
}

/** Waits until the run in the Train panel has ended; fails on error/cancel. */
export async function waitTrainingDone(page, timeoutMs = 300_000) {
  const live = liveCard(page);
  await waitUntil(
    page,
    async () => {
      const st = await live.getAttribute('data-status');
      if (st === 'error' || st === 'cancelled') throw new Error(`training ended with status ${st}: ${(await live.innerText()).slice(0, 400)}`);
      return st === 'done';
    },
    { timeoutMs, what: 'training to finish', describe: async () => (await live.innerText()).replace(/\s+/g, ' ').slice(0, 300) },
  );
}

/** Makes sure the library has <name> (trains it with stage 1 when missing). */
export async function ensureTag(page, name = 'Story') {
  await gotoPanel(page, 'Library');
  if ((await page.getByTestId(`library-row-${name}`).count()) > 0) return;
  await ensureDataset(page);
  await configureRun(page, { template: `<${name}> {text}`, steps: 3 });
  await page.getByTestId('train-start').click();
  await waitTrainingDone(page);
}

export { openApp };

/** A full-page screenshot from the top of the page, without the transient info notices. */
export async function shot(page, path) {
  for (const b of await page.getByTestId('notice').all()) await b.getByRole('button').first().click().catch(() => {});
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150);
  // A full-page capture draws what lies below the viewport from the last rendered frame: after
  // changes there with no frame since (a run that just finished) a chart came out blank although
  // its SVG was complete. Two animation frames make the page render its current DOM first.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path, fullPage: true });
}

/** Points of the first line a recharts chart (by test id) draws: 1 + the segments of its path's `d`. */
export async function chartLinePoints(page, testId) {
  const d = await page.getByTestId(testId).locator('path.recharts-line-curve').first().getAttribute('d', { timeout: 5000 }).catch(() => null);
  if (!d || !/^M/.test(d)) return 0;
  return 1 + (d.match(/[LC]/g) ?? []).length;
}

/**
 * Pixels of colour `hex` (± tolerance per channel) inside a chart's plot area in a full-page
 * screenshot at `pngPath`, taken at scroll 0: whether the picture shows the line, not only the DOM.
 */
export async function chartInkInShot(page, pngPath, testId, hex, tolerance = 40) {
  const { readFile } = await import('node:fs/promises');
  const url = `data:image/png;base64,${(await readFile(pngPath)).toString('base64')}`;
  return page.getByTestId(testId).evaluate(
    async (fig, { url, hex, tolerance }) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const r = fig.querySelector('.recharts-responsive-container').getBoundingClientRect();
      const k = img.naturalWidth / document.documentElement.clientWidth;
      const box = { x: Math.round((r.left + scrollX) * k), y: Math.round((r.top + scrollY) * k), w: Math.round(r.width * k), h: Math.round(r.height * k) };
      const c = document.createElement('canvas');
      c.width = box.w;
      c.height = box.h;
      const g = c.getContext('2d');
      g.drawImage(img, box.x, box.y, box.w, box.h, 0, 0, box.w, box.h);
      const px = g.getImageData(0, 0, box.w, box.h).data;
      const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (want.every((v, j) => Math.abs(px[i + j] - v) <= tolerance)) n++;
      return n;
    },
    { url, hex, tolerance },
  );
}
