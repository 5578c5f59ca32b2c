import { describe, expect, it } from 'vitest';
import { fakeClient, type FakeEngineOptions } from '../../test/worker/fake-engine';
import { DEFAULT_OPTIONS, createGenerationStore, validateOptions } from './generation';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';

async function setup(opts: FakeEngineOptions = {}, load = true) {
  const { client, calls, worker } = fakeClient(opts);
  const notices = createNoticesStore();
  const model = createModelStore({ client, notices });
  let t = 0;
  const gen = createGenerationStore({ client, notices, model, now: () => (t += 10), random: () => 0.5 });
  if (load) await model.getState().load({ kind: 'url', url: 'http://x/m.bin' });
  return { client, calls, worker, notices, model, gen };
}

describe('validateOptions', () => {
  it('accepts the defaults and greedy', () => {
    expect(validateOptions(DEFAULT_OPTIONS)).toBeNull();
    expect(validateOptions({ ...DEFAULT_OPTIONS, temperature: 0, seed: 0 })).toBeNull();
  });
  it('names the first bad option', () => {
    expect(validateOptions({ ...DEFAULT_OPTIONS, maxTokens: 0 })).toMatch(/Max tokens/);
    expect(validateOptions({ ...DEFAULT_OPTIONS, maxTokens: 600 }, 512)).toMatch(/context length \(512\)/);
    expect(validateOptions({ ...DEFAULT_OPTIONS, temperature: -1 })).toMatch(/Temperature/);
    expect(validateOptions({ ...DEFAULT_OPTIONS, topP: 0 })).toMatch(/Top-p/);
    expect(validateOptions({ ...DEFAULT_OPTIONS, topK: 1.5 })).toMatch(/Top-k/);
    expect(validateOptions({ ...DEFAULT_OPTIONS, seed: -3 })).toMatch(/Seed/);
  });
});

describe('generation store', () => {
  it('streams the output and ends with the engine timings', async () => {
    const { gen, calls, model } = await setup({ text: ', there was' });
    gen.getState().setPrompt('Once upon a time');
    gen.getState().setOptions({ temperature: 0, maxTokens: 64, seed: 7 });
    const seen: string[] = [];
    const unsub = gen.subscribe((s) => seen.push(s.output));
    await gen.getState().generate();
    unsub();
    const s = gen.getState();
    expect(s.status).toBe('done');
    expect(s.runPrompt).toBe('Once upon a time');
    expect(s.output).toBe(', there was');
    expect(seen).toContain(', th');
    expect(s.seedUsed).toBe(7);
    expect(s.stats).toMatchObject({ tokens: 11, prefillTokens: 5, finish: 'stop' });
    expect(s.stats.tokensPerSec).toBeCloseTo(250); // 11 tokens in 44 ms
    expect(calls.models[0]!.requests[0]).toMatchObject({ prompts: ['Once upon a time'], temperature: 0, maxTokens: 64, seed: 7, topK: 40, topP: 0.9 });
    expect(model.getState().model?.memory.total).toBe(1_300_000);
  });

  it('picks a random seed when none is set and shows it', async () => {
    const { gen, calls } = await setup();
    await gen.getState().generate();
    expect(gen.getState().seedUsed).toBe(Math.floor(0.5 * 0x7fffffff));
    expect(calls.models[0]!.requests[0]!.seed).toBe(gen.getState().seedUsed);
  });

  it('stops a running generation', async () => {
    const { gen } = await setup({ text: 'y'.repeat(300), tokenDelayMs: 1 });
    gen.getState().setOptions({ maxTokens: 300 });
    const p = gen.getState().generate();
    await new Promise((r) => setTimeout(r, 15));
    expect(gen.getState().status).toBe('running');
    gen.getState().stop();
    await p;
    expect(gen.getState().status).toBe('cancelled');
    expect(gen.getState().output.length).toBeLessThan(300);
  });

  it('warns instead of generating without a model', async () => {
    const { gen, notices, worker } = await setup({}, false);
    await gen.getState().generate();
    expect(gen.getState().status).toBe('idle');
    expect(notices.getState().notices[0]).toMatchObject({ kind: 'warning', title: 'No model loaded' });
    expect(worker.sent.some((m) => m.type === 'generate')).toBe(false);
  });

  it('rejects invalid options before calling the engine', async () => {
    const { gen, notices, worker } = await setup();
    gen.getState().setOptions({ topP: 2 });
    await gen.getState().generate();
    expect(gen.getState().error).toMatch(/Top-p/);
    expect(notices.getState().notices.at(-1)?.title).toBe('Check the generation options');
    expect(worker.sent.some((m) => m.type === 'generate')).toBe(false);
  });

  it('shows engine errors in a banner', async () => {
    const { gen, model, notices, client } = await setup();
    await client.request('unloadModel', {}); // the worker lost its model behind the store's back
    expect(model.getState().model).not.toBeNull();
    await gen.getState().generate();
    expect(gen.getState().status).toBe('error');
    expect(notices.getState().notices.at(-1)).toMatchObject({ kind: 'error', title: 'Generation failed' });
  });

  it('clears and resets', async () => {
    const { gen } = await setup();
    gen.getState().setOptions({ topK: 3 });
    await gen.getState().generate();
    gen.getState().clear();
    expect(gen.getState()).toMatchObject({ output: '', runPrompt: '', status: 'idle', seedUsed: null });
    gen.getState().resetOptions();
    expect(gen.getState().options).toEqual(DEFAULT_OPTIONS);
  });
});
