/**
 * The exported files as Python sees them: test/python/check_safetensors.py (numpy only, its own
 * 20-line safetensors reader) checks names, dtypes, shapes and every value of a PEFT adapter and a
 * tags.safetensors written here. Needs python3 with numpy (.ci/run installs Debian's python3-numpy).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { interleavedToHalfRows } from '../../src/model/rope-layout';
import type { ModelConfig } from '../../src/model/types';
import { Rng } from '../../src/model/sampling';
import { createHead, LORA_TARGETS } from '../../src/tags/head';
import { TagLibrary } from '../../src/tags/library';
import { exportPeft, loraShapes, peftKey } from '../../src/tags/peft';
import { createTag, newProvenance } from '../../src/tags/tag';
import { exportTagsSafetensors } from '../../src/tags/tags-safetensors';

const SCRIPT = fileURLToPath(new URL('./check_safetensors.py', import.meta.url));
const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const missing = probe.error ? 'python3 is not installed' : probe.status !== 0 ? 'python3 has no numpy (apt-get install python3-numpy)' : null;
if (missing) console.warn(`test/python/check.test.ts skipped: ${missing}.`);

const dir = mkdtempSync(join(tmpdir(), 'peft-python-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Expected = Record<string, { dtype: string; shape: number[]; values: number[] }>;
const f32 = (shape: number[], v: Float32Array) => ({ dtype: 'F32', shape, values: [...v] });

function check(name: string, bytes: Uint8Array, expected: string): unknown {
  writeFileSync(join(dir, `${name}.safetensors`), bytes);
  writeFileSync(join(dir, `${name}.expected.json`), expected);
  const out = execFileSync('python3', [SCRIPT, join(dir, `${name}.safetensors`), join(dir, `${name}.expected.json`)], { encoding: 'utf8' });
  return JSON.parse(out.trim());
}

const CFG: ModelConfig = {
  arch: 'llama', name: 'tiny', dModel: 16, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 8, dFF: 24, vocabSize: 32,
  maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'normal', ropeScale: 1, qkvBias: false, tiedEmbeddings: true,
};

describe.skipIf(missing !== null)('Python reads the exported safetensors (numpy only)', () => {
  it('a PEFT adapter: every key, dtype, shape and value', async () => {
    const shapes = loraShapes(CFG);
    const rng = new Rng(3);
    const adapter = {
      id: 'x', name: 'x', rank: 4, alpha: 8, targets: [...LORA_TARGETS],
      layers: [0, 1].map(() => Object.fromEntries(LORA_TARGETS.map((t) => [t, {
        A: Float32Array.from({ length: 4 * shapes[t].in }, () => rng.next() - 0.5),
        B: Float32Array.from({ length: shapes[t].out * 4 }, () => rng.next() - 0.5),
      }]))),
    };
    const { weights } = exportPeft(adapter, CFG);
    // Expected straight from the adapter: q/k B rows in Hugging Face's order (this model's are interleaved).
    const want: Expected = {};
    adapter.layers.forEach((layer, l) => {
      for (const t of LORA_TARGETS) {
        const { in: nIn, out } = shapes[t];
        const B = t === 'q' || t === 'k' ? interleavedToHalfRows(layer[t]!.B, out, 4, CFG.headDim) : layer[t]!.B;
        want[peftKey(l, t, 'A')] = f32([4, nIn], layer[t]!.A);
        want[peftKey(l, t, 'B')] = f32([out, 4], B);
      }
    });
    expect(check('adapter_model', weights, JSON.stringify({ tensors: want }))).toEqual({ ok: true, tensors: 28 });
    // The check can fail: one value off is caught.
    want[peftKey(1, 'down', 'B')]!.values[5]! += 1e-3;
    expect(() => check('adapter_wrong', weights, JSON.stringify({ tensors: want }))).toThrow(/down_proj\.lora_B\.weight: values differ/);
  });

  it('tags.safetensors: tags and a head', async () => {
    const lib = new TagLibrary();
    const prov = newProvenance({ arch: 'llama', name: 'tiny', dModel: 16, vocabSize: 32 }, '');
    lib.addTag(createTag({ name: 'SMILES', kind: 'domain', p: 3, d: 16, data: Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), provenance: prov }));
    lib.addTag(createTag({ name: 'QED', kind: 'function', p: 2, d: 16, data: Float32Array.from({ length: 32 }, (_, i) => i / 3), provenance: prov }));
    lib.setHead(createHead('regression', 1, 16, new Rng(1), [1, 2, 3], 'QED'));
    const { safetensors } = exportTagsSafetensors(lib);
    const head = lib.getHead('QED')!;
    const want: Expected = {
      'tags.SMILES': f32([3, 16], lib.getTag('SMILES')!.data),
      'tags.QED': f32([2, 16], lib.getTag('QED')!.data),
      'heads.QED.weight': f32([1, 16], head.W),
      'heads.QED.bias': f32([1], head.b),
    };
    expect(check('tags', safetensors, JSON.stringify({ tensors: want }))).toEqual({ ok: true, tensors: 4 });
  });
});
