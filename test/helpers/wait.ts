/** Resolves after `ms` milliseconds (0: after the tasks already queued). */
export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 2 ms until it holds; throws after `ms` milliseconds. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await tick(2);
  }
}
