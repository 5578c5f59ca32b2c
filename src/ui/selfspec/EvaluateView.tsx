import { useState } from 'react';
import type { CellResult, EvalTable } from '../../selfspec/evaluate';
import { pct } from './format';
import { useSelfSpec } from './store';

/** The evaluation: the table (paper's Tables 1–2 shape), confusion matrices side by side, and base vs specialised answers to the same questions. */
export function EvaluateView() {
  const table = useSelfSpec((s) => s.table);
  const cells = useSelfSpec((s) => s.view.cells);
  const [column, setColumn] = useState<string | null>(null);
  if (!table) {
    if (cells.length === 0) return <p className="muted">The table fills in as each cell (model variant × shots × scoring) is evaluated.</p>;
    return (
      <ul data-testid="ss-eval-cells">
        {cells.map((c) => (
          <li key={`${c.row}|${c.column}`}>
            {c.row} · {c.column}: {c.accuracy !== undefined ? `accuracy ${pct(c.accuracy)}%, macro-F1 ${pct(c.macroF1)}%` : `ROUGE-L ${pct(c.rougeL)}`} (n = {c.n})
          </li>
        ))}
      </ul>
    );
  }
  const col = column && table.columns.includes(column) ? column : (table.columns.find((c) => table.rows.some((r) => r.cells[c])) ?? null);
  return (
    <div className="stack" data-testid="ss-evaluate-view">
      <Table t={table} />
      {col && (
        <>
          <label className="inline-label">
            Column{' '}
            <select value={col} onChange={(e) => setColumn(e.target.value)} data-testid="ss-eval-column">
              {table.columns.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <h3>Confusion matrices · {col}</h3>
          <div className="ss-confusions" data-testid="ss-confusions">
            {table.rows.map((r) => (r.cells[col] ? <Confusion key={r.label} label={r.label} cell={r.cells[col]} /> : null))}
          </div>
          <h3>Examples · {col}</h3>
          <Examples t={table} column={col} />
        </>
      )}
    </div>
  );
}

function Table({ t }: { t: EvalTable }) {
  return (
    <div className="table-scroll">
      <table className="memtable ss-table" data-testid="ss-eval-table">
        <caption className="muted small">
          PubMedQA (n = {t.n}): accuracy / macro-F1 in %; seed ROUGE-L on held-out seed tasks.
        </caption>
        <thead>
          <tr>
            <th>Model</th>
            {t.columns.map((c) => (
              <th key={c} className="num">
                {c}
              </th>
            ))}
            <th className="num">Seed ROUGE-L</th>
          </tr>
        </thead>
        <tbody>
          {t.rows.map((r) => (
            <tr key={r.label}>
              <th>{r.label}</th>
              {t.columns.map((c) => (
                <td key={c} className="num" data-testid="ss-eval-cell">
                  {r.cells[c] ? `${pct(r.cells[c].accuracy)} / ${pct(r.cells[c].macroF1)}` : '–'}
                </td>
              ))}
              <td className="num">{r.rougeL && r.rougeL.n ? pct(r.rougeL.rougeL) : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Confusion({ label, cell }: { label: string; cell: CellResult }) {
  const max = Math.max(1, ...cell.confusion.flat());
  return (
    <figure className="ss-confusion" data-testid="ss-confusion">
      <figcaption>
        {label} <span className="muted">· acc {pct(cell.accuracy)}%</span>
      </figcaption>
      <table>
        <thead>
          <tr>
            <th className="muted small">gold \ pred</th>
            {[...cell.classes, 'none'].map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {cell.confusion.map((row, g) => (
            <tr key={g}>
              <th>{cell.classes[g]}</th>
              {row.map((n, p) => (
                <td key={p} style={{ background: `rgba(47, 91, 211, ${(0.08 + (0.7 * n) / max).toFixed(2)})`, fontWeight: p === g ? 700 : 400 }}>
                  {n}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** The same test questions answered by each variant, side by side. */
function Examples({ t, column }: { t: EvalTable; column: string }) {
  const rows = t.rows.filter((r) => r.cells[column]);
  const ids = [...new Set(rows.flatMap((r) => r.cells[column].examples.map((e) => e.id)))];
  if (ids.length === 0) return <p className="muted">No examples in this column.</p>;
  return (
    <div className="table-scroll">
      <table className="memtable ss-examples" data-testid="ss-examples">
        <thead>
          <tr>
            <th>PubMedQA id</th>
            <th>Gold</th>
            {rows.map((r) => (
              <th key={r.label}>{r.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => {
            const gold = rows.map((r) => r.cells[column].examples.find((e) => e.id === id)?.gold).find(Boolean);
            return (
              <tr key={id}>
                <td className="mono">{id}</td>
                <td>{gold}</td>
                {rows.map((r) => {
                  const e = r.cells[column].examples.find((x) => x.id === id);
                  if (!e) return <td key={r.label}>–</td>;
                  return (
                    <td key={r.label} className={e.pred === e.gold ? 'ss-right' : 'ss-wrong'}>
                      <strong>{e.pred ?? 'no answer'}</strong>
                      {e.text !== undefined && <div className="small muted ss-gen">“{e.text.length > 120 ? `${e.text.slice(0, 117)}…` : e.text}”</div>}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
