import { describe, expect, it } from 'vitest';
import { fakeClient } from '../worker/testing';
import { advanceProgress, createModelStore, sourceLabelOf } from './model';
import { createNoticesStore } from './notices';

function setup(opts: Parameters<typeof fakeClient>[0] = {}) {
  const { client, calls, worker } = fakeClient(opts);
  const notices = createNoticesStore();
  const store = createModelStore({ client, notices });
  return { client, calls, worker, notices, store };
}

describe('advanceProgress', () => {
  it('computes fraction, rate and ETA within a phase', () => {
    let p = advanceProgress(null, { phase: 'download', loaded: 0, total: 1000 }, 0);
    expect(p).toMatchObject({ fraction: 0, rate: null, etaSec: null, startedAt: 0 });
    p = advanceProgress(p, { phase: 'download', loaded: 250, total: 1000 }, 500);
    expect(p.fraction).toBe(0.25);
    expect(p.rate).toBe(500); // 250 bytes in 0.5 s
    expect(p.etaSec).toBe(1.5); // 750 bytes left
    p = advanceProgress(p, { phase: 'download', loaded: 1000, total: 1000 }, 2000);
    expect(p.fraction).toBe(1);
    expect(p.etaSec).toBe(0);
  });

  it('restarts the rate at a phase change and keeps the overall start', () => {
    let p = advanceProgress(null, { phase: 'download', loaded: 1000, total: 1000 }, 0);
    p = advanceProgress(p, { phase: 'upload', loaded: 100, total: 500 }, 1000);
    expect(p).toMatchObject({ phase: 'upload', rate: null, startedAt: 0, phaseStartedAt: 1000, phaseStartLoaded: 100 });
    p = advanceProgress(p, { phase: 'upload', loaded: 300, total: 500 }, 2000);
    expect(p.rate).toBe(200);
    expect(p.etaSec).toBe(1);
  });

  it('has no fraction or ETA when the total is unknown', () => {
    let p = advanceProgress(null, { phase: 'parse', loaded: 0, total: 0 }, 0);
    p = advanceProgress(p, { phase: 'parse', loaded: 10, total: 0 }, 1000);
    expect(p.fraction).toBeNull();
    expect(p.etaSec).toBeNull();
  });

  it('ignores rates over windows too short to mean anything', () => {
    let p = advanceProgress(null, { phase: 'download', loaded: 0, total: 100 }, 0);
    p = advanceProgress(p, { phase: 'download', loaded: 50, total: 100 }, 10);
    expect(p.rate).toBeNull();
  });
});

describe('sourceLabelOf', () => {
  it('names URLs, files and named sources', () => {
    expect(sourceLabelOf({ kind: 'url', url: 'http://h/models/a/model.gguf?x=1' })).toBe('model.gguf');
    expect(sourceLabelOf({ kind: 'url', url: 'http://h/a.bin', name: 'Nice' })).toBe('Nice');
    expect(sourceLabelOf({ kind: 'file', file: new File([], 'f.gguf') })).toBe('f.gguf');
  });
});

describe('model store', () => {
  it('queries the GPU once', async () => {
    const { store, worker } = setup();
    await Promise.all([store.getState().queryGpu(), store.getState().queryGpu()]);
    expect(store.getState().gpuStatus).toBe('ready');
    expect(store.getState().gpu?.adapterInfo.description).toBe('Fake GPU');
    await store.getState().queryGpu();
    expect(worker.sent.filter((m) => m.type === 'gpuInfo')).toHaveLength(1);
  });

  it('shows a GPU error in a banner', async () => {
    const e = new Error('WebGPU is not available here.');
    e.name = 'GpuUnavailableError';
    const { store, notices } = setup({ gpuError: e });
    await store.getState().queryGpu();
    expect(store.getState()).toMatchObject({ gpuStatus: 'error', gpuError: 'WebGPU is not available here.' });
    expect(notices.getState().notices[0]).toMatchObject({ kind: 'error', title: 'WebGPU is not available', errorName: 'GpuUnavailableError' });
  });

  it('loads a model, tracking progress', async () => {
    const { store } = setup({ loadSteps: 4, stepDelayMs: 1 });
    const phases: string[] = [];
    const unsub = store.subscribe((s) => s.progress && phases.push(`${s.progress.phase}:${s.progress.loaded}`));
    const p = store.getState().load({ kind: 'url', url: 'http://x/stories.bin' }, 'stories260K');
    expect(store.getState()).toMatchObject({ status: 'loading', sourceLabel: 'stories260K', model: null });
    await p;
    unsub();
    expect(store.getState().status).toBe('loaded');
    expect(store.getState().progress).toBeNull();
    expect(store.getState().model?.config.nLayers).toBe(5);
    expect(phases).toContain('download:1000');
  });

  it('cancels a load', async () => {
    const { store, notices } = setup({ loadSteps: 100, stepDelayMs: 5 });
    const p = store.getState().load({ kind: 'url', url: 'http://x/m.bin' });
    await new Promise((r) => setTimeout(r, 20));
    store.getState().cancelLoad();
    await p;
    expect(store.getState()).toMatchObject({ status: 'cancelled', model: null, progress: null, error: null });
    expect(notices.getState().notices.at(-1)).toMatchObject({ kind: 'info', title: 'Loading cancelled' });
  });

  it('turns load failures into an error state and a banner', async () => {
    const e = new Error('m.bin: unknown magic 0x1234');
    e.name = 'ModelFormatError';
    const { store, notices } = setup({ loadError: e });
    await store.getState().load({ kind: 'url', url: 'http://x/m.bin' });
    expect(store.getState()).toMatchObject({ status: 'error', error: 'm.bin: unknown magic 0x1234', model: null });
    expect(notices.getState().notices[0]).toMatchObject({ title: 'The model file could not be read', message: 'm.bin: unknown magic 0x1234' });
  });

  it('refuses a second load while loading', async () => {
    const { store, notices, calls } = setup({ loadSteps: 5, stepDelayMs: 2 });
    const p = store.getState().load({ kind: 'url', url: 'http://x/a.bin' });
    await store.getState().load({ kind: 'url', url: 'http://x/b.bin' });
    await p;
    expect(calls.load).toHaveLength(1);
    expect(notices.getState().notices[0]).toMatchObject({ kind: 'warning', title: 'Already loading' });
  });

  it('unloads, updates memory and handles device loss', async () => {
    const { store } = setup();
    await store.getState().load({ kind: 'url', url: 'http://x/a.bin' });
    store.getState().setMemory({ weights: 1, kv: 2, scratch: 3, train: 4, total: 10 });
    expect(store.getState().model?.memory.total).toBe(10);
    await store.getState().unload();
    expect(store.getState()).toMatchObject({ status: 'idle', model: null });
    await store.getState().load({ kind: 'url', url: 'http://x/a.bin' });
    store.getState().deviceLost('The GPU device was lost');
    expect(store.getState()).toMatchObject({ status: 'error', model: null, gpuStatus: 'idle', error: 'The GPU device was lost' });
  });
});
