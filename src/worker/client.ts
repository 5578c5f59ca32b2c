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
  private dead: EngineError | null = null;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (ev: MessageEvent) => this.onMessage(ev.data as WorkerMessage));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.failAll(
        new EngineError(
          'WorkerError',
          `The engine worker crashed: ${ev.message || 'unknown error'}. Reload the page to start it again.`,
        ),
      );
    });
    worker.addEventListener('messageerror', () => {
      this.emit('fatal', new EngineError('ProtocolError', 'A message from the engine worker could not be read.'));
    });
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
    if (!msg || typeof msg !== 'object') return;
    if (msg.id === 0) {
      if (msg.type === 'fatal' || msg.type === 'deviceLost') this.emit(msg.type, EngineError.from(msg.error));
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

  private failAll(error: EngineError) {
    this.dead = error;
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(error));
    this.emit('fatal', error);
  }
}

/** Starts the real engine worker (Vite bundles it as a module worker). */
export function createEngineWorker(): Worker {
  return new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
}
