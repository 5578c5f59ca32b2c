import { useEffect, useState } from 'react';
import { STEP_LABEL, STEPS, type StepId } from '../../state/selfspec';
import { EvaluateView } from './EvaluateView';
import { ExportsCard } from './ExportsCard';
import { InstructionsView } from './InstructionsView';
import { ResponsesView } from './ResponsesView';
import { SetupCard } from './SetupCard';
import { SpecialiseView } from './SpecialiseView';
import { Stepper } from './Stepper';
import { selfspecStore, useSelfSpec } from './store';
import './selfspec.css';

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Stored runs: open (view), resume, delete. */
function RunsCard() {
  const runs = useSelfSpec((s) => s.runs);
  const runId = useSelfSpec((s) => s.runId);
  const status = useSelfSpec((s) => s.status);
  const st = selfspecStore.getState();
  const busy = status === 'running' || status === 'pausing';
  if (runs.length === 0) return null;
  return (
    <section className="card" aria-labelledby="ss-runs-title" data-testid="ss-runs">
      <div className="card-head">
        <h2 id="ss-runs-title">Runs</h2>
      </div>
      <ul className="ss-runs">
        {runs.map((r) => (
          <li key={r.id} className={r.id === runId ? 'active' : ''} data-testid="ss-run" data-status={r.status}>
            <button type="button" className="link" disabled={busy} onClick={() => void st.open(r.id)}>
              {r.name}
            </button>{' '}
            <span className={`pill pill-${r.status === 'done' ? 'ok' : r.status === 'error' ? 'bad' : r.status === 'running' ? 'busy' : 'idle'}`}>{r.id === runId && busy ? 'running' : r.status === 'running' ? 'interrupted' : r.status}</span>{' '}
            <span className="muted small">
              {r.model.split('/').pop()} · {when(r.created)}
            </span>
            <span className="actions">
              {r.status !== 'done' && !(r.id === runId && busy) && (
                <button type="button" disabled={busy} onClick={() => void st.resume(r.id)}>
                  Resume
                </button>
              )}
              <button type="button" className="danger" disabled={r.id === runId && busy} onClick={() => void st.remove(r.id)}>
                Delete
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Detail({ step }: { step: StepId }) {
  const s = useSelfSpec((x) => x.view.steps[step]);
  const runStatus = useSelfSpec((x) => x.status);
  const stopped = s.status === 'running' && runStatus !== 'running' && runStatus !== 'pausing';
  const warnings = useSelfSpec((x) => x.view.warnings);
  const rounds = useSelfSpec((x) => x.view.rounds);
  const laterInstructions = useSelfSpec((x) => x.view.instructions.some((i) => i.round >= 2));
  const reuse = useSelfSpec((x) => x.settings.freshInstructions === false);
  const body = (() => {
    switch (step) {
      case 'instructions':
        return <InstructionsView />;
      case 'responses':
        return <ResponsesView />;
      case 'specialise':
        return <SpecialiseView />;
      case 'evaluate':
        return <EvaluateView />;
      case 'iterate':
        return rounds < 2 ? (
          <p className="muted">This run has one round. With 2 or more, each later round generates fresh instructions and responses with the specialised model, decoded contrastively against the base, then specialises and evaluates again.</p>
        ) : (
          <div className="stack">
            <h3>Round 2+ instructions</h3>
            {laterInstructions ? <InstructionsView minRound={2} /> : <p className="muted">{reuse ? 'Later rounds reuse round 1’s instructions.' : 'Not generated yet.'}</p>}
            <h3>Round 2+ responses (contrastive)</h3>
            <ResponsesView minRound={2} />
            <h3>Round 2+ specialisation</h3>
            <SpecialiseView minRound={2} />
          </div>
        );
      default:
        return null;
    }
  })();
  const stageWarnings = step === 'seeds' || step === 'corpus' ? warnings : [];
  return (
    <section className="card ss-detail" aria-labelledby="ss-detail-title" data-testid={`ss-detail-${step}`}>
      <div className="card-head">
        <h2 id="ss-detail-title">
          {STEP_LABEL[step]} <span className="muted normal">· {stopped ? 'stopped' : (s.detail ?? s.status)}</span>
        </h2>
      </div>
      {body}
      {(step === 'seeds' || step === 'corpus') && s.status === 'pending' && <p className="muted">Not started.</p>}
      {stageWarnings.length > 0 && (
        <ul className="ss-warnings">
          {stageWarnings.slice(-20).map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function SelfSpecPanel() {
  const runId = useSelfSpec((s) => s.runId);
  const status = useSelfSpec((s) => s.status);
  const error = useSelfSpec((s) => s.error);
  const steps = useSelfSpec((s) => s.view.steps);
  const warnings = useSelfSpec((s) => s.view.warnings);
  const name = useSelfSpec((s) => s.runName);
  const [picked, setPicked] = useState<StepId | null>(null);
  useEffect(() => {
    const st = selfspecStore.getState();
    void st.refreshRuns().then(() => {
      // A run cut off by a reload is shown, ready to resume.
      const s = selfspecStore.getState();
      const cut = s.runs.find((r) => r.status === 'running');
      if (!s.runId && cut) void s.open(cut.id);
    });
  }, []);
  // Follow the running stage until a stage is clicked.
  const running = [...STEPS].reverse().find((id) => id !== 'iterate' && steps[id].status === 'running') ?? null;
  const shown: StepId = picked ?? running ?? 'instructions';
  return (
    <div className="stack ss-panel">
      <SetupCard />
      <RunsCard />
      {runId && (
        <section className="card" aria-labelledby="ss-run-title" data-testid="ss-run-card" data-status={status}>
          <div className="card-head">
            <h2 id="ss-run-title">
              {name ?? runId} <span className="muted normal">· {status === 'pausing' ? 'stopping after the current step…' : status}</span>
            </h2>
            <div className="actions">
              {picked && (
                <button type="button" onClick={() => setPicked(null)} title="Show the running stage">
                  Follow the run
                </button>
              )}
            </div>
          </div>
          {status === 'paused' && <p className="callout">Paused: everything made so far is stored in this browser. Resume continues where the files stop (also after a reload).</p>}
          {status === 'cancelled' && <p className="callout">Cancelled: the files so far are kept; resume the run or delete it.</p>}
          {status === 'error' && error && (
            <p className="inline-error" role="alert" data-testid="ss-run-error">
              {error} — the files made so far are kept; fix the problem and resume.
            </p>
          )}
          <Stepper shown={shown} onSelect={setPicked} />
          {warnings.length > 0 && (
            <details className="ss-warnings">
              <summary>{warnings.length} warnings</summary>
              <ul>
                {warnings.slice(-30).map((w, i) => (
                  <li key={i}>{w}</li>
                ))}
              </ul>
            </details>
          )}
        </section>
      )}
      {runId && <Detail step={shown} />}
      <ExportsCard />
    </div>
  );
}
