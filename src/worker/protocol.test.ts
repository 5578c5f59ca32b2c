import { describe, expect, it } from 'vitest';
import { EngineClient } from './client';
import type { LoadProgress } from '../model/api';
import { EngineError, abortError, isAbortError, serializeError } from './protocol';
import { displayName } from './handler';
import { FakeModel, InProcessWorker, fakeClient, fakeEngine } from '../../test/worker/fake-engine';

describe('serializeError', () => {
  it('keeps name and message of Error subclasses', () => {
    class ModelFormatError extends Error {
      override name = 'ModelFormatError';
    }
    const s = serializeError(new ModelFormatError('bad header'));
    expect(s.name).toBe('ModelFormatError');
    expect(s.message).toBe('bad header');
    expect(structuredClone(s)).toEqual(s);
  });
  it('handles AbortError, strings and odd values', () => {
    expect(serializeError(abortError('stop')).name).toBe('AbortError');
    expect(serializeError('boom')).toEqual({ name: 'Error', message: 'boom' });
    expect(serializeError({ weird: 1 })).toEqual({ name: 'Error', message: '{"weird":1}' });
    expect(serializeError(undefined).message).toBe('undefined');
  });
  it('EngineError keeps the remote name', () => {
    const e = EngineError.from({ name: 'GpuOutOfMemoryError', message: 'too big' });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('GpuOutOfMemoryError');
    expect(isAbortError(EngineError.from({ name: 'AbortError', message: 'x' }))).toBe(true);
  });
});

describe('worker protocol (client ⇄ handler over a fake engine)', () => {
  it('answers gpuInfo with cloneable adapter data', async () => {
    const { client } = fakeClient();
    const info = await client.request('gpuInfo', {});
    expect(info.adapterInfo.description).toBe('Fake GPU');
    expect(info.features.subgroups).toBe(true);
    expect(info.limits.maxBufferSize).toBe(2 ** 31);
  });

  it('serialises GPU errors with their name', async () => {
    const err = new Error('no adapter');
    err.name = 'GpuUnavailableError';
    const { client } = fakeClient({ gpuError: err });
    await expect(client.request('gpuInfo', {})).rejects.toMatchObject({ name: 'GpuUnavailableError', message: 'no adapter' });
  });

  it('loads from URLs with progress events and returns model info', async () => {
    const { client, calls } = fakeClient({ loadSteps: 3 });
    const events: LoadProgress[] = [];
    const info = await client.request(
      'loadModel',
      { source: { kind: 'url', url: 'http://x/m.bin', tokenizerUrl: 'http://x/tok.bin' }, maxContext: 128 },
      { onEvent: (p) => events.push(p) },
    );
    expect(info.name).toBe('fake');
    expect(info.config.vocabSize).toBe(512);
    expect(info.memory.total).toBe(1_300_000);
    expect(info.tokenizer).toEqual({ vocabSize: 512, bosId: 1, eosId: 2 });
    expect(calls.load[0]).toMatchObject({ source: 'http://x/m.bin', tokenizer: 'http://x/tok.bin' });
    expect(calls.load[0]!.opts.maxContext).toBe(128);
    expect(events.filter((e) => e.phase === 'download').map((e) => e.loaded)).toEqual([0, 333, 667, 1000]);
    expect(events.at(-1)!.phase).toBe('ready');
  });

  it('loads from Files', async () => {
    const { client, calls } = fakeClient();
    const file = new File([new Uint8Array(2048)], 'model.gguf');
    const tok = new File([new Uint8Array(10)], 'tokenizer.json');
    await client.request('loadModel', { source: { kind: 'file', file, tokenizerFile: tok } });
    expect(calls.load[0]).toMatchObject({ source: 'model.gguf', tokenizer: 'tokenizer.json' });
  });

  it('cancels a load through an AbortSignal', async () => {
    const { client, worker } = fakeClient({ loadSteps: 50, stepDelayMs: 5 });
    const ac = new AbortController();
    let n = 0;
    const p = client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } }, {
      signal: ac.signal,
      onEvent: () => {
        if (++n === 3) ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(worker.sent.some((m) => m.type === 'cancel')).toBe(true);
    // The engine is usable afterwards.
    await expect(client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } })).resolves.toBeTruthy();
  });

  it('replaces the previous model (disposing it) on a new load', async () => {
    const { client, calls } = fakeClient();
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/a.bin' } });
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/b.bin' } });
    expect(calls.models[0]!.disposed).toBe(true);
    expect(calls.models[1]!.disposed).toBe(false);
    expect(await client.request('unloadModel', {})).toEqual({ unloaded: true });
    expect(calls.models[1]!.disposed).toBe(true);
    expect(await client.request('unloadModel', {})).toEqual({ unloaded: false });
  });

  it('reports load errors with their name', async () => {
    const e = new Error('not a GGUF file');
    e.name = 'ModelFormatError';
    const { client } = fakeClient({ loadError: e });
    await expect(client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } })).rejects.toMatchObject({
      name: 'ModelFormatError',
      message: 'not a GGUF file',
    });
  });

  it('streams tokens and returns the result with a memory report', async () => {
    const { client, calls } = fakeClient({ text: 'abc' });
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
    const toks: string[] = [];
    const res = await client.request(
      'generate',
      { prompts: ['Once'], maxTokens: 10, temperature: 0, topK: 5, topP: 0.5, seed: 3 },
      { onEvent: (t) => toks.push(t.text) },
    );
    expect(toks).toEqual(['a', 'b', 'c']);
    expect(res.outputs[0]).toMatchObject({ text: 'abc', finish: 'stop' });
    expect(res.memory.kv).toBe(250_000);
    expect(calls.models[0]!.requests[0]).toMatchObject({ prompts: ['Once'], maxTokens: 10, temperature: 0, topK: 5, topP: 0.5, seed: 3 });
  });

  it('refuses generate without a model, with a clear message', async () => {
    const { client } = fakeClient();
    await expect(client.request('generate', { prompts: ['x'] })).rejects.toThrow(/No model is loaded/);
  });

  it('stops a generation by request id', async () => {
    const { client } = fakeClient({ text: 'x'.repeat(200), tokenDelayMs: 2 });
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
    let n = 0;
    const call = client.start('generate', { prompts: ['x'], maxTokens: 200 }, {
      onEvent: () => {
        if (++n === 5) call.cancel();
      },
    });
    const res = await call.result;
    expect(res.outputs[0]!.finish).toBe('cancelled');
    expect(res.outputs[0]!.ids.length).toBeLessThan(200);
  });

  it('rejects a second concurrent generation', async () => {
    const { client } = fakeClient({ text: 'x'.repeat(20), tokenDelayMs: 2 });
    await client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
    const first = client.request('generate', { prompts: ['x'], maxTokens: 20 });
    await expect(client.request('generate', { prompts: ['y'] })).rejects.toThrow(/already running/);
    await expect(first).resolves.toBeTruthy();
  });

  it('cancel of an unknown id answers cancelled: false', async () => {
    const { client } = fakeClient();
    expect(await client.request('cancel', { target: 999 })).toEqual({ cancelled: false });
  });

  it('rejects every pending call and broadcasts when the worker crashes', async () => {
    const { deps } = fakeEngine({ loadSteps: 100, stepDelayMs: 10 });
    const worker = new InProcessWorker(deps);
    const client = new EngineClient(worker);
    const broadcasts: string[] = [];
    client.onBroadcast((b) => broadcasts.push(`${b.type}:${b.error.name}`));
    const p = client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
    await new Promise((r) => setTimeout(r, 5));
    worker.crash('boom');
    await expect(p).rejects.toMatchObject({ name: 'WorkerError' });
    expect(broadcasts).toEqual(['fatal:WorkerError']);
    await expect(client.request('gpuInfo', {})).rejects.toMatchObject({ name: 'WorkerError' });
  });

  it('FakeModel honours maxTokens', async () => {
    const m = new FakeModel({ text: 'abcdef' });
    const r = await m.generate({ prompts: ['x'], maxTokens: 2 });
    expect(r.outputs[0]).toMatchObject({ text: 'ab', finish: 'length' });
  });
});

describe('displayName', () => {
  it('prefers the catalog name, shortens URLs', () => {
    expect(displayName('http://h/m/stories260K.bin', { kind: 'url', url: 'http://h/m/stories260K.bin', name: 'stories260K' })).toBe('stories260K');
    expect(displayName('http://h/m/My%20Model.gguf', { kind: 'url', url: 'http://h/m/My%20Model.gguf' })).toBe('My Model.gguf');
    expect(displayName('qwen2', { kind: 'url', url: 'http://h/x.gguf' })).toBe('qwen2');
    expect(displayName('', { kind: 'file', file: new File([], 'a.gguf') })).toBe('a.gguf');
  });
});
