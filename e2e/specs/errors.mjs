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
  // The header is read as soon as the file is picked: the card says what is wrong and Load stays
  // disabled, so the refusal is shown before any load is attempted.
  await page.getByTestId('fit-error').waitFor({ timeout: 30_000 });
  const fileError = (await page.getByTestId('fit-error').innerText()).replace(/\s+/g, ' ');
  log(`garbage file: ${fileError.slice(0, 200)}`);
  assert(/garbage\.gguf|GGUF|model/i.test(fileError), `the card should say why the file is refused: ${fileError}`);
  assert(await page.getByRole('button', { name: 'Load file' }).isDisabled(), 'Load file should be disabled for a refused file');
  assert((await page.getByTestId('model-status').innerText()).includes('No model loaded'), 'status should say no model is loaded');

  // The app still navigates and renders.
  await page.getByRole('navigation', { name: 'Panels' }).getByRole('link', { name: 'Generate' }).click();
  await page.getByTestId('output').waitFor({ timeout: 10_000 });
}
