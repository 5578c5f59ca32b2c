/**
 * The experiment and qed commands end to end: the quick example (stories260K, descriptor + QED,
 * Tag-LLM + linear probe, one seed, a few steps on tiny data) must produce a complete table, and a
 * --resume run must reuse every finished cell.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentResults } from '../../src/experiments/types';

const run = promisify(execFile);
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 64 << 20 });
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const dir = mkdtempSync(join(tmpdir(), 'tag-exp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cli experiment', () => {
  const out = join(dir, 'quick');

  it('runs the quick example into a complete results table', async () => {
    const t0 = performance.now();
    const { stdout } = await cli('experiment', 'examples/quick-experiment.json', '--out', out);
    const seconds = (performance.now() - t0) / 1000;
    const lines = jsonLines(stdout);
    // Progress as JSON lines: training steps with their loss, per cell.
    const steps = lines.filter((l) => l.progress && l.phase === 'train');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((s) => typeof s.loss === 'number' && typeof s.cell === 'string')).toBe(true);
    expect(lines.filter((l) => l.cell && l.status).map((l) => l.cell)).toEqual([
      'descriptor/tag-llm/full/p2/s0',
      'descriptor/linear-probe/full/s0',
      'qed/tag-llm/full/p2/s0',
      'qed/linear-probe/full/s0',
    ]);
    expect(lines.at(-1)).toMatchObject({ summary: true, status: 'complete', cells: 4, done: 4, failed: 0 });

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(results.status).toBe('complete');
    expect(results.cells).toHaveLength(4);
    for (const c of results.cells) {
      expect(c.status, `${c.id}: ${c.error}`).toBe('done');
      expect(Number.isFinite(c.value), c.id).toBe(true);
      expect(c.trainRows).toBe(12);
      expect(c.evalRows).toBe(6);
      // Each cell keeps its training curves.
      expect(c.stages.every((s) => s.log.length === 3)).toBe(true);
    }
    const d = 64; // stories260K
    const tag = results.cells.find((c) => c.id === 'qed/tag-llm/full/p2/s0')!;
    expect(tag.stages.map((s) => s.stage)).toEqual(['stage1:<SMILES>', 'stage2']);
    expect(tag.trainableParams).toBe(2 * 2 * d + d + 1); // <SMILES> + <QED> (p = 2) + head
    expect(results.cells.find((c) => c.id === 'qed/linear-probe/full/s0')!.trainableParams).toBe(d + 1);

    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('| Method | Params | Descriptor (MSE ↓) | QED (MSE ↓) |');
    const rows = md.split('\n').filter((l) => l.startsWith('| Tag-LLM') || l.startsWith('| Linear probe'));
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toMatch(/^\| [^|]+ \| [\d,]+ \| \d[\d.e-]* \| \d[\d.e-]* \|$/);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('method,params,descriptor_mean,descriptor_std,descriptor_n,qed_mean,qed_std,qed_n');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['tag-llm', 'linear-probe']);
    expect(readFileSync(join(out, 'cells.csv'), 'utf8').trim().split('\n')).toHaveLength(5);
    console.log(`quick experiment: ${seconds.toFixed(1)} s`);
  }, 300_000);

  it('--resume reuses every finished cell', async () => {
    const before = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    const { stdout } = await cli('experiment', 'examples/quick-experiment.json', '--out', out, '--resume');
    const lines = jsonLines(stdout);
    expect(lines.filter((l) => l.progress && l.phase === 'train')).toEqual([]);
    expect(lines.filter((l) => l.progress && l.phase === 'skipped')).toHaveLength(4);
    const after = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(after.cells.map((c) => [c.id, c.value])).toEqual(before.cells.map((c) => [c.id, c.value]));
  }, 120_000);

  it('refuses a malformed definition with the list of problems', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'x', tasks: ['qed', 'proteins'], methods: ['tag-llm'], hyper: { steps: -1 } }));
    const err = await cli('experiment', bad, '--out', join(dir, 'bad')).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('2 problems');
    expect(err.stderr).toContain('tasks[1]: unknown task "proteins"');
    expect(err.stderr).toContain('hyper.steps: must be a non-negative integer, got -1');
  }, 60_000);
});

describe('cli qed', () => {
  it('prints smiles,qed lines, and smiles,error for what RDKit cannot read', async () => {
    const file = join(dir, 'mols.csv');
    writeFileSync(file, ['smiles,name', 'c1cc2OCOc2cc1OCC1CNCCC1c1ccc(F)cc1,paroxetine', 'C1CC,broken', '', 'CN(C)CCCN1c2ccccc2CCc2ccc(Cl)cc21', 'CCO'].join('\n'));
    const { stdout, stderr } = await cli('qed', '--in', file);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('smiles,qed');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['c1cc2OCOc2cc1OCC1CNCCC1c1ccc(F)cc1', 'C1CC', 'CN(C)CCCN1c2ccccc2CCc2ccc(Cl)cc21', 'CCO']);
    expect(Number(lines[1].split(',')[1])).toBeCloseTo(0.934, 3); // paroxetine (RDKit's QED)
    expect(lines[2]).toBe('C1CC,error');
    expect(Number(lines[3].split(',')[1])).toBeCloseTo(0.818, 3); // clomipramine
    expect(Number(lines[4].split(',')[1])).toBeGreaterThan(0);
    expect(stderr).toMatch(/mols\.csv:3: C1CC: .*unclosed ring/i);
  }, 60_000);
});
