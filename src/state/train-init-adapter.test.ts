import { describe, expect, it } from 'vitest';
import { fakeClient } from '../../test/worker/fake-engine';
import type { LoraAdapter } from '../tags/head';
import { exportLibrary, TagLibrary } from '../tags/library';
import { createDataStore } from './data';
import { createMemoryDb } from './db';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { buildTrainSpec, createTrainStore, TINY_HYPER } from './train';

const CSV = 'input,output\nonce,there was\nthen,a cat\nsoon,it ran\nlater,home\nnext,again\n';

async function setup() {
  const { client, runs } = fakeClient();
  const notices = createNoticesStore();
  const db = Promise.resolve(createMemoryDb());
  const model = createModelStore({ client, notices });
  const data = createDataStore({ client, notices, db, dataBaseUrl: 'http://x/data/', newId: () => 'ds-1' });
  const train = createTrainStore({ client, notices, model, data, db, newRunId: () => 'run-1' });
  await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  const lib = new TagLibrary();
  const bio: LoraAdapter = { id: 'lora-bio', name: 'bio', rank: 2, alpha: 4, targets: ['q'], layers: [] };
  lib.addAdapter(bio);
  expect((await client.request('libraryImport', { text: JSON.stringify(exportLibrary(lib)) })).status).toBe('ok');
  const ds = (await data.getState().importText('pairs.csv', CSV))!;
  train.getState().setConfig({ method: 'lora', template: '{input} {output}', outputKind: 'text', outputField: 'output', datasetIds: [ds.id], hyper: { ...TINY_HYPER, steps: 2 } });
  return { client, runs, train, data, ds };
}

describe('train store: LoRA from a library adapter', () => {
  it('sends the adapter to continue and saves the result under a new name, keeping the original', async () => {
    const s = await setup();
    s.train.getState().setConfig({ initAdapter: 'bio' });
    const built = buildTrainSpec(s.train.getState().config, [s.data.getState().get(s.ds.id)!]);
    expect(built).toMatchObject({ spec: { continueAdapter: 'bio', name: 'bio-continued' }, label: 'lora from bio · pairs.csv' });
    await s.train.getState().start();
    expect(s.train.getState().status).toBe('done');
    expect(s.runs[0]!.spec).toMatchObject({ method: 'lora', continueAdapter: 'bio', name: 'bio-continued' });
    expect(s.train.getState().result?.saved.adapter).toBe('bio-continued');
    const summary = await s.client.request('libraryList', {});
    expect(summary.adapters.map((a) => [a.name, a.rank])).toEqual([
      ['bio', 2],
      ['bio-continued', 2],
    ]);
  });

  it('ignores the choice for other methods, and a missing adapter is refused with its name', async () => {
    const s = await setup();
    s.train.getState().setConfig({ initAdapter: 'gone' });
    const other = buildTrainSpec({ ...s.train.getState().config, method: 'prompt-tuning' }, [s.data.getState().get(s.ds.id)!]);
    expect('spec' in other && other.spec.continueAdapter).toBeFalsy();
    await s.train.getState().start();
    expect(s.train.getState().status).toBe('error');
    expect(s.train.getState().error).toMatch(/no adapter "gone"/);
  });
});
