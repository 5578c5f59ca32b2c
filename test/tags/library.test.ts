import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/sampling';
import { f32ToBase64 } from '../../src/tags/f32-base64';
import { createHead, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, importLibrary, TagLibrary, type ImportResult, type LibraryFile } from '../../src/tags/library';
import { createTag, newProvenance, type Tag } from '../../src/tags/tag';
import { datasetHash, modelDisplayName } from '../../src/train/protocol';

const D = 4;
const FP = '0123456789abcdef';
const MODEL = { arch: 'llama', name: 'stories260K', dModel: D, vocabSize: 512 };

// Values whose bits a decimal or rounding path would lose: −0, the smallest denormal, a denormal,
// numbers near the f32 limits, and an irrational.
const SPECIAL = [-0, 1e-45, 1e-38, -1.1754942e-38, 3.4028235e38, -3.4028235e38, Math.PI, 1 / 3];

function tag(name: string, kind: Tag['kind'], values: number[], p = values.length / D): Tag {
  const prov = newProvenance(MODEL, FP, { stage: 'stage2', steps: 120, dataset: 'QED', metrics: { mse: 0.008, pearson: NaN } });
  return createTag({ name, kind, p, d: D, data: Float32Array.from(values), provenance: prov });
}

function bits(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

function sampleLibrary(): TagLibrary {
  const lib = new TagLibrary();
  lib.addTag(tag('SMILES', 'domain', SPECIAL));
  lib.addTag(tag('QED', 'function', [1, 2, 3, 4]));
  const head = createHead('regression', 1, D, new Rng(1), [0.1, 0.5, 0.9], 'QED');
  head.W.set([-0, 1e-45, 2.5, -7]);
  lib.setHead(head);
  const pair = (nIn: number, nOut: number, r: number) => ({
    A: Float32Array.from({ length: r * nIn }, (_, i) => i / 7),
    B: Float32Array.from({ length: nOut * r }, (_, i) => -i / 3),
  });
  const lora: LoraAdapter = { id: 'lora-1', name: 'lora r2', rank: 2, alpha: 16, targets: ['q', 'down'], layers: [{ q: pair(D, D, 2), down: pair(6, D, 2) }] };
  lib.addAdapter(lora);
  return lib;
}

function ok(r: ImportResult) {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}

describe('library export → import', () => {
  it('round-trips tags, heads and adapters bit for bit through JSON text', () => {
    const lib = sampleLibrary();
    const text = JSON.stringify(exportLibrary(lib));
    const r = ok(importLibrary(text, { dModel: D, fingerprint: FP }));
    expect(r.warnings).toEqual([]);
    const [smiles, qed] = r.tags;
    const src = lib.getTag('SMILES')!;
    expect(bits(smiles.data)).toEqual(bits(src.data));
    expect(Object.is(smiles.data[0], -0)).toBe(true);
    expect(smiles.data[1]).toBe(src.data[1]); // smallest denormal survives
    expect(smiles.data[1]).toBeGreaterThan(0);
    expect({ ...smiles, data: null }).toEqual({ ...src, data: null, provenance: { ...src.provenance } });
    expect(bits(qed.data)).toEqual(bits(lib.getTag('QED')!.data));
    // A NaN metric (undefined Pearson r) is written as null and read back as NaN.
    expect(smiles.provenance.metrics.mse).toBe(0.008);
    expect(smiles.provenance.metrics.pearson).toBeNaN();

    const h = r.heads[0];
    const h0 = lib.getHead('QED')!;
    expect(bits(h.W)).toEqual(bits(h0.W));
    expect(bits(h.b)).toEqual(bits(h0.b));
    expect(h.labelMean).toEqual(h0.labelMean);
    expect(h.labelStd).toEqual(h0.labelStd);

    const a = r.adapters[0];
    const a0 = lib.getAdapter('lora r2')!;
    expect(a).toMatchObject({ id: 'lora-1', name: 'lora r2', rank: 2, alpha: 16, targets: ['q', 'down'] });
    expect(bits(a.layers[0].down.A)).toEqual(bits(a0.layers[0].down.A));
    expect(bits(a.layers[0].q.B)).toEqual(bits(a0.layers[0].q.B));
  });

  it('round-trips the training record of heads and adapters (and refuses a malformed one)', () => {
    const lib = sampleLibrary();
    const training = {
      method: 'linear-probe',
      templates: ['{input} <QED> {output}'],
      fieldMapping: { input: 'smiles' },
      hyper: { lr: 0.001, schedule: 'cosine', steps: 40 },
      seed: 7,
      tagLength: 10,
      enrich: false,
      datasets: [{ name: 'qed.csv', rows: 90, hash: 'abcdef0123456789' }],
      model: { name: 'stories260K.bin', arch: 'llama', weightsFingerprint: FP },
    };
    lib.getHead('QED')!.training = structuredClone(training);
    lib.getAdapter('lora r2')!.training = { ...structuredClone(training), method: 'lora' };
    const file = exportLibrary(lib);
    const r = ok(importLibrary(JSON.stringify(file), { dModel: D, fingerprint: FP }));
    expect(r.heads[0].training).toEqual(training);
    expect(r.adapters[0].training).toEqual({ ...training, method: 'lora' });
    // Without one (imports, older files) there is none.
    const plain = ok(importLibrary(JSON.stringify(exportLibrary(sampleLibrary())), { dModel: D, fingerprint: FP }));
    expect(plain.heads[0].training).toBeUndefined();
    const bad = structuredClone(file) as unknown as { heads: Array<{ training: { seed: unknown } }> };
    bad.heads[0].training.seed = 'seven';
    expect(importLibrary(JSON.stringify(bad), { dModel: D, fingerprint: FP })).toMatchObject({ status: 'refused', error: expect.stringMatching(/heads\[0\]\.training\.seed/) });
  });

  it('writes the documented v1 layout', () => {
    const f = exportLibrary(sampleLibrary());
    expect(f.format).toBe('tag-workbench/library');
    expect(f.version).toBe(1);
    expect(f.tags[1]).toMatchObject({ name: 'QED', kind: 'function', p: 1, d: 4, data: f32ToBase64(Float32Array.from([1, 2, 3, 4])) });
    // base64 of little-endian f32: 1.0 = 00 00 80 3f.
    expect(atob(f.tags[1].data).slice(0, 4)).toBe('\x00\x00\x80\x3f');
    expect(f.tags[0].provenance).toMatchObject({ modelArch: 'llama', modelName: 'stories260K', dModel: 4, vocabSize: 512, embeddingFingerprint: FP, stage: 'stage2', steps: 120, dataset: 'QED' });
    expect(f.tags[0].provenance.metrics).toEqual({ mse: 0.008, pearson: null });
    expect(f.adapters[0].layers[0].down).toMatchObject({ in: 6, out: 4 });
  });

  it('exports a selection: chosen tags with their heads, no adapters', () => {
    const f = exportLibrary(sampleLibrary(), { tags: ['QED'] });
    expect(f.tags.map((t) => t.name)).toEqual(['QED']);
    expect(f.heads.map((h) => h.name)).toEqual(['QED']);
    expect(f.adapters).toEqual([]);
    expect(exportLibrary(sampleLibrary(), { tags: ['SMILES'] }).heads).toEqual([]);
    expect(() => exportLibrary(sampleLibrary(), { tags: ['Nope'] })).toThrow(/the library has none by that name/);
  });

  it('refuses to export non-finite values', () => {
    const lib = sampleLibrary();
    lib.getTag('QED')!.data[2] = Infinity;
    expect(() => exportLibrary(lib)).toThrow(/tag <QED>: value 2 is Infinity/);
  });
});

describe('library import checks', () => {
  const file = (): LibraryFile => exportLibrary(sampleLibrary());
  const refused = (json: unknown, target = { dModel: D, fingerprint: FP }) => {
    const r = importLibrary(json, target);
    if (r.status !== 'refused') throw new Error(`expected a refusal, got ${r.status}`);
    return r.error;
  };

  it('refuses a model of another width, importing nothing', () => {
    const err = refused(file(), { dModel: 8, fingerprint: FP });
    expect(err).toMatch(/^Nothing was imported: the loaded model has d_model 8/);
    expect(err).toMatch(/tag <SMILES> \(d_model 4, from stories260K\)/);
    expect(err).toMatch(/head QED \(d_model 4\)/);
    expect(err).toMatch(/LoRA adapter "lora r2"/);
  });

  it('asks for confirmation on a fingerprint mismatch, and imports with a warning once accepted', () => {
    const r = importLibrary(file(), { dModel: D, fingerprint: 'ffffffffffffffff' });
    expect(r.status).toBe('needs-confirmation');
    expect(r.needsConfirmation).toBe(true);
    if (r.status !== 'needs-confirmation') return;
    expect(r.warning).toMatch(/different embedding table than the loaded model's \(fingerprint ffffffffffffffff\): <SMILES> \(trained on stories260K, fingerprint 0123456789abcdef\), <QED>/);
    expect(r).not.toHaveProperty('tags');
    const accepted = ok(importLibrary(file(), { dModel: D, fingerprint: 'ffffffffffffffff' }, { acceptFingerprintMismatch: true }));
    expect(accepted.tags.length).toBe(2);
    expect(accepted.warnings[0]).toBe(r.warning);
  });

  it.each<[string, (f: LibraryFile & Record<string, unknown>) => unknown, RegExp]>([
    ['not JSON', () => '{"format": ', /^This file is not JSON/],
    ['another format', (f) => ({ ...f, format: 'something/else' }), /not a Tag Workbench library file: "format" is "something\/else"/],
    ['a newer version', (f) => ({ ...f, version: 2 }), /Unsupported library version 2: this app reads version 1 \(the file was written by a newer version/],
    ['a missing version', (f) => ({ ...f, version: undefined }), /Unsupported library version undefined/],
    ['tags not a list', (f) => ({ ...f, tags: {} }), /^tags: expected a list/],
    ['bad base64', (f) => (f.tags[0].data = 'abc$', f), /^tags\[0\]\.data: is not valid base64/],
    ['data length ≠ p·d', (f) => (f.tags[1].data = f32ToBase64(new Float32Array(3)), f), /^tags\[1\]\.data: holds 12 bytes \(3 floats\), expected 4 floats = 16 bytes/],
    ['p inconsistent with data', (f) => (f.tags[1].p = 2, f), /^tags\[1\]\.data: holds 16 bytes \(4 floats\), expected 8 floats/],
    ['NaN data', (f) => (f.tags[1].data = f32ToBase64(Float32Array.from([0, 1, NaN, 2])), f), /^tags\[1\]\.data: value 2 is NaN/],
    ['a bad tag name', (f) => (f.tags[0].name = 'has space', f), /^tags\[0\]\.name: "has space" is not a valid tag name/],
    ['an unknown kind', (f) => (f.tags[0].kind = 'other' as never, f), /^tags\[0\]\.kind: expected one of domain, function, got "other"/],
    ['a non-integer p', (f) => (f.tags[0].p = 1.5, f), /^tags\[0\]\.p: expected an integer ≥ 1, got 1\.5/],
    ['a missing provenance', (f) => (delete (f.tags[0] as Partial<(typeof f.tags)[0]>).provenance, f), /^tags\[0\]\.provenance: expected an object/],
    ['an unknown stage', (f) => (f.tags[0].provenance.stage = 'stage9' as never, f), /^tags\[0\]\.provenance\.stage: expected one of init, stage1/],
    ['provenance d_model ≠ d', (f) => (f.tags[0].provenance.dModel = 8, f), /^tags\[0\]: d = 4 but provenance\.dModel = 8/],
    ['a string metric', (f) => (f.tags[0].provenance.metrics.mse = '1' as never, f), /^tags\[0\]\.provenance\.metrics\.mse: expected a finite number, got "1"/],
    ['duplicate tag names', (f) => (f.tags[1].name = 'SMILES', f), /^tags: two tags are named "SMILES"/],
    ['head W too short', (f) => (f.heads[0].W = f32ToBase64(new Float32Array(2)), f), /^heads\[0\]\.W: holds 8 bytes/],
    ['head labelStd 0', (f) => (f.heads[0].labelStd = [0], f), /^heads\[0\]\.labelStd\[0\]: must be > 0/],
    ['head classes ≠ k', (f) => (f.heads[0].classes = ['a', 'b'], f), /^heads\[0\]\.classes: 2 names for k = 1 outputs/],
    ['an unknown LoRA target', (f) => (f.adapters[0].targets = ['q', 'zz' as never], f), /^adapters\[0\]\.targets\[1\]: expected one of q, k, v, o, gate, up, down/],
    ['a LoRA layer missing a target', (f) => (delete f.adapters[0].layers[0].down, f), /^adapters\[0\]\.layers\[0\]\.down: expected an object/],
    ['a LoRA A of the wrong size', (f) => (f.adapters[0].layers[0].q.in = 5, f), /^adapters\[0\]\.layers\[0\]\.q\.A: holds 32 bytes \(8 floats\), expected 10 floats/],
  ])('refuses %s with a clear message', (_, mutate, message) => {
    expect(refused(mutate(JSON.parse(JSON.stringify(file())) as LibraryFile & Record<string, unknown>))).toMatch(message);
  });
});

describe('TagLibrary', () => {
  it('adds, gets, renames (the head follows) and deletes by name', () => {
    const lib = sampleLibrary();
    let changes = 0;
    const off = lib.onChange(() => changes++);
    expect(() => lib.addTag(tag('QED', 'function', [0, 0, 0, 0]))).toThrow('The library already has a tag <QED>.');
    lib.renameTag('QED', 'Druglike');
    expect(lib.getTag('QED')).toBeUndefined();
    expect(lib.getTag('Druglike')!.name).toBe('Druglike');
    expect(lib.getHead('Druglike')!.name).toBe('Druglike');
    expect(lib.tags.map((t) => t.name)).toEqual(['SMILES', 'Druglike']); // order kept
    expect(() => lib.renameTag('Druglike', 'SMILES')).toThrow(/already has a tag <SMILES>/);
    expect(() => lib.renameTag('Druglike', 'no spaces')).toThrow(/not a valid tag name/);
    expect(() => lib.renameTag('Nope', 'X')).toThrow('The library has no tag named "Nope".');
    expect(lib.deleteTag('Druglike')).toBe(true);
    expect(lib.getHead('Druglike')).toBeUndefined();
    expect(lib.deleteTag('Druglike')).toBe(false);
    expect([...lib.tagMap().keys()]).toEqual(['SMILES']);
    lib.renameAdapter('lora r2', 'lora');
    expect(lib.getAdapter('lora')).toBeDefined();
    expect(changes).toBe(3);
    off();
    lib.deleteAdapter('lora');
    expect(changes).toBe(3);
  });

  it('merges an import: clashing names get a free name (heads follow their tag), or are replaced', () => {
    const lib = sampleLibrary();
    const r = ok(importLibrary(exportLibrary(lib), { dModel: D, fingerprint: FP }));
    const report = lib.merge(r);
    expect(report.renamed).toEqual([
      { kind: 'tag', from: 'SMILES', to: 'SMILES_2' },
      { kind: 'tag', from: 'QED', to: 'QED_2' },
      { kind: 'adapter', from: 'lora r2', to: 'lora r2 2' },
    ]);
    expect(lib.getHead('QED_2')).toBeDefined();
    const ids = [...lib.tags, ...lib.heads, ...lib.adapters].map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length); // re-imported items got fresh ids
    const again = lib.merge({ tags: [r.tags[0]] }, 'replace');
    expect(again.replaced).toEqual([{ kind: 'tag', name: 'SMILES' }]);
    expect(lib.tags.length).toBe(4);
  });
});

describe('training provenance', () => {
  const training = {
    method: 'stage2',
    templates: ['<SMILES> {input} <QED> {output}'],
    fieldMapping: { input: 'smiles', output: 'qed' },
    hyper: { steps: 6, epochs: 2, lr: 0.0001, schedule: 'cosine' },
    seed: 3,
    tagLength: 10,
    enrich: false,
    datasets: [{ name: 'mols.csv', rows: 20, hash: '0123456789abcdef' }],
    model: { name: 'stories260K.bin', arch: 'llama', weightsFingerprint: FP },
  };

  it('round-trips through the library file', () => {
    const lib = new TagLibrary();
    lib.addTag(createTag({ name: 'QED', kind: 'function', p: 1, d: D, data: new Float32Array(D), provenance: newProvenance(MODEL, FP, { stage: 'stage2', training }) }));
    const file = JSON.parse(JSON.stringify(exportLibrary(lib))) as LibraryFile;
    expect(file.tags[0].provenance.training).toEqual(training);
    const back = ok(importLibrary(file, { dModel: D, fingerprint: FP }));
    expect(back.tags[0].provenance.training).toEqual(training);
  });

  it('a malformed training record is refused with its path', () => {
    const lib = new TagLibrary();
    lib.addTag(createTag({ name: 'QED', kind: 'function', p: 1, d: D, data: new Float32Array(D), provenance: newProvenance(MODEL, FP, { training }) }));
    const file = JSON.parse(JSON.stringify(exportLibrary(lib)));
    file.tags[0].provenance.training.datasets[0].rows = 'many';
    const r = importLibrary(file, { dModel: D, fingerprint: FP });
    expect(r.status).toBe('refused');
    if (r.status === 'refused') expect(r.error).toMatch(/tags\[0\]\.provenance\.training\.datasets\[0\]\.rows: expected an integer/);
  });

  it('names a model by its file, never by the address it was loaded from; hashes data sets by content', () => {
    expect(modelDisplayName('http://localhost:5173/models/stories260K/stories260K.bin')).toBe('stories260K.bin');
    expect(modelDisplayName('https://huggingface.co/x/y/resolve/main/qwen2.5-0.5b-q8_0.gguf?download=true')).toBe('qwen2.5-0.5b-q8_0.gguf');
    expect(modelDisplayName('/home/me/models/m.gguf')).toBe('m.gguf');
    expect(modelDisplayName('SmolLM2-360M')).toBe('SmolLM2-360M');
    const rows = [{ a: '1', b: 'x' }, { a: '2', b: 'y' }];
    expect(datasetHash(rows)).toBe(datasetHash([{ b: 'x', a: '1' }, { b: 'y', a: '2' }]));
    expect(datasetHash(rows)).not.toBe(datasetHash([rows[1], rows[0]]));
    expect(datasetHash(rows)).not.toBe(datasetHash([{ a: '1', b: 'x' }, { a: '2', b: 'z' }]));
    expect(datasetHash(rows)).toMatch(/^[0-9a-f]{16}$/);
  });
});
