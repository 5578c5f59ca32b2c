import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, ErrorBar, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { buildTables, type ResultTable, type TableCell } from '../../experiments/report';
import { METRIC_INFO } from '../../experiments/types';
import { barsOf, resultsFile, type DownloadKind } from '../../state/experiments';
import { downloadText } from '../common/download';
import { CurveCard } from './CurveCard';
import { fmt, fmtTick, modelLabel, PALETTE } from './format';
import { experimentsStore, useExperiments } from './store';

const DOWNLOADS: Array<{ kind: DownloadKind; label: string; title: string }> = [
  { kind: 'json', label: 'JSON', title: 'Every cell with its metrics and loss curves (the results file; the CLI reads it too)' },
  { kind: 'csv', label: 'CSV', title: 'The results table: mean, std and n per task' },
  { kind: 'cells-csv', label: 'Cells CSV', title: 'One line per cell (long format)' },
  { kind: 'md', label: 'Markdown', title: 'Every table, as in the paper' },
];

/** Whether a column's values are better high (true), low (false) or not comparable (null). */
type Direction = (key: string) => boolean | null;

function bestRow(table: ResultTable, col: number, dir: boolean | null): number {
  if (dir === null) return -1;
  let best = -1;
  table.rows.forEach((r, i) => {
    const m = r.cells[col]?.mean;
    if (m === null || m === undefined) return;
    const b = best >= 0 ? table.rows[best]!.cells[col]!.mean! : null;
    if (b === null || (dir ? m > b : m < b)) best = i;
  });
  return table.rows.filter((r) => r.cells[col]?.mean !== null).length > 1 ? best : -1;
}

function CellText({ cell }: { cell: TableCell }) {
  const [mean, rest] = cell.text.split(' ± ');
  if (rest === undefined) return <>{cell.text}</>;
  const [std, extra] = rest.split(' (');
  return (
    <>
      {mean}
      <span className="exp-std"> ± {std}</span>
      {extra && <span className="exp-failed"> ({extra}</span>}
    </>
  );
}

export function ResultTableView({ table, testId, direction }: { table: ResultTable; testId: string; direction: Direction }) {
  const selected = useExperiments((s) => s.selected);
  const withParams = table.rows.some((r) => r.params !== null);
  const best = table.columns.map((c, i) => bestRow(table, i, direction(c.key)));
  return (
    <div className="table-scroll">
      <table className="table exp-table" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{table.rowHeader}</th>
            {withParams && (
              <th scope="col" className="num" title="Trainable parameters">
                Params
              </th>
            )}
            {table.columns.map((c) => (
              <th key={c.key} scope="col" className="num">
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((r, ri) => (
            <tr key={r.key} data-row={r.key}>
              <th scope="row">{r.label}</th>
              {withParams && <td className="num mono exp-params">{r.params ?? '—'}</td>}
              {r.cells.map((c, ci) => {
                const clickable = c.cellIds.length > 0;
                const isSel = selected !== null && c.cellIds.includes(selected);
                return (
                  <td key={ci} className={`num${best[ci] === ri ? ' exp-best' : ''}`}>
                    <button
                      type="button"
                      className={`exp-tcell${isSel ? ' selected' : ''}${c.mean === null ? ' empty' : ''}`}
                      disabled={!clickable}
                      onClick={() => experimentsStore.getState().select(c.cellIds[0] ?? null)}
                      title={clickable ? `${c.n} value${c.n === 1 ? '' : 's'}${c.failed ? `, ${c.failed} failed` : ''} — click for the training curve` : 'not run yet'}
                      data-testid="exp-tcell"
                      data-value={c.mean ?? ''}
                    >
                      <CellText cell={c} />
                    </button>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {table.notes.length > 0 && (
        <ul className="exp-notes">
          {table.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function TaskBars({ table, col, label, higherIsBetter, taskId }: { table: ResultTable; col: number; label: string; higherIsBetter: boolean; taskId: string }) {
  const data = useMemo(() => barsOf(table, col), [table, col]);
  const colors = new Map(table.rows.map((r, i) => [r.key, PALETTE[i % PALETTE.length]!]));
  return (
    <figure className="chart exp-bars" data-testid={`exp-bars-${taskId}`} data-bars={data.length}>
      <figcaption>
        <span>{label}</span>
        <span className="muted small">{higherIsBetter ? 'higher is better' : 'lower is better'}</span>
      </figcaption>
      {data.length === 0 ? (
        <div className="chart-empty">No values yet</div>
      ) : (
        <ResponsiveContainer width="100%" height={190}>
          <BarChart data={data} margin={{ top: 10, right: 10, bottom: 0, left: -8 }}>
            <CartesianGrid stroke="#eef0f3" vertical={false} />
            <XAxis dataKey="label" tick={{ fontSize: 11 }} interval={0} />
            <YAxis tick={{ fontSize: 11 }} width={54} tickFormatter={fmtTick} domain={[(min: number) => Math.min(0, min), 'auto']} />
            <Tooltip formatter={(v, _n, item) => [(item?.payload as { text?: string })?.text ?? fmt(Number(v)), 'mean ± std']} cursor={{ fill: '#f3f5f8' }} />
            <Bar dataKey="mean" isAnimationActive={false} maxBarSize={56}>
              {data.map((d) => (
                <Cell key={d.key} fill={colors.get(d.key)} />
              ))}
              <ErrorBar dataKey="std" width={6} strokeWidth={1.5} stroke="#1c2330" direction="y" />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      )}
    </figure>
  );
}

export function ResultsCard() {
  const results = useExperiments((s) => s.results);
  const status = useExperiments((s) => s.status);
  const tables = useMemo(() => (results && results.cells.length ? buildTables(results) : null), [results]);
  if (!results || !tables) return null;
  const tasks = results.definition.tasks;
  const metricOf = new Map(tasks.map((t) => [t.id, METRIC_INFO[t.metric]]));
  const taskDir: Direction = (key) => metricOf.get(key)?.higherIsBetter ?? null;
  const textDir: Direction = () => true;
  const d = results.definition;
  const download = (kind: DownloadKind) => {
    const f = resultsFile(results, kind);
    downloadText(f.text, f.name, f.type);
  };
  return (
    <>
      <section className="card" aria-labelledby="exp-results-title" data-testid="exp-results" data-status={results.status}>
        <div className="card-head">
          <h2 id="exp-results-title">
            Results <span className="muted normal">· {results.name}</span>
          </h2>
          <div className="actions exp-downloads">
            <span className="muted small">Download</span>
            {DOWNLOADS.map((x) => (
              <button key={x.kind} type="button" className="small" title={x.title} onClick={() => download(x.kind)} data-testid={`exp-download-${x.kind}`}>
                {x.label}
              </button>
            ))}
          </div>
        </div>
        <p className="muted small exp-meta">
          {modelLabel(results.model.name)} ({results.model.arch}, d = {results.model.dModel}) · seeds {d.seeds.join(', ')} · {d.hyper.steps ?? 100} steps × batch {d.hyper.batch ?? 4}, lr {d.hyper.lr ?? 1e-4} ·
          tag length {d.tagLength} · {results.cells.length} cells{status === 'running' ? ' so far' : ''} · mean ± std over seeds; click a value for its training curve
        </p>
        <ResultTableView table={tables.main} testId="exp-table-main" direction={taskDir} />
        <div className="exp-bar-grid">
          {tables.main.columns.map((c, i) => (
            <TaskBars key={c.key} table={tables.main} col={i} label={c.label} higherIsBetter={metricOf.get(c.key)?.higherIsBetter ?? true} taskId={c.key} />
          ))}
        </div>
        {tables.translation.map((t, i) => (
          <div key={t.title} className="exp-subtable">
            <h3>{t.title}</h3>
            <ResultTableView table={t} testId={`exp-table-translation-${i}`} direction={textDir} />
          </div>
        ))}
        {tables.ablation && (
          <div className="exp-subtable">
            <h3>{tables.ablation.title}</h3>
            <ResultTableView table={tables.ablation} testId="exp-table-ablation" direction={taskDir} />
          </div>
        )}
        {tables.sweep && (
          <div className="exp-subtable">
            <h3>{tables.sweep.title}</h3>
            <ResultTableView table={tables.sweep} testId="exp-table-sweep" direction={taskDir} />
          </div>
        )}
      </section>
      <CurveCard results={results} />
    </>
  );
}
