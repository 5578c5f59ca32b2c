import { describe, expect, it } from 'vitest';
import { fakeEngine, InProcessWorker, type FakeEngineOptions } from '../../test/worker/fake-engine';
import { EngineClient } from '../worker/client';
import { createDataStore } from './data';
import { createMemoryDb } from './db';
import { createEngineStore, restartMessage } from './engine';
import { createLibraryStore } from './library';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { createTrainStore, TINY_HYPER } from './train';
import { tick, until } from '../../test/helpers/wait';

const CSV = 'text\nthe cat sat\na dog ran\nthe sun\nbirds sing\nfish swim\nfrogs jump\nbees buzz\n';

async function setup(opts: FakeEngineOptions = {}, engineOpts: { maxRestarts?: number } = {}) {
  const { deps, calls } = fakeEngine(opts);
  const workers = [new InProcessWorker(deps)];
  const client = new EngineClient(workers[0]!, {
    spawn: () => {
      const w = new InProcessWorker(deps);
      workers.push(w);
      return w;
    },
  });
  const notices = createNoticesStore();
  const db = createMemoryDb();
  const dbp = Promise.resolve(db);
  const model = createModelStore({ client, notices });
  const library = createLibraryStore({ client, notices, db: dbp });
  const data = createDataStore({ client, notices, db: dbp, dataBaseUrl: 'http://x/data/', newId: () => 'ds-1' });
  let run = 0;
  const train = createTrainStore({ client, notices, model, data, db: dbp, newRunId: () => `run-${++run}` });
  const engine = createEngineStore({ client, notices, model, library, train, ...engineOpts });
  await library.getState().restore();
  return { client, workers, calls, notices, db, model, library, data, train, engine };
}

describe('engine restart', () => {
  it('restarts a crashed worker, restores the library, reloads the model and resumes from the checkpoint', async () => {
    const s = await setup({ stepDelayMs: 3 });
    await s.model.getState().load({ kind: 'url', url: 'http://x/stories260K.bin', name: 'stories260K' });
    const ds = (await s.data.getState().importText('tiny.csv', CSV))!;
    s.train.getState().setConfig({ method: 'stage1', template: '<Story> {text}', tagLength: 2, datasetIds: [ds.id], hyper: { ...TINY_HYPER, steps: 40 }, checkpointEvery: 2 });
    const running = s.train.getState().start();
    await until(() => (s.train.getState().lastCheckpointStep ?? 0) >= 4);
    // Let the checkpoint reach the db.
    await until(() => s.train.getState().checkpoints.length > 0);
    const libraryBefore = await s.db.getLibrary();

    s.workers[0]!.crash('out of memory');
    await running;
    expect(s.train.getState().status).toBe('error');
    await until(() => s.engine.getState().status === 'restarted');

    expect(s.workers).toHaveLength(2);
    expect(s.workers[0]!.terminated).toBe(true);
    // The fresh worker got the saved library and the same model source again.
    const restores = s.workers[1]!.sent.filter((m) => m.type === 'libraryRestore');
    expect(restores).toHaveLength(1);
    expect((restores[0]!.params as { file: unknown }).file).toEqual(libraryBefore);
    expect(s.calls.load.map((l) => l.source)).toEqual(['http://x/stories260K.bin', 'http://x/stories260K.bin']);
    expect(s.model.getState()).toMatchObject({ status: 'loaded', sourceLabel: 'stories260K', gpuStatus: 'ready' });

    const e = s.engine.getState();
    const cp = (await s.db.listCheckpoints())[0]!;
    expect(e.checkpoint).toMatchObject({ runId: 'run-1', step: cp.step });
    expect(e.reloadedModel).toBe('stories260K');
    expect(e.restarts).toBe(1);
    expect(restartMessage(e)).toBe(
      `The engine stopped (the engine worker crashed: out of memory); it was restarted and stories260K reloaded. Resume training from the checkpoint at step ${cp.step}?`,
    );

    const resumed = e.resumeCheckpoint();
    expect(s.engine.getState().status).toBe('ok');
    // The rejected training request's error is not repeated beside the banner.
    expect(s.notices.getState().notices.filter((n) => n.kind === 'error')).toEqual([]);
    await resumed;
    expect(s.train.getState().status).toBe('done');
    expect(s.train.getState().run?.resumedFrom).toBe(cp.step);
    expect(s.train.getState().log.at(-1)!.step).toBe(40);
    // The resumed run went to the new worker.
    expect(s.workers[1]!.sent.some((m) => m.type === 'trainResume')).toBe(true);
  });

  it('without a model or a run it restarts and offers nothing', async () => {
    const s = await setup();
    s.workers[0]!.crash('boom');
    await until(() => s.engine.getState().status === 'restarted');
    expect(s.engine.getState()).toMatchObject({ reloadedModel: null, checkpoint: null });
    expect(s.calls.load).toEqual([]);
    expect(restartMessage(s.engine.getState())).toBe('The engine stopped (the engine worker crashed: boom); it was restarted.');
    await expect(s.client.request('libraryList', {})).resolves.toBeTruthy();
  });

  it('stops restarting a worker that keeps dying', async () => {
    const s = await setup({}, { maxRestarts: 2 });
    for (let i = 0; i < 3; i++) {
      await until(() => s.engine.getState().status !== 'restarting');
      s.workers.at(-1)!.crash(`crash ${i}`);
      await tick(5);
    }
    await until(() => s.engine.getState().status === 'failed');
    expect(s.workers).toHaveLength(3);
    expect(restartMessage(s.engine.getState())).toMatch(/crash 2\) and was not restarted.*Reload the page/);
  });
});
