import { describe, expect, it } from 'vitest';
import { EngineClient, type WorkerLike } from './client';
import type { RequestMessage, WorkerMessage } from './protocol';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A scripted Worker: records requests; the test answers them (or not). */
class FakeWorker implements WorkerLike {
  readonly sent: RequestMessage[] = [];
  terminated = false;
  /** Answers pings at once while alive (a live worker does). */
  answersPings = true;
  private listeners: Record<string, Array<(ev: unknown) => void>> = {};
  postMessage(msg: unknown): void {
    if (this.terminated) return;
    const m = msg as RequestMessage;
    this.sent.push(m);
    if (m.type === 'ping' && this.answersPings) queueMicrotask(() => this.reply({ id: m.id, type: 'result', result: { ok: true } }));
  }
  addEventListener(type: string, fn: (ev: never) => void): void {
    (this.listeners[type] ??= []).push(fn as (ev: unknown) => void);
  }
  terminate(): void {
    this.terminated = true;
  }
  reply(msg: WorkerMessage) {
    for (const fn of this.listeners.message ?? []) fn({ data: msg });
  }
  crash(message: string) {
    for (const fn of this.listeners.error ?? []) fn({ message, preventDefault() {} });
  }
}

function restartable(opts: { pingAfterMs?: number; deadAfterMs?: number } = {}) {
  const workers: FakeWorker[] = [new FakeWorker()];
  const client = new EngineClient(workers[0]!, {
    spawn: () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    },
    ...opts,
  });
  const deaths: string[] = [];
  const fatal: string[] = [];
  client.onDeath((e) => deaths.push(`${e.name}: ${e.message}`));
  client.onBroadcast((b) => fatal.push(b.type));
  return { client, workers, deaths, fatal };
}

describe('EngineClient restart', () => {
  it('a crash rejects every pending call with a clear error and tells the death listeners (not fatal)', async () => {
    const { client, workers, deaths, fatal } = restartable();
    const a = client.request('gpuInfo', {});
    const b = client.request('libraryList', {});
    workers[0]!.crash('out of memory');
    await expect(a).rejects.toMatchObject({ name: 'WorkerError', message: expect.stringMatching(/crashed: out of memory/) });
    await expect(b).rejects.toMatchObject({ name: 'WorkerError' });
    expect(deaths).toHaveLength(1);
    expect(fatal).toEqual([]);
    // Dead until restarted: new calls fail at once.
    await expect(client.request('libraryList', {})).rejects.toMatchObject({ name: 'WorkerError' });
    expect(workers).toHaveLength(1);
  });

  it('restart() spawns a fresh worker, terminates the old one and ignores what it still sends', async () => {
    const { client, workers, deaths } = restartable();
    const stale = client.start('libraryList', {});
    workers[0]!.crash('boom');
    await expect(stale.result).rejects.toThrow();
    client.restart();
    expect(workers).toHaveLength(2);
    expect(workers[0]!.terminated).toBe(true);
    const p = client.request('libraryList', {});
    const req = workers[1]!.sent.at(-1)!;
    expect(req.type).toBe('libraryList');
    // The old worker answering an id the new one also uses must not settle anything.
    workers[0]!.reply({ id: req.id, type: 'result', result: 'from the dead' });
    workers[1]!.reply({ id: req.id, type: 'result', result: { tags: [], heads: [], adapters: [] } });
    await expect(p).resolves.toEqual({ tags: [], heads: [], adapters: [] });
    // A second crash is a second death (listeners stay subscribed across restarts).
    workers[1]!.crash('again');
    expect(deaths).toHaveLength(2);
  });

  it('a device lost reported by the worker is a death for a restartable client', async () => {
    const { client, workers, deaths, fatal } = restartable();
    const p = client.request('trainControl', { action: 'pause' });
    workers[0]!.reply({ id: 0, type: 'deviceLost', error: { name: 'GpuDeviceLostError', message: 'device destroyed' } });
    await expect(p).rejects.toMatchObject({ name: 'DeviceLost', message: expect.stringMatching(/GPU device was lost: device destroyed/) });
    expect(deaths).toEqual(['DeviceLost: The GPU device was lost: device destroyed']);
    expect(fatal).toEqual([]);
    client.restart();
    expect(workers).toHaveLength(2);
  });

  it('a worker that stops answering (terminated, killed) is declared dead by the liveness ping', async () => {
    const { client, workers, deaths } = restartable({ pingAfterMs: 20, deadAfterMs: 80 });
    const pending = client.request('gpuInfo', {});
    const failed = pending.catch((e: Error) => e);
    await tick(60);
    // Alive: pinged and answered, nothing declared.
    expect(workers[0]!.sent.some((m) => m.type === 'ping')).toBe(true);
    expect(deaths).toEqual([]);
    // Killed from outside: no event fires, only the silence says so.
    workers[0]!.answersPings = false;
    workers[0]!.terminate();
    await tick(300);
    expect(deaths).toHaveLength(1);
    expect(deaths[0]).toMatch(/stopped answering/);
    expect(await failed).toMatchObject({ name: 'WorkerError' });
    client.restart();
    await tick(150);
    expect(deaths).toHaveLength(1); // the fresh worker answers its pings
    client.terminate();
  });

  it('without spawn a crash is broadcast as fatal and restart() refuses (the old behaviour)', async () => {
    const w = new FakeWorker();
    const client = new EngineClient(w);
    const fatal: string[] = [];
    client.onBroadcast((b) => fatal.push(`${b.type}:${b.error.name}`));
    w.crash('boom');
    expect(fatal).toEqual(['fatal:WorkerError']);
    expect(client.restartable).toBe(false);
    expect(() => client.restart()).toThrow(/cannot restart/);
  });
});
