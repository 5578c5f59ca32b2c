/**
 * The fuzz suite in CI: a few hundred seeded cases over every category (mutated model files of each
 * format, libraries, checkpoints, datasets, tokenizer text, CLI arguments, worker requests, and a
 * few mutated models loaded on the GPU). Each case must end in a clear error or a correct result
 * within its time bound. Long campaigns: `npm run fuzz -- --cases 2000`.
 */
import { describe, expect, it } from 'vitest';
import { formatTable } from './harness';
import { runCampaign } from './run';

describe('fuzz suite', () => {
  it('300 seeded cases: no hang, crash or garbage, ≤ 1% unclear errors', async () => {
    const rep = await runCampaign({ cases: 300, seed: 1, gpuCases: 4 });
    console.log(formatTable(rep.table));
    const count = (o: string) => rep.failures.filter((f) => f.outcome === o).length;
    const total = Object.values(rep.table).reduce((s, r) => s + Object.values(r).reduce((a, b) => a + b, 0), 0);
    expect(total).toBeGreaterThanOrEqual(290);
    expect(rep.failures.filter((f) => f.outcome === 'hang' || f.outcome === 'crash' || f.outcome === 'garbage')).toEqual([]);
    expect(count('unclear-error')).toBeLessThanOrEqual(Math.floor(total / 100));
    // Every category saw both sides where it can: accepted inputs and refused ones.
    for (const [cat, r] of Object.entries(rep.table)) expect(r.ok + r['clear-error'], cat).toBeGreaterThan(0);
  }, 600_000);
});
