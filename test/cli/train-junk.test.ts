/**
 * `cli train` refuses what is not a dataset with the Data panel's own message (notADataset /
 * noRecords, src/data/refuse.ts): a PNG renamed .csv, NUL-laden binary, an empty file — before the
 * model loads — and a header without rows. Exit code 1, nothing trained.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { noRecords, notADataset } from '../../src/data/refuse';

const run = promisify(execFile);
const MODEL = 'public/models/stories260K/stories260K.bin';
const dir = mkdtempSync(join(tmpdir(), 'tag-junk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function train(file: string): Promise<{ code: number; stderr: string; stdout: string }> {
  try {
    const r = await run('npx', ['vite-node', 'src/cli/main.ts', '--', 'train', '--model', MODEL, '--stage', '1', '--data', file, '--steps', '1', '--tag-length', '1'], { maxBuffer: 16 << 20 });
    return { code: 0, stderr: r.stderr, stdout: r.stdout };
  } catch (e) {
    const x = e as { code: number; stderr: string; stdout: string };
    return { code: x.code, stderr: x.stderr, stdout: x.stdout };
  }
}

/** The message the Data panel shows for the same bytes (File.text() decodes as readFileSync(…, 'utf8') does). */
const uiMessage = (path: string, name: string) => notADataset(readFileSync(path, 'utf8'), name);

describe('cli train refuses junk files', () => {
  it('a PNG renamed .csv, binary with NUL bytes and an empty file: the UI message, exit 1, no step trained', async () => {
    const png = join(dir, 'picture.csv');
    writeFileSync(png, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) & 255))]));
    const bin = join(dir, 'data.csv');
    writeFileSync(bin, Buffer.from('smiles,y\nCCO,1\n\u0000\u0000\u0001binary'));
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '  \n\n');
    for (const [path, name, expected] of [
      [png, 'picture.csv', /is a PNG image, not a text dataset/],
      [bin, 'data.csv', /is binary \(it contains NUL bytes\)/],
      [empty, 'empty.csv', /is empty: there is nothing to import/],
    ] as const) {
      const msg = uiMessage(path, name);
      expect(msg, name).toMatch(expected);
      const r = await train(path);
      expect(r.code, name).toBe(1);
      expect(r.stderr).toContain(`error: ${msg}`);
      expect(r.stdout).not.toMatch(/"step"/);
    }
  }, 180_000);

  it('a header without rows', async () => {
    const header = join(dir, 'header.csv');
    writeFileSync(header, 'smiles,logp\n');
    const r = await train(header);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${noRecords('header.csv', ['smiles', 'logp'])}`);
    expect(r.stdout).not.toMatch(/"step"/);
  }, 120_000);
});
