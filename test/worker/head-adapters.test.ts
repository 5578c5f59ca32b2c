/**
 * Head predictions with a library LoRA adapter, from the Composer and Matrix stores through the real
 * worker handler to the (fake) engine: the adapter reaches hiddenAt (made resident under its engine
 * name), each result names the adapter it used, renames and deletions are followed, and a cell
 * without a head (scored on the base model) refuses an adapter instead of ignoring it.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/sampling';
import { createComposerStore } from '../../src/state/composer';
import { createDataStore } from '../../src/state/data';
import { createMemoryDb } from '../../src/state/db';
import { createMatrixStore } from '../../src/state/matrix';
import { createModelStore } from '../../src/state/model';
import { createNoticesStore } from '../../src/state/notices';
import { followAdapter } from '../../src/state/tag-renames';
import { createHead, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, TagLibrary } from '../../src/tags/library';
import { loraShapes } from '../../src/tags/peft';
import { createTag, newProvenance, randomTagRows } from '../../src/tags/tag';
import { FAKE_CONFIG, fakeClient } from './fake-engine';

function randomAdapter(name: string, seed: number): LoraAdapter {
  const rng = new Rng(seed);
  const shapes = loraShapes(FAKE_CONFIG);
  const pair = (t: 'q' | 'v') => ({ A: Float32Array.from({ length: 4 * shapes[t].in }, () => rng.next()), B: Float32Array.from({ length: shapes[t].out * 4 }, () => rng.next()) });
  return { id: `lora-${name}-${seed}`, name, rank: 4, alpha: 8, targets: ['q', 'v'], layers: Array.from({ length: FAKE_CONFIG.nLayers }, () => ({ q: pair('q'), v: pair('v') })) };
}

const PROMPT = [{ kind: 'tag' as const, name: 'Story' }, { kind: 'text' as const, text: ' s1 ' }, { kind: 'tag' as const, name: 'Size' }];

async function setup() {
  const { client, calls } = fakeClient({ text: 'abc' });
  const notices = createNoticesStore();
  const model = createModelStore({ client, notices });
  await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  const d = FAKE_CONFIG.dModel;
  const rng = new Rng(5);
  const lib = new TagLibrary();
  lib.addTag(createTag({ name: 'Story', kind: 'domain', p: 2, d, data: randomTagRows(2, d, 0.1, rng), provenance: newProvenance({ arch: 'llama', name: 'fake', dModel: d, vocabSize: FAKE_CONFIG.vocabSize }, '', { stage: 'stage1', steps: 1 }) }));
  lib.addTag(createTag({ name: 'Size', kind: 'function', p: 2, d, data: randomTagRows(2, d, 0.1, rng), provenance: newProvenance({ arch: 'llama', name: 'fake', dModel: d, vocabSize: FAKE_CONFIG.vocabSize }, '', { stage: 'stage2', steps: 1 }) }));
  lib.setHead(createHead('regression', 1, d, rng, [1, 2, 3], 'Size'));
  lib.addAdapter(randomAdapter('bio', 1));
  lib.addAdapter(randomAdapter('chem', 2));
  expect((await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)), confirm: true })).status).toBe('ok');
  const composer = createComposerStore({ client, notices, model, random: () => 0.5 });
  const data = createDataStore({ client, notices, db: Promise.resolve(createMemoryDb()), dataBaseUrl: 'http://x/data/', newId: () => 'ds-1' });
  const matrix = createMatrixStore({ client, notices, model, data });
  return { client, notices, composer, matrix, data, fake: () => calls.models[0]! };
}

describe('composer head mode with an adapter', () => {
  it('applies the prompt’s adapter under the head, names it in the result, and differs from the base', async () => {
    const { composer, fake } = await setup();
    const c = composer.getState();
    c.setMode('head');
    c.setSegments('a', PROMPT);
    await composer.getState().run();
    const base = composer.getState().columns[0]!;
    expect(composer.getState().status).toBe('done');
    expect(base.adapter).toBeNull();
    expect(base.prediction!.adapter).toBeNull();

    c.setAdapter('a', 'bio');
    await composer.getState().run();
    const withBio = composer.getState().columns[0]!;
    expect(withBio.adapter).toBe('bio');
    expect(withBio.prediction!.adapter).toBe('bio');
    expect(fake().hiddenAdapters).toEqual([null, 'library:bio']);
    expect(withBio.prediction!.value).not.toBeCloseTo(base.prediction!.value!, 6);
  });

  it('side by side in head mode: the adapter vs the base model, and two prompts with their own adapters', async () => {
    const { composer, fake } = await setup();
    const c = composer.getState();
    c.setMode('head');
    c.setSegments('a', PROMPT);
    c.setSegments('b', PROMPT);
    c.setAdapter('a', 'bio');
    c.setCompare('adapter');
    expect(composer.getState().compare).toBe('adapter');
    await composer.getState().run();
    let cols = composer.getState().columns;
    expect(cols.map((col) => [col.title, col.adapter, col.prediction!.adapter])).toEqual([
      ['With the adapter', 'bio', 'bio'],
      ['Base model', null, null],
    ]);
    expect(cols[0]!.prediction!.value).not.toBeCloseTo(cols[1]!.prediction!.value!, 6);

    c.setCompare('variant');
    c.setAdapter('b', 'chem');
    await composer.getState().run();
    cols = composer.getState().columns;
    expect(cols.map((col) => col.prediction!.adapter)).toEqual(['bio', 'chem']);
    expect(fake().hiddenAdapters.slice(-2)).toEqual(['library:bio', 'library:chem']);

    // Without its tags a prompt has no head to read: still generation-only.
    c.setCompare('no-tags');
    expect(composer.getState().compare).toBe('variant');
  });
});

describe('matrix cells and batch prediction with an adapter', () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ input: `m${i}`, output: String(i) }));
  const template = '<Story> {input} <Size> {output}';

  it('evaluates a head cell with the adapter (the reply names it) and matches the composer’s prediction', async () => {
    const { client, composer } = await setup();
    const base = await client.request('matrixCell', { domain: 'Story', fn: 'Size', template, datasetName: 'd', rows, limit: 5 });
    const bio = await client.request('matrixCell', { domain: 'Story', fn: 'Size', template, datasetName: 'd', rows, limit: 5, adapter: 'bio' });
    expect(base.adapter).toBeNull();
    expect(bio.adapter).toBe('bio');
    expect(bio.predictions!.map((p) => p.prediction)).not.toEqual(base.predictions!.map((p) => p.prediction));
    // The same prompt in the Composer (with the adapter) predicts the cell's first row exactly.
    const c = composer.getState();
    c.setMode('head');
    c.setAdapter('a', 'bio');
    c.setSegments('a', [{ kind: 'tag', name: 'Story' }, { kind: 'text', text: ' m0 ' }, { kind: 'tag', name: 'Size' }]);
    await composer.getState().run();
    expect(composer.getState().columns[0]!.prediction!.value).toBe(bio.predictions![0]!.prediction);
    await expect(client.request('matrixCell', { domain: 'Story', fn: 'Size', template, datasetName: 'd', rows, limit: 5, adapter: 'nope' })).rejects.toThrow(/library has no adapter "nope"/);
  });

  it('a cell without a head refuses an adapter, naming what to do', async () => {
    const { client } = await setup();
    await client.request('libraryDelete', { kind: 'head', name: 'Size' });
    await expect(client.request('matrixCell', { domain: 'Story', fn: 'Size', template, datasetName: 'd', rows, limit: 3, adapter: 'bio' })).rejects.toThrow(
      /no head: .*base model.*"bio".*Choose no adapter/,
    );
  });

  it('the matrix store sends its adapter for cells and batch prediction, clears cells on a change, and follows renames', async () => {
    const { client, matrix, data, fake } = await setup();
    const ds = (await data.getState().importText('d.csv', 'input,output\n' + rows.map((r) => `${r.input},${r.output}`).join('\n') + '\n'))!;
    matrix.getState().setConfig({ datasetId: ds.id, pattern: '<$DOMAIN> {input} <$FUNCTION> {output}', rows: 'all' });
    await matrix.getState().evaluate('Story', 'Size');
    const key = Object.keys(matrix.getState().cells)[0]!;
    expect(matrix.getState().cells[key]!.reply!.adapter).toBeNull();
    matrix.getState().setConfig({ adapter: 'bio' });
    expect(matrix.getState().cells).toEqual({});
    await matrix.getState().evaluate('Story', 'Size');
    expect(matrix.getState().cells[key]!.reply!.adapter).toBe('bio');
    expect(fake().hiddenAdapters.at(-1)).toBe('library:bio');

    const batch = await matrix.getState().predictBatch({ fn: 'Size', template: '<Story> {input} <Size> {output}', inputField: 'input', outputField: 'output', inputs: ['m0', 'm1'] });
    expect(batch!.adapter).toBe('bio');
    expect(batch!.predictions.map((p) => p.prediction)).toEqual(matrix.getState().cells[key]!.reply!.predictions!.slice(0, 2).map((p) => p.prediction));

    // Renamed in the library: the choice follows it (as app.ts wires it), and the next cell uses the new name.
    const before = (await client.request('libraryList', {})).adapters;
    await client.request('libraryRename', { kind: 'adapter', from: 'bio', to: 'med' });
    const after = (await client.request('libraryList', {})).adapters;
    matrix.getState().followAdapter(followAdapter(before, after, matrix.getState().adapter));
    expect(matrix.getState().adapter).toBe('med');
    await matrix.getState().evaluate('Story', 'Size');
    expect(matrix.getState().cells[key]!.reply!.adapter).toBe('med');
    expect(fake().adapterNames()).not.toContain('library:bio');
    // Deleted: the choice drops back to the base model.
    await client.request('libraryDelete', { kind: 'adapter', name: 'med' });
    matrix.getState().followAdapter(followAdapter(after, (await client.request('libraryList', {})).adapters, 'med'));
    expect(matrix.getState().adapter).toBeNull();
  });
});
