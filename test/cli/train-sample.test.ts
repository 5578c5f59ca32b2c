/** `cli train --sample-every`: sample lines at every N-th step; progress lines carry elapsed time and ETA. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { progressTimes } from '../../src/cli/train';
import { fixturePath } from '../helpers/fixtures';

const run = promisify(execFile);
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 16 << 20 });

describe('cli train samples and ETA', () => {
  it('prints a decoded greedy sample after every N-th step and elapsed/ETA on each step line', async () => {
    const { stdout } = await cli(
      'train', '--model', 'public/models/stories260K/stories260K.bin', '--stage', '1', '--template', '<Smiles> {input}',
      '--data', fixturePath('smiles-60.txt'), '--steps', '4', '--batch', '2', '--tag-length', '2',
      '--sample-every', '2', '--sample-tokens', '5', '--sample-prompt', '<Smiles> C',
    );
    const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const samples = lines.filter((l) => l.sample);
    expect(samples.map((l) => l.step)).toEqual([2, 4]);
    for (const s of samples) expect(typeof s.text).toBe('string');
    const steps = lines.filter((l) => typeof l.step === 'number' && !l.sample);
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const l of steps) expect(l.elapsed_s).toBeGreaterThanOrEqual(0);
    expect(steps.at(-1).eta_s).toBe(0);
  }, 600_000);

  it('refuses --sample-prompt without --sample-every', async () => {
    const err = await cli('train', '--model', 'public/models/stories260K/stories260K.bin', '--stage', '1', '--template', '<S> {input}', '--data', fixturePath('smiles-60.txt'), '--sample-prompt', 'x').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/--sample-every/);
  }, 600_000);

  it('ETA is the mean step time times the steps left', () => {
    expect(progressTimes(0, 10_000, 5, 15)).toEqual({ elapsed_s: 10, eta_s: 30 });
    expect(progressTimes(0, 1000, 0, 4)).toEqual({ elapsed_s: 1, eta_s: null });
  });
});
