import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixturePath, storiesGolden } from '../helpers/fixtures';

const run = promisify(execFile);
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 16 << 20 });
const golden = storiesGolden();

describe('cli', () => {
  it('tokenize prints the token ids of a llama2.c tokenizer, with --bos', async () => {
    const { stdout } = await cli('tokenize', '--model', 'public/models/stories260K/tok512.bin', '--text', golden.prompt, '--bos', '--json');
    expect(JSON.parse(stdout.trim().split('\n').pop()!).ids).toEqual(golden.prompt_ids);
  });

  it('tokenize reads a vocab-only GGUF', async () => {
    const { stdout } = await cli('tokenize', '--model', fixturePath('tokenizers/ggml-vocab-llama-spm.gguf'), '--text', 'Hello world', '--json');
    expect(JSON.parse(stdout.trim().split('\n').pop()!).ids).toEqual([15043, 3186]);
  });

  it('generate --json prints the text, ids and timings of a greedy run', async () => {
    const { stdout } = await cli('generate', '--model', 'public/models/stories260K/stories260K.bin', '--prompt', golden.prompt, '--max-tokens', '60', '--json');
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(golden.prompt + out.text).toBe(golden.text);
    expect(out.ids).toEqual(golden.greedy_ids_after_bos.slice(4));
    expect(out.timings.prefill_tok_s).toBeGreaterThan(0);
    expect(out.timings.decode_tok_s).toBeGreaterThan(0);
    expect(out.memory.weights).toBeGreaterThan(0);
  });

  it('a malformed model file fails with a message and exit code 1', async () => {
    const err = await cli('generate', '--model', 'package.json', '--prompt', 'x').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/error: .*(not a|unrecognised|format)/i);
  });
});
