/**
 * Promise-based client of the engine worker. Each call gets an id; events with that id go to the
 * call's `onEvent`; aborting the call's `signal` sends a `cancel` for it.
 */
import {
  EngineError,
  type EventOf,
  type NotifyMessage,
  type ParamsOf,
  type RequestMessage,
  type RequestType,
  type ResultOf,
  type SerializedError,
  type WorkerMessage,
} from './protocol';

/** The part of `Worker` the client uses (a fake in tests). */
export interface WorkerLike {
  postMessage(msg: unknown): void;
  addEventListener(type: 'message', fn: (ev: MessageEvent) => void): void;
  addEventListener(type: 'error', fn: (ev: ErrorEvent) => void): void;
  addEventListener(type: 'messageerror', fn: (ev: MessageEvent) => void): void;
  terminate(): void;
}

export interface CallOptions<E> {
  onEvent?: (event: E) => void;
  signal?: AbortSignal;
}

export interface PendingCall<R> {
  id: number;
  result: Promise<R>;
  /** Asks the worker to abort this request (its promise then rejects with an AbortError). */
  cancel(): void;
}

export type BroadcastListener = (msg: { type: 'fatal' | 'deviceLost'; error: EngineError }) => void;
export type NotifyListener = (msg: NotifyMessage) => void;
/** The worker died (crashed, lost its device, stopped answering); pending calls have been rejected. */
export type DeathListener = (error: EngineError) => void;

export interface EngineClientOptions {
  /** Makes a fresh worker for `restart()`. Without it a dead worker stays dead (as before). */
  spawn?: () => WorkerLike;
  /**
   * Liveness: after this long without a message from the worker (ms) it is pinged; 0 = never. A
   * terminated or killed worker fires no event, so this is the only way to notice it.
   */
  pingAfterMs?: number;
  /** Silent this long (ms) with a ping out: declared dead. Generous: SwiftShader steps are slow. */
  deadAfterMs?: number;
}

/** What stores need from a client; tests pass a fake. */
export interface EngineClientLike {
  start<T extends RequestType>(type: T, params: ParamsOf<T>, opts?: CallOptions<EventOf<T>>): PendingCall<ResultOf<T>>;
  request<T extends RequestType>(type: T, params: ParamsOf<T>, opts?: CallOptions<EventOf<T>>): Promise<ResultOf<T>>;
  onBroadcast(fn: BroadcastListener): () => void;
  /** Subscribes to unsolicited state updates (the library changed…). */
  onNotify(fn: NotifyListener): () => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?: (e: unknown) => void;
  cleanup(): void;
}

export class EngineClient implements EngineClientLike {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<BroadcastListener>();
  private notifyListeners = new Set<NotifyListener>();
  private deathListeners = new Set<DeathListener>();
  private dead: EngineError | null = null;
  private worker: WorkerLike;
  private readonly spawn: (() => WorkerLike) | null;
  private readonly pingAfterMs: number;
  private readonly deadAfterMs: number;
  private lastHeard = Date.now();
  private pingOut = false;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(worker: WorkerLike, opts: EngineClientOptions = {}) {
    this.spawn = opts.spawn ?? null;
    this.pingAfterMs = opts.pingAfterMs ?? 0;
    this.deadAfterMs = opts.deadAfterMs ?? 60_000;
    this.worker = worker;
    this.attach(worker);
  }

  /** Whether `restart()` can make a new worker. */
  get restartable(): boolean {
    return this.spawn !== null;
  }

  /**
   * Replaces the worker with a fresh one (the old one is terminated; its pending calls reject).
   * The new worker is empty: the caller restores the library and reloads the model.
   */
  restart(): void {
    if (!this.spawn) throw new Error('This engine client cannot restart its worker.');
    if (!this.dead) this.die(new EngineError('WorkerError', 'The engine worker was restarted.'), false);
    const old = this.worker;
    try {
      old.terminate();
    } catch {
      /* already gone */
    }
    const w = this.spawn();
    this.worker = w;
    this.dead = null;
    this.attach(w);
  }

  /** Declares the worker dead (a test hook and the app use this after terminating it themselves). */
  kill(reason: string): void {
    try {
      this.worker.terminate();
    } catch {
      /* already gone */
    }
    this.die(new EngineError('WorkerError', reason));
  }

  /** Terminates the worker without telling anyone (tests: as if the browser killed it). */
  terminateWorkerOnly(): void {
    this.worker.terminate();
  }

  /** Subscribes to the worker's death; with listeners, deaths are no longer broadcast as `fatal`. */
  onDeath(fn: DeathListener): () => void {
    this.deathListeners.add(fn);
    return () => this.deathListeners.delete(fn);
  }

  private attach(w: WorkerLike) {
    // Events of a replaced worker are ignored.
    w.addEventListener('message', (ev: MessageEvent) => {
      if (this.worker === w) this.onMessage(ev.data as WorkerMessage);
    });
    w.addEventListener('error', (ev: ErrorEvent) => {
      ev.preventDefault?.();
      if (this.worker !== w) return;
      const restart = this.spawn ? '' : ' Reload the page to start it again.';
      this.die(new EngineError('WorkerError', `The engine worker crashed: ${ev.message || 'unknown error'}.${restart}`));
    });
    w.addEventListener('messageerror', () => {
      if (this.worker === w) this.emit('fatal', new EngineError('ProtocolError', 'A message from the engine worker could not be read.'));
    });
    this.lastHeard = Date.now();
    this.pingOut = false;
    if (this.pingAfterMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.checkAlive(), Math.max(50, Math.min(this.pingAfterMs, this.deadAfterMs) / 2));
      // Node (tests, CLI): the timer must not keep the process alive.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  private checkAlive() {
    if (this.dead) return;
    const silent = Date.now() - this.lastHeard;
    if (this.pingOut && silent >= this.deadAfterMs) {
      const s = (silent / 1000).toFixed(silent < 10_000 ? 1 : 0);
      this.kill(`The engine worker stopped answering for ${s} s: it was killed or ran out of memory.`);
      return;
    }
    if (!this.pingOut && silent >= this.pingAfterMs) {
      this.pingOut = true;
      // Any message counts as an answer; the result itself does not matter.
      this.request('ping', {}).catch(() => {});
    }
  }

  start<T extends RequestType>(type: T, params: ParamsOf<T>, opts: CallOptions<EventOf<T>> = {}): PendingCall<ResultOf<T>> {
    const id = this.nextId++;
    const cancel = () => {
      if (this.pending.has(id)) this.post({ id: this.nextId++, type: 'cancel', params: { target: id } });
    };
    const result = new Promise<ResultOf<T>>((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      const { signal } = opts;
      const onAbort = () => cancel();
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        onEvent: opts.onEvent as ((e: unknown) => void) | undefined,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      try {
        this.post({ id, type, params } as RequestMessage);
      } catch (e) {
        // DataCloneError and the like: the request never left.
        this.settle(id, (p) => p.reject(e));
        return;
      }
      if (signal?.aborted) cancel();
    });
    return { id, result, cancel };
  }

  request<T extends RequestType>(type: T, params: ParamsOf<T>, opts?: CallOptions<EventOf<T>>): Promise<ResultOf<T>> {
    return this.start(type, params, opts).result;
  }

  /** Subscribes to unsolicited worker messages (device lost, fatal errors). */
  onBroadcast(fn: BroadcastListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onNotify(fn: NotifyListener): () => void {
    this.notifyListeners.add(fn);
    return () => this.notifyListeners.delete(fn);
  }

  terminate(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.failAll(new EngineError('WorkerError', 'The engine worker was stopped.'));
    this.worker.terminate();
  }

  private post(msg: RequestMessage) {
    this.worker.postMessage(msg);
  }

  private settle(id: number, fn: (p: Pending) => void) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.cleanup();
    fn(p);
  }

  private onMessage(msg: WorkerMessage) {
    this.lastHeard = Date.now();
    this.pingOut = false;
    if (!msg || typeof msg !== 'object') return;
    if (msg.id === 0) {
      // A lost device takes the model and every GPU buffer with it: a restartable client starts over.
      if (msg.type === 'deviceLost' && this.spawn && this.deathListeners.size > 0) {
        const e = EngineError.from(msg.error);
        this.die(new EngineError('DeviceLost', `The GPU device was lost: ${e.message}`));
      } else if (msg.type === 'fatal' || msg.type === 'deviceLost') this.emit(msg.type, EngineError.from(msg.error));
      else if (msg.type === 'library') {
        for (const fn of this.notifyListeners) {
          try {
            fn(msg);
          } catch (e) {
            console.error('engine notification handler failed', e);
          }
        }
      }
      return;
    }
    switch (msg.type) {
      case 'event': {
        const p = this.pending.get(msg.id);
        try {
          p?.onEvent?.(msg.event);
        } catch (e) {
          console.error('engine event handler failed', e);
        }
        return;
      }
      case 'result':
        return this.settle(msg.id, (p) => p.resolve(msg.result));
      case 'error':
        return this.settle(msg.id, (p) => p.reject(EngineError.from(msg.error as SerializedError)));
    }
  }

  private emit(type: 'fatal' | 'deviceLost', error: EngineError) {
    for (const fn of this.listeners) fn({ type, error });
  }

  private failAll(error: EngineError, broadcast = true) {
    this.dead = error;
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(error));
    if (broadcast) this.emit('fatal', error);
  }

  /** Rejects everything pending; death listeners (or, without any, `fatal` listeners) hear of it. */
  private die(error: EngineError, notify = true) {
    if (this.dead) return;
    const listeners = notify ? [...this.deathListeners] : [];
    this.failAll(error, notify && listeners.length === 0);
    for (const fn of listeners) {
      try {
        fn(error);
      } catch (e) {
        console.error('engine death handler failed', e);
      }
    }
  }
}

/** Starts the real engine worker (Vite bundles it as a module worker). */
export function createEngineWorker(): Worker {
  return new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
}
