/** Helpers shared by the e2e specs. */

export class SpecError extends Error {}

export function assert(cond, message) {
  if (!cond) throw new SpecError(message);
}

/** The text of every visible error banner on the page. */
export async function errorBanners(page) {
  return page.getByTestId('error-banner').allInnerTexts();
}

/** Fails with the banner's text if an error banner is showing. */
export async function expectNoErrorBanner(page, context = '') {
  const banners = await errorBanners(page);
  assert(banners.length === 0, `${context ? context + ': ' : ''}error banner shown: ${banners.join(' | ').replace(/\s+/g, ' ')}`);
}

/**
 * Polls `check()` (returns truthy when done) until it passes; fails early when an error banner
 * appears, and after `timeoutMs` with `describe()`'s account of the current state.
 */
export async function waitUntil(page, check, { timeoutMs = 60_000, intervalMs = 250, what = 'condition', describe } = {}) {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return;
    await expectNoErrorBanner(page, `while waiting for ${what}`);
    if (Date.now() - t0 > timeoutMs) {
      const state = describe ? await describe().catch((e) => `(could not describe: ${e.message})`) : '';
      throw new SpecError(`timed out after ${timeoutMs} ms waiting for ${what}${state ? `; state: ${state}` : ''}`);
    }
    await page.waitForTimeout(intervalMs);
  }
}

/** Opens the app and waits until the WebGPU adapter card is ready. */
export async function openApp(page, baseUrl, hash = '') {
  await page.goto(baseUrl + hash, { waitUntil: 'load' });
  const card = page.getByTestId('gpu-info');
  await card.waitFor({ state: 'attached', timeout: 30_000 });
  await waitUntil(page, async () => (await card.getAttribute('data-status')) === 'ready', {
    timeoutMs: 60_000,
    what: 'the WebGPU adapter',
    describe: async () => `gpu-info status=${await card.getAttribute('data-status')}: ${(await card.innerText()).replace(/\s+/g, ' ')}`,
  });
}
