/**
 * `cli experiment --data <csv> --input <col> --target <col>` on stories260K: the grid runs on a tiny
 * CSV (mechanics, not quality: a few steps on a handful of rows) into the usual tables, and a bad
 * mapping or a junk file is refused before the model loads, naming what to change.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentResults } from '../../src/experiments/types';

const run = promisify(execFile);
const MODEL = 'public/models/stories260K/stories260K.bin';
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 64 << 20 });
const fail = (...args: string[]) => cli(...args).then(
  () => ({ code: 0, stderr: '' }),
  (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
);
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const dir = mkdtempSync(join(tmpdir(), 'tag-exp-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 24 rows: a word, a number that depends on it, a yes/no label. */
const csv = join(dir, 'words.csv');
const WORDS = ['cat', 'dog', 'bird', 'fish', 'tree', 'house', 'river', 'stone', 'cloud', 'apple', 'bread', 'chair'];
writeFileSync(csv, ['word,score,big', ...WORDS.flatMap((w, i) => [`${w},${w.length + i / 10},${w.length > 4 ? 'yes' : 'no'}`, `the ${w},${w.length + 1 + i / 10},yes`])].join('\n'));

describe('cli experiment --data', () => {
  it('runs Tag-LLM, a linear probe and nearest neighbour on a CSV into the usual tables', async () => {
    const out = join(dir, 'out');
    const { stdout } = await cli(
      'experiment', '--data', csv, '--input', 'word', '--target', 'score', '--model', MODEL, '--out', out,
      '--methods', 'tag-llm,linear-probe,nearest-neighbour', '--steps', '2', '--batch', '2', '--lr', '0.01', '--tag-length', '1',
      '--test', '0.25', '--max-train', '8', '--max-eval', '4',
    );
    const lines = jsonLines(stdout);
    expect(lines.filter((l) => l.cell && l.status).map((l) => [l.cell, l.status])).toEqual([
      ['words/tag-llm/full/p1/s0', 'done'],
      ['words/linear-probe/full/s0', 'done'],
      ['words/nearest-neighbour/full/s0', 'done'],
    ]);
    expect(lines.filter((l) => l.progress && l.phase === 'train').length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatchObject({ summary: true, status: 'complete', cells: 3, done: 3, failed: 0 });

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(results.name).toBe('words');
    const task = results.definition.tasks[0];
    expect(task.data).toMatchObject({ builder: 'dataset', name: 'words.csv', columns: { input: 'word', output: 'score' } });
    expect(task.output.kind).toBe('regression'); // inferred from the target column
    for (const c of results.cells) {
      expect(Number.isFinite(c.value), c.id).toBe(true);
      expect(c.metric).toBe('mse');
      expect(c.trainRows).toBe(8);
      expect(c.evalRows).toBe(4);
    }
    const tag = results.cells[0];
    expect(tag.stages.map((s) => [s.stage, s.steps])).toEqual([['stage1:<Word>', 2], ['stage2', 2]]);
    expect(tag.trainableParams).toBe(64 + 64 + 65); // <Word> + <Score> (p = 1, d = 64) + head
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toContain('| Method | Params | words.csv: score (MSE ↓) |');
    expect(readFileSync(join(out, 'results.csv'), 'utf8').split('\n')[0]).toBe('method,params,words_mean,words_std,words_n');
    expect(readFileSync(join(out, 'cells.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
  }, 300_000);

  it('refuses a bad mapping or a junk file before the model loads', async () => {
    const out = join(dir, 'bad');
    const missing = await fail('experiment', '--data', csv, '--input', 'wrod', '--target', 'score', '--model', MODEL, '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: words.csv: the data set "words.csv" has no column "wrod" (its columns: word, score, big)');

    const notNumeric = await fail('experiment', '--data', csv, '--input', 'word', '--target', 'big', '--kind', 'regression', '--model', MODEL, '--out', out);
    expect(notNumeric.code).toBe(1);
    expect(notNumeric.stderr).toMatch(/tasks\[0\]\.output\.kind: the target column "big" is not numeric \(24 of 24 values are not numbers, e\.g\. "no" in row 1\): a regression needs numbers — choose classification or generation/);

    const few = join(dir, 'few.csv');
    writeFileSync(few, 'word,score\ncat,1\ndog,2\n');
    const tooFew = await fail('experiment', '--data', few, '--input', 'word', '--target', 'score', '--model', MODEL, '--out', out);
    expect(tooFew.code).toBe(1);
    expect(tooFew.stderr).toContain('tasks[0]: too few rows: few.csv has 2 usable rows, which split into 2 training and 0 test rows');

    const png = join(dir, 'image.csv');
    writeFileSync(png, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]));
    const junk = await fail('experiment', '--data', png, '--input', 'a', '--target', 'b', '--model', MODEL, '--out', out);
    expect(junk.code).toBe(1);
    expect(junk.stderr).toContain('error: image.csv is a PNG image, not a text dataset.');

    const usage = await fail('experiment', '--data', csv, '--target', 'score', '--out', out);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--input <column> is required with --data');
  }, 180_000);
});
