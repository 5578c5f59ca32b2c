import { useModel } from '../../state/app';
import { modelLabel } from './format';
import { experimentsStore, useExperiments } from './store';

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function RunCard() {
  const status = useExperiments((s) => s.status);
  const check = useExperiments((s) => s.check);
  const fresh = useExperiments((s) => s.fresh);
  const error = useExperiments((s) => s.error);
  const saved = useExperiments((s) => s.saved);
  const model = useModel((s) => s.model);
  const e = experimentsStore.getState();
  const running = status === 'running';
  const def = check.validation?.ok ? check.validation.definition : null;
  const prior = def ? saved.find((x) => x.name === def.name) : undefined;
  return (
    <section className="card" aria-labelledby="exp-run-title">
      <div className="card-head">
        <h2 id="exp-run-title">Run</h2>
        <div className="actions">
          {running ? (
            <button type="button" className="danger" onClick={() => e.cancel()} data-testid="exp-cancel" title="Stop after the current step; finished cells are kept">
              Cancel
            </button>
          ) : (
            <button type="button" className="primary" onClick={() => void e.run()} disabled={!def || !model} data-testid="exp-run">
              {prior && !fresh && prior.done > 0 && prior.done < prior.total ? 'Resume' : 'Run'}
            </button>
          )}
        </div>
      </div>
      <dl className="kv exp-kv">
        <dt>Model</dt>
        <dd>{model ? model.name : <span className="muted">none: load one in the Model panel</span>}</dd>
        <dt>Cells</dt>
        <dd data-testid="exp-cell-count">{def ? check.cells : '—'}</dd>
        {prior && (
          <>
            <dt>Saved</dt>
            <dd>
              {prior.done} of {prior.total} cells{!fresh && prior.done > 0 ? ' (skipped when unchanged)' : ''}
            </dd>
          </>
        )}
      </dl>
      <label className="check exp-fresh">
        <input type="checkbox" checked={fresh} disabled={running} onChange={(ev) => e.setFresh(ev.target.checked)} />
        Run every cell again (ignore saved results)
      </label>
      {error && status !== 'running' && (
        <p className="inline-error exp-run-error" role="alert" data-testid="exp-error-message">
          {error}
        </p>
      )}
      <p className="hint">
        Each cell trains on the loaded model in the engine worker, one after another, with the same budget for every method. Results are saved after each cell: cancel any time and
        run again to continue.
      </p>
    </section>
  );
}

export function SavedCard() {
  const saved = useExperiments((s) => s.saved);
  const running = useExperiments((s) => s.status === 'running');
  const current = useExperiments((s) => s.results?.name ?? null);
  const e = experimentsStore.getState();
  return (
    <section className="card" aria-labelledby="exp-saved-title">
      <div className="card-head">
        <h2 id="exp-saved-title">Saved results</h2>
      </div>
      {saved.length === 0 ? (
        <p className="muted">None yet. Each experiment’s results are kept here (in this browser) under its name.</p>
      ) : (
        <ul className="exp-saved" data-testid="exp-saved">
          {saved.map((s) => {
            const st = running && s.name === current ? 'running' : s.status === 'running' ? 'interrupted' : s.status;
            return (
              <li key={s.name} className={s.name === current ? 'current' : undefined}>
                <div className="exp-saved-text">
                  <span className="exp-saved-name">
                    <strong title={s.name}>{s.name}</strong>
                    <span className={`pill tiny pill-${st === 'complete' ? 'ok' : st === 'running' ? 'busy' : 'idle'}`}>{st}</span>
                  </span>
                  <span className="muted small exp-saved-meta" title={s.model}>
                    {s.done}/{s.total} cells · {modelLabel(s.model)}
                  </span>
                  <span className="muted small exp-saved-meta">{when(s.updated)}</span>
                </div>
                <div className="exp-saved-actions">
                  <button type="button" className="small" disabled={running} onClick={() => void e.open(s.name)}>
                    Open
                  </button>
                  <button type="button" className="icon-button" aria-label={`Delete saved results ${s.name}`} title="Delete" disabled={running} onClick={() => void e.remove(s.name)}>
                    ✕
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
