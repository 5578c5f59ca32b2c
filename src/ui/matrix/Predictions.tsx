import { useMemo, useRef, useState } from 'react';
import { CartesianGrid, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from 'recharts';
import { matrixStore, useLibrary, useMatrix, useTrain } from '../../state/app';
import { runThatTrained } from '../../state/train';
import { parseTemplate } from '../../tags/template';
import type { RowPrediction } from '../../worker/protocol';
import { ChartExport } from '../common/ChartExport';
import { rowsToCsv } from '../common/chart-export';
import { downloadText } from '../common/download';

/** Per-row predictions of the shown cell: predicted vs true, the rows, CSV. */
export function PredictionsCard() {
  const shown = useMatrix((s) => s.shown);
  const cell = useMatrix((s) => (s.shown ? s.cells[s.shown] : undefined));
  const fig = useRef<HTMLDivElement>(null);
  const outputField = useMatrix((s) => s.outputField);
  const rows = useMemo(() => {
    const preds = cell?.reply?.predictions ?? [];
    return preds.map((p) => ({ ...(cell?.rows?.[p.row] ?? {}), [outputField]: p.label, prediction: p.prediction }));
  }, [cell, outputField]);
  const points = useMemo(
    () => (cell?.reply?.predictions ?? []).filter((p) => typeof p.prediction === 'number' && p.label !== '' && Number.isFinite(Number(p.label))).map((p) => ({ truth: Number(p.label), predicted: p.prediction as number })),
    [cell],
  );
  if (!shown || !cell?.reply?.predictions) return null;
  const [domain, fn] = shown.split('\u0000');
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    lo = Math.min(lo, p.truth, p.predicted);
    hi = Math.max(hi, p.truth, p.predicted);
  }
  // Round the shared range outwards to 2 significant digits of its span, so ticks read cleanly.
  const step = 10 ** (Math.floor(Math.log10(Math.max(hi - lo, 1e-9))) - 1);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const tick = (v: number) => String(Number(v.toPrecision(3)));
  return (
    <section className="card" aria-labelledby="preds-title" data-testid="matrix-predictions">
      <div className="card-head">
        <h2 id="preds-title">
          Predictions · ‹{domain}› × ‹{fn}›{cell.reply.adapter ? ` · adapter ${cell.reply.adapter}` : ''}
        </h2>
        <div className="actions">
          <ChartExport target={fig} title={`predictions ${domain} ${fn}`} rows={rows} />
          <button type="button" className="small" onClick={() => matrixStore.getState().show(null)}>
            Close
          </button>
        </div>
      </div>
      {points.length > 0 && (
        <div ref={fig} data-testid="pred-scatter" data-points={points.length}>
          <ResponsiveContainer width="100%" height={260}>
            <ScatterChart margin={{ top: 8, right: 16, bottom: 18, left: 0 }}>
              <CartesianGrid stroke="#eef0f3" />
              <XAxis type="number" dataKey="truth" name="true" domain={[lo, hi]} tickFormatter={tick} tick={{ fontSize: 11 }} label={{ value: 'true', position: 'insideBottom', offset: -8, fontSize: 11 }} />
              <YAxis type="number" dataKey="predicted" name="predicted" domain={[lo, hi]} tickFormatter={tick} tick={{ fontSize: 11 }} width={54} label={{ value: 'predicted', angle: -90, position: 'insideLeft', fontSize: 11 }} />
              <ReferenceLine segment={[{ x: lo, y: lo }, { x: hi, y: hi }]} stroke="#98a2b3" strokeDasharray="4 3" />
              <Tooltip cursor={{ strokeDasharray: '3 3' }} />
              <Scatter data={points} fill="#2f5bd3" isAnimationActive={false} />
            </ScatterChart>
          </ResponsiveContainer>
        </div>
      )}
      <PredTable rows={rows} />
    </section>
  );
}

function PredTable({ rows }: { rows: Array<Record<string, unknown>> }) {
  const cols = rows.length ? Object.keys(rows[0]!) : [];
  return (
    <div className="table-scroll">
      <table className="table compact" data-testid="pred-table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 50).map((r, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c} className="small">
                  {typeof r[c] === 'number' ? (r[c] as number).toPrecision(5) : String(r[c] ?? '')}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > 50 && <p className="hint">First 50 of {rows.length}; the CSV has them all.</p>}
    </div>
  );
}

/** The head of a function tag on a pasted or uploaded list of inputs, one per line; CSV download. */
export function BatchCard() {
  const tags = useLibrary((s) => s.summary.tags);
  const history = useTrain((s) => s.history);
  const withHead = tags.filter((t) => t.head);
  const [fn, setFn] = useState('');
  const [text, setText] = useState('');
  const [templateText, setTemplateText] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ predictions: RowPrediction[]; adapter: string | null } | null>(null);
  const adapter = useMatrix((s) => s.adapter);
  const [error, setError] = useState<string | null>(null);
  if (withHead.length === 0) return null;
  const tag = withHead.find((t) => t.name === fn) ?? withHead[0]!;
  const run = runThatTrained(history, tag.name);
  const template = templateText ?? run?.config.template ?? `{input} <${tag.name}> {output}`;
  const outputField = run?.config.outputField ?? 'output';
  let inputField = 'input';
  let templateError: string | null = null;
  try {
    const t = parseTemplate(template);
    inputField = t.fields.find((f) => f !== outputField) ?? inputField;
  } catch (e) {
    templateError = (e as Error).message;
  }
  const inputs = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const predict = async () => {
    setBusy(true);
    setError(null);
    const r = await matrixStore.getState().predictBatch({ fn: tag.name, template, inputField, outputField, inputs });
    setBusy(false);
    if (r) setResult(r);
    else setError('The prediction failed: see the message above.');
  };
  const csvRows = (result?.predictions ?? []).map((p) => ({ [inputField]: inputs[p.row] ?? '', prediction: p.prediction }));
  return (
    <section className="card" aria-labelledby="batch-title" data-testid="batch-prediction">
      <div className="card-head">
        <h2 id="batch-title">Batch head prediction</h2>
      </div>
      <div className="stack-sm">
        <label className="field">
          <span>Function tag</span>
          <select value={tag.name} onChange={(e) => { setFn(e.target.value); setTemplateText(null); setResult(null); }}>
            {withHead.map((t) => (
              <option key={t.id} value={t.name}>
                ‹{t.name}› ({t.head!.kind})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Template</span>
          <input type="text" className="mono" value={template} onChange={(e) => setTemplateText(e.target.value)} aria-label="Batch template" />
          <span className="field-hint">
            {templateError ?? `Each line fills {${inputField}}; the head reads ‹${tag.name}› (everything from {${outputField}} on is left out), ${adapter ? `with adapter ${adapter}` : 'on the base model'} (the Evaluation card's Adapter).`}
          </span>
        </label>
        <label className="field">
          <span>Inputs, one per line</span>
          <textarea rows={5} className="mono" value={text} onChange={(e) => setText(e.target.value)} aria-label="Batch inputs" spellCheck={false} />
        </label>
        <input
          type="file"
          className="file-line"
          accept=".txt,.smi,.csv,.tsv,text/*"
          aria-label="Upload inputs"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (f) setText(await f.text());
          }}
        />
        <div className="actions">
          <button type="button" className="primary" disabled={busy || inputs.length === 0 || !!templateError} onClick={() => void predict()} data-testid="batch-run">
            {busy ? 'Predicting…' : `Predict ${inputs.length}`}
          </button>
          {result && (
            <button type="button" onClick={() => downloadText(rowsToCsv(csvRows, [inputField, 'prediction']), `predictions-${tag.name}.csv`, 'text/csv')} data-testid="batch-csv">
              CSV
            </button>
          )}
        </div>
        {error && (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}
        {result && (
          <p className="muted small" data-testid="batch-adapter">
            {result.predictions.length} predictions, {result.adapter ? `with adapter ${result.adapter}` : 'base model'}.
          </p>
        )}
        {result && <PredTable rows={csvRows} />}
      </div>
    </section>
  );
}

