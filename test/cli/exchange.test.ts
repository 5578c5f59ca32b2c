/**
 * cli export / cli import on stories260K (a llama2.c model: q/k rows interleaved): a library's
 * adapter goes out as a PEFT folder and zip and comes back identical; tags go out as
 * tags.safetensors + sidecar and come back bit for bit.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenizerForFile } from '../../src/cli/tokenizer-file';
import { describeModel } from '../../src/model/describe';
import { Rng } from '../../src/model/sampling';
import { NodeFileSource } from '../../src/model/source-node';
import { refLora } from '../helpers/lora';
import { refForward, refModel } from '../reference/forward';
import { createHead, LORA_TARGETS, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, importLibrary, TagLibrary } from '../../src/tags/library';
import { createTag, newProvenance } from '../../src/tags/tag';
import { publicPath } from '../helpers/fixtures';

const run = promisify(execFile);
const cli = (...args: string[]) => run('npx', ['vite-node', 'src/cli/main.ts', '--', ...args], { maxBuffer: 16 << 20 });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);
const MODEL = publicPath('models/stories260K/stories260K.bin');
const dir = mkdtempSync(join(tmpdir(), 'cli-exchange-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// stories260K: d 64, 8 heads × 8, 4 KV heads, hidden 172, 5 layers.
const SHAPES = { q: [64, 64], k: [64, 32], v: [64, 32], o: [64, 64], gate: [64, 172], up: [64, 172], down: [172, 64] } as const;

function library(): TagLibrary {
  const rng = new Rng(4);
  const lib = new TagLibrary();
  const r = 4;
  const adapter: LoraAdapter = {
    id: 'lora-cli', name: 'lora', rank: r, alpha: 8, targets: [...LORA_TARGETS], dropout: 0.05,
    layers: Array.from({ length: 5 }, () => Object.fromEntries(LORA_TARGETS.map((t) => {
      const [nIn, nOut] = SHAPES[t];
      return [t, { A: Float32Array.from({ length: r * nIn }, () => rng.next() - 0.5), B: Float32Array.from({ length: nOut * r }, () => rng.next() - 0.5) }];
    }))),
  };
  lib.addAdapter(adapter);
  const prov = newProvenance({ arch: 'llama', name: 'stories260K', dModel: 64, vocabSize: 512 }, 'feedfacefeedface');
  lib.addTag(createTag({ name: 'Story', kind: 'function', p: 2, d: 64, data: Float32Array.from({ length: 128 }, () => rng.next()), provenance: prov }));
  lib.setHead(createHead('regression', 1, 64, rng, [1, 2], 'Story'));
  return lib;
}

describe('cli export / import', () => {
  it('an adapter goes out as PEFT (folder and zip) and comes back the same', async () => {
    const lib = library();
    const libPath = join(dir, 'lib.json');
    writeFileSync(libPath, JSON.stringify(exportLibrary(lib)));
    const out = lastJson((await cli('export', '--tags-in', libPath, '--adapter', 'lora', '--format', 'peft', '--model', MODEL, '--out', join(dir, 'peft'), '--base-model', 'karpathy/tinyllamas')).stdout);
    expect(out).toMatchObject({ adapter: 'lora', format: 'peft', rank: 4, alpha: 8 });
    const config = JSON.parse(readFileSync(join(dir, 'peft', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0.05, base_model_name_or_path: 'karpathy/tinyllamas' });
    await cli('export', '--tags-in', libPath, '--adapter', 'lora', '--format', 'peft', '--model', MODEL, '--zip', '--base-model', 'karpathy/tinyllamas', '--out', join(dir, 'a.zip'));

    for (const [src, name] of [[join(dir, 'peft'), 'from-folder'], [join(dir, 'a.zip'), 'from-zip']]) {
      const res = lastJson((await cli('import', '--peft', src!, '--model', MODEL, '--name', name!, '--out', join(dir, `${name}.json`))).stdout);
      expect(res).toMatchObject({ imported: name, rank: 4, alpha: 8, warnings: [] });
      const back = importLibrary(readFileSync(join(dir, `${name}.json`), 'utf8'), { dModel: 64, fingerprint: '' });
      if (back.status !== 'ok') throw new Error(JSON.stringify(back));
      const a = back.adapters[0]!;
      const orig = lib.getAdapter('lora')!;
      expect(a.baseModel).toBe('karpathy/tinyllamas');
      for (const [l, layer] of orig.layers.entries()) for (const t of orig.targets) {
        expect(a.layers[l]![t]!.A).toEqual(layer[t]!.A);
        expect(a.layers[l]![t]!.B).toEqual(layer[t]!.B);
      }
    }
  });

  it('tags go out as tags.safetensors + sidecar and come back bit for bit; bad input is a message and exit code 1', async () => {
    const lib = library();
    const libPath = join(dir, 'lib2.json');
    writeFileSync(libPath, JSON.stringify(exportLibrary(lib)));
    const out = lastJson((await cli('export', '--tags-in', libPath, '--format', 'safetensors', '--template', 'Once <Story> {input}', '--out', join(dir, 'tags'))).stdout);
    expect(out).toMatchObject({ format: 'safetensors', tags: ['Story'], heads: ['Story'] });
    expect(JSON.parse(readFileSync(join(dir, 'tags', 'tags.json'), 'utf8')).templates).toEqual(['Once <Story> {input}']);
    // The tag was made for another embedding table (fingerprint feedface…): import asks first.
    await expect(cli('import', '--tags', join(dir, 'tags'), '--model', MODEL, '--out', join(dir, 'tags-back.json'))).rejects.toMatchObject({ stderr: expect.stringMatching(/different embedding table.*--accept-fingerprint/s) });
    expect(existsSync(join(dir, 'tags-back.json'))).toBe(false);
    await cli('import', '--tags', join(dir, 'tags'), '--model', MODEL, '--out', join(dir, 'tags-back.json'), '--accept-fingerprint');
    const back = importLibrary(readFileSync(join(dir, 'tags-back.json'), 'utf8'), { dModel: 64, fingerprint: 'feedfacefeedface' });
    if (back.status !== 'ok') throw new Error(JSON.stringify(back));
    expect(back.tags[0]!.data).toEqual(lib.getTag('Story')!.data);
    expect(back.heads[0]!.W).toEqual(lib.getHead('Story')!.W);

    await expect(cli('import', '--peft', join(dir, 'nothing'), '--model', MODEL, '--out', join(dir, 'x.json'))).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--peft ".*nothing": is not an existing file or folder or an http\(s\) URL/) });
    await expect(cli('export', '--tags-in', libPath, '--adapter', 'nope', '--format', 'peft', '--model', MODEL, '--out', dir)).rejects.toMatchObject({ stderr: expect.stringMatching(/has no adapter "nope" \(it has: lora\)/) });
  });

  it('an imported PEFT adapter generates: cli generate --adapter gives the reference forward\'s greedy ids with the original adapter', async () => {
    const lib = library();
    const libPath = join(dir, 'lib3.json');
    writeFileSync(libPath, JSON.stringify(exportLibrary(lib)));
    await cli('export', '--tags-in', libPath, '--adapter', 'lora', '--format', 'peft', '--model', MODEL, '--out', join(dir, 'peft3'));
    const imported = join(dir, 'imported3.json');
    await cli('import', '--peft', join(dir, 'peft3'), '--model', MODEL, '--name', 'hub', '--out', imported);
    const out = lastJson((await cli('generate', '--model', MODEL, '--prompt', 'Once upon a time', '--tags-in', imported, '--adapter', 'hub', '--max-tokens', '8', '--json')).stdout);
    const src = new NodeFileSource(MODEL);
    const desc = await describeModel(src);
    const ref = await refModel(desc, src);
    const ids = (await tokenizerForFile(publicPath('models/stories260K/tok512.bin'))).encode('Once upon a time', { bos: true });
    const V = desc.config.vocabSize;
    const lora = refLora(lib.getAdapter('lora')!);
    for (let i = 0; i < out.ids.length; i++) {
      const row = refForward(ref, { ids, lora }).logits.subarray((ids.length - 1) * V);
      let best = 0;
      for (let t = 1; t < V; t++) if (row[t]! > row[best]!) best = t;
      ids.push(best);
    }
    expect(out.ids.length).toBeGreaterThan(0);
    expect(out.ids).toEqual(ids.slice(ids.length - out.ids.length));
  });

  it('cli train --method lora --init-adapter <name> --tags-in: LoRA starts from an imported adapter (first step at its loss) and is saved under its name', async () => {
    const lib = library();
    lib.addAdapter({ ...lib.getAdapter('lora')!, dropout: 0 }, { replace: true });
    const libPath = join(dir, 'lib4.json');
    writeFileSync(libPath, JSON.stringify(exportLibrary(lib)));
    await cli('export', '--tags-in', libPath, '--adapter', 'lora', '--format', 'peft', '--model', MODEL, '--out', join(dir, 'peft4'));
    const imported = join(dir, 'imported4.json');
    await cli('import', '--peft', join(dir, 'peft4'), '--model', MODEL, '--name', 'hub', '--out', imported);
    // Every row the same: the first training batch and the held-out rows are one example.
    const data = join(dir, 'same.csv');
    writeFileSync(data, 'input,output\n' + 'Once upon a time,there was a little girl\n'.repeat(8));
    const common = ['--model', MODEL, '--method', 'lora', '--template', '{input} {output}', '--task', 'text', '--data', data, '--steps', '1', '--batch', '1', '--lr', '0.001'];
    const outPath = join(dir, 'continued.json');
    const lines = (await cli('train', ...common, '--tags-in', imported, '--init-adapter', 'hub', '--out', outPath)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const step1 = lines.find((l) => l.step === 1)!;
    const summary = lines.find((l) => l.summary)!;
    expect(step1.loss).toBeCloseTo(summary.eval_before.nll, 3);
    expect(summary.saved.adapter).toBe('hub');
    const fresh = (await cli('train', ...common, '--lora-rank', '4', '--lora-alpha', '8')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const freshStep1 = fresh.find((l) => l.step === 1)!;
    // A fresh adapter (B = 0) starts at the base model's loss, far from the adapter's.
    expect(freshStep1.loss).toBeCloseTo(fresh.find((l) => l.summary)!.eval_before.nll, 3);
    expect(Math.abs(freshStep1.loss - step1.loss)).toBeGreaterThan(0.05);

    const res = importLibrary(JSON.parse(readFileSync(outPath, 'utf8')), { dModel: 64, fingerprint: '' }, { acceptFingerprintMismatch: true });
    if (res.status !== 'ok') throw new Error(JSON.stringify(res));
    const after = res.adapters.find((a) => a.name === 'hub')!;
    const before = lib.getAdapter('lora')!;
    expect(after).toMatchObject({ rank: 4, alpha: 8, targets: before.targets });
    expect(after.layers[0]!.q!.B).not.toEqual(before.layers[0]!.q!.B);

    // cli eval with the adapter measures it (not a fresh one): the same loss as before training.
    const ev = lastJson((await cli('eval', '--model', MODEL, '--method', 'lora', '--template', '{input} {output}', '--task', 'text', '--data', data, '--tags-in', imported, '--init-adapter', 'hub')).stdout);
    expect(ev.eval.nll).toBeCloseTo(summary.eval_before.nll, 3);

    await expect(cli('train', ...common, '--tags-in', imported, '--init-adapter', 'nope')).rejects.toMatchObject({ stderr: expect.stringMatching(/no adapter "nope" to continue/) });
    await expect(cli('train', ...common, '--init-adapter', 'hub')).rejects.toMatchObject({ stderr: expect.stringMatching(/--init-adapter "hub": needs --tags-in/) });
  });
});
