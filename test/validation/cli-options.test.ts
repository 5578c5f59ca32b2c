/**
 * Issue 10 regressions at the command line: every bad option is a one-line error naming option,
 * value and what is allowed, before any model loads (these once hung, or trained on garbage).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CliUsageError, validateOptions, wantsHelp } from '../../src/cli/options';
import { readJsonFile } from '../../src/cli/json-file';
import { readRows } from '../../src/cli/train';

const MODEL = 'public/models/stories260K/stories260K.bin';
const TOK = 'public/models/stories260K/tok512.bin';
const dir = mkdtempSync(join(tmpdir(), 'cli-options-'));
const csv = join(dir, 'd.csv');
writeFileSync(csv, 'input,output\nCCO,1.5\nCC,2\n');

const train = (extra: Record<string, unknown>) => ({ model: MODEL, stage: '2', template: '<F> {input} {output}', data: [csv], ...extra });
function usageError(cmd: string, values: Record<string, unknown>): string {
  try {
    validateOptions(cmd, values);
  } catch (e) {
    expect(e).toBeInstanceOf(CliUsageError);
    return (e as Error).message;
  }
  throw new Error('expected a CliUsageError');
}

describe('CLI option schema', () => {
  it.each([
    ['batch', '0', /--batch "0": must be ≥ 1/],
    ['batch', '', /--batch "": must be a whole number from 1 to 4096/],
    ['batch', '2.5', /--batch "2.5": must be a whole number/],
    ['tag-length', '100000', /--tag-length "100000": must be ≤ 4096/],
    ['steps', 'abc', /--steps "abc": must be a whole number/],
    ['steps', '-3', /--steps "-3": must be ≥ 1/],
    ['lr', '1e6', /--lr "1e6": must be a learning rate > 0 and ≤ 1/],
    ['lr', '1e39', /--lr "1e39": must be a learning rate/],
    ['lr', 'NaN', /--lr "NaN": must be a learning rate/],
    ['lr', '', /--lr "": must be a learning rate.*not empty/],
    ['lr', '0', /--lr "0": must be a learning rate > 0/],
    ['eval-fraction', 'Infinity', /--eval-fraction "Infinity"/],
    ['lora-targets', 'q,zz', /--lora-targets "q,zz": must be a comma-separated list of q, k, v, o, gate, up, down/],
    ['stage', '4', /--stage "4": must be one of 1, 2, 3/],
    ['task', 'poetry', /--task "poetry": must be one of text, regression, classification/],
    ['map', 'input', /--map "input": must be field=column/],
    ['tags-in', 'no/such/lib.json', /--tags-in "no\/such\/lib.json": is not an existing file/],
    ['data', ['no-such.csv'], /--data "no-such.csv": is not an existing file/],
    ['seed', '-1', /--seed "-1": must be ≥ 0/],
  ])('train --%s %j is refused', (name, value, re) => {
    expect(usageError('train', train({ [name]: value }))).toMatch(re);
  });

  it('--init-adapter (alias --continue-adapter) is for LoRA from an adapter of --tags-in, with its own shape', () => {
    const lora = (extra: Record<string, unknown>) => train({ stage: undefined, method: 'lora', 'tags-in': csv, ...extra });
    expect(() => validateOptions('train', lora({ 'init-adapter': 'hub' }))).not.toThrow();
    expect(() => validateOptions('train', lora({ 'continue-adapter': 'hub' }))).not.toThrow();
    expect(() => validateOptions('train', lora({ method: 'domain-in-text', 'init-adapter': 'hub' }))).not.toThrow();
    expect(usageError('train', lora({ 'init-adapter': '' }))).toMatch(/--init-adapter "": must not be empty/);
    expect(usageError('train', lora({ method: 'prompt-tuning', 'init-adapter': 'hub' }))).toMatch(/--init-adapter "hub": starts a LoRA run .* --method lora/);
    expect(usageError('train', lora({ method: 'domain-in-text', peft: 'prompt-tuning', 'init-adapter': 'hub' }))).toMatch(/--method lora/);
    expect(usageError('train', lora({ 'tags-in': undefined, 'init-adapter': 'hub' }))).toMatch(/--init-adapter "hub": needs --tags-in/);
    expect(usageError('train', lora({ 'init-adapter': 'hub', 'lora-rank': '8' }))).toMatch(/--lora-rank with --init-adapter: the run keeps the adapter's own rank/);
    expect(usageError('train', lora({ 'init-adapter': 'hub', 'continue-adapter': 'other' }))).toMatch(/give one/);
  });

  it('accepts a well-formed train command line', () => {
    expect(() => validateOptions('train', train({ batch: '4', lr: '3e-2', 'tag-length': '10', 'lora-targets': 'q, v', map: ['input=input'] }))).not.toThrow();
  });

  it('a missing model, prompt or text is named', () => {
    expect(usageError('generate', { prompt: 'x' })).toMatch(/--model is required/);
    expect(usageError('generate', { model: MODEL })).toMatch(/--prompt is required/);
    expect(usageError('tokenize', { model: TOK })).toMatch(/--text .* or --text-file/);
    expect(usageError('tokenize', { model: 'missing.bin', text: 'x' })).toMatch(/--model "missing.bin": is not an existing file or an http\(s\) URL/);
  });

  const CORPUS = 'test/selfspec/fixtures/corpus.jsonl';
  const SEEDS = 'test/selfspec/fixtures/box-3tasks.json';
  const retrieve = (extra: Record<string, unknown>) => ({ corpus: CORPUS, query: 'aspirin', k: '5', stem: 'porter', k1: '0.9', b: '0.4', ...extra });
  const selfspec = (extra: Record<string, unknown>) => ({ model: MODEL, seeds: SEEDS, out: join(dir, 'run'), k: '5', slots: '8', rounds: '1', method: 'lora', shots: '0,1,5', 'eval-n': '100', ...extra });
  it.each([
    ['retrieve', retrieve({ k: '0' }), /^--k "0": must be ≥ 1$/],
    ['retrieve', retrieve({ k: '2.5' }), /^--k "2.5": must be a whole number from 1/],
    ['retrieve', retrieve({ stem: 'snowball' }), /^--stem "snowball": must be one of porter, none$/],
    ['retrieve', retrieve({ b: '1.5' }), /^--b "1.5": must be a number ≥ 0 and ≤ 1$/],
    ['retrieve', retrieve({ k1: 'NaN' }), /^--k1 "NaN": must be a number ≥ 0/],
    ['retrieve', retrieve({ corpus: 'no/such/corpus' }), /^--corpus "no\/such\/corpus": is not an existing file or folder$/],
    ['retrieve', { corpus: CORPUS }, /^--query is required for "retrieve"/],
    ['selfspec', selfspec({ method: 'magic' }), /^--method "magic": must be one of lora, tag, both, all$/],
    ['selfspec', selfspec({ k: '-1' }), /^--k "-1": must be ≥ 0$/],
    ['selfspec', selfspec({ epochs: '0' }), /^--epochs "0": must be a number > 0/],
    ['selfspec', selfspec({ lr: '5' }), /^--lr "5": must be a learning rate > 0 and ≤ 1$/],
    ['selfspec', selfspec({ shots: '0,one' }), /^--shots "0,one": must be whole numbers ≥ 0 separated by commas/],
    ['selfspec', selfspec({ ablation: '' }), /^--ablation "": must be whole numbers/],
    ['selfspec', selfspec({ rounds: '0' }), /^--rounds "0": must be ≥ 1$/],
    ['selfspec', selfspec({ seeds: 'missing-seeds.json' }), /^--seeds "missing-seeds.json": is not an existing file$/],
    ['selfspec', selfspec({ out: SEEDS }), /^--out ".*box-3tasks.json": must be a folder name \(not an existing file\)$/],
    ['selfspec', selfspec({ 'domain-tag': ' ' }), /^--domain-tag " ": must not be empty$/],
    ['selfspec', selfspec({ pubmedqa: 'nope.json' }), /^--pubmedqa "nope.json": is not an existing file$/],
    ['selfspec', selfspec({ k: '9' }), /^--slots "8": must be ≥ 9 \(one slot per passage/],
    ['selfspec', selfspec({ k: '1', slots: '1', rounds: '2' }), /^--slots "1": must be ≥ 2 .*round 2/],
    ['selfspec', selfspec({ k: '2', ablation: '0,12' }), /^--slots "8": must be ≥ 12/],
    ['selfspec', selfspec({ k: '5', rounds: '2' }), /^--slots "8": must be ≥ 10 .*2 × k = 10 for round 2 \(expert and amateur\)/],
    ['selfspec', selfspec({ 'init-adapter': 'peft' }), /^--init-adapter needs --tags-in <lib.json>/],
    ['selfspec', selfspec({ 'init-adapter': '', 'tags-in': SEEDS }), /^--init-adapter "": must not be empty$/],
    ['selfspec', selfspec({ 'init-adapter': 'peft', 'tags-in': 'no-lib.json' }), /^--tags-in "no-lib.json": is not an existing file$/],
    ['selfspec', selfspec({ 'lora-rank': '0' }), /^--lora-rank "0": must be ≥ 1$/],
    ['selfspec', selfspec({ 'lora-targets': 'q,mlp' }), /^--lora-targets "q,mlp": must be a comma-separated list of q, k, v, o, gate, up, down$/],
    ['selfspec', { model: MODEL, seeds: SEEDS }, /^--out is required for "selfspec"/],
    ['experiment', { out: join(dir, 'x'), 'data-dir': 'no-such-dir' }, /^--data-dir "no-such-dir": is not an existing folder$/],
    ['qed', { in: csv, weights: 'median' }, /^--weights "median": must be one of mean, max, none$/],
    ['qed', { in: 'none.smi', weights: 'mean' }, /^--in "none.smi": is not an existing file$/],
    ['qed', { weights: 'mean' }, /^--in is required for "qed"/],
    ['export', { 'tags-in': csv, format: 'onnx', out: dir }, /^--format "onnx": must be one of peft, safetensors$/],
    ['export', { 'tags-in': 'no-lib.json', format: 'peft', out: dir }, /^--tags-in "no-lib.json": is not an existing file$/],
    ['export', { 'tags-in': csv, format: 'peft', out: dir, model: MODEL }, /^export --format peft needs --adapter <name> and --model/],
    ['export', { 'tags-in': csv, format: 'safetensors', out: '' }, /^--out "": must not be empty$/],
    ['export', { format: 'peft', out: dir }, /^--tags-in is required for "export"/],
    ['import', { model: MODEL, out: join(dir, 'lib.json') }, /^import needs exactly one of --peft <dir\|zip\|url> or --tags <dir>$/],
    ['import', { model: MODEL, out: join(dir, 'lib.json'), peft: dir, tags: dir }, /^import needs exactly one of/],
    ['import', { model: MODEL, out: join(dir, 'lib.json'), peft: 'no/such/adapter' }, /^--peft "no\/such\/adapter": is not an existing file or folder or an http\(s\) URL$/],
    ['import', { model: MODEL, out: join(dir, 'lib.json'), tags: csv }, /^--tags ".*d\.csv": is not an existing folder$/],
    ['import', { model: MODEL, out: 'no/such/dir/lib.json', tags: dir }, /^--out "no\/such\/dir\/lib.json": must be a file name in an existing folder$/],
  ])('%s %j is refused', (cmd, values, re) => {
    const positionals = cmd === 'experiment' ? [csv] : [];
    let msg = '';
    try {
      validateOptions(cmd, values, positionals);
    } catch (e) {
      expect(e).toBeInstanceOf(CliUsageError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(re);
  });

  it('accepts well-formed retrieve, selfspec, experiment, qed, export and import command lines', () => {
    expect(() => validateOptions('retrieve', retrieve({ corpus: 'test/selfspec/fixtures/corpus-docs', stem: 'none', b: '1', k1: '0' }))).not.toThrow();
    expect(() => validateOptions('selfspec', selfspec({ k: '4', ablation: '0,1', rounds: '2', lr: '3e-4', epochs: '0.5', context: '512' }))).not.toThrow();
    expect(() => validateOptions('selfspec', selfspec({ 'tags-in': SEEDS, 'init-adapter': 'peft', 'lora-rank': '16', 'lora-alpha': '32', 'lora-targets': 'q,v' }))).not.toThrow();
    // Without evaluation the PubMedQA files are never read, so a missing default is no error.
    expect(() => validateOptions('selfspec', selfspec({ 'eval-n': '0', pubmedqa: 'nope.json' }))).not.toThrow();
    expect(() => validateOptions('experiment', { out: join(dir, 'x'), 'data-dir': dir }, [csv])).not.toThrow();
    expect(() => validateOptions('qed', { in: csv, weights: 'max' })).not.toThrow();
    expect(() => validateOptions('export', { 'tags-in': csv, format: 'peft', adapter: 'lora', model: MODEL, out: join(dir, 'a.zip'), zip: true })).not.toThrow();
    expect(() => validateOptions('import', { model: MODEL, out: join(dir, 'lib.json'), peft: 'https://example.org/adapter.zip', name: 'x' })).not.toThrow();
  });

  it('experiment takes exactly one existing definition file', () => {
    expect(() => validateOptions('experiment', { out: dir }, [])).toThrow(/experiment takes one definition file, got 0/);
    expect(() => validateOptions('experiment', { out: dir }, ['a.json', 'b.json'])).toThrow(/got 2/);
    expect(() => validateOptions('experiment', { out: dir }, ['missing.json'])).toThrow(/^experiment definition "missing.json": is not an existing file$/);
  });

  it('--help in any position asks for help', () => {
    expect(wantsHelp(['--help'])).toBe(true);
    expect(wantsHelp(['train', '--help'])).toBe(true);
    expect(wantsHelp([])).toBe(true);
    expect(wantsHelp(['train', '--model', 'x'])).toBe(false);
  });

  it('JSON files: a parse error names the file; a byte-order mark is accepted', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format": ');
    expect(() => readJsonFile(bad, '--tags-in')).toThrow(/--tags-in .*bad\.json: not valid JSON/);
    const bom = join(dir, 'bom.json');
    writeFileSync(bom, '\ufeff{"a": 1}');
    expect(readJsonFile(bom, '--tags-in')).toEqual({ a: 1 });
  });

  it('--map reads only the file\'s own columns (not Object.prototype members)', () => {
    expect(() => readRows(csv, false, ['input=toString'])).toThrow(/--map input=toString: d\.csv has no column "toString"/);
    expect(() => readRows(csv, false, ['input=__proto__'])).toThrow(/has no column "__proto__"/);
    expect(readRows(csv, false, ['x=input'])[0].x).toBe('CCO');
  });
});

describe('CLI end to end (one process each)', () => {
  const run = promisify(execFile);
  const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 16 << 20, timeout: 120_000 });

  it('--help prints the usage and exits 0', async () => {
    const { stdout } = await cli('--help');
    expect(stdout).toMatch(/usage:\n\s+cli generate/);
  }, 150_000);

  it('train --batch 0 fails at once with exit code 2, before loading the model', async () => {
    const err = await cli('train', '--model', MODEL, '--stage', '2', '--template', '<F> {input} {output}', '--data', csv, '--batch', '0').catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr.trim().split('\n').pop()).toBe('error: --batch "0": must be ≥ 1');
  }, 150_000);

  it('selfspec, retrieve and qed refuse a bad option with exit code 2 before reading data or loading a model', async () => {
    const a = await cli('selfspec', '--model', MODEL, '--seeds', 'test/selfspec/fixtures/box-3tasks.json', '--out', join(dir, 'ss'), '--k', '3', '--slots', '2').catch((e) => e);
    expect(a.code).toBe(2);
    expect(a.stderr.trim().split('\n').pop()).toMatch(/^error: --slots "2": must be ≥ 3/);
    const b = await cli('retrieve', '--corpus', 'test/selfspec/fixtures/corpus.jsonl', '--query', 'x', '--b', '2').catch((e) => e);
    expect(b.code).toBe(2);
    expect(b.stderr.trim().split('\n').pop()).toBe('error: --b "2": must be a number ≥ 0 and ≤ 1');
    const c = await cli('qed', '--in', csv, '--weights', 'median').catch((e) => e);
    expect(c.code).toBe(2);
    expect(c.stderr.trim().split('\n').pop()).toBe('error: --weights "median": must be one of mean, max, none');
  }, 300_000);

  it('tokenize --text-file reads text too long for an argument list', async () => {
    const big = join(dir, 'big.txt');
    writeFileSync(big, 'Once upon a time. '.repeat(5_000)); // 90 kB: any size goes through a file
    const { stdout } = await cli('tokenize', '--model', TOK, '--text-file', big);
    expect(stdout.trim().split(' ').length).toBeGreaterThan(5_000);
  }, 150_000);
});
