import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../../src/selfspec/bm25';
import { parseJsonlCorpus } from '../../src/selfspec/corpus';

const run = promisify(execFile);
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', 'retrieve', ...args], { maxBuffer: 16 << 20 });
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const lastLine = (s: string) => s.trim().split('\n').pop()!;

describe('cli retrieve', () => {
  it('--json prints [{id, score, text}] best first, as the index computes them', async () => {
    const { stdout } = await cli('--corpus', fixture('corpus.jsonl'), '--query', 'programmed cell death in mitochondria', '--k', '2', '--k1', '1.2', '--b', '0.75', '--json');
    const got = JSON.parse(lastLine(stdout)) as Array<{ id: string; score: number; text: string }>;
    const idx = Bm25Index.build(parseJsonlCorpus(readFileSync(fixture('corpus.jsonl'), 'utf8'), 'corpus.jsonl').passages, { k1: 1.2, b: 0.75 });
    expect(got).toEqual(idx.search('programmed cell death in mitochondria', 2).map(({ id, score, text }) => ({ id, score, text })));
    expect(got.map((h) => h.id)).toEqual(['mito', 'pcd']);
  });

  it('reads a folder of .txt documents into <file>#<n> passages; --stem none matches exact words only', async () => {
    const porter = JSON.parse(lastLine((await cli('--corpus', fixture('corpus-docs'), '--query', 'lowering', '--k', '5', '--json')).stdout));
    expect(porter.map((h: { id: string }) => h.id).sort()).toEqual(['metformin.txt#1', 'statins.txt#1']);
    const none = await cli('--corpus', fixture('corpus-docs'), '--query', 'lowering', '--stem', 'none', '--json');
    expect(JSON.parse(lastLine(none.stdout))).toEqual([]);
    expect(none.stderr).toMatch(/note: no query word occurs in the corpus/);
  });

  it('bad arguments fail with a one-line message and exit code 2 (the CLI option schema)', async () => {
    const err = await cli('--corpus', fixture('nope.jsonl'), '--query', 'x').catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/error: --corpus ".*nope.jsonl": is not an existing file or folder/);
    const err2 = await cli('--corpus', fixture('corpus.jsonl'), '--query', 'x', '--k', '0').catch((e) => e);
    expect(err2.code).toBe(2);
    expect(err2.stderr).toMatch(/error: --k "0": must be ≥ 1/);
  });
});
