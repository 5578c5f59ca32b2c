/**
 * Runs fuzz cases over every category and tallies category × outcome (used by the campaign script
 * and by the CI suite).
 */
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { CATEGORIES } from './categories';
import { emptyRow, runCase, type CaseResult, type Table } from './harness';

export interface CampaignReport {
  table: Table;
  failures: Array<{ category: string; seed: number } & CaseResult>;
  ms: number;
}

export async function runCampaign(o: { cases: number; seed: number; gpuCases: number; onCase?: (cat: string, r: CaseResult) => void }): Promise<CampaignReport> {
  const t0 = performance.now();
  const cpu = CATEGORIES.filter((c) => !c.gpu);
  const gpuCats = CATEGORIES.filter((c) => c.gpu);
  const perCpu = Math.floor((o.cases - (gpuCats.length ? o.gpuCases : 0)) / cpu.length);
  const table: Table = {};
  const failures: CampaignReport['failures'] = [];
  const gpu = gpuCats.length && o.gpuCases > 0 ? await acquireNodeGpu() : undefined;
  for (const cat of CATEGORIES) {
    const n = cat.gpu ? (gpu ? Math.floor(o.gpuCases / gpuCats.length) : 0) : perCpu;
    if (n === 0) continue;
    table[cat.name] = emptyRow();
    for (let i = 0; i < n; i++) {
      const seed = (o.seed * 1_000_003 + i * 7919 + cat.name.length) >>> 0;
      const r = await runCase(async () => {
        const out = await cat.run(seed, { gpu });
        if (out && typeof out === 'object' && 'garbage' in out) return out;
        return out ?? null;
      }, { ...cat.judge, oracle: (x) => (x && typeof x === 'object' && 'garbage' in x ? String((x as { garbage: unknown }).garbage) : null) }, cat.timeoutMs);
      table[cat.name][r.outcome]++;
      if (r.outcome !== 'ok' && r.outcome !== 'clear-error') failures.push({ category: cat.name, seed, ...r });
      o.onCase?.(cat.name, r);
    }
  }
  return { table, failures, ms: performance.now() - t0 };
}
