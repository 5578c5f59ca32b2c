import { useMemo } from 'react';
import { trainStore, useTrain } from '../../state/app';
import { lossLabel, metricLabel, primaryMetric } from '../../state/train';
import { fmt, MiniChart } from '../common/LiveChart';
import { RowsProgress } from '../common/RowsProgress';
import { formatInt } from '../format';
import { RunClock, SampleList } from './Samples';

const PHASE_LABEL: Record<string, string> = {
  preparing: 'Preparing (rendering examples, building the training graph)…',
  evaluating: 'Evaluating on held-out examples…',
  running: 'Training',
  paused: 'Paused — state kept on the GPU; a checkpoint was saved',
  saving: 'Saving the learned tags to the library…',
};

export function LiveRun() {
  const status = useTrain((s) => s.status);
  const phase = useTrain((s) => s.phase);
  const run = useTrain((s) => s.run);
  const log = useTrain((s) => s.log);
  const evals = useTrain((s) => s.evals);
  const result = useTrain((s) => s.result);
  const error = useTrain((s) => s.error);
  const lastCp = useTrain((s) => s.lastCheckpointStep);
  const preparingRows = useTrain((s) => s.preparingRows);
  const t = trainStore.getState();
  const active = status === 'running' || status === 'starting';
  const paused = phase === 'paused';
  const step = log.length ? log[log.length - 1].step : 0;
  const total = run?.totalSteps ?? 0;
  const pct = total ? Math.round((step / total) * 100) : 0;

  const series = useMemo(() => log.filter((l) => !l.skipped).map((l) => ({ step: l.step, loss: l.loss, lr: l.lr, gradNorm: l.gradNorm, tokensPerSec: l.tokensPerSec })), [log]);
  const metricKey = useMemo(() => {
    for (const e of evals) {
      const p = primaryMetric(e.metrics);
      if (p) return p.key;
    }
    return null;
  }, [evals]);
  const evalSeries = useMemo(
    () => (metricKey ? evals.map((e) => ({ step: e.step, value: e.metrics[metricKey] as number })).filter((x) => typeof x.value === 'number' && Number.isFinite(x.value)) : []),
    [evals, metricKey],
  );

  return (
    <section className="card" aria-labelledby="live-title" data-testid="train-live" data-status={status} data-phase={phase ?? ''} data-step={step}>
      <div className="card-head">
        <h2 id="live-title">
          Training {run && <span className="muted normal">· {run.label}</span>}
        </h2>
        <div className="actions">
          {!active && (
            <button type="button" className="primary" onClick={() => void t.start()} disabled={!!preparingRows} data-testid="train-start">
              Start training
            </button>
          )}
          {active && !paused && (
            <button type="button" onClick={() => void t.pause()} disabled={phase !== 'running' && phase !== 'evaluating'}>
              Pause
            </button>
          )}
          {active && paused && (
            <button type="button" className="primary" onClick={() => void t.resume()}>
              Resume
            </button>
          )}
          {active && (
            <button type="button" onClick={() => void t.finish()} disabled={phase === 'saving' || phase === 'preparing'} title="Stop after this step and save the tags as they are">
              Finish now
            </button>
          )}
          {active && (
            <button type="button" className="danger" onClick={() => t.cancel()} title="Stop without saving (the last checkpoint stays resumable)">
              Cancel
            </button>
          )}
        </div>
      </div>

      {preparingRows && <RowsProgress progress={preparingRows} onCancel={() => t.cancel()} testId="train-rows" />}
      {run ? (
        <>
          <div className="run-status">
            <span className={`pill pill-${status === 'error' ? 'bad' : status === 'done' ? 'ok' : active ? 'busy' : 'idle'}`} data-testid="train-status">
              {active ? (phase ?? 'starting') : status}
            </span>
            <span className="muted">{active && phase ? PHASE_LABEL[phase] : status === 'cancelled' ? 'Cancelled: nothing was saved; the last checkpoint can be resumed.' : ''}</span>
          </div>
          <div className="progress" role="progressbar" aria-label="Training progress" aria-valuemin={0} aria-valuemax={total} aria-valuenow={step}>
            <div className="progress-fill" style={{ width: `${pct}%` }} />
          </div>
          <dl className="stats">
            <div>
              <dt>Step</dt>
              <dd data-testid="train-step">
                {formatInt(step)} / {formatInt(total)}
              </dd>
            </div>
            <div>
              <dt>Loss</dt>
              <dd data-testid="train-loss">{log.length ? fmt(log[log.length - 1].loss) : '—'}</dd>
            </div>
            <RunClock />
            <div>
              <dt>Trainable params</dt>
              <dd>{formatInt(run.trainableParams)}</dd>
            </div>
            <div>
              <dt>Held-out</dt>
              <dd>{formatInt(run.heldOutCount)}</dd>
            </div>
            <div>
              <dt>Last checkpoint</dt>
              <dd data-testid="last-checkpoint">{lastCp !== null ? `step ${lastCp}` : '—'}</dd>
            </div>
            {run.resumedFrom !== null && (
              <div>
                <dt>Resumed from</dt>
                <dd>step {run.resumedFrom}</dd>
              </div>
            )}
          </dl>
          {error && status === 'error' && (
            <p className="inline-error" role="alert">
              {error}
            </p>
          )}
          {result && (
            <div className="callout ok" data-testid="train-result">
              {result.outcome === 'finished' ? 'Finished' : 'Stopped early'} after {result.steps} steps. Saved to the library:{' '}
              <strong>{[...result.saved.tags.map((x) => `<${x}>`), result.saved.head ? `head ${result.saved.head}` : '', result.saved.adapter ?? ''].filter(Boolean).join(', ') || 'nothing'}</strong>
              {Object.entries(result.metrics)
                .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
                .map(([k, v]) => (
                  <span key={k} className="metric">
                    {k} {fmt(v as number)}
                  </span>
                ))}
            </div>
          )}
          <SampleList />
          <div className="charts">
            <MiniChart title={lossLabel(run.outputKind)} data={series} dataKey="loss" color="#2f5bd3" testId="chart-loss" scaleOptions />
            <MiniChart
              title={metricLabel(metricKey)}
              data={evalSeries}
              dataKey="value"
              color="#1f8a4c"
              testId="chart-eval"
              scaleOptions
              empty="Measured at the start and the end (and every N steps if set)"
            />
            <MiniChart title="Learning rate" data={series} dataKey="lr" color="#8e44ad" testId="chart-lr" />
            <MiniChart title="Gradient norm" data={series} dataKey="gradNorm" color="#b7791f" testId="chart-gradnorm" />
            <MiniChart title="Tokens / s" data={series} dataKey="tokensPerSec" color="#0f766e" testId="chart-tps" />
          </div>
        </>
      ) : (
        <p className="muted">Configure a run above, then start it. Loss, validation metric, learning rate, gradient norm and speed appear here live.</p>
      )}
    </section>
  );
}
