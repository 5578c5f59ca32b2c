import { assert, errorBanners, openApp } from '../lib.mjs';
import { gotoPanel } from '../workbench-lib.mjs';

export const name = 'ui-model-abort';
export const timeoutMs = 120_000;

/**
 * Issue 9 item 11: switching catalog entries and revisiting the Model panel cancels header
 * inspections in flight; a cancellation is not an error and shows no banner.
 */
export async function run({ page, baseUrl, log }) {
  await openApp(page, baseUrl, '#/model');
  const entries = page.getByTestId('catalog-entry');
  const n = await entries.count();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < n; i++) await entries.nth(i).locator('input').check();
    await gotoPanel(page, 'Data');
    await gotoPanel(page, 'Model');
  }
  // Switches a few milliseconds apart: each cancels the previous header read while it is still
  // opening its source in the worker (what React's StrictMode does on every mount under npm start).
  for (let round = 0; round < 5; round++) {
    await page.evaluate(async () => {
      const inputs = [...document.querySelectorAll('[data-testid=catalog-entry] input')];
      for (const i of [...inputs, inputs[0]]) {
        i.click();
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    await page.waitForTimeout(300);
  }
  // A reload while an inspection is in flight, then another quick switch.
  await page.reload({ waitUntil: 'load' });
  await page.getByTestId('catalog-entry').first().waitFor();
  await page.getByTestId('catalog-entry').nth(1).locator('input').check();
  await page.getByTestId('catalog-entry').nth(0).locator('input').check();
  await page.waitForTimeout(3000);
  const banners = await errorBanners(page);
  log(`banners: ${JSON.stringify(banners)}`);
  assert(!banners.some((b) => /AbortError|Cancelled/i.test(b)), `a cancellation shown as an error: ${banners.join(' | ')}`);
  assert(banners.length === 0, `error banners: ${banners.join(' | ')}`);
}
