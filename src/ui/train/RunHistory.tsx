import { useMemo, useRef, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useTrain } from '../../state/app';
import type { RunRecord } from '../../state/train';
import { ChartExport } from '../common/ChartExport';
import { downloadText } from '../common/download';
import { curvesCsv } from './curves';

const COLORS = ['#2f5bd3', '#c2410c', '#0f766e', '#8e44ad', '#b7791f', '#be123c', '#4d7c0f', '#0369a1'];

/** Every finished run with its configuration; tick runs to overlay their loss curves. */
export function RunHistory() {
  const history = useTrain((s) => s.history);
  const [picked, setPicked] = useState<string[]>([]);
  const [logY, setLogY] = useState(false);
  const fig = useRef<HTMLElement>(null);
  const shown = useMemo(() => history.filter((r) => picked.includes(r.runId)), [history, picked]);
  const data = useMemo(() => {
    const rows = new Map<number, Record<string, number>>();
    for (const r of shown) for (const [step, loss] of r.loss) rows.set(step, { ...(rows.get(step) ?? { step }), [r.runId]: loss });
    return [...rows.values()].sort((a, b) => a.step! - b.step!);
  }, [shown]);
  return (
    <section className="card" aria-labelledby="history-title" data-testid="run-history">
      <div className="card-head">
        <h2 id="history-title">Run history</h2>
        <span className="muted">{history.length ? `${history.length} runs` : ''}</span>
      </div>
      {history.length === 0 ? (
        <p className="muted">Finished runs are kept here with their configuration; tick several to overlay their loss curves.</p>
      ) : (
        <>
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Overlay</th>
                <th scope="col">Run</th>
                <th scope="col">Template</th>
                <th scope="col">Data</th>
                <th scope="col">Hyperparameters</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {[...history].reverse().map((r) => (
                <tr key={r.runId} data-testid="history-row">
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Overlay ${r.label}`}
                      checked={picked.includes(r.runId)}
                      onChange={(e) => setPicked(e.target.checked ? [...picked, r.runId] : picked.filter((x) => x !== r.runId))}
                    />
                  </td>
                  <td>
                    <strong>{r.label}</strong>
                    <div className="muted small">{new Date(r.finished).toLocaleString()}</div>
                  </td>
                  <td className="mono small">{r.config.template}</td>
                  <td className="small">{r.datasetNames.join(', ')}</td>
                  <td className="small">
                    {r.steps} steps · lr {r.config.hyper.lr} · batch {r.config.hyper.batch}×{r.config.hyper.accum} · seed {r.config.hyper.seed}
                  </td>
                  <td className="small">
                    {Object.entries(r.metrics)
                      .filter(([, v]) => v !== null)
                      .map(([k, v]) => `${k} ${Number(v).toPrecision(4)}`)
                      .join(' · ') || '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length > 0 && (
            <figure className="chart" data-testid="history-overlay" data-runs={shown.length} ref={fig}>
              <figcaption>
                <span>Training loss of {shown.length} run{shown.length === 1 ? '' : 's'}</span>
                <span className="actions">
                  <label className="inline-label">
                    <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log scale
                  </label>
                  <button type="button" className="small" onClick={() => downloadText(curvesCsv(shown), 'loss-curves.csv', 'text/csv')} data-testid="history-csv">
                    CSV
                  </button>
                  <ChartExport target={fig} title="loss curves" rows={data} />
                </span>
              </figcaption>
              <ResponsiveContainer width="100%" height={220}>
                <LineChart data={data} margin={{ top: 6, right: 10, bottom: 0, left: 0 }}>
                  <CartesianGrid stroke="#eef0f3" vertical={false} />
                  <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} tick={{ fontSize: 11 }} allowDecimals={false} />
                  <YAxis tick={{ fontSize: 11 }} width={54} scale={logY ? 'log' : 'auto'} domain={['auto', 'auto']} allowDataOverflow={logY} />
                  <Tooltip labelFormatter={(s) => `step ${s}`} />
                  <Legend />
                  {shown.map((r, i) => (
                    <Line key={r.runId} dataKey={r.runId} name={r.label} stroke={COLORS[i % COLORS.length]} dot={false} connectNulls isAnimationActive={false} />
                  ))}
                </LineChart>
              </ResponsiveContainer>
            </figure>
          )}
        </>
      )}
    </section>
  );
}
