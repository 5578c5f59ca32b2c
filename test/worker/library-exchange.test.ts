/**
 * The Library panel's PEFT and safetensors exchange over the worker protocol, on the fake engine
 * (stories260K's shapes, q/k rows interleaved): export downloads, and imports of zips, loose files
 * and unrecognised input.
 */
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/sampling';
import { createHead, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, TagLibrary } from '../../src/tags/library';
import { importPeft, loraShapes } from '../../src/tags/peft';
import { unzipPeft } from '../../src/tags/peft-files';
import { createTag, newProvenance } from '../../src/tags/tag';
import { createMemoryDb } from '../../src/state/db';
import { createLibraryStore } from '../../src/state/library';
import { createNoticesStore } from '../../src/state/notices';
import { FAKE_CONFIG, fakeClient } from './fake-engine';

async function setup() {
  const { client } = fakeClient();
  await client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
  const { fingerprint } = await client.request('modelFingerprint', {});
  const rng = new Rng(8);
  const shapes = loraShapes(FAKE_CONFIG);
  const adapter: LoraAdapter = {
    id: 'lora-w', name: 'lora', rank: 4, alpha: 16, targets: ['q', 'v', 'down'],
    layers: Array.from({ length: FAKE_CONFIG.nLayers }, () => Object.fromEntries((['q', 'v', 'down'] as const).map((t) => [t, {
      A: Float32Array.from({ length: 4 * shapes[t].in }, () => rng.next()), B: Float32Array.from({ length: shapes[t].out * 4 }, () => rng.next()),
    }]))),
  };
  const lib = new TagLibrary();
  lib.addAdapter(adapter);
  lib.addTag(createTag({ name: 'Story', kind: 'function', p: 2, d: 64, data: Float32Array.from({ length: 128 }, () => rng.next()), provenance: newProvenance({ arch: 'llama', name: 'fake', dModel: 64, vocabSize: 512 }, fingerprint) }));
  lib.setHead(createHead('regression', 1, 64, rng, [1, 3], 'Story'));
  const imported = await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)) });
  expect(imported.status).toBe('ok');
  const json = async () => JSON.parse((await client.request('libraryExport', {})).json);
  return { client, adapter, lib, json };
}

describe('library exchange over the worker protocol', () => {
  it('an adapter exports as a PEFT zip and imports back (zip, or the two files) unchanged', async () => {
    const { client, adapter, json } = await setup();
    const before = (await json()).adapters[0];
    const out = await client.request('libraryExportFiles', { format: 'peft', adapter: 'lora' });
    expect(out.fileName).toBe('lora-peft.zip');
    const files = unzipPeft(out.bytes);
    const { adapter: direct } = await importPeft(files, FAKE_CONFIG);
    for (const t of adapter.targets) expect(direct.layers[4]![t]!.B).toEqual(adapter.layers[4]![t]!.B);

    await client.request('libraryDelete', { kind: 'adapter', name: 'lora' });
    const r = await client.request('libraryImportFiles', { files: [{ name: out.fileName, bytes: out.bytes }] });
    if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    expect(r.added.adapters).toEqual(['lora']);
    const after = (await json()).adapters[0];
    expect({ ...after, id: '' }).toEqual({ ...before, id: '', dropout: 0 });

    const loose = await client.request('libraryImportFiles', {
      files: [{ name: 'adapter_config.json', bytes: files.config }, { name: 'adapter_model.safetensors', bytes: files.weights }],
      name: 'again',
    });
    if (loose.status !== 'ok') throw new Error(JSON.stringify(loose));
    expect(loose.added.adapters).toEqual(['again']);
    expect(loose.summary.adapters.map((a) => a.name)).toEqual(['lora', 'again']);
  });

  it('tags export as tags.safetensors + tags.json in a zip and import back', async () => {
    const { client, lib, json } = await setup();
    const out = await client.request('libraryExportFiles', { format: 'safetensors', selection: { tags: ['Story'] } });
    expect(out.fileName).toBe('tags-Story-safetensors.zip');
    expect(Object.keys(unzipSync(out.bytes)).sort()).toEqual(['tags.json', 'tags.safetensors']);
    await client.request('libraryDelete', { kind: 'tag', name: 'Story' });
    const r = await client.request('libraryImportFiles', { files: [{ name: out.fileName, bytes: out.bytes }] });
    if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    expect(r.added).toEqual({ tags: ['Story'], heads: ['Story'], adapters: [] });
    const tag = (await json()).tags.find((t: { name: string }) => t.name === 'Story');
    expect(tag.data).toBe(exportLibrary(lib).tags[0]!.data);
  });

  it('refuses what it does not recognise, adapters for another model, and a PEFT export without its model', async () => {
    const { client } = await setup();
    const odd = await client.request('libraryImportFiles', { files: [{ name: 'notes.txt', bytes: new Uint8Array(3) }] });
    expect(odd).toMatchObject({ status: 'refused', error: expect.stringMatching(/Not recognised: notes\.txt/) });
    const half = await client.request('libraryImportFiles', { files: [{ name: 'adapter_config.json', bytes: new TextEncoder().encode('{}') }] });
    expect(half).toMatchObject({ status: 'refused', error: expect.stringMatching(/needs both adapter_config\.json and adapter_model\.safetensors/) });
    const out = await client.request('libraryExportFiles', { format: 'peft', adapter: 'lora' });
    const files = unzipPeft(out.bytes);
    const cfg = JSON.parse(new TextDecoder().decode(files.config));
    const wrong = await client.request('libraryImportFiles', { files: [{ name: 'adapter_config.json', bytes: new TextEncoder().encode(JSON.stringify({ ...cfg, r: 8 })) }, { name: 'adapter_model.safetensors', bytes: files.weights }] });
    expect(wrong).toMatchObject({ status: 'refused', error: expect.stringMatching(/but r = 8 on the loaded model/) });
    await client.request('unloadModel', {});
    await expect(client.request('libraryExportFiles', { format: 'peft', adapter: 'lora' })).rejects.toThrow(/Load the model this adapter belongs to first/);
  });
});

describe('library store: the panel\'s PEFT and safetensors flows', () => {
  it('exports an adapter and the tags, imports them back, asks before tags of another embedding table', async () => {
    const { client, lib } = await setup();
    const notices = createNoticesStore();
    const store = createLibraryStore({ client, notices, db: Promise.resolve(createMemoryDb()) });
    const s = () => store.getState();
    const peft = (await s().exportFiles({ format: 'peft', adapter: 'lora' }))!;
    expect(peft.fileName).toBe('lora-peft.zip');
    await s().remove('adapter', 'lora');
    await s().importFiles([{ name: peft.fileName, bytes: peft.bytes }]);
    expect(s().lastImport).toMatchObject({ fileName: 'lora-peft.zip', added: ['lora'] });
    expect(s().summary.adapters.map((a) => a.name)).toEqual(['lora']);

    // Tags from another embedding table: the import waits for a confirmation, then goes through.
    const other = new TagLibrary();
    other.addTag(createTag({ name: 'Foreign', kind: 'domain', p: 1, d: 64, data: new Float32Array(64).fill(0.5), provenance: newProvenance({ arch: 'llama', name: 'other', dModel: 64, vocabSize: 512 }, 'ffffffffffffffff') }));
    const { exportTagsSafetensors } = await import('../../src/tags/tags-safetensors');
    const { safetensors, sidecar } = exportTagsSafetensors(other);
    const files = [{ name: 'tags.safetensors', bytes: safetensors }, { name: 'tags.json', bytes: new TextEncoder().encode(JSON.stringify(sidecar)) }];
    const r = await s().importFiles(files);
    expect(r?.status).toBe('needs-confirmation');
    expect(s().pendingImport).toMatchObject({ fileName: 'tags.safetensors + tags.json', warning: expect.stringMatching(/different embedding table/) });
    await s().confirmImport();
    expect(s().lastImport?.added).toEqual(['<Foreign>']);
    expect(s().summary.tags.map((t) => t.name).sort()).toEqual(['Foreign', 'Story']);

    const bad = await s().importUrl('not a url');
    expect(bad).toMatchObject({ status: 'refused' });
    expect(s().importError).toMatch(/is not a URL/);
    expect(lib.getAdapter('lora')).toBeDefined();
  });
});
