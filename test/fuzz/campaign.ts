/**
 * A fuzz campaign: `npm run fuzz -- --cases N [--seed S] [--gpu-cases G] [--out docs/fuzz-table.md]`.
 * Splits N cases over the categories (GPU cases capped at G, default N/50), prints a
 * category × outcome table (markdown) and a JSON summary with every non-clear case, and exits 1
 * when any case hung, crashed or was accepted as garbage.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatTable } from './harness';
import { runCampaign } from './run';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: { cases: { type: 'string', default: '300' }, seed: { type: 'string', default: '1' }, 'gpu-cases': { type: 'string' }, out: { type: 'string' } },
  });
  const cases = Number(values.cases);
  const seed = Number(values.seed);
  if (!Number.isInteger(cases) || cases < 1) throw new Error(`--cases ${JSON.stringify(values.cases)}: must be a whole number ≥ 1`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed ${JSON.stringify(values.seed)}: must be a whole number ≥ 0`);
  const gpuCases = values['gpu-cases'] !== undefined ? Number(values['gpu-cases']) : Math.max(2, Math.floor(cases / 50));
  const rep = await runCampaign({ cases, seed, gpuCases, onCase: (c, r) => r.outcome !== 'ok' && r.outcome !== 'clear-error' && process.stderr.write(`${c}: ${r.outcome}: ${r.detail}\n`) });
  const md = formatTable(rep.table);
  console.log(md);
  console.log(JSON.stringify({ cases, seed, gpuCases, seconds: Math.round(rep.ms / 1000), failures: rep.failures }));
  if (values.out) writeFileSync(values.out, `${md}\n`);
  const bad = rep.failures.filter((f) => f.outcome === 'hang' || f.outcome === 'crash' || f.outcome === 'garbage');
  process.exit(bad.length ? 1 : 0);
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(2);
});
