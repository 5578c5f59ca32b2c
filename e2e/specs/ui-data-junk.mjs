import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, errorBanners, openApp, waitUntil } from '../lib.mjs';
import { gotoPanel, resetStorage, shot } from '../workbench-lib.mjs';

export const name = 'ui-data-junk';
export const timeoutMs = 180_000;

/**
 * Issue 9 item 12: a PNG renamed .csv and an empty file are refused with a reason (no dataset is
 * added); a ;-delimited file becomes columns; invalid SMILES are listed in the validation report.
 */
async function body({ page, baseUrl, artifacts, log }) {
  await resetStorage(page, baseUrl);
  await openApp(page, baseUrl);
  await gotoPanel(page, 'Data');
  const input = page.getByTestId('dataset-drop').locator('input[type=file]');
  const items = page.getByRole('list', { name: 'Saved datasets' }).getByRole('button');
  const dismissBanners = async () => {
    for (const b of await page.getByTestId('error-banner').all()) await b.getByRole('button').first().click().catch(() => {});
  };

  const png = Buffer.alloc(2048);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png);
  for (let i = 8; i < png.length; i++) png[i] = (i * 7919) & 0xff;
  const files = {
    'photo.csv': png,
    'empty.csv': Buffer.alloc(0),
  };
  for (const [f, bytes] of Object.entries(files)) {
    const path = join(artifacts, f);
    await writeFile(path, bytes);
    await input.setInputFiles(path);
    await waitUntil(page, async () => (await errorBanners(page)).length > 0, { what: `the refusal of ${f}`, timeoutMs: 20_000 }).catch(() => {});
    const banners = (await errorBanners(page)).join(' ').replace(/\s+/g, ' ');
    log(`${f}: ${banners}`);
    assert(new RegExp(f === 'photo.csv' ? 'PNG image' : 'is empty').test(banners), `${f} should be refused with a reason; banners: ${banners}`);
    assert((await items.count()) === 0, `${f} was added as a dataset`);
    await dismissBanners();
  }

  const semi = join(artifacts, 'semicolon.csv');
  await writeFile(semi, 'smiles;logS\nCCO;0.5\nC1CC;1.0\nc1ccccc1;-1.2\nnot_a_molecule;2\n');
  await input.setInputFiles(semi);
  await page.getByTestId('dataset-details').waitFor({ timeout: 30_000 });
  await waitUntil(page, async () => (await page.getByTestId('field-mapping').count()) > 0, { what: 'the field mapping' });
  const mapping = await page.getByTestId('field-mapping').innerText();
  assert(/logS/.test(mapping) && !/smiles;logS/.test(mapping), `a ;-delimited file should have two columns; mapping: ${mapping.replace(/\s+/g, ' ')}`);
  const report = (await page.getByTestId('validation-report').innerText()).replace(/\s+/g, ' ');
  log(`report: ${report.slice(0, 300)}`);
  assert(/invalid SMILES/.test(report) && /C1CC/.test(report) && /not_a_molecule/.test(report), `invalid SMILES listed: ${report}`);
  assert((await page.getByTestId('usable-rows').innerText()).trim() === '2', `usable rows: ${await page.getByTestId('usable-rows').innerText()}`);
  await shot(page, join(artifacts, 'ui-data-junk.png'));
}

/** Leaves no tags, datasets or runs behind for the specs that follow. */
export async function run(ctx) {
  try {
    await body(ctx);
  } finally {
    await resetStorage(ctx.page, ctx.baseUrl).catch(() => {});
  }
}
