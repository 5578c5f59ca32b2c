import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../src/model/safetensors';
import { BytesSource } from '../../src/model/sources';
import { Rng } from '../../src/model/sampling';
import { createHead } from '../../src/tags/head';
import { exportLibrary, importLibrary, TagLibrary } from '../../src/tags/library';
import { createTag, newProvenance, type TrainingRecord } from '../../src/tags/tag';
import { exportTagsSafetensors, tagsSafetensorsToLibrary } from '../../src/tags/tags-safetensors';

const D = 4;
const FP = '0123456789abcdef';

function sampleTagLibrary(): TagLibrary {
  const lib = new TagLibrary();
  const prov = (stage: 'stage1' | 'stage2') => newProvenance({ arch: 'llama', name: 'stories260K', dModel: D, vocabSize: 512 }, FP, { stage, steps: 7, dataset: 'QED', metrics: { mse: 0.5, pearson: NaN } });
  lib.addTag(createTag({ name: 'SMILES', kind: 'domain', p: 2, d: D, data: Float32Array.from([-0, 1e-45, 3.4028235e38, Math.PI, 1, 2, 3, 4]), provenance: prov('stage1') }));
  lib.addTag(createTag({ name: 'QED', kind: 'function', p: 1, d: D, data: Float32Array.from([5, 6, 7, 8]), provenance: prov('stage2') }));
  const head = createHead('classification', 3, D, new Rng(2), ['a', 'b', 'c'], 'QED');
  head.b.set([0.5, -1, 1e-45]);
  lib.setHead(head);
  return lib;
}

describe('tags as safetensors + sidecar', () => {
  it('one [p, d] tensor per tag, weight/bias per head, and a sidecar with names, templates and provenance', async () => {
    const { safetensors, sidecar } = exportTagsSafetensors(sampleTagLibrary(), undefined, { templates: ['<SMILES> {input} <QED> {output}'] });
    const h = await readSafetensorsHeader(new BytesSource(safetensors));
    expect(Object.fromEntries([...h.entries].map(([n, e]) => [n, [e.dtype, e.shape]]))).toEqual({
      'tags.SMILES': ['F32', [2, 4]],
      'tags.QED': ['F32', [1, 4]],
      'heads.QED.weight': ['F32', [3, 4]],
      'heads.QED.bias': ['F32', [3]],
    });
    expect(sidecar).toMatchObject({
      format: 'tag-workbench/tags-safetensors', version: 1, tensors: 'tags.safetensors', templates: ['<SMILES> {input} <QED> {output}'],
      tags: [{ name: 'SMILES', kind: 'domain', p: 2, d: 4, tensor: 'tags.SMILES', provenance: { stage: 'stage1', dataset: 'QED', embeddingFingerprint: FP, metrics: { mse: 0.5, pearson: null } } }, { name: 'QED', tensor: 'tags.QED' }],
      heads: [{ name: 'QED', kind: 'classification', k: 3, classes: ['a', 'b', 'c'], weight: 'heads.QED.weight', bias: 'heads.QED.bias' }],
    });
    expect(JSON.stringify(sidecar)).not.toMatch(/"data"|"W"/);
  });

  it('reads back bit for bit, through the library import rules', async () => {
    const lib = sampleTagLibrary();
    const { safetensors, sidecar } = exportTagsSafetensors(lib);
    const file = await tagsSafetensorsToLibrary(safetensors, JSON.stringify(sidecar));
    const direct = exportLibrary(lib, { tags: ['SMILES', 'QED'] });
    expect({ ...file, exported: '' }).toEqual({ ...direct, exported: '' });
    const r = importLibrary(file, { dModel: D, fingerprint: FP });
    if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    expect(Object.is(r.tags[0]!.data[0], -0)).toBe(true);
    expect(r.heads[0]!.b[2]).toBe(lib.getHead('QED')!.b[2]);
    expect(importLibrary(file, { dModel: 8, fingerprint: FP }).status).toBe('refused');
  });

  it('refuses a sidecar that does not belong to the tensors', async () => {
    const { safetensors, sidecar } = exportTagsSafetensors(sampleTagLibrary());
    const other = exportTagsSafetensors(sampleTagLibrary(), { tags: ['SMILES'], heads: [] });
    await expect(tagsSafetensorsToLibrary(other.safetensors, sidecar)).rejects.toThrow(/has no tensor "tags\.QED" for tag <QED>; the sidecar belongs to another file/);
    await expect(tagsSafetensorsToLibrary(safetensors, other.sidecar)).rejects.toThrow(/holds tensors the sidecar does not describe: tags\.QED, heads\.QED\.weight/);
    await expect(tagsSafetensorsToLibrary(safetensors, { ...sidecar, tags: [{ ...sidecar.tags[0], p: 3 }] })).rejects.toThrow(/"tags\.SMILES" for tag <SMILES> has shape \[2, 4\], the sidecar says \[3, 4\]/);
    await expect(tagsSafetensorsToLibrary(safetensors, '{"format":"x"}')).rejects.toThrow(/not a tags sidecar/);
  });

  it("carries each tag's training templates from its provenance, and imports them back", async () => {
    const lib = sampleTagLibrary();
    const training = (templates: string[]): TrainingRecord => ({
      method: 'stage2', templates, fieldMapping: { input: 'smiles' }, hyper: { lr: 0.0001 }, seed: 0, tagLength: 1, enrich: false,
      datasets: [{ name: 'QED', rows: 10, hash: 'abcd' }], model: { name: 'stories260K', arch: 'llama', weightsFingerprint: FP },
    });
    const qedTemplate = '# # Input: The SMILES of the molecule is <SMILES> {input}.\n# # Output: QED <QED> {output}';
    const qed = lib.getTag('QED')!;
    lib.addTag({ ...qed, provenance: { ...qed.provenance, training: training([qedTemplate]) } }, { replace: true });

    // Nothing passed at export: the templates come from the tags themselves.
    const { safetensors, sidecar } = exportTagsSafetensors(lib);
    expect(sidecar.tags.map((t) => [t.name, t.templates])).toEqual([
      ['SMILES', []],
      ['QED', [qedTemplate]],
    ]);
    expect(sidecar.templates).toEqual([qedTemplate]);
    // Given ones come first; none repeats.
    expect(exportTagsSafetensors(lib, undefined, { templates: ['<SMILES> {input}', qedTemplate] }).sidecar.templates).toEqual(['<SMILES> {input}', qedTemplate]);

    // Round trip: the library gets the same tags, templates included, as from its own JSON.
    const back = importLibrary(await tagsSafetensorsToLibrary(safetensors, JSON.stringify(sidecar)), { dModel: D, fingerprint: FP });
    if (back.status !== 'ok') throw new Error(JSON.stringify(back));
    expect(back.tags.find((t) => t.name === 'QED')!.provenance.training!.templates).toEqual([qedTemplate]);
    const again = exportTagsSafetensors(new TagLibrary({ tags: back.tags, heads: back.heads }));
    expect({ ...again.sidecar, exported: '' }).toEqual({ ...sidecar, exported: '' });

    // The sidecar's per-tag templates win (edited outside the workbench); an untrained tag keeps them in its notes.
    const edited = { ...sidecar, tags: [{ ...sidecar.tags[0]!, templates: ['<SMILES> {smiles}'] }, { ...sidecar.tags[1]!, templates: ['<SMILES> {s} <QED> {y}'] }] };
    const r = importLibrary(await tagsSafetensorsToLibrary(safetensors, edited), { dModel: D, fingerprint: FP });
    if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    expect(r.tags.find((t) => t.name === 'QED')!.provenance.training!.templates).toEqual(['<SMILES> {s} <QED> {y}']);
    expect(r.tags.find((t) => t.name === 'SMILES')!.provenance.notes).toBe('Templates: <SMILES> {smiles}');
    await expect(tagsSafetensorsToLibrary(safetensors, { ...sidecar, tags: [{ ...sidecar.tags[0]!, templates: 'x' }, sidecar.tags[1]] })).rejects.toThrow(/"templates" of tag <SMILES> should be a list of strings/);
  });
});
