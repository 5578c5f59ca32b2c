import { assert, errorBanners, openApp } from '../lib.mjs';

export const name = 'errors';
export const timeoutMs = 120_000;

/** Bad inputs end in a clear error banner, and the app stays usable. */
export async function run({ page, baseUrl, log }) {
  await openApp(page, baseUrl);

  const waitForBanner = async (what) => {
    const t0 = Date.now();
    for (;;) {
      const banners = await errorBanners(page);
      if (banners.length) return banners.join(' | ').replace(/\s+/g, ' ');
      assert(Date.now() - t0 < 60_000, `no error banner after ${what}`);
      await page.waitForTimeout(200);
    }
  };
  const dismissAll = async () => {
    for (const b of await page.getByRole('button', { name: /^Dismiss/ }).all()) await b.click();
  };

  // 1. A URL that is not a model.
  await page.getByRole('tab', { name: 'URL' }).click();
  await page.getByLabel('Model URL').fill(`${baseUrl}models/does-not-exist.bin`);
  await page.getByRole('button', { name: 'Load from URL' }).click();
  const urlBanner = await waitForBanner('loading a missing URL');
  log(`missing URL: ${urlBanner.slice(0, 200)}`);
  assert(/does-not-exist/.test(urlBanner), `the banner should name the file: ${urlBanner}`);
  await dismissAll();

  // 2. A file that is not a model.
  await page.getByRole('tab', { name: 'Files' }).click();
  await page.getByLabel('Model file').setInputFiles({
    name: 'garbage.gguf',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from('this is not a model file at all, just text padding '.repeat(20)),
  });
  await page.getByRole('button', { name: 'Load file' }).click();
  const fileBanner = await waitForBanner('loading a garbage file');
  log(`garbage file: ${fileBanner.slice(0, 200)}`);
  assert((await page.getByTestId('model-status').innerText()).includes('No model loaded'), 'status should say no model is loaded');

  // The app still navigates and renders.
  await page.getByRole('navigation', { name: 'Panels' }).getByRole('link', { name: 'Generate' }).click();
  await page.getByTestId('output').waitFor({ timeout: 10_000 });
}
