import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, loadModel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'selfspec';
export const timeoutMs = 600_000;

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const PANEL = 'Self-specialization';

async function upload(page, testId, file, buffer) {
  const input = page.getByTestId(testId).locator('input[type=file]');
  await input.setInputFiles({ name: file, mimeType: 'application/octet-stream', buffer: buffer ?? (await readFile(join(fixtures, file))) });
}

async function setNumber(page, label, value) {
  const f = page.getByLabel(label, { exact: true });
  await f.fill(String(value));
}

async function setChecked(page, testId, on) {
  const box = page.getByTestId(testId);
  if ((await box.isChecked()) !== on) await box.click();
}

const runCard = (page) => page.getByTestId('ss-run-card');
const stepStatus = (page, id) => page.getByTestId(`ss-step-${id}`).getAttribute('data-status');

async function waitRun(page, want, what, timeoutMs = 420_000) {
  await waitUntil(
    page,
    async () => {
      const st = await runCard(page).getAttribute('data-status').catch(() => null);
      if (want.includes(st)) return true;
      if (st === 'error' && !want.includes('error')) throw new Error(`the run failed: ${await page.getByTestId('ss-run-error').innerText().catch(() => '?')}`);
      return false;
    },
    { timeoutMs, intervalMs: 300, what, describe: async () => (await page.getByTestId('ss-stepper').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 500) },
  );
}

/**
 * The Self-specialization panel on stories260K with tiny counts. stories260K cannot follow the
 * instruction prompt: a run that generates instructions shows every rejection live with its reason
 * and stops with a clear message; the full run then uses a given instruction set and reuses it in
 * round 2 (mechanics, not quality). Every stage is screenshotted; Pause / Resume, the exports and a
 * reload (the stored run and its view) are checked; an empty seed file is refused with a message.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl, ['tag-workbench-selfspec']);
  await openApp(page, baseUrl);
  await loadModel(page);
  await gotoPanel(page, PANEL);

  // ---- The default settings (k = 5, 2 rounds) need 10 decoding slots; the model loaded with 4. The
  // panel says so, Start waits, and one click reloads the same model with 10 slots.
  const slots = page.getByTestId('ss-slots');
  await slots.waitFor({ timeout: 10_000 });
  assert((await slots.getAttribute('data-need')) === '10' && (await slots.getAttribute('data-have')) === '4', `need 10, have 4: ${await slots.innerText()}`);
  assert(await page.getByTestId('ss-start').isDisabled(), 'Start is disabled while the settings do not fit');
  assert(/Use k = 2/.test(await slots.innerText()), 'a lower k that fits is offered');
  await shot(page, join(artifacts, 'selfspec-00-slots-needed.png'));
  await page.getByTestId('ss-reload-slots').click();
  // While the model reloads there is none to check against: Start stays disabled until it is back.
  await waitUntil(page, async () => await page.getByTestId('ss-start').isEnabled(), { timeoutMs: 120_000, what: 'the model to reload with 10 slots and Start to be enabled' });
  assert((await slots.count()) === 0, 'no slot problem once the model has 10 slots');
  await expectNoErrorBanner(page, 'after the reload with more slots');
  await gotoPanel(page, 'Model');
  assert((await page.getByLabel('Parallel slots', { exact: true }).inputValue()) === '10', 'the Model panel shows the new slots setting');
  const loadedShape = await page.getByTestId('load-settings-loaded').innerText();
  assert(/Loaded with 10 slots/.test(loadedShape), `the loaded model has 10 slots: ${loadedShape}`);
  await waitUntil(page, async () => /for 10 slots/.test(await page.getByTestId('fit-estimate').innerText().catch(() => '')), { timeoutMs: 20_000, what: 'the estimate for 10 slots' });
  await shot(page, join(artifacts, 'selfspec-00b-model-slots.png'));
  await gotoPanel(page, PANEL);

  // ---- Unhappy path: an empty seed file is refused with a message, and nothing is stored.
  await upload(page, 'ss-seeds-file', 'empty-seeds.jsonl', Buffer.alloc(0));
  await page.getByTestId('ss-start').click();
  const err = page.getByTestId('ss-error');
  await err.waitFor({ timeout: 20_000 });
  const msg = await err.innerText();
  log(`empty seeds: ${msg}`);
  assert(/empty-seeds\.jsonl: the seed file is empty/.test(msg), `clear message for empty seeds, got: ${msg}`);
  assert((await page.getByTestId('ss-run').count()) === 0, 'no run stored for refused input');
  await shot(page, join(artifacts, 'selfspec-0-empty-seeds.png'));

  // ---- Corpus from .txt documents (a folder picker, or several files), and one over the size limit:
  // refused before it is read, with what to do, and the corpus chosen before stays.
  // A folder picker takes a directory path.
  const docs = await mkdtemp(join(tmpdir(), 'selfspec-docs-'));
  await writeFile(join(docs, 'lace.txt'), 'Lace plants shed leaf cells by programmed death.\n\nWindows form in the leaves.');
  await writeFile(join(docs, 'liver.txt'), 'The liver makes bile.');
  await page.getByTestId('ss-corpus-folder').locator('input[type=file]').setInputFiles(docs);
  await waitUntil(page, async () => /2 \.txt documents/.test(await page.getByTestId('ss-corpus').innerText()), { timeoutMs: 10_000, what: 'the folder corpus to be chosen' });
  await rm(docs, { recursive: true, force: true });
  await page.getByTestId('ss-corpus-file').locator('input[type=file]').setInputFiles({ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(32 * 1024 * 1024 + 1, 0x61) });
  const corpusErr = page.getByTestId('ss-corpus-error');
  await corpusErr.waitFor({ timeout: 20_000 });
  const corpusMsg = await corpusErr.innerText();
  log(`oversized corpus: ${corpusMsg}`);
  assert(/huge\.txt is 32\.0 MB; a corpus may be at most 32\.0 MB.*split the corpus/.test(corpusMsg), `a clear size refusal: ${corpusMsg}`);
  assert(/2 \.txt documents/.test(await page.getByTestId('ss-corpus').innerText()), 'the folder corpus chosen before stays');
  await shot(page, join(artifacts, 'selfspec-0b-corpus-folder.png'));

  // ---- Tiny settings shared by both runs.
  await upload(page, 'ss-seeds-file', 'selfspec-seeds.jsonl');
  await upload(page, 'ss-corpus-file', 'selfspec-corpus.jsonl');
  await setNumber(page, 'Instructions per round', 3);
  await setNumber(page, 'Passages k', 2);
  await setNumber(page, 'Epochs', 1);
  await setNumber(page, 'Batch', 2);
  await setNumber(page, 'Accumulation', 1);
  await setNumber(page, 'Learning rate', 0.01);
  await setNumber(page, 'Tag length', 2);
  await setNumber(page, 'PubMedQA questions', 2);
  await setNumber(page, 'Held-out seeds (ROUGE-L)', 1);
  await setNumber(page, 'Instruction tokens', 24);
  await setNumber(page, 'Response tokens', 8);
  await page.getByLabel('Shots').fill('0');
  await setChecked(page, 'ss-method-lora', false);
  await setChecked(page, 'ss-method-tag', true);
  await page.getByTestId('ss-advanced').locator('summary').click();
  await page.getByTestId('ss-template').fill('Tasks about {domain}:\n{examples}\n{next}. Instruction:');
  await setNumber(page, 'Seeds per prompt', 1);
  await setNumber(page, 'Give up after barren batches', 2);

  // ---- Generated instructions: rejections stream in with their reasons; the run stops with a message.
  await setNumber(page, 'Rounds', 1);
  await page.getByTestId('ss-name').fill('e2e-generate');
  await page.getByTestId('ss-start').click();
  await waitRun(page, ['error'], 'the instruction stage to give up', 240_000);
  const rejected = Number((await page.getByTestId('ss-rejected').innerText()).match(/\d+/)[0]);
  const runErr = await page.getByTestId('ss-run-error').innerText();
  log(`generated: ${rejected} rejected; ${runErr.slice(0, 160)}`);
  assert(rejected > 0, 'rejected instructions are listed');
  assert((await page.getByTestId('ss-reason').count()) > 0, 'each rejection shows its reason');
  assert(/does not follow the instruction prompt/.test(runErr), `a clear message: ${runErr}`);
  await shot(page, join(artifacts, 'selfspec-1-instructions-rejected.png'));

  // ---- The full run: a given instruction set, two rounds (round 2 reuses it, decoded contrastively).
  // With a run on screen the settings are folded: open them again.
  const toggle = page.getByTestId('ss-setup-toggle');
  if ((await toggle.count()) && (await toggle.innerText()) === 'Show settings') await toggle.click();
  if (!(await page.getByTestId('ss-advanced').evaluate((d) => d.open))) await page.getByTestId('ss-advanced').locator('summary').click();
  await upload(page, 'ss-instructions-file', 'selfspec-instructions.jsonl');
  await setChecked(page, 'ss-fresh', false);
  await setNumber(page, 'Rounds', 2);
  await page.getByTestId('ss-name').fill('e2e-full');
  await page.getByTestId('ss-start').click();
  await runCard(page).waitFor({ timeout: 15_000 });
  if ((await toggle.innerText()) === 'Hide settings') await toggle.click();
  // Pause while the responses stream, then resume.
  await waitUntil(page, async () => (await stepStatus(page, 'responses')) === 'running' || (await stepStatus(page, 'responses')) === 'done', { timeoutMs: 240_000, what: 'the responses stage to start' });
  await page.getByTestId('ss-step-responses').getByRole('button').first().click();
  await page.waitForTimeout(400);
  await shot(page, join(artifacts, 'selfspec-4-responses-live.png'));
  const pause = page.getByTestId('ss-pause');
  if (await pause.isVisible()) {
    await pause.click();
    await waitRun(page, ['paused', 'done'], 'the run to pause', 240_000);
    log(`paused at: ${(await page.getByTestId('ss-stepper').innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
    await shot(page, join(artifacts, 'selfspec-4b-paused.png'));
    if ((await runCard(page).getAttribute('data-status')) === 'paused') await page.getByTestId('ss-resume').first().click();
  }
  const t0 = Date.now();
  await waitRun(page, ['done'], 'the run to finish');
  log(`the run finished ${((Date.now() - t0) / 1000).toFixed(1)} s after the resume`);
  await expectNoErrorBanner(page, 'after the run');
  for (const id of ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate']) {
    const st = await stepStatus(page, id);
    assert(st === 'done' || st === 'skipped', `stage ${id} is done or skipped, got ${st}`);
  }

  // ---- A screenshot of every stage.
  const stages = ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate'];
  for (const [i, id] of stages.entries()) {
    await page.getByTestId(`ss-step-${id}`).getByRole('button').first().click();
    await page.getByTestId(`ss-detail-${id}`).waitFor({ timeout: 10_000 });
    // A round-1 response whose query BM25 matches two passages: a mixture, coloured per token.
    if (id === 'responses') await page.getByTestId('ss-resp-item').filter({ hasText: 'r1 Summarise' }).click();
    await page.waitForTimeout(300);
    await shot(page, join(artifacts, `selfspec-stage-${i + 2}-${id}.png`));
  }

  // Instructions: the given set, accepted, and the verb rings.
  await page.getByTestId('ss-step-instructions').getByRole('button').first().click();
  assert(/3 accepted/.test(await page.getByTestId('ss-accepted').innerText()), 'three instructions listed');
  assert(Number(await page.getByTestId('ss-verb-rings').getAttribute('data-total')) === 3, 'the rings count the accepted instructions');
  // Responses: tokens and passages with scores and weights.
  await page.getByTestId('ss-step-responses').getByRole('button').first().click();
  // Round 1 (retrieval): the instruction BM25 finds a passage for.
  await page.getByTestId('ss-resp-item').filter({ hasText: 'r1 Which organ' }).click();
  const resp = page.getByTestId('ss-response');
  assert(Number(await resp.getAttribute('data-tokens')) > 0 || (await resp.getByTestId('ss-tokens').innerText()).length > 0, 'a response has tokens');
  assert((await resp.getByTestId('ss-passage').count()) >= 1, 'passages beside the response');
  assert(/BM25 [\d.]+ · weight [\d.]+/.test(await resp.getByTestId('ss-passage').first().innerText()), 'passage score and weight');
  await page.getByTestId('ss-resp-item').filter({ hasText: 'r1 Summarise' }).click();
  assert((await resp.getByTestId('ss-passage').count()) === 2, 'two passages retrieved for the lace-plant instruction');
  assert((await resp.getAttribute('data-coloured')) === 'true', 'mixture decoding: tokens coloured by their dominant passage');
  const shares = await resp.locator('.ss-tok.coloured').first().getAttribute('title');
  log(`token shares: ${shares.replace(/\n/g, ' | ')}`);
  assert(shares.split('\n').length === 2 && shares.split('\n').every((l) => /: \d+(\.\d)?%$/.test(l)), `hover shows both shares: ${shares}`);
  // Specialise: the shared live charts, one series per round.
  await page.getByTestId('ss-step-specialise').getByRole('button').first().click();
  assert((await page.getByTestId('ss-train-series').count()) === 2, 'a training series per round');
  assert(Number(await page.getByTestId('ss-chart-loss').first().getAttribute('data-points')) >= 1, 'the loss chart has points');
  // Evaluate: the table, confusion matrices and examples side by side.
  await page.getByTestId('ss-step-evaluate').getByRole('button').first().click();
  const rows = await page.getByTestId('ss-eval-table').locator('tbody th').allInnerTexts();
  log(`table rows: ${rows.join(' | ')}`);
  assert(rows.length === 3 && rows[0] === 'base', `base, round 1 and round 2 rows: ${rows.join(', ')}`);
  assert((await page.getByTestId('ss-confusion').count()) === 3, 'a confusion matrix per row');
  assert((await page.getByTestId('ss-examples').locator('thead th').count()) === 5, 'examples: id, gold and a column per model');

  // ---- Exports.
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('ss-export-csv').click()]);
  const csvText = await readFile(await csv.path(), 'utf8');
  assert(csvText.startsWith('model,round,method,k,0-shot likelihood accuracy'), `CSV header: ${csvText.slice(0, 80)}`);
  const files = await page.getByTestId('ss-file').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
  log(`files: ${files.join(', ')}`);
  for (const f of ['round1/instructions.jsonl', 'round1/responses.jsonl', 'round1/tag/library.json', 'eval.md']) assert(files.includes(f), `exports list ${f}`);
  const [lib] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=ss-file][data-name="round1/tag/library.json"]').click()]);
  assert(JSON.parse(await readFile(await lib.path(), 'utf8')).format === 'tag-workbench/library', 'the library JSON downloads');
  await shot(page, join(artifacts, 'selfspec-9-exports.png'));

  // ---- A reload keeps the runs; opening one rebuilds its view from IndexedDB.
  await page.reload();
  await openApp(page, baseUrl);
  await gotoPanel(page, PANEL);
  const stored = page.getByTestId('ss-run');
  await stored.first().waitFor({ timeout: 15_000 });
  const statuses = await stored.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  assert(statuses.includes('done') && statuses.includes('error'), `stored runs: ${statuses.join(', ')}`);
  await stored.filter({ hasText: 'e2e-full' }).getByRole('button', { name: 'e2e-full' }).click();
  await runCard(page).waitFor({ timeout: 15_000 });
  await page.getByTestId('ss-step-evaluate').getByRole('button').first().click();
  assert((await page.getByTestId('ss-eval-table').locator('tbody tr').count()) === 3, 'the table after a reload');
  for (const id of ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate']) assert((await stepStatus(page, id)) === 'done', `after a reload, ${id} shows done`);
  assert(/3 accepted/.test(await page.getByTestId('ss-step-instructions').innerText()), 'after a reload, the instruction count');
  await shot(page, join(artifacts, 'selfspec-10-after-reload.png'));
}
