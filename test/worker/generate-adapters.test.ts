/**
 * Generating with a library LoRA adapter, from the Generate and Composer stores through the real
 * worker handler to the (fake) engine: the request names the adapter, the worker makes the library's
 * weights resident, follows renames, replacements and deletions, and refuses what it cannot apply.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/sampling';
import { createComposerStore } from '../../src/state/composer';
import { createGenerationStore } from '../../src/state/generation';
import { createModelStore } from '../../src/state/model';
import { createNoticesStore } from '../../src/state/notices';
import { followAdapter } from '../../src/state/tag-renames';
import type { LoraAdapter } from '../../src/tags/head';
import { exportLibrary, TagLibrary } from '../../src/tags/library';
import { loraShapes } from '../../src/tags/peft';
import { FAKE_CONFIG, fakeClient } from './fake-engine';

function randomAdapter(name: string, seed: number, layers = FAKE_CONFIG.nLayers): LoraAdapter {
  const rng = new Rng(seed);
  const shapes = loraShapes(FAKE_CONFIG);
  const pair = (t: 'q' | 'v') => ({ A: Float32Array.from({ length: 4 * shapes[t].in }, () => rng.next()), B: Float32Array.from({ length: shapes[t].out * 4 }, () => rng.next()) });
  return { id: `lora-${name}-${seed}`, name, rank: 4, alpha: 8, targets: ['q', 'v'], layers: Array.from({ length: layers }, () => ({ q: pair('q'), v: pair('v') })) };
}

async function setup(adapters: LoraAdapter[]) {
  const { client, calls } = fakeClient({ text: 'abc' });
  const notices = createNoticesStore();
  const model = createModelStore({ client, notices });
  await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  const lib = new TagLibrary();
  for (const a of adapters) lib.addAdapter(a);
  const r = await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)) });
  expect(r.status).toBe('ok');
  const gen = createGenerationStore({ client, notices, model, random: () => 0.5 });
  const composer = createComposerStore({ client, notices, model, random: () => 0.5 });
  const fake = () => calls.models[0]!;
  return { client, notices, gen, composer, fake };
}

describe('generation with a library adapter', () => {
  it('sends the chosen adapter, makes its weights resident once and shows which adapter produced the output', async () => {
    const bio = randomAdapter('bio', 1);
    const { gen, fake } = await setup([bio]);
    gen.getState().setAdapter('bio');
    await gen.getState().generate();
    expect(gen.getState()).toMatchObject({ status: 'done', runAdapter: 'bio', output: 'abc' });
    expect(fake().requests[0]!.adapters).toEqual(['library:bio']);
    const resident = fake().resident.get('library:bio')!;
    expect(resident.rank).toBe(4);
    expect(resident.layers[3]!.v!.B).toEqual(bio.layers[3]!.v!.B);

    // The same adapter again: no second upload (the resident object is the one set before).
    await gen.getState().generate();
    expect(fake().resident.get('library:bio')).toBe(resident);

    // Back to the base model: no adapter in the request, and the output says so.
    gen.getState().setAdapter(null);
    await gen.getState().generate();
    expect(fake().requests[2]!.adapters).toBeUndefined();
    expect(gen.getState().runAdapter).toBeNull();
  });

  it('follows renames, replacements and deletions in the library', async () => {
    const { client, gen, fake } = await setup([randomAdapter('bio', 1)]);
    gen.getState().setAdapter('bio');
    await gen.getState().generate();
    await client.request('libraryRename', { kind: 'adapter', from: 'bio', to: 'med' });
    gen.getState().setAdapter('med');
    await gen.getState().generate();
    expect(fake().requests[1]!.adapters).toEqual(['library:med']);
    expect(fake().adapterNames()).toEqual(['library:med']);

    // Re-imported under the same name with other weights: the new weights are uploaded.
    const other = randomAdapter('med', 9);
    const lib = new TagLibrary();
    lib.addAdapter(other);
    await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)), onConflict: 'replace' });
    await gen.getState().generate();
    expect(fake().resident.get('library:med')!.layers[0]!.q!.A).toEqual(other.layers[0]!.q!.A);

    await client.request('libraryDelete', { kind: 'adapter', name: 'med' });
    await gen.getState().generate();
    expect(gen.getState().status).toBe('error');
    expect(gen.getState().error).toMatch(/library has no adapter "med"/);
    expect(fake().adapterNames()).toEqual([]);
  });

  it('refuses an adapter that does not fit the loaded model, naming it', async () => {
    const { gen, notices } = await setup([randomAdapter('short', 3, FAKE_CONFIG.nLayers - 2)]);
    gen.getState().setAdapter('short');
    await gen.getState().generate();
    expect(gen.getState().status).toBe('error');
    expect(gen.getState().error).toMatch(/Adapter "short": it has 3 layers but the model has 5/);
    expect(notices.getState().notices.at(-1)!.message).toMatch(/"short"/);
  });

  it('a chosen adapter follows a rename by id and is dropped when deleted', () => {
    const a = { id: 'x1', name: 'bio', rank: 4, alpha: 8, targets: ['q'], layers: 5, params: 1 };
    expect(followAdapter([a], [{ ...a, name: 'med' }], 'bio')).toBe('med');
    expect(followAdapter([a], [], 'bio')).toBeNull();
    expect(followAdapter([a], [a], null)).toBeNull();
    expect(followAdapter([], [], 'pending')).toBe('pending');
  });
});

describe('inspector attention with an adapter', () => {
  it('applies the chosen library adapter (made resident) or none, and names a missing one', async () => {
    const { client, fake } = await setup([randomAdapter('bio', 1)]);
    const r = await client.request('attention', { template: 'Once', adapter: 'bio' });
    expect(r.layers).toHaveLength(FAKE_CONFIG.nLayers);
    await client.request('attention', { template: 'Once' });
    expect(fake().attentionAdapters).toEqual(['library:bio', null]);
    expect(fake().resident.has('library:bio')).toBe(true);
    await expect(client.request('attention', { template: 'Once', adapter: 'nope' })).rejects.toThrow(/library has no adapter "nope"/);
  });
});

describe('composer with adapters', () => {
  it('side by side: the same prompt with the adapter and with the base model', async () => {
    const { composer, fake } = await setup([randomAdapter('bio', 1)]);
    const c = composer.getState();
    c.setCompare('adapter');
    await composer.getState().run();
    expect(composer.getState().error).toMatch(/Choose an adapter/);

    c.setAdapter('a', 'bio');
    await composer.getState().run();
    const s = composer.getState();
    expect(s.status).toBe('done');
    expect(s.columns.map((col) => [col.title, col.adapter])).toEqual([
      ['With the adapter', 'bio'],
      ['Base model', null],
    ]);
    const req = fake().requests.at(-1)!;
    expect(req.adapters).toEqual(['library:bio', null]);
    expect(req.prompts[0]).toEqual(req.prompts[1]);
  });

  it('two prompts each with its own adapter; head mode keeps the adapter comparison, drops the no-tags one', async () => {
    const { composer, fake } = await setup([randomAdapter('bio', 1), randomAdapter('chem', 2)]);
    const c = composer.getState();
    c.setCompare('variant');
    c.setAdapter('a', 'bio');
    c.setAdapter('b', 'chem');
    await composer.getState().run();
    expect(fake().requests.at(-1)!.adapters).toEqual(['library:bio', 'library:chem']);
    expect(composer.getState().columns.map((col) => col.adapter)).toEqual(['bio', 'chem']);

    // Heads read the model with the adapter too (test/worker/head-adapters.test.ts): the comparison stays.
    c.setCompare('adapter');
    c.setMode('head');
    expect(composer.getState().compare).toBe('adapter');
    // Without its tags the prompt has no head to read.
    c.setMode('generate');
    c.setCompare('no-tags');
    c.setMode('head');
    expect(composer.getState().compare).toBe('off');
    c.setCompare('no-tags');
    expect(composer.getState().compare).toBe('off');
  });
});
