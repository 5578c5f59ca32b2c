// `cli selfspec` on stories260K with small counts: the mechanics of the whole pipeline (stories260K
// cannot follow instructions, so the instruction set is given and quality is not judged).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { publicPath } from '../helpers/fixtures';

const run = promisify(execFile);
const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const cliArgs = (...args: string[]) => ['vite-node', 'src/cli/main.ts', '--', 'selfspec', ...args];
const cli = (...args: string[]) => run('npx', cliArgs(...args), { maxBuffer: 64 << 20 });
const tmp = mkdtempSync(join(tmpdir(), 'selfspec-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = [
  '--model', publicPath('models/stories260K/stories260K.bin'),
  '--seeds', here('./fixtures/box-3tasks.json'),
  '--corpus', here('./fixtures/corpus.jsonl'),
  '--instructions-from', here('./fixtures/instructions-6.jsonl'),
  '--pubmedqa', publicPath('data/biomed/pubmedqa_ori_pqal.json'),
  '--pubmedqa-truth', publicPath('data/biomed/pubmedqa_test_ground_truth.json'),
  '--instructions', '3', '--k', '2', '--epochs', '1', '--batch', '2', '--accum', '1', '--lr', '0.01', '--tag-length', '2',
  '--eval-n', '2', '--shots', '0', '--rouge-n', '1', '--response-tokens', '8', '--slots', '4', '--context', '512', '--json',
];
const events = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('cli selfspec (stories260K)', () => {
  it('runs two rounds with the tag method and the k = 0 ablation, then a resume does nothing new', async () => {
    const out = join(tmp, 'tag');
    const { stdout } = await cli(...base, '--out', out, '--method', 'tag', '--rounds', '2', '--reuse-instructions', '--ablation', '0');
    const ev = events(stdout);
    for (const f of ['config.json', 'seeds.json', 'round1/instructions.jsonl', 'round1/responses.jsonl', 'round1/responses-k0.jsonl', 'round1/tag/library.json', 'round1/tag-k0/library.json', 'round2/responses.jsonl', 'round2/tag/library.json', 'eval.json', 'eval.md']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const res = lines(join(out, 'round1/responses.jsonl'));
    expect(res.map((r) => r.index)).toEqual([0, 1, 2]);
    for (const r of res) {
      expect(r.passages.length).toBeGreaterThan(0);
      expect(r.passages.reduce((s: number, p: { weight: number }) => s + p.weight, 0)).toBeCloseTo(1, 9);
      expect(r.tokens).toBeGreaterThan(0);
    }
    // Responses with two passages were decoded as one mixture: per token, the passages' posterior shares sum to 1.
    const mixed = res.filter((r) => r.decoding === 'mixture');
    expect(mixed.length).toBeGreaterThan(0);
    for (const r of mixed) {
      expect(r.posterior).toHaveLength(r.tokens);
      for (const row of r.posterior) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 3);
    }
    // Round 2: contrastive AND with retrieval — the same passages as round 1 (same instructions), and
    // for two passages the expert group's posterior shares per token.
    const res2 = lines(join(out, 'round2/responses.jsonl'));
    expect(res2.every((r) => r.decoding === 'contrastive')).toBe(true);
    expect(res2.map((r) => r.passages.map((p: { id: string }) => p.id))).toEqual(res.map((r) => r.passages.map((p: { id: string }) => p.id)));
    for (const r of res2.filter((x) => x.k === 2)) for (const row of r.posterior) expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 3);
    const lib = JSON.parse(readFileSync(join(out, 'round1/tag/library.json'), 'utf8'));
    expect(lib.format).toBe('tag-workbench/library');
    expect(lib.tags.map((t: { name: string; p: number }) => [t.name, t.p])).toEqual([['BioMed', 2]]);
    const table = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(table.rows.map((r: { label: string }) => r.label)).toEqual(['base', 'tag (round 1, k = 2)', 'tag (round 1, k = 0)', 'tag (round 2, k = 2)']);
    for (const r of table.rows) {
      for (const c of ['0-shot likelihood', '0-shot generation']) {
        expect(r.cells[c].n, `${r.label} ${c}`).toBe(2);
        expect(r.cells[c].confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(2);
      }
    }
    expect(readFileSync(join(out, 'eval.md'), 'utf8')).toContain('| tag (round 2, k = 2) |');
    const steps = ev.filter((e) => e.type === 'train-step');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((s) => Number.isFinite(s.loss))).toBe(true);
    expect(ev.at(-1)).toMatchObject({ summary: true });

    const again = events((await cli(...base, '--out', out, '--method', 'tag', '--rounds', '2', '--reuse-instructions', '--ablation', '0', '--resume')).stdout);
    expect(again.filter((e) => e.type === 'stage' && e.status === 'start').map((e) => e.stage)).toEqual(['seeds']);
    expect(again.some((e) => e.type === 'train-step' || e.type === 'response-done')).toBe(false);
  });

  it('LoRA + tag: trains both, scores answers with the adapter applied; Ctrl-C stops and --resume finishes', async () => {
    const out = join(tmp, 'both');
    // vite-node run by node itself (not through npx), so SIGINT reaches the CLI's handler.
    const viteNode = fileURLToPath(new URL('../../node_modules/.bin/vite-node', import.meta.url));
    const child = spawn(process.execPath, [viteNode, ...cliArgs(...base, '--out', out, '--method', 'both').slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (b) => {
      stdout += b;
      if (!sent && stdout.includes('"type":"response-done"')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (b) => (stderr += b));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(sent).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/--resume/);
    expect(existsSync(join(out, 'eval.json'))).toBe(false);
    const kept = lines(join(out, 'round1/responses.jsonl')).length;
    expect(kept).toBeGreaterThan(0);

    const { stdout: s2 } = await cli(...base, '--out', out, '--method', 'both', '--resume');
    const ev = events(s2);
    expect(ev.filter((e) => e.type === 'response-done')).toHaveLength(3 - kept);
    const lib = JSON.parse(readFileSync(join(out, 'round1/both/library.json'), 'utf8'));
    expect(lib.adapters).toHaveLength(1);
    expect(lib.adapters[0]).toMatchObject({ rank: 8, alpha: 16, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
    expect(lib.tags.map((t: { name: string }) => t.name)).toEqual(['BioMed']);
    const table = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(table.rows[1].label).toBe('LoRA + tag (round 1, k = 2)');
    expect(table.rows[1].cells['0-shot likelihood'].n).toBe(2);
    // Generation with the adapter resident in the engine (per-slot LoRA).
    expect(table.rows[1].cells['0-shot generation'].n).toBe(2);
  });

  it('bad input: a clear message, exit 1 (exit 2 for a bad option), nothing made lost', async () => {
    const fail = (...args: string[]) => cli(...args).then(() => ({ code: 0, stderr: '' }), (e) => e as { code: number; stderr: string });
    const withOut = (name: string, ...over: string[]) => {
      const args = [...base, '--out', join(tmp, name)];
      for (let i = 0; i < over.length; i += 2) {
        const at = args.indexOf(over[i]);
        if (at >= 0) args[at + 1] = over[i + 1];
        else args.push(over[i], over[i + 1]);
      }
      return fail(...args);
    };
    let r = await withOut('empty', '--seeds', here('./fixtures/empty.jsonl'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/seed file is empty/);
    r = await withOut('latin1', '--seeds', here('./fixtures/latin1-seeds.csv'));
    expect(r.stderr).toMatch(/not valid UTF-8/);
    r = await withOut('blank', '--corpus', here('./fixtures/blank-corpus.txt'));
    expect(r.stderr).toMatch(/corpus has no text/);
    r = await withOut('bigk', '--k', '9', '--slots', '9');
    expect(r.stderr).toMatch(/corpus has only 4.*--k 4/);
    r = await withOut('method', '--method', 'magic');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--method "magic": must be one of lora, tag, both, all/);
    // An existing run is never overwritten without --resume.
    r = await fail(...base, '--out', join(tmp, 'tag'), '--method', 'tag', '--rounds', '2', '--reuse-instructions', '--ablation', '0');
    expect(r.stderr).toMatch(/already holds a run.*--resume/);
    expect(existsSync(join(tmp, 'tag', 'eval.json'))).toBe(true);
  });
});
