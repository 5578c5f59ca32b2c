import type { RunRecord } from '../../state/train';

/** The loss curves of several runs as one CSV: step, then one column per run (empty where a run has no point). */
export function curvesCsv(runs: readonly RunRecord[]): string {
  const steps = [...new Set(runs.flatMap((r) => r.loss.map(([s]) => s)))].sort((a, b) => a - b);
  const byRun = runs.map((r) => new Map(r.loss));
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = ['step', ...runs.map((r) => q(`${r.label} (${r.runId})`))].join(',');
  return [head, ...steps.map((s) => [s, ...byRun.map((m) => (m.has(s) ? String(m.get(s)) : ''))].join(','))].join('\n') + '\n';
}

