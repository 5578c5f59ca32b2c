import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, waitUntil } from '../lib.mjs';
import { chartInkInShot, chartLinePoints, configureRun, ensureDataset, gotoPanel, liveCard, loadModel, openApp, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-train-samples';
export const timeoutMs = 420_000;

/**
 * Issue 9 items 17, 13, 21, 19: sample generations appear in the Train panel while a run trains,
 * with elapsed time and an ETA; the Output selects fit their card at 1280×800 and narrower; the
 * Library shows the trained tag's full provenance; the Inspector's charts export PNG/SVG/CSV.
 */

/** Whether the Method / Output / Output field selects lie inside the Run card with their longest option readable. */
async function outputSelectsFit(page) {
  return page.evaluate(() => {
    const out = [];
    for (const name of ['Method', 'Output', 'Output field']) {
      const label = [...document.querySelectorAll('label')].find((l) => l.textContent === name);
      const sel = label?.control;
      if (!(sel instanceof HTMLSelectElement)) {
        out.push({ name, missing: true });
        continue;
      }
      const card = sel.closest('.card').getBoundingClientRect();
      const box = sel.getBoundingClientRect();
      const cs = getComputedStyle(sel);
      const g = document.createElement('canvas').getContext('2d');
      g.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      let widest = 0;
      for (const o of sel.options) widest = Math.max(widest, g.measureText(o.text).width);
      // Room for text: the content box less the drop-down arrow (about 20 px in Chromium).
      const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
      out.push({
        name,
        inCard: box.left >= card.left - 0.5 && box.right <= card.right + 0.5,
        notScrolled: sel.scrollWidth <= sel.clientWidth,
        textFits: widest <= room,
        widest: Math.round(widest),
        room: Math.round(room),
      });
    }
    return out;
  });
}

async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await loadModel(page);
  await ensureDataset(page);

  // Item 13: the Output selects are not cut off, at 1280×800 and narrower.
  await configureRun(page, { method: 'stage2', template: '<Story> {text} <Label> {label}', steps: 2, outputKind: 'regression', outputField: 'label' });
  for (const [w, h] of [
    [1280, 800],
    [1100, 800],
    [900, 800],
  ]) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(200);
    const fits = await outputSelectsFit(page);
    log(`${w}×${h}: ${JSON.stringify(fits)}`);
    if (w === 1280) await shot(page, join(artifacts, 'ui-train-samples-output-1280.png'));
    if (w === 900) await shot(page, join(artifacts, 'ui-train-samples-output-900.png'));
    for (const f of fits) assert(!f.missing && f.inCard && f.notScrolled && f.textFits, `${w}×${h}: the ${f.name} select is cut off: ${JSON.stringify(f)}`);
  }
  await page.setViewportSize({ width: 1360, height: 900 });

  // Item 17: samples every 2 steps from the default prompt (the template filled with a validation row).
  await configureRun(page, { method: 'stage1', template: '<Story> {text}', steps: 8, checkpointEvery: 100 });
  await page.getByLabel('Sample every', { exact: true }).fill('2');
  await page.getByLabel('Sample tokens', { exact: true }).fill('8');
  const prompt = await page.getByTestId('train-sample-prompt').inputValue();
  log(`default sample prompt: ${prompt}`);
  assert(prompt === '<Story>', `stage 1's default sample prompt is the template cut before its first field: ${prompt}`);
  await page.getByTestId('train-sample-prompt').fill('<Story> Once upon a time');
  await page.getByTestId('train-start').click();
  const live = liveCard(page);
  await waitUntil(page, async () => Number(await live.getAttribute('data-step')) >= 2 && (await live.getAttribute('data-status')) === 'running', {
    what: 'two training steps',
    timeoutMs: 180_000,
  });
  const eta = (await page.getByTestId('train-eta').innerText()).trim();
  const elapsed = (await page.getByTestId('train-elapsed').innerText()).trim();
  log(`while training: elapsed ${elapsed}, time left ${eta}`);
  assert(/\d+ s|< 1 s|min/.test(elapsed), `elapsed time shown while training: ${elapsed}`);
  assert(/\d+ s|< 1 s|min|estimating/.test(eta), `time left shown while training: ${eta}`);
  await waitUntil(page, async () => (await live.getAttribute('data-status')) === 'done', { what: 'the run to finish', timeoutMs: 240_000 });
  const items = page.getByTestId('train-samples').locator('li');
  const steps = await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-step'))));
  const texts = await items.locator('.sample-text').allInnerTexts();
  log(`samples: ${steps.map((s, i) => `${s}: ${JSON.stringify(texts[i])}`).join(' | ')}`);
  assert(JSON.stringify(steps) === JSON.stringify([8, 6, 4, 2]), `a sample after every 2nd step, newest first: ${steps}`);
  assert(texts.every((t) => t.length > 0 && t !== '(empty)'), `every sample has text: ${texts}`);
  // The finished run's loss chart draws its line (one point a step), in the DOM and in the screenshot:
  // the first capture after a run has come out with the loss and validation plots empty while their
  // SVG was complete (see shot). The screenshot first: any page access before it lets the page render.
  const runShot = join(artifacts, 'ui-train-samples-run.png');
  await shot(page, runShot);
  const lossPoints = await chartLinePoints(page, 'chart-loss');
  const evalPoints = await chartLinePoints(page, 'chart-eval');
  log(`chart lines: loss ${lossPoints} points, validation ${evalPoints} points`);
  assert(lossPoints === 8, `the loss chart draws a line through its 8 steps: ${lossPoints} points`);
  assert(evalPoints === 2, `the validation chart draws a line through start and end: ${evalPoints} points`);
  const lossInk = await chartInkInShot(page, runShot, 'chart-loss', '#2f5bd3');
  const evalInk = await chartInkInShot(page, runShot, 'chart-eval', '#1f8a4c');
  log(`line pixels in the screenshot: loss ${lossInk}, validation ${evalInk}`);
  assert(lossInk >= 100 && evalInk >= 50, `the screenshot shows the loss and validation lines (line-coloured pixels: loss ${lossInk}, validation ${evalInk})`);

  // Item 21: the Library shows how the tag was trained.
  await gotoPanel(page, 'Library');
  await page.getByTestId('provenance-toggle-Story').click();
  const prov = page.getByTestId('provenance-Story');
  await prov.waitFor({ timeout: 10_000 });
  const text = await prov.innerText();
  log(`provenance: ${text.replace(/\s+/g, ' ')}`);
  for (const [what, re] of [
    ['the method', /stage1, tag length 2/],
    ['the template', /<Story> \{text\}/],
    ['the field mapping', /\{text\} ← text/],
    ['the hyperparameters', /batch 2 · .*lr 0\.03 · /],
    ['the seed', /Seed\s+0/],
    ['the dataset with its hash', /tiny-stories\.csv · \d+ rows · hash [0-9a-f]{8,}/],
    ['the model with its weights fingerprint', /stories260K\S* \(llama\) · weights fingerprint [0-9a-f]{8,}/],
  ]) {
    assert(re.test(text), `the provenance shows ${what}: ${text.replace(/\s+/g, ' ')}`);
  }
  assert(!/https?:|localhost/.test(text), `the model is named, not a URL: ${text}`);
  await page.getByTestId('provenance-toggle-Story').click();
  assert((await prov.count()) === 0, 'Hide details closes the record');
  await page.getByTestId('provenance-toggle-Story').click();
  await shot(page, join(artifacts, 'ui-train-samples-library.png'));

  // Item 19: the Inspector's charts export like the others.
  await gotoPanel(page, 'Inspector');
  await page.getByRole('list', { name: 'Tags' }).getByRole('button', { name: /Story/ }).click();
  const grab = async (scope, label) => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), scope.getByRole('button', { name: label, exact: true }).click()]);
    return readFile(await dl.path());
  };
  const norms = page.getByTestId('inspector-norms');
  await norms.locator('svg.recharts-surface').first().waitFor({ timeout: 60_000 });
  const png = await grab(norms, 'PNG');
  assert(png.subarray(1, 4).toString() === 'PNG' && png.length > 500, `a PNG of the row norms (${png.length} bytes)`);
  const svg = (await grab(norms, 'SVG')).toString();
  assert(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/.test(svg) && /<rect|<path/.test(svg), `a standalone SVG of the row norms: ${svg.slice(0, 100)}`);
  const normsCsv = (await grab(norms, 'CSV')).toString().trim().split('\n');
  assert(/^row,norm,vocab_mean$/.test(normsCsv[0]) && normsCsv.length === 3, `the row norms as CSV (2 rows): ${normsCsv.join(' | ')}`);
  const pca = page.getByTestId('inspector-pca');
  const pcaCsv = (await grab(pca, 'CSV')).toString().trim().split('\n');
  assert(/^group,label,pc1,pc2$/.test(pcaCsv[0]) && pcaCsv.some((l) => l.startsWith('<Story>,')), `the PCA points as CSV: ${pcaCsv.slice(0, 3).join(' | ')}`);
  await page.getByLabel('Prompt (tags written <Name>)').fill('<Story> Once upon');
  await page.getByRole('button', { name: 'Show attention' }).click();
  const attn = page.getByTestId('inspector-attention');
  await page.getByTestId('attention-heatmap').waitFor({ timeout: 60_000 });
  assert((await attn.getByRole('button', { name: 'SVG', exact: true }).count()) === 0, 'the attention map is a canvas: no SVG button');
  const heatPng = await grab(attn, 'PNG');
  assert(heatPng.subarray(1, 4).toString() === 'PNG', 'a PNG of the attention map');
  const attnCsv = (await grab(attn, 'CSV')).toString().trim().split('\n');
  assert(/^query,key,query_token,key_token,weight$/.test(attnCsv[0]) && attnCsv.length > 3, `the attention weights as CSV: ${attnCsv.slice(0, 3).join(' | ')}`);
  await shot(page, join(artifacts, 'ui-train-samples-inspector.png'));
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
