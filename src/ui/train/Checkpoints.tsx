import { trainStore, useModel, useTrain } from '../../state/app';

export function Checkpoints() {
  const checkpoints = useTrain((s) => s.checkpoints);
  const active = useTrain((s) => s.status === 'running' || s.status === 'starting');
  const currentRun = useTrain((s) => s.run?.runId ?? null);
  const paused = useTrain((s) => s.phase === 'paused');
  const model = useModel((s) => s.model?.name ?? null);
  const t = trainStore.getState();
  return (
    <section className="card" aria-labelledby="cp-title" data-testid="checkpoints">
      <div className="card-head">
        <h2 id="cp-title">Checkpoints</h2>
        <span className="muted">{checkpoints.length ? `${checkpoints.length} resumable` : ''}</span>
      </div>
      {checkpoints.length === 0 ? (
        <p className="muted">Interrupted runs can be resumed from their last checkpoint, even after a page reload.</p>
      ) : (
        <ul className="cp-list">
          {checkpoints.map((c) => {
            const isCurrent = active && c.runId === currentRun;
            return (
              <li key={c.runId} data-testid="checkpoint-item">
                <div className="cp-text">
                  <span className="pick-name">{c.label}</span>
                  <span className="pick-meta">
                    step {c.step} of {c.totalSteps} · {c.modelName.split('/').pop()} · {new Date(c.created).toLocaleString()}
                  </span>
                </div>
                <div className="cp-actions">
                  <button
                    type="button"
                    className="primary"
                    disabled={active || !model}
                    title={!model ? 'Load the model it was trained on first' : active ? 'A run is in progress' : 'Continue this run exactly where it stopped'}
                    onClick={() => void t.resumeCheckpoint(c.runId)}
                  >
                    {isCurrent ? (paused ? 'Paused' : 'Running') : 'Resume'}
                  </button>
                  <button type="button" className="icon-button" aria-label={`Delete checkpoint of ${c.label}`} title="Delete" disabled={isCurrent} onClick={() => void t.deleteCheckpoint(c.runId)}>
                    ×
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
