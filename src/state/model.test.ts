import { describe, expect, it, vi } from 'vitest';
import { headerOnlyGguf, REAL_SHAPES, SparseSource } from '../model/header-only';
import { randomGguf } from '../model/random-model';
import { GgmlType } from '../model/types';
import { fakeClient } from '../../test/worker/fake-engine';
import { CATALOG, catalogSource } from './catalog';
import {
  advanceProgress,
  BUDGET_STORAGE_KEY,
  createModelStore,
  DEFAULT_BUDGET_BYTES,
  LOAD_SETTINGS_STORAGE_KEY,
  explainInspectError,
  fitOf,
  sourceKey,
  sourceLabelOf,
} from './model';
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

  it('keeps showing the loaded model when the worker refuses a load (it still holds the old one)', async () => {
    const { store, client, notices } = setup({ tokenDelayMs: 5 });
    await store.getState().load({ kind: 'url', url: 'http://x/a.bin' }, 'model A');
    const before = store.getState().model;
    expect(before).not.toBeNull();
    // A generation in progress: the worker refuses to load before freeing anything.
    const gen = client.start('generate', { prompts: ['Once'], maxTokens: 40 });
    await new Promise((r) => setTimeout(r, 10));
    await store.getState().load({ kind: 'url', url: 'http://x/b.bin' }, 'model B');
    expect(store.getState()).toMatchObject({ status: 'loaded', error: expect.stringMatching(/generation is running/) });
    expect(store.getState().model?.name).toBe(before!.name);
    expect(notices.getState().notices.at(-1)?.message).toMatch(/generation is running/);
    gen.cancel();
    await gen.result.catch(() => undefined);
  });

  it('shows no model after a load that failed once the old one was freed', async () => {
    const e = new Error('m.bin: unknown magic 0x1234');
    e.name = 'ModelFormatError';
    const { store } = setup({ loadError: e });
    await store.getState().load({ kind: 'url', url: 'http://x/m.bin' });
    expect(store.getState()).toMatchObject({ status: 'error', model: null });
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

describe('pre-load inspection', () => {
  const GiB = 2 ** 30;
  const MiB = 2 ** 20;
  const tiny = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, includeTokenizer: true });
  const qwen = headerOnlyGguf(REAL_SHAPES.qwen25_7bQ4_K_M);
  const QWEN_URL = CATALOG.find((e) => e.id === 'qwen2.5-7b-instruct-q4_k_m')!.url;
  const files = {
    'http://app/tiny.gguf': tiny,
    [QWEN_URL]: new SparseSource(qwen.header, qwen.fileSize, QWEN_URL),
  };

  function memoryStorage(init: Record<string, string> = {}) {
    const m = new Map(Object.entries(init));
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), map: m };
  }

  function setupInspect(opts: Parameters<typeof fakeClient>[0] = {}, storage = memoryStorage()) {
    const { client, calls } = fakeClient({ inspectFiles: files, ...opts });
    const notices = createNoticesStore();
    const store = createModelStore({ client, notices, storage });
    return { store, notices, calls, storage };
  }

  it('inspects a source: config, estimate and a fitting verdict against the adapter', async () => {
    const { store, notices } = setupInspect();
    await store.getState().queryGpu();
    const p = store.getState().inspect({ kind: 'url', url: 'http://app/tiny.gguf' }, 'tiny');
    expect(store.getState().inspection).toMatchObject({ status: 'pending', label: 'tiny', key: 'url:http://app/tiny.gguf|' });
    await p;
    const s = store.getState();
    expect(s.inspection.status).toBe('ready');
    expect(s.inspection.result).toMatchObject({ format: 'gguf', fileBytes: tiny.length, shape: { slots: 4 } });
    const v = fitOf(s)!;
    expect(v).toMatchObject({ ok: true, limitsKnown: true });
    expect(v.checks.map((c) => c.id)).toEqual(['binding', 'buffer', 'budget']);
    expect(notices.getState().notices).toHaveLength(0);
  });

  it('refuses a catalog model whose largest tensor exceeds a small maxStorageBufferBindingSize, and will not load it', async () => {
    const { store, notices, calls } = setupInspect({ gpuLimits: { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB } });
    await store.getState().queryGpu();
    const entry = CATALOG.find((e) => e.id === 'qwen2.5-7b-instruct-q4_k_m')!;
    const source = catalogSource(entry, 'http://app/');
    await store.getState().inspect(source, entry.name);
    expect(calls.inspected).toEqual([QWEN_URL]);
    const v = fitOf(store.getState())!;
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatch(/output\.weight.*maxStorageBufferBindingSize/);
    await store.getState().load(source, entry.name);
    expect(calls.load).toHaveLength(0);
    expect(store.getState().status).toBe('idle');
    expect(notices.getState().notices[0]).toMatchObject({ kind: 'warning', title: 'Not loading: it does not fit' });
    expect(notices.getState().notices[0]!.message).toMatch(/^Qwen2\.5-7B-Instruct Q4_K_M: Cannot load/);
    // Another source is not held back by this verdict.
    await store.getState().load({ kind: 'url', url: 'http://app/other.bin' });
    expect(calls.load).toHaveLength(1);
  });

  it('refuses over the memory budget, which is configurable and remembered', async () => {
    const storage = memoryStorage();
    const { store } = setupInspect({}, storage);
    expect(store.getState().budgetBytes).toBe(DEFAULT_BUDGET_BYTES);
    await store.getState().queryGpu();
    await store.getState().inspect({ kind: 'url', url: QWEN_URL });
    expect(fitOf(store.getState())!.ok).toBe(true); // ≈ 5.6 GB under the 8 GiB default, 447 MB under the fake 1 GiB binding
    store.getState().setBudget(4 * GiB);
    expect(storage.map.get(BUDGET_STORAGE_KEY)).toBe(String(4 * GiB));
    const v = fitOf(store.getState())!;
    expect(v.ok).toBe(false);
    expect(v.checks.find((c) => !c.ok)?.id).toBe('budget');
    store.getState().setBudget(0); // no budget
    expect(fitOf(store.getState())!.ok).toBe(true);
    // A new store reads the remembered budget.
    storage.map.set(BUDGET_STORAGE_KEY, String(3 * GiB));
    expect(setupInspect({}, storage).store.getState().budgetBytes).toBe(3 * GiB);
  });

  it('loads and estimates with the Parallel slots / context settings, remembers them and refuses bad ones', async () => {
    const storage = memoryStorage();
    const { store, notices, calls } = setupInspect({}, storage);
    await store.getState().inspect({ kind: 'url', url: 'http://app/tiny.gguf' }, 'tiny');
    expect(store.getState().inspection.result!.shape.slots).toBe(4);
    const kv4 = store.getState().inspection.result!.estimate.kv;
    // A change inspects the shown source again: the estimate is for the new slots × context.
    store.getState().setLoadSettings({ slots: 8, maxContext: 64 });
    await vi.waitFor(() => expect(store.getState().inspection.result?.shape).toMatchObject({ slots: 8, maxContext: 64 }));
    expect(store.getState().inspection.result!.estimate.kv).not.toBe(kv4);
    expect(JSON.parse(storage.map.get(LOAD_SETTINGS_STORAGE_KEY)!)).toEqual({ slots: 8, maxContext: 64 });
    await store.getState().load({ kind: 'url', url: 'http://app/m.bin' }, 'm');
    expect(calls.load[0]!.opts).toMatchObject({ slots: 8, maxContext: 64 });
    expect(store.getState().model!.shape).toMatchObject({ slots: 8, maxContext: 64 });
    // A new store reads them back; stored junk falls back to the defaults.
    expect(setupInspect({}, storage).store.getState().loadSettings).toEqual({ slots: 8, maxContext: 64 });
    expect(setupInspect({}, memoryStorage({ [LOAD_SETTINGS_STORAGE_KEY]: '{"slots":0,"maxContext":"x"}' })).store.getState().loadSettings).toEqual({ slots: null, maxContext: null });
    // Out of bounds: no load, a notice saying what is allowed.
    store.getState().setLoadSettings({ slots: 65 });
    await store.getState().load({ kind: 'url', url: 'http://app/m.bin' }, 'm');
    expect(calls.load).toHaveLength(1);
    expect(notices.getState().notices.at(-1)).toMatchObject({ kind: 'warning', title: 'Not loading: check the load settings' });
    expect(notices.getState().notices.at(-1)!.message).toMatch(/from 1 to 64/);
  });

  it('reloadWithSlots estimates the new slots first and refuses a reload over the budget; the model stays', async () => {
    const { store, calls, notices } = setupInspect();
    await store.getState().queryGpu();
    const source = { kind: 'url' as const, url: 'http://app/tiny.gguf' };
    await store.getState().inspect(source, 'tiny');
    await store.getState().load(source, 'tiny');
    await store.getState().reloadWithSlots(8);
    expect(calls.load).toHaveLength(2);
    expect(store.getState().inspection.result!.shape.slots).toBe(8);
    const at8 = store.getState().inspection.result!.estimate.total;
    store.getState().setBudget(at8 + 1);
    await store.getState().reloadWithSlots(64);
    expect(store.getState().inspection.result!.shape.slots).toBe(64);
    expect(calls.load).toHaveLength(2);
    expect(notices.getState().notices.at(-1)).toMatchObject({ kind: 'warning', title: 'Not loading: it does not fit' });
    expect(store.getState()).toMatchObject({ status: 'loaded', sourceLabel: 'tiny' });
    expect(store.getState().model!.shape).toMatchObject({ slots: 8 });
  });

  it('reloadWithSlots loads the same source again with N slots and the same context setting', async () => {
    const { store, calls } = setupInspect();
    await store.getState().load({ kind: 'url', url: 'http://app/m.bin' }, 'my model', { maxContext: 128 });
    expect(store.getState().model!.shape).toMatchObject({ slots: 4, maxContext: 128 });
    await store.getState().reloadWithSlots(10);
    expect(calls.load).toHaveLength(2);
    expect(calls.load[1]).toMatchObject({ source: calls.load[0]!.source, opts: { slots: 10, maxContext: 128 } });
    expect(store.getState()).toMatchObject({ status: 'loaded', sourceLabel: 'my model' });
    expect(store.getState().model!.shape).toMatchObject({ slots: 10, maxContext: 128 });
    // The setting follows, so the next load from the Model panel keeps the slots.
    expect(store.getState().loadSettings.slots).toBe(10);
    // Nothing loaded: nothing to reload, said plainly.
    const fresh = setupInspect();
    await fresh.store.getState().reloadWithSlots(10);
    expect(fresh.calls.load).toHaveLength(0);
    expect(fresh.notices.getState().notices[0]).toMatchObject({ title: 'Nothing to reload' });
  });

  it('an unreachable hub is a clear message on the card, not a crash or a banner', async () => {
    const { store, notices } = setupInspect({ inspectFiles: {} });
    const entry = CATALOG.find((e) => e.id === 'mistral-7b-v0.1-q4_0')!;
    await store.getState().inspect(catalogSource(entry, 'http://app/'), entry.name);
    const ins = store.getState().inspection;
    expect(ins.status).toBe('error');
    expect(ins.error).toMatch(/^Could not reach huggingface\.co to read the model's header/);
    expect(ins.error).toContain('Failed to fetch');
    expect(fitOf(store.getState())).toBeNull();
    expect(notices.getState().notices).toHaveLength(0);
  });

  it('explains HTTP refusals and missing files', () => {
    expect(explainInspectError('HTTP 401 Unauthorized for https://huggingface.co/a/b/resolve/main/c.gguf', { kind: 'url', url: 'https://huggingface.co/a/b/resolve/main/c.gguf' })).toMatch(
      /^huggingface\.co refused access \(HTTP 401\): the repository may be gated/,
    );
    expect(explainInspectError('HTTP 404 Not Found for x')).toMatch(/not found/);
    expect(explainInspectError('"m.gguf" is a "gemma" model')).toBe('"m.gguf" is a "gemma" model');
  });

  it('a newer inspection replaces the previous one (its late answer is ignored)', async () => {
    let release: (v: number) => void = () => {};
    const slow = { name: 'slow', size: () => new Promise<number>((r) => (release = r)), read: async () => new Uint8Array(0) };
    const { store } = setupInspect({ inspectFiles: { ...files, 'http://app/slow.gguf': slow } });
    const first = store.getState().inspect({ kind: 'url', url: 'http://app/slow.gguf' });
    await store.getState().inspect({ kind: 'url', url: 'http://app/tiny.gguf' });
    release(10);
    await first;
    expect(store.getState().inspection).toMatchObject({ status: 'ready', key: 'url:http://app/tiny.gguf|' });
    store.getState().clearInspection();
    expect(store.getState().inspection.status).toBe('idle');
  });

  it('keys file sources by name, size and tokenizer', () => {
    const f = new File([new Uint8Array(3)], 'm.gguf', { lastModified: 5 });
    const t = new File([new Uint8Array(2)], 'tokenizer.json');
    expect(sourceKey({ kind: 'file', file: f })).toBe('file:m.gguf:3:5|');
    expect(sourceKey({ kind: 'file', file: f, tokenizerFile: t })).toBe('file:m.gguf:3:5|tokenizer.json:2');
    expect(sourceKey({ kind: 'url', url: 'http://a/m.bin', tokenizerUrl: 'http://a/tok.bin' })).toBe('url:http://a/m.bin|http://a/tok.bin');
  });
});
