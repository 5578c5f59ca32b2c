import { assert, expectNoErrorBanner, openApp } from '../lib.mjs';

export const name = 'smoke';
export const timeoutMs = 90_000;

/** The app opens, the shell renders, and the worker reports a WebGPU adapter. */
export async function run({ page, baseUrl, log }) {
  await openApp(page, baseUrl);

  assert((await page.title()) === 'Tag Workbench', `unexpected title: ${await page.title()}`);
  const nav = page.getByRole('navigation', { name: 'Panels' });
  for (const label of ['Model', 'Generate']) {
    assert((await nav.getByRole('link', { name: label }).count()) === 1, `nav link "${label}" missing`);
  }

  const card = page.getByTestId('gpu-info');
  const text = (await card.innerText()).replace(/\s+/g, ' ');
  log(`adapter: ${text.slice(0, 160)}`);
  assert(/Vendor/.test(text) && /Architecture/.test(text), 'adapter info not displayed');
  const adapterInfo = await card.getByLabel('Adapter info').innerText();
  assert(/\S+/.test(adapterInfo.replace(/Vendor|Architecture|Device|Description|—/g, '')), 'adapter info is empty');
  assert(/shader-f16/.test(text) && /subgroups/.test(text), 'feature list not displayed');
  assert(/Limits \(\d+\)/.test(text), 'limits not displayed');

  // The default catalog entry is offered.
  assert((await page.getByRole('button', { name: 'Load stories260K' }).count()) === 1, 'catalog Load button missing');

  // Navigation by the nav works and the Generate panel says no model is loaded.
  await nav.getByRole('link', { name: 'Generate' }).click();
  await page.getByTestId('output').waitFor({ timeout: 10_000 });
  assert(await page.getByRole('button', { name: 'Generate', exact: true }).isDisabled(), 'Generate should be disabled without a model');
  assert(page.url().endsWith('#/generate'), `hash not updated: ${page.url()}`);
  await nav.getByRole('link', { name: 'Model' }).click();
  await page.getByTestId('gpu-info').waitFor({ timeout: 10_000 });

  await expectNoErrorBanner(page);
}
