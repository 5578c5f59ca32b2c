import { restartMessage } from '../state/engine';
import { useEngine } from '../state/app';
import { uiStore } from './panels';

/** Says that the engine worker died and was restarted, and offers the interrupted run's checkpoint. */
export function EngineRestartBanner() {
  const s = useEngine((x) => x);
  if (s.status === 'ok') return null;
  const kind = s.status === 'failed' ? 'error' : 'warning';
  return (
    <div className="notices">
      <div className={`notice notice-${kind}`} role="alert" data-testid="engine-restart" data-status={s.status}>
        <div className="notice-body">
          <strong className="notice-title">{s.status === 'restarted' ? 'Engine restarted' : s.status === 'restarting' ? 'Restarting the engine' : 'The engine stopped'}</strong>
          <span className="notice-message">{restartMessage(s)}</span>
        </div>
        {s.status === 'restarted' && s.checkpoint && (
          <button
            type="button"
            className="button primary"
            data-testid="engine-restart-resume"
            onClick={() => {
              uiStore.getState().setPanel('train');
              void s.resumeCheckpoint();
            }}
          >
            Resume from step {s.checkpoint.step}
          </button>
        )}
        {s.status !== 'restarting' && (
          <button type="button" className="icon-button" aria-label="Dismiss: the engine stopped" onClick={s.dismiss}>
            ×
          </button>
        )}
      </div>
    </div>
  );
}
