import { STEP_LABEL, STEPS, type StepId, type StepView } from '../../state/selfspec';
import { duration, rate } from './format';
import { selfspecStore, useSelfSpec } from './store';

const STATUS_MARK: Record<StepView['status'], string> = { pending: '○', running: '◔', done: '●', skipped: '◌' };

/**
 * Seeds → Corpus → Instructions → Responses → Specialise → Evaluate → Iterate: each with its status,
 * counts, throughput and ETA; the running one carries Pause / Cancel, a stopped run Resume. A click
 * opens the stage's view below.
 */
export function Stepper({ shown, onSelect }: { shown: StepId; onSelect(s: StepId): void }) {
  const steps = useSelfSpec((s) => s.view.steps);
  const rounds = useSelfSpec((s) => s.view.rounds);
  const status = useSelfSpec((s) => s.status);
  const runId = useSelfSpec((s) => s.runId);
  const st = selfspecStore.getState();
  const active = status === 'running' || status === 'pausing';
  const resumable = !!runId && (status === 'paused' || status === 'cancelled' || status === 'error');
  return (
    <ol className="ss-stepper" data-testid="ss-stepper" data-status={status}>
      {STEPS.map((id) => {
        const s = steps[id];
        const running = s.status === 'running' && active;
        const na = id === 'iterate' && rounds < 2;
        return (
          <li
            key={id}
            className={`ss-step ss-step-${na ? 'na' : s.status}${shown === id ? ' selected' : ''}`}
            data-testid={`ss-step-${id}`}
            data-status={na ? 'n/a' : s.status}
          >
            <button type="button" className="ss-step-main" onClick={() => onSelect(id)} aria-current={shown === id ? 'step' : undefined}>
              <span className="ss-step-mark" aria-hidden="true">
                {STATUS_MARK[s.status]}
              </span>
              <span className="ss-step-name">{STEP_LABEL[id]}</span>
              <span className="ss-step-state">{na ? 'one round' : s.status === 'running' && !active ? 'stopped' : s.status}</span>
            </button>
            <div className="ss-step-stats">
              {s.total > 0 ? (
                <span data-testid={`ss-count-${id}`}>
                  {s.done} / {s.total} {s.unit}
                </span>
              ) : (
                <span className="muted">{s.detail ?? '—'}</span>
              )}
              {s.total > 0 && (
                <span className="muted">
                  {rate(s.perSecond, s.unit)} · ETA {s.status === 'done' || s.status === 'skipped' ? '—' : duration(s.etaSeconds)}
                </span>
              )}
              {s.total > 0 && (
                <div className="progress ss-step-progress" role="progressbar" aria-label={`${STEP_LABEL[id]} progress`} aria-valuemin={0} aria-valuemax={s.total} aria-valuenow={s.done}>
                  <div className="progress-fill" style={{ width: `${Math.min(100, Math.round((100 * s.done) / s.total))}%` }} />
                </div>
              )}
            </div>
            {running && (
              <div className="ss-step-actions">
                <button type="button" onClick={() => void st.pause()} disabled={status === 'pausing'} data-testid="ss-pause" title="Stop after the current step; everything made so far is kept">
                  {status === 'pausing' ? 'Stopping…' : 'Pause'}
                </button>
                <button type="button" className="danger" onClick={() => void st.cancel()} disabled={status === 'pausing'} data-testid="ss-cancel" title="Stop the run; its files are kept (resume or delete it later)">
                  Cancel
                </button>
              </div>
            )}
            {resumable && (s.status === 'running' || (s.status === 'pending' && firstPending(steps, rounds) === id)) && (
              <div className="ss-step-actions">
                <button type="button" className="primary" onClick={() => void st.resume()} data-testid="ss-resume">
                  Resume
                </button>
              </div>
            )}
          </li>
        );
      })}
    </ol>
  );
}

function firstPending(steps: Record<StepId, StepView>, rounds: number): StepId | null {
  if (STEPS.some((id) => steps[id].status === 'running')) return null;
  return STEPS.find((id) => steps[id].status === 'pending' && !(id === 'iterate' && rounds < 2)) ?? null;
}
