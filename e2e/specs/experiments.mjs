import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'experiments';
export const timeoutMs = 480_000;

/** A tiny experiment: stories260K, one task, two methods, one seed, two steps on tiny caps. */
const TINY = {
  name: 'e2e-tiny',
  tasks: ['descriptor'],
  methods: ['tag-llm', 'linear-probe'],
  seeds: [0],
  hyper: { steps: 2, batch: 2, lr: 0.01 },
  tagLength: 2,
  caps: { maxTrain: 6, maxEval: 4, maxChars: 12 },
};

const NUMBER = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/;

/**
 * Experiments panel: a bad definition lists its problems; a tiny one runs in the worker with progress
 * per cell and step; the results table is complete (every cell a number, trainable parameters), with
 * bar charts and a cell's training curve; downloads; a second run reuses every finished cell.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl, ['tag-workbench-experiments']);
  await openApp(page, baseUrl);
  await loadModel(page);
  await gotoPanel(page, 'Experiments');

  // ---- The definition: JSON, validated as typed.
  await page.getByTestId('exp-mode-json').click();
  const json = page.getByTestId('exp-json');
  const validation = page.getByTestId('exp-validation');
  await json.fill(JSON.stringify({ name: '', tasks: ['nope'], methods: ['tag-llm', 'magic'], hyper: { steps: 0.5 } }));
  await waitUntil(page, async () => (await validation.getAttribute('data-ok')) === 'false', { what: 'the definition to be refused' });
  const errors = await page.getByTestId('exp-error').allInnerTexts();
  log(`problems listed: ${errors.join(' | ')}`);
  assert(errors.length >= 4, `every problem should be listed, got ${errors.length}`);
  assert(errors.some((e) => /^name/.test(e)) && errors.some((e) => /tasks\[0\]/.test(e)) && errors.some((e) => /methods\[1\]/.test(e)) && errors.some((e) => /hyper\.steps/.test(e)), 'problems name their fields');
  assert(await page.getByTestId('exp-run').isDisabled(), 'Run is disabled while the definition is invalid');
  await json.fill('{ "name": "x", ');
  await waitUntil(page, async () => /Not valid JSON/.test(await validation.innerText()), { what: 'the JSON syntax error' });

  await json.fill(JSON.stringify(TINY, null, 2));
  await waitUntil(page, async () => (await validation.getAttribute('data-ok')) === 'true', { what: 'the definition to validate' });
  assert((await page.getByTestId('exp-cell-count').innerText()) === '2', 'two cells planned');

  // ---- Run it, watching progress per cell and step.
  await page.getByTestId('exp-run').click();
  const progress = page.getByTestId('exp-progress');
  await progress.waitFor({ timeout: 15_000 });
  const lines = new Set();
  let livePoints = 0;
  const t0 = Date.now();
  await waitUntil(
    page,
    async () => {
      const line = await page.getByTestId('exp-current').innerText().catch(() => '');
      if (line) lines.add(line);
      livePoints = Math.max(livePoints, Number((await page.getByTestId('exp-live-chart').getAttribute('data-points').catch(() => '0')) ?? 0));
      const st = await progress.getAttribute('data-status');
      if (st === 'error' || st === 'cancelled') throw new Error(`the experiment ended with ${st}: ${(await page.locator('main').innerText()).slice(0, 600)}`);
      return st === 'done';
    },
    { timeoutMs: 400_000, intervalMs: 300, what: 'the experiment to finish', describe: async () => (await progress.innerText()).replace(/\s+/g, ' ').slice(0, 400) },
  );
  log(`ran 2 cells in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const stepLines = [...lines].filter((l) => /step \d+\/2/.test(l));
  log(`progress lines: ${[...lines].slice(0, 8).join(' || ')}`);
  assert(stepLines.some((l) => /descriptor\/tag-llm/.test(l)) || stepLines.some((l) => /descriptor\/linear-probe/.test(l)), 'progress names the cell and its step');
  assert(stepLines.some((l) => /loss [\d.]+/.test(l)), 'progress shows the loss');
  assert(livePoints >= 1, 'the live loss chart got points');
  await expectNoErrorBanner(page, 'after the run');
  assert((await progress.getAttribute('data-finished')) === '2', 'both cells finished');
  const chips = await page.getByTestId('exp-cell-chip').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  assert(chips.length === 2 && chips.every((s) => s === 'done'), `cells done: ${chips.join(', ')}`);

  // ---- The results table: method rows × task columns, every cell a number, parameters.
  const table = page.getByTestId('exp-table-main');
  const rows = table.locator('tbody tr');
  assert((await rows.count()) === 2, 'a row per method');
  assert((await rows.nth(0).locator('th').innerText()) === 'Tag-LLM' && (await rows.nth(1).locator('th').innerText()) === 'Linear probe', 'method rows');
  assert(/Descriptor \(MSE ↓\)/.test(await table.locator('thead').innerText()), 'task column with metric');
  const values = await table.getByTestId('exp-tcell').evaluateAll((els) => els.map((e) => ({ value: e.getAttribute('data-value'), text: e.textContent.trim() })));
  log(`table: ${values.map((v) => v.text).join(', ')}`);
  assert(values.length === 2, 'two value cells');
  for (const v of values) assert(NUMBER.test(v.text) && Number.isFinite(Number(v.value)), `every cell is a number: ${JSON.stringify(v)}`);
  const params = await table.locator('.exp-params').allInnerTexts();
  assert(params.length === 2 && params.every((p) => /^\d[\d,]*$/.test(p)), `trainable parameters: ${params.join(', ')}`);
  assert((await page.getByTestId('exp-bars-descriptor').getAttribute('data-bars')) === '2', 'a bar per method');
  assert((await page.getByTestId('exp-bars-descriptor').locator('.recharts-bar-rectangle').count()) === 2, 'two bars drawn');

  // ---- A cell's training curve.
  await table.getByTestId('exp-tcell').first().click();
  const curve = page.getByTestId('exp-curve');
  await curve.waitFor({ timeout: 10_000 });
  assert((await curve.getAttribute('data-cell')) === 'descriptor/tag-llm/full/p2/s0', 'the Tag-LLM cell is shown');
  assert(Number(await curve.getAttribute('data-points')) === 2, 'two steps on the curve');
  // recharts draws its lines after the container is measured: wait for them rather than count once.
  await waitUntil(page, async () => (await curve.locator('path.recharts-line-curve').count()) === 2, { what: 'a line per stage (stage 1 <Protein>, stage 2)', timeoutMs: 10_000 });

  // ---- Downloads.
  const got = {};
  for (const kind of ['json', 'csv', 'md']) {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.getByTestId(`exp-download-${kind}`).click()]);
    got[kind] = { name: dl.suggestedFilename(), text: await readFile(await dl.path(), 'utf8') };
  }
  assert(got.json.name === 'e2e-tiny.results.json' && JSON.parse(got.json.text).cells.length === 2, 'JSON results');
  assert(got.csv.name === 'e2e-tiny.csv' && /^method,params,descriptor_mean,/.test(got.csv.text), `CSV: ${got.csv.text.slice(0, 80)}`);
  assert(got.md.name === 'e2e-tiny.md' && /\| Tag-LLM \|/.test(got.md.text), 'Markdown table');

  // The JSON maps onto the form (built-in tasks only): show it there.
  await page.getByTestId('exp-mode-form').click();
  assert((await page.getByTestId('exp-name').inputValue()) === 'e2e-tiny', 'the form shows the definition');
  assert((await validation.getAttribute('data-ok')) === 'true', 'still valid as a form');
  await shot(page, join(artifacts, 'panel-experiments.png'));

  // ---- Saved and resumable: a second run reuses both finished cells.
  assert(/e2e-tiny/.test(await page.getByTestId('exp-saved').innerText()), 'the results are listed as saved');
  await page.getByTestId('exp-run').click();
  await waitUntil(
    page,
    async () => {
      const st = await progress.getAttribute('data-status');
      const again = await page.getByTestId('exp-cell-chip').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      return st === 'done' && again.length === 2 && again.every((s) => s === 'reused');
    },
    { timeoutMs: 60_000, what: 'the re-run to reuse both cells', describe: async () => (await progress.innerText()).replace(/\s+/g, ' ').slice(0, 300) },
  );
  const again = await page.getByTestId('exp-table-main').getByTestId('exp-tcell').evaluateAll((els) => els.map((e) => e.textContent.trim()));
  assert(JSON.stringify(again) === JSON.stringify(values.map((v) => v.text)), 'reused cells keep their values');

  // ---- Cancel mid-run, then resume: the finished cell is kept and skipped, the other one runs.
  await page.getByTestId('exp-name').fill('e2e-cancel');
  await page.getByLabel('Steps', { exact: true }).fill('4');
  await waitUntil(page, async () => (await validation.getAttribute('data-ok')) === 'true' && /4 steps/.test(await validation.innerText()), { what: 'the edited form to validate' });
  await page.getByTestId('exp-run').click();
  const chipStates = () => page.getByTestId('exp-cell-chip').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  await waitUntil(
    page,
    async () => {
      const st = await chipStates();
      return st.length === 2 && st[0] === 'done' && st[1] === 'running';
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'the second cell to start', describe: async () => (await progress.innerText()).replace(/\s+/g, ' ').slice(0, 300) },
  );
  await page.getByTestId('exp-cancel').click();
  await waitUntil(page, async () => (await progress.getAttribute('data-status')) === 'cancelled', { timeoutMs: 60_000, what: 'the run to stop' });
  const afterCancel = await chipStates();
  assert(afterCancel[0] === 'done' && afterCancel[1] === 'pending', `after cancel: ${afterCancel.join(', ')}`);
  assert(/1\/2 cells/.test(await page.getByTestId('exp-saved').innerText()), 'the finished cell is saved');
  assert((await page.getByTestId('exp-run').innerText()) === 'Resume', 'the run can be resumed');
  await page.getByTestId('exp-run').click();
  await waitUntil(
    page,
    async () => (await progress.getAttribute('data-status')) === 'done',
    { timeoutMs: 120_000, what: 'the resumed run to finish', describe: async () => (await progress.innerText()).replace(/\s+/g, ' ').slice(0, 300) },
  );
  const resumed = await chipStates();
  assert(resumed[0] === 'reused' && resumed[1] === 'done', `after resume: ${resumed.join(', ')}`);
  const final = await page.getByTestId('exp-table-main').getByTestId('exp-tcell').evaluateAll((els) => els.map((e) => e.textContent.trim()));
  assert(final.length === 2 && final.every((t) => NUMBER.test(t)), `complete table after resume: ${final.join(', ')}`);
  await expectNoErrorBanner(page, 'at the end');
}
