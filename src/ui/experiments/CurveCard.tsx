import { useMemo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { curveOf } from '../../state/experiments';
import { METHOD_LABELS, METRIC_INFO, VARIANT_LABELS, type ExperimentResults } from '../../experiments/types';
import { fmtNum } from '../../experiments/report';
import { formatDuration, formatInt } from '../format';
import { fmt, fmtTick, PALETTE } from './format';
import { experimentsStore, useExperiments } from './store';

/** The training curve (loss per step, a line per stage) of the selected cell, with its numbers. */
export function CurveCard({ results }: { results: ExperimentResults }) {
  const selected = useExperiments((s) => s.selected);
  const cell = selected ? results.cells.find((c) => c.id === selected) : undefined;
  const curve = useMemo(() => (cell ? curveOf(cell) : null), [cell]);
  if (!cell || !curve) return null;
  // The same cell with the other seeds.
  const siblings = results.cells.filter((c) => c.task === cell.task && c.method === cell.method && c.variant === cell.variant && c.tagLength === cell.tagLength);
  const task = results.definition.tasks.find((t) => t.id === cell.task);
  const metric = METRIC_INFO[cell.metric];
  const e = experimentsStore.getState();
  return (
    <section className="card" aria-labelledby="exp-curve-title" data-testid="exp-curve" data-cell={cell.id} data-points={curve.data.length}>
      <div className="card-head">
        <h2 id="exp-curve-title">
          {METHOD_LABELS[cell.method]}
          {cell.variant !== 'full' ? ` (${VARIANT_LABELS[cell.variant]})` : ''} on {task?.title ?? cell.task}{' '}
          <span className="muted normal mono small">· {cell.id}</span>
        </h2>
        <div className="actions">
          {siblings.length > 1 && (
            <div className="tabs" role="tablist" aria-label="Seed">
              {siblings.map((c) => (
                <button key={c.id} type="button" role="tab" aria-selected={c.id === cell.id} className={c.id === cell.id ? 'tab active' : 'tab'} onClick={() => e.select(c.id)}>
                  seed {c.seed}
                </button>
              ))}
            </div>
          )}
          <button type="button" className="icon-button" aria-label="Close the training curve" title="Close" onClick={() => e.select(null)}>
            ✕
          </button>
        </div>
      </div>
      <dl className="stats">
        <div>
          <dt>{metric.label}</dt>
          <dd>{cell.value !== null ? fmtNum(cell.value) : cell.status}</dd>
        </div>
        <div>
          <dt>Trainable params</dt>
          <dd>{formatInt(cell.trainableParams)}</dd>
        </div>
        <div>
          <dt>Train / eval rows</dt>
          <dd>
            {formatInt(cell.trainRows)} / {formatInt(cell.evalRows)}
          </dd>
        </div>
        <div>
          <dt>Time</dt>
          <dd>{formatDuration(cell.seconds)}</dd>
        </div>
        {Object.entries(cell.metrics)
          .filter(([k]) => k !== cell.metric && ['mse', 'mae', 'pearson', 'accuracy', 'bleu', 'chrf', 'nll', 'loss'].includes(k))
          .slice(0, 4)
          .map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{fmtNum(v)}</dd>
            </div>
          ))}
      </dl>
      {cell.error && (
        <p className={cell.status === 'failed' ? 'inline-error exp-cell-error' : 'hint'}>
          {cell.status === 'failed' ? 'Failed: ' : 'Not applicable: '}
          {cell.error}
        </p>
      )}
      {curve.data.length === 0 ? (
        <p className="muted">{cell.status === 'done' ? 'This method trains nothing, so it has no training curve.' : 'No training steps were logged.'}</p>
      ) : (
        <figure className="chart exp-curve-chart">
          <figcaption>
            <span>Training loss per step</span>
            <span className="muted small">{curve.stages.length > 1 ? 'one line per stage' : curve.stages[0]}</span>
          </figcaption>
          <ResponsiveContainer width="100%" height={220}>
            <LineChart data={curve.data} margin={{ top: 6, right: 16, bottom: 0, left: -8 }}>
              <CartesianGrid stroke="#eef0f3" vertical={false} />
              <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} allowDecimals={false} />
              <YAxis tick={{ fontSize: 11 }} width={54} domain={['auto', 'auto']} tickFormatter={fmtTick} />
              <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(s) => `step ${s}`} />
              {curve.stages.length > 1 && <Legend wrapperStyle={{ fontSize: 12 }} />}
              {curve.stages.map((st, i) => (
                <Line key={st} type="monotone" dataKey={st} name={st} stroke={PALETTE[i % PALETTE.length]} strokeWidth={2} dot={curve.data.length < 30} isAnimationActive={false} connectNulls />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </figure>
      )}
    </section>
  );
}
