import { useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { CellRunStatus } from '../../state/experiments';
import type { ExperimentProgress } from '../../experiments/types';
import { fmt, fmtTick } from './format';
import { experimentsStore, useExperiments } from './store';

const PHASE: Record<ExperimentProgress['phase'], string> = {
  data: 'loading data',
  train: 'training',
  eval: 'evaluating',
  generate: 'generating',
  done: 'done',
  skipped: 'reused',
  failed: 'failed',
};

const STATUS_LABEL: Record<CellRunStatus, string> = {
  pending: 'waiting',
  running: 'running',
  done: 'done',
  failed: 'failed',
  'n/a': 'does not apply',
  reused: 'reused from an earlier run',
};

function currentLine(p: ExperimentProgress): string {
  const parts = [`cell ${p.index}/${p.total}`, p.cell, PHASE[p.phase]];
  if (p.stage) parts.push(p.stage);
  if (p.phase === 'train' && p.step !== undefined) parts.push(`step ${p.step}${p.steps ? `/${p.steps}` : ''}`);
  if (p.loss !== undefined) parts.push(`loss ${fmt(p.loss)}`);
  if (p.phase === 'generate' && p.done !== undefined) parts.push(`${p.done}/${p.of ?? '?'}`);
  if (p.message) parts.push(p.message);
  return parts.join(' · ');
}

export function ProgressCard() {
  const status = useExperiments((s) => s.status);
  const plan = useExperiments((s) => s.plan);
  const cellStatus = useExperiments((s) => s.cellStatus);
  const progress = useExperiments((s) => s.progress);
  const live = useExperiments((s) => s.live);
  const name = useExperiments((s) => s.results?.name ?? '');
  const selected = useExperiments((s) => s.selected);
  const finished = plan.filter((c) => !['pending', 'running'].includes(cellStatus[c.id] ?? 'pending')).length;
  const pct = plan.length ? Math.round((finished / plan.length) * 100) : 0;
  const running = status === 'running';
  const counts = useMemo(() => {
    const out: Partial<Record<CellRunStatus, number>> = {};
    for (const c of plan) {
      const st = cellStatus[c.id] ?? 'pending';
      out[st] = (out[st] ?? 0) + 1;
    }
    return out;
  }, [plan, cellStatus]);
  if (!plan.length && !running) return null;
  const liveStage = live ? live.key.slice(live.key.indexOf(' ') + 1) : '';
  return (
    <section className="card" aria-labelledby="exp-progress-title" data-testid="exp-progress" data-status={status} data-finished={finished} data-total={plan.length}>
      <div className="card-head">
        <h2 id="exp-progress-title">
          Progress {name && <span className="muted normal">· {name}</span>}
        </h2>
        <span className={`pill pill-${status === 'error' ? 'bad' : status === 'done' ? 'ok' : running ? 'busy' : 'idle'}`} data-testid="exp-status">
          {status}
        </span>
      </div>
      <div className="progress" role="progressbar" aria-label="Cells finished" aria-valuemin={0} aria-valuemax={plan.length} aria-valuenow={finished}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <p className="exp-current mono" data-testid="exp-current">
        {running ? (progress ? currentLine(progress) : 'Starting…') : `${finished} of ${plan.length} cells finished`}
      </p>
      <div className="exp-progress-grid">
        <div>
          <ul className="exp-cells" aria-label="Cells">
            {plan.map((c) => {
              const st = cellStatus[c.id] ?? 'pending';
              const hasResult = st !== 'pending' && st !== 'running';
              return (
                <li key={c.id}>
                  <button
                    type="button"
                    className={`exp-chip st-${st.replace('/', '')}${selected === c.id ? ' selected' : ''}`}
                    title={`${c.id}: ${STATUS_LABEL[st]}${hasResult ? ' — click for its training curve' : ''}`}
                    disabled={!hasResult}
                    onClick={() => experimentsStore.getState().select(c.id)}
                    data-testid="exp-cell-chip"
                    data-status={st}
                  >
                    {c.id}
                  </button>
                </li>
              );
            })}
          </ul>
          <div className="legend-row exp-legend">
            {(Object.keys(STATUS_LABEL) as CellRunStatus[])
              .filter((k) => counts[k])
              .map((k) => (
                <span key={k} className={`exp-chip static st-${k.replace('/', '')}`}>
                  {counts[k]} {STATUS_LABEL[k]}
                </span>
              ))}
          </div>
        </div>
        <figure className="chart exp-live" data-testid="exp-live-chart" data-points={live?.points.length ?? 0}>
          <figcaption>
            <span>
              Training loss{liveStage ? ` · ${liveStage}` : ''}
            </span>
            <span className="chart-last">{live?.points.length ? fmt(live.points[live.points.length - 1]!.loss) : ''}</span>
          </figcaption>
          {live?.points.length ? (
            <ResponsiveContainer width="100%" height={150}>
              <LineChart data={live.points} margin={{ top: 6, right: 10, bottom: 0, left: -8 }}>
                <CartesianGrid stroke="#eef0f3" vertical={false} />
                <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} allowDecimals={false} />
                <YAxis tick={{ fontSize: 11 }} width={54} domain={['auto', 'auto']} tickFormatter={fmtTick} />
                <Tooltip formatter={(v) => fmt(Number(v))} labelFormatter={(s) => `step ${s}`} />
                <Line type="monotone" dataKey="loss" stroke="#2f5bd3" strokeWidth={2} dot={live.points.length < 30} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          ) : (
            <div className="chart-empty">{running ? 'The loss of the cell in training appears here' : 'No cell is training'}</div>
          )}
        </figure>
      </div>
    </section>
  );
}
