/**
 * Engine restart: when the worker dies (crash, lost GPU device, no answer), a fresh one is started,
 * the saved tag library restored into it and the model that was loaded loaded again; the last
 * checkpoint of the interrupted run is offered for resuming (the banner reads this store).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EngineError } from '../worker/protocol';
import type { CheckpointMeta } from './db';
import type { LibraryStore } from './library';
import type { ModelStore } from './model';
import type { NoticesStore } from './notices';
import type { TrainStore } from './train';

export type RestartStatus = 'ok' | 'restarting' | 'restarted' | 'failed';

export interface EngineState {
  status: RestartStatus;
  /** Why the worker stopped, in words. */
  reason: string | null;
  /** What was reloaded (the model's label), or null when no model was loaded / the reload failed. */
  reloadedModel: string | null;
  /** The checkpoint offered for resuming. */
  checkpoint: Pick<CheckpointMeta, 'runId' | 'step' | 'totalSteps' | 'label'> | null;
  /** How many times the worker was restarted in this page. */
  restarts: number;
  /** Hides the banner. */
  dismiss(): void;
  /** Resumes the offered checkpoint and hides the banner. */
  resumeCheckpoint(): Promise<void>;
}

export type EngineStore = StoreApi<EngineState>;

/** The part of EngineClient restarting needs (a fake in tests). */
export interface RestartableClient {
  readonly restartable: boolean;
  restart(): void;
  onDeath(fn: (error: EngineError) => void): () => void;
}

export interface EngineStoreDeps {
  client: RestartableClient;
  notices: NoticesStore;
  model: ModelStore;
  library: LibraryStore;
  train: TrainStore;
  now?: () => number;
  /** More deaths than this within `windowMs` stop the restarts (a worker that dies at start). */
  maxRestarts?: number;
  windowMs?: number;
}

export function createEngineStore({ client, notices, model, library, train, now = () => Date.now(), maxRestarts = 3, windowMs = 5 * 60_000 }: EngineStoreDeps): EngineStore {
  const deaths: number[] = [];

  const store = createStore<EngineState>()((set, get) => ({
    status: 'ok',
    reason: null,
    reloadedModel: null,
    checkpoint: null,
    restarts: 0,

    dismiss() {
      set({ status: 'ok', reason: null, reloadedModel: null, checkpoint: null });
    },

    async resumeCheckpoint() {
      const cp = get().checkpoint;
      get().dismiss();
      if (cp) await train.getState().resumeCheckpoint(cp.runId);
    },
  }));

  // Every store whose request the death rejected reports it; the banner says it once, so those
  // echoes are dropped as they arrive (for the death being handled only).
  let echo: EngineError | null = null;
  notices.subscribe((ns) => {
    if (!echo) return;
    const e = echo;
    for (const n of ns.notices) {
      if (n.kind === 'error' && n.errorName === e.name && n.message.includes(e.message)) notices.getState().dismiss(n.id);
    }
  });

  const onDeath = async (error: EngineError) => {
    echo = error;
    const t = now();
    deaths.push(t);
    while (deaths.length && deaths[0] < t - windowMs) deaths.shift();
    // The run in progress (if any) names the checkpoint to offer; read it before the stores react.
    const runId = train.getState().run?.runId ?? null;
    // Inside the banner's sentence: no final stop, and "The engine…" reads "the engine…" (not "GPU…").
    const reason = error.message.replace(/\.$/, '').replace(/^([A-Z])(?=[a-z])/, (c) => c.toLowerCase());
    if (!client.restartable || deaths.length > maxRestarts) {
      store.setState({ status: 'failed', reason, reloadedModel: null, checkpoint: null });
      return;
    }
    store.setState({ status: 'restarting', reason, reloadedModel: null, checkpoint: null });
    try {
      client.restart();
    } catch (e) {
      store.setState({ status: 'failed' });
      notices.getState().pushError(e, 'Restarting the engine');
      return;
    }
    // As at page start: the library first (tags reach the model's fingerprint check), then the model.
    await library.getState().restore();
    const reloadedModel = await model.getState().reloadAfterRestart();
    await train.getState().loadCheckpoints();
    const cps = train.getState().checkpoints;
    const modelName = model.getState().model?.name ?? null;
    const cp =
      (runId ? cps.find((c) => c.runId === runId) : undefined) ??
      // Otherwise the newest checkpoint of this model (the list is newest first).
      (modelName ? cps.find((c) => c.modelName === modelName) : undefined) ??
      null;
    store.setState({
      status: 'restarted',
      reloadedModel,
      checkpoint: cp && reloadedModel ? { runId: cp.runId, step: cp.step, totalSteps: cp.totalSteps, label: cp.label } : null,
      restarts: get().restarts + 1,
    });
  };
  const get = () => store.getState();
  client.onDeath((e) => void onDeath(e));
  return store;
}

/** The banner's sentence. */
export function restartMessage(s: Pick<EngineState, 'status' | 'reason' | 'reloadedModel' | 'checkpoint'>): string {
  const why = s.reason ? ` (${s.reason})` : '';
  switch (s.status) {
    case 'restarting':
      return `The engine stopped${why}; restarting it…`;
    case 'failed':
      return `The engine stopped${why} and was not restarted (it stopped too often, or cannot be restarted). Reload the page.`;
    case 'restarted': {
      const reloaded = s.reloadedModel ? ` and ${s.reloadedModel} reloaded` : '';
      const offer = s.checkpoint ? ` Resume training from the checkpoint at step ${s.checkpoint.step}?` : '';
      return `The engine stopped${why}; it was restarted${reloaded}.${offer}`;
    }
    default:
      return '';
  }
}
