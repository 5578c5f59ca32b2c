import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { assert, expectNoErrorBanner, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, loadModel, shot } from '../workbench-lib.mjs';

export const name = 'library-peft';
export const timeoutMs = 240_000;

/** A library file with one LoRA adapter for stories260K (d 64, 5 layers, 4 KV heads × 8) and one tag. */
function libraryFile() {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  const b64 = (n) => Buffer.from(Float32Array.from({ length: n }, rnd).buffer).toString('base64');
  const r = 4;
  const pair = (nIn, nOut) => ({ in: nIn, out: nOut, A: b64(r * nIn), B: b64(nOut * r) });
  return {
    format: 'tag-workbench/library',
    version: 1,
    exported: '2026-01-01T00:00:00.000Z',
    tags: [{
      id: 'tag-e2e', name: 'Elsewhere', kind: 'domain', p: 2, d: 64, data: b64(128),
      provenance: { modelArch: 'llama', modelName: 'other', dModel: 64, vocabSize: 512, embeddingFingerprint: '0000000000000000', stage: 'stage1', steps: 3, dataset: '', metrics: {}, created: '2026-01-01T00:00:00.000Z', notes: '' },
    }],
    heads: [],
    adapters: [{ id: 'lora-e2e', name: 'e2e', rank: r, alpha: 8, targets: ['q', 'v'], layers: Array.from({ length: 5 }, () => ({ q: pair(64, 64), v: pair(64, 32) })) }],
  };
}

/**
 * Library exchange formats in the browser: an adapter goes out as a PEFT zip, is deleted, comes
 * back from the zip and goes out again with the same bytes; tags go out as tags.safetensors + sidecar.
 */
export async function run({ page, baseUrl, artifacts, log }) {
  await openApp(page, baseUrl);
  await loadModel(page);
  await gotoPanel(page, 'Library');
  const libPath = join(artifacts, 'peft-e2e-library.json');
  await writeFile(libPath, JSON.stringify(libraryFile()));
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(libPath);
  await page.getByTestId('confirm-import').waitFor({ timeout: 15_000 }); // the tag comes from another embedding table
  await page.getByTestId('confirm-import').click();
  await page.getByTestId('export-peft-e2e').waitFor({ timeout: 15_000 });

  const exportPeft = async () => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.getByTestId('export-peft-e2e').click()]);
    return { name: dl.suggestedFilename(), bytes: new Uint8Array(await readFile(await dl.path())) };
  };
  const first = await exportPeft();
  const files = unzipSync(first.bytes);
  assert(first.name === 'e2e-peft.zip', `download name ${first.name}`);
  assert(Object.keys(files).sort().join() === 'adapter_config.json,adapter_model.safetensors', `zip holds ${Object.keys(files)}`);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  assert(config.peft_type === 'LORA' && config.r === 4 && config.lora_alpha === 8 && config.target_modules.join() === 'q_proj,v_proj', `config ${JSON.stringify(config)}`);
  log(`PEFT zip: ${first.bytes.length} bytes, ${JSON.stringify(config.target_modules)}`);

  const zipPath = join(artifacts, first.name);
  await writeFile(zipPath, first.bytes);
  await page.locator('tr', { has: page.getByTestId('export-peft-e2e') }).getByRole('button', { name: 'Delete' }).click();
  await waitUntil(page, async () => (await page.getByTestId('export-peft-e2e').count()) === 0, { what: 'the adapter to be deleted' });
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(zipPath);
  await page.getByTestId('import-result').waitFor({ timeout: 15_000 });
  await page.getByTestId('export-peft-e2e').waitFor({ timeout: 15_000 });
  const second = await exportPeft();
  assert(Buffer.from(second.bytes).equals(Buffer.from(first.bytes)), 'export → import → export gives the same bytes');

  await page.getByTestId('export-format').selectOption('safetensors');
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.getByTestId('export-all').click()]);
  const tagFiles = unzipSync(new Uint8Array(await readFile(await dl.path())));
  assert(Object.keys(tagFiles).sort().join() === 'tags.json,tags.safetensors', `tags zip holds ${Object.keys(tagFiles)}`);
  const sidecar = JSON.parse(new TextDecoder().decode(tagFiles['tags.json']));
  assert(sidecar.tags.length === 1 && sidecar.tags[0].tensor === 'tags.Elsewhere', `sidecar ${JSON.stringify(sidecar.tags)}`);
  await shot(page, join(artifacts, 'panel-library-peft.png'));
  await expectNoErrorBanner(page);
}
