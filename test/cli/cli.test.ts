import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizerForFile } from '../../src/cli/tokenizer-file';
import { describeModel } from '../../src/model/describe';
import { NodeFileSource } from '../../src/model/source-node';
import { importLibrary } from '../../src/tags/library-format';
import { refLora } from '../helpers/lora';
import { refForward, refModel } from '../reference/forward';
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

  it('generate --tags-in --adapter decodes with a trained LoRA adapter: greedy ids equal the reference forward with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-lora-'));
    const lib = join(dir, 'lib.json');
    const model = 'public/models/stories260K/stories260K.bin';
    await cli('train', '--model', model, '--method', 'lora', '--template', 'Molecule: {output}', '--map', 'output=text', '--data', fixturePath('smiles-60.txt'), '--steps', '6', '--lr', '0.05', '--lora-rank', '4', '--out', lib);
    const n = 12;
    const { stdout } = await cli('generate', '--model', model, '--prompt', 'Molecule:', '--tags-in', lib, '--adapter', 'lora', '--max-tokens', String(n), '--json');
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.adapter).toBe('lora');
    const src = new NodeFileSource(model);
    const desc = await describeModel(src);
    const res = importLibrary(JSON.parse(readFileSync(lib, 'utf8')), { dModel: desc.config.dModel, fingerprint: '' }, { acceptFingerprintMismatch: true });
    if (res.status !== 'ok') throw new Error(JSON.stringify(res));
    const adapter = res.adapters.find((a) => a.name === 'lora')!;
    const ref = await refModel(desc, src);
    const ids = (await tokenizerForFile('public/models/stories260K/tok512.bin')).encode('Molecule:', { bos: true });
    const V = desc.config.vocabSize;
    const lora = refLora(adapter);
    for (let i = 0; i < out.ids.length; i++) {
      const { logits } = refForward(ref, { ids, lora });
      const row = logits.subarray((ids.length - 1) * V);
      let best = 0;
      for (let t = 1; t < V; t++) if (row[t] > row[best]) best = t;
      ids.push(best);
    }
    expect(out.ids.length).toBeGreaterThan(0);
    expect(out.ids).toEqual(ids.slice(ids.length - out.ids.length));
    const plain = JSON.parse((await cli('generate', '--model', model, '--prompt', 'Molecule:', '--max-tokens', String(n), '--json')).stdout.trim().split('\n').pop()!);
    expect(plain.ids).not.toEqual(out.ids);
    const missing = await cli('generate', '--model', model, '--prompt', 'x', '--tags-in', lib, '--adapter', 'nope').catch((e) => e);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--adapter "nope": .* only the adapters "lora"/);
  });
});
