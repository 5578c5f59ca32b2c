import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { importLibraryFile, libraryFile } from '../fixture-tags.mjs';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { configureRun, ensureDataset, gotoPanel, loadModel, shot, waitTrainingDone } from '../workbench-lib.mjs';

export const name = 'ui-adapter-generate';
export const timeoutMs = 360_000;

/** A safetensors file of F32 tensors ({ name: [shape, Float32Array] }), as PEFT writes one. */
function safetensors(tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [n, [shape, data]] of Object.entries(tensors)) {
    header[n] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const [, [, data]] of Object.entries(tensors)) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * A PEFT LoRA adapter for stories260K (d 64, 5 layers, 8 heads, 4 KV heads × 8) on the attention
 * projections, strong enough to change greedy decoding: adapter_config.json + adapter_model.safetensors, zipped.
 */
function peftZip() {
  let s = 11;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.4);
  const r = 4;
  const shapes = { q_proj: [64, 64], k_proj: [64, 32], v_proj: [64, 32], o_proj: [64, 64] }; // [in, out]
  const tensors = {};
  for (let l = 0; l < 5; l++) {
    for (const [m, [nIn, nOut]] of Object.entries(shapes)) {
      const key = `base_model.model.model.layers.${l}.self_attn.${m}`;
      tensors[`${key}.lora_A.weight`] = [[r, nIn], rnd(r * nIn)];
      tensors[`${key}.lora_B.weight`] = [[nOut, r], rnd(nOut * r)];
    }
  }
  const config = { peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: 8, lora_dropout: 0, bias: 'none', target_modules: Object.keys(shapes) };
  return zipSync({ 'adapter_config.json': new TextEncoder().encode(JSON.stringify(config)), 'adapter_model.safetensors': safetensors(tensors) });
}

async function generated(page) {
  const out = page.getByTestId('output');
  await waitUntil(page, async () => ['done', 'error', 'cancelled'].includes(await out.getAttribute('data-status')), { timeoutMs: 90_000, what: 'the generation to end' });
  const status = await out.getAttribute('data-status');
  assert(status === 'done', `generation ended ${status}: ${await out.innerText()}`);
  return out.locator('.out-gen').innerText();
}

/**
 * An adapter imported from PEFT generates in the browser: the Generate panel's Adapter menu lists
 * it, greedy output with it differs from the base model's and says which adapter made it; the
 * Composer puts the same prompt with the adapter beside the base model; a function tag's head
 * predicts with the adapter applied and without it (Composer head mode, a Matrix cell, batch
 * prediction), each result naming its adapter; the Train panel trains LoRA further from it, and the
 * result is another adapter to generate with.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await openApp(page, baseUrl);
  await loadModel(page);
  await gotoPanel(page, 'Library');
  const zipPath = join(artifacts, 'storyteller-peft.zip');
  await writeFile(zipPath, peftZip());
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(zipPath);
  await page.getByTestId('export-peft-storyteller').waitFor({ timeout: 15_000 });

  await gotoPanel(page, 'Generate');
  await page.getByRole('textbox', { name: 'Prompt' }).fill('Once upon a time');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Seed').fill('1');
  const menu = page.getByTestId('generate-adapter');
  const options = await menu.locator('option').allInnerTexts();
  assert(options.length === 2 && /^none/.test(options[0]) && /^storyteller \(r 4, α 8, q k v o\)/.test(options[1]), `adapter menu: ${JSON.stringify(options)}`);

  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const base = await generated(page);
  assert((await page.getByTestId('output-adapter').innerText()) === 'none (base)', 'the base output says so');

  await menu.selectOption('storyteller');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const adapted = await generated(page);
  log(`base:    ${JSON.stringify(base)}\n    adapter: ${JSON.stringify(adapted)}`);
  assert(adapted.trim().length > 0, 'the adapter generated text');
  assert(adapted !== base, 'greedy output with the adapter differs from the base model');
  assert((await page.getByTestId('output-adapter').innerText()) === 'storyteller', 'the output names its adapter');
  await shot(page, join(artifacts, 'panel-generate-adapter.png'));

  // Side by side in the Composer: the same prompt with the adapter and with the base model.
  await gotoPanel(page, 'Composer');
  const editor = page.getByTestId('prompt-editor-a');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Once upon a time');
  await page.getByLabel('Side by side').selectOption('adapter');
  await page.getByTestId('compose-adapter-a').selectOption('storyteller');
  await page.getByLabel('Max tokens').fill('24');
  await page.getByLabel('Temperature').fill('0');
  await page.getByTestId('compose-run').click();
  const status = page.getByTestId('compose-status');
  await waitUntil(page, async () => ['done', 'error', 'cancelled'].includes(await status.innerText()), { timeoutMs: 90_000, what: 'the composer run' });
  assert((await status.innerText()) === 'done', `composer run ended ${await status.innerText()}`);
  const withAdapter = await page.getByTestId('compose-output-0').innerText();
  const withBase = await page.getByTestId('compose-output-1').innerText();
  log(`composer adapter: ${JSON.stringify(withAdapter)}\n    composer base:    ${JSON.stringify(withBase)}`);
  assert((await page.getByTestId('compose-adapter-0').innerText()) === 'adapter storyteller', 'column A names the adapter');
  assert((await page.getByTestId('compose-adapter-1').innerText()) === 'base', 'column B is the base model');
  assert(withAdapter !== withBase, 'the adapter column differs from the base column');
  // The same greedy decoding as the Generate panel, column by column.
  assert(withAdapter.trim() === adapted.trim() && withBase.trim() === base.trim(), 'the composer columns match the Generate panel outputs');
  await shot(page, join(artifacts, 'panel-composer-adapter.png'));

  // Head predictions with the adapter: a function tag with a regression head (fixture library).
  await importLibraryFile(page, artifacts, libraryFile([{ name: 'Story' }, { name: 'Size', kind: 'function', head: true }]), 'head-tags.json');
  await page.getByTestId('library-row-Size').waitFor({ timeout: 15_000 });
  await gotoPanel(page, 'Composer');
  await page.getByRole('radio', { name: 'Head prediction' }).click();
  assert((await page.getByLabel('Side by side').inputValue()) === 'adapter', 'head mode keeps the adapter-vs-base comparison');
  await page.getByTestId('compose-clear').click();
  await editor.click();
  await page.keyboard.type('Once upon a time ');
  await page.getByTestId('palette-tag-Size').focus();
  await page.keyboard.press('Enter');
  const sentHead = await page.getByTestId('prompt-sent-a').innerText();
  assert(/Once upon a time <Size>/.test(sentHead), `head prompt: ${sentHead}`);
  await page.getByTestId('compose-run').click();
  await waitUntil(page, async () => ['done', 'error', 'cancelled'].includes(await status.innerText()), { timeoutMs: 60_000, what: 'the head predictions' });
  assert((await status.innerText()) === 'done', `head run ended ${await status.innerText()}: ${await page.getByTestId('compose-column-0').innerText()}`);
  const headValue = async (i) => Number(await page.getByTestId(`compose-column-${i}`).locator('.prediction-value').innerText());
  const headAdapter = await headValue(0);
  const headBase = await headValue(1);
  log(`head with adapter: ${headAdapter}, base: ${headBase}`);
  assert((await page.getByTestId('compose-adapter-0').innerText()) === 'adapter storyteller', 'the head column names the adapter');
  assert((await page.getByTestId('compose-adapter-1').innerText()) === 'base', 'the other head column is the base model');
  assert(/with adapter storyteller/.test(await page.getByTestId('compose-column-0').getByTestId('head-prediction').innerText()), 'the prediction says the adapter was applied');
  assert(Number.isFinite(headAdapter) && Number.isFinite(headBase) && headAdapter !== headBase, `the head with the adapter predicts differently: ${headAdapter} vs ${headBase}`);
  await shot(page, join(artifacts, 'panel-composer-head-adapter.png'));

  // A Matrix cell and a batch prediction, without and then with the adapter.
  await ensureDataset(page);
  await gotoPanel(page, 'Matrix');
  const dsSelect = page.getByLabel('Dataset', { exact: true });
  await dsSelect.selectOption(await dsSelect.locator('option', { hasText: 'tiny-stories' }).first().getAttribute('value'));
  await page.getByLabel('Cell template').fill('<$DOMAIN> {text} <$FUNCTION> {label}');
  await page.getByLabel('Output field').fill('label');
  await page.getByLabel('Rows', { exact: true }).selectOption('all');
  await page.getByLabel('Examples per cell').fill('4');
  const cell = page.getByTestId('cell-Story-Size');
  const evaluate = async () => {
    await cell.getByRole('button', { name: 'Evaluate Story × Size' }).click();
    await waitUntil(page, async () => ['done', 'error'].includes(await cell.getAttribute('data-status')), { timeoutMs: 60_000, what: 'the matrix cell' });
    assert((await cell.getAttribute('data-status')) === 'done', `cell: ${(await cell.innerText()).replace(/\s+/g, ' ')}`);
    return Number(await cell.locator('.cell-value').innerText());
  };
  const cellBase = await evaluate();
  assert((await page.getByTestId('cell-adapter-Story-Size').count()) === 0, 'a base cell names no adapter');
  await page.getByTestId('matrix-adapter').selectOption('storyteller');
  assert((await cell.getAttribute('data-status')) === 'idle', 'changing the adapter clears the cells');
  const cellAdapter = await evaluate();
  log(`matrix mse base ${cellBase}, with adapter ${cellAdapter}`);
  assert((await page.getByTestId('cell-adapter-Story-Size').innerText()) === 'adapter storyteller', 'the cell names its adapter');
  assert(cellAdapter !== cellBase, `the cell with the adapter differs: ${cellAdapter} vs ${cellBase}`);
  const batch = page.getByTestId('batch-prediction');
  await batch.getByLabel('Batch inputs').fill('Once upon a time\nThe dog ran.');
  await batch.getByTestId('batch-run').click();
  await batch.getByTestId('batch-adapter').waitFor({ timeout: 60_000 });
  const batchLine = await batch.getByTestId('batch-adapter').innerText();
  assert(/2 predictions, with adapter storyteller/.test(batchLine), `batch: ${batchLine}`);
  await page.getByTestId('cell-rows-Story-Size').click();
  await page.getByTestId('matrix-predictions').waitFor({ timeout: 10_000 });
  assert(/adapter storyteller/.test(await page.locator('#preds-title').innerText()), 'the predictions card names the adapter');
  await shot(page, join(artifacts, 'panel-matrix-adapter.png'));

  // Further training from the imported adapter.
  await ensureDataset(page);
  await configureRun(page, { method: 'lora', template: 'Story: {text}', steps: 2, outputKind: 'text', outputField: 'text' });
  const init = page.getByTestId('train-init-adapter');
  await init.selectOption('storyteller');
  await shot(page, join(artifacts, 'panel-train-init-adapter.png'));
  await page.getByTestId('train-start').click();
  await waitTrainingDone(page);
  const result = await page.getByTestId('train-result').innerText();
  log(`train: ${result.replace(/\s+/g, ' ').slice(0, 160)}`);
  assert(/storyteller-continued/.test(result), `the run saves storyteller-continued: ${result}`);
  await gotoPanel(page, 'Generate');
  const names = await page.getByTestId('generate-adapter').locator('option').allInnerTexts();
  assert(names.some((n) => /^storyteller-continued \(r 4, α 8, q k v o\)/.test(n)), `the continued adapter is offered for generation: ${JSON.stringify(names)}`);
  await expectNoErrorBanner(page);
}
