import { useEffect, useMemo } from 'react';
import { matrixStore, useData, useLibrary, useMatrix, useModel, useTrain } from '../../state/app';
import { runThatTrained } from '../../state/train';
import { BatchCard, PredictionsCard } from './Predictions';
import { cellKey, combinationOf, type CellState, type RowsChoice } from '../../state/matrix';
import type { TagSummary } from '../../worker/protocol';
import { AdapterSelect } from '../common/AdapterSelect';
import { Select } from '../common/Select';
import { RowsProgress } from '../common/RowsProgress';
import { TagChip } from '../common/TagChip';
import { NumberField } from '../NumberField';

const HIGHER_IS_BETTER = new Set(['accuracy', 'pearson']);

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
}

export function MatrixPanel() {
  const tags = useLibrary((s) => s.summary.tags);
  const domains = useMemo(() => tags.filter((t) => t.kind === 'domain'), [tags]);
  const fns = useMemo(() => tags.filter((t) => t.kind === 'function'), [tags]);
  const cells = useMatrix((s) => s.cells);
  const running = useMatrix((s) => s.running);
  const preparingRows = useMatrix((s) => s.preparingRows);
  const model = useModel((s) => s.model);
  const history = useTrain((s) => s.history);
  const m = matrixStore.getState();
  // Default to the training template and field mapping of the newest function tag's run.
  useEffect(() => {
    for (let i = fns.length - 1; i >= 0; i--) {
      const run = runThatTrained(history, fns[i]!.name);
      if (run) {
        matrixStore.getState().adoptRun(fns[i]!.name, run, domains.map((d) => d.name));
        return;
      }
    }
  }, [fns, domains, history]);

  return (
    <div className="stack">
      <div className="panel-grid">
        <div className="col">
          <section className="card" aria-labelledby="grid-title">
            <div className="card-head">
              <h2 id="grid-title">Domain × function</h2>
              <div className="actions">
                <button type="button" onClick={() => m.clearCells()} disabled={running || Object.keys(cells).length === 0}>
                  Clear
                </button>
                {running ? (
                  <button type="button" className="danger" onClick={() => m.stop()}>
                    Stop
                  </button>
                ) : (
                  <button
                    type="button"
                    className="primary"
                    disabled={!model || !domains.length || !fns.length}
                    onClick={() =>
                      void m.evaluateAll(
                        domains.map((d) => d.name),
                        fns.map((f) => f.name),
                      )
                    }
                  >
                    Evaluate all
                  </button>
                )}
              </div>
            </div>
            {preparingRows && <RowsProgress progress={preparingRows} onCancel={() => m.stop()} testId="matrix-rows" />}
            {domains.length === 0 || fns.length === 0 ? (
              <p className="muted">
                The matrix needs at least one domain tag and one function tag in the library (now: {domains.length} domain, {fns.length} function). Train them in the Train panel
                (stage 1, then stage 2) or import a library.
              </p>
            ) : (
              <div className="table-scroll">
                <table className="matrix" data-testid="composition-matrix">
                  <thead>
                    <tr>
                      <th scope="col" className="corner">
                        <span className="muted">domain ↓ · function →</span>
                      </th>
                      {fns.map((f) => (
                        <th key={f.id} scope="col">
                          <TagChip name={f.name} kind="function" badge={f.head ? 'ƒ' : undefined} />
                          <div className="muted small">{f.head ? `${f.head.kind} head` : 'no head: LM loss'}</div>
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {domains.map((d) => (
                      <tr key={d.id}>
                        <th scope="row">
                          <TagChip name={d.name} kind="domain" />
                        </th>
                        {fns.map((f) => (
                          <Cell key={f.id} domain={d} fn={f} cell={cells[cellKey(d.name, f.name)]} disabled={running || !model} />
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <div className="legend-row">
              <span className="combo combo-trained">trained together</span>
              <span className="combo combo-zero-shot">zero-shot combination</span>
              <span className="combo combo-untrained">function tag untrained</span>
              <span className="muted">Click a cell to evaluate that pair. Lower is better for mse / mae / perplexity; higher for accuracy.</span>
            </div>
          </section>
        </div>
        <div className="col col-side">
          <ConfigCard />
          <BatchCard />
        </div>
      </div>
      <PredictionsCard />
    </div>
  );
}

function Cell({ domain, fn, cell, disabled }: { domain: TagSummary; fn: TagSummary; cell: CellState | undefined; disabled: boolean }) {
  const combo = combinationOf(domain, fn);
  const r = cell?.reply;
  const label = `${domain.name} × ${fn.name}`;
  return (
    <td className={`mcell combo-${combo}`} data-testid={`cell-${domain.name}-${fn.name}`} data-status={cell?.status ?? 'idle'}>
      <button type="button" disabled={disabled} onClick={() => void matrixStore.getState().evaluate(domain.name, fn.name)} aria-label={`Evaluate ${label}`} title={cell?.error ?? `Evaluate <${domain.name}> with <${fn.name}>`}>
        {cell?.status === 'running' ? (
          <span className="muted">evaluating…</span>
        ) : cell?.status === 'error' ? (
          <span className="cell-error">error</span>
        ) : r ? (
          <>
            <span className="cell-metric">{r.metric}</span>
            <span className="cell-value">{fmt(r.value)}</span>
            <span className="muted small">
              n = {r.n}
              {HIGHER_IS_BETTER.has(r.metric) ? ' ↑' : ' ↓'}
            </span>
            {r.adapter && (
              <span className="muted small" data-testid={`cell-adapter-${domain.name}-${fn.name}`} title="The LoRA adapter applied under the head">
                adapter {r.adapter}
              </span>
            )}
          </>
        ) : (
          <span className="muted">evaluate</span>
        )}
        <span className="cell-combo">{combo}</span>
      </button>
      {cell?.status === 'error' && <div className="cell-error-text">{cell.error}</div>}
      {r?.predictions && (
        <button type="button" className="link small" onClick={() => matrixStore.getState().show(cellKey(domain.name, fn.name))} data-testid={`cell-rows-${domain.name}-${fn.name}`}>
          rows
        </button>
      )}
    </td>
  );
}

function ConfigCard() {
  const datasets = useData((s) => s.datasets);
  const datasetId = useMatrix((s) => s.datasetId);
  const pattern = useMatrix((s) => s.pattern);
  const rows = useMatrix((s) => s.rows);
  const limit = useMatrix((s) => s.limit);
  const outputField = useMatrix((s) => s.outputField);
  const fieldMap = useMatrix((s) => s.fieldMap);
  const adapter = useMatrix((s) => s.adapter);
  const defaultsFrom = useMatrix((s) => s.defaultsFrom);
  const running = useMatrix((s) => s.running);
  const m = matrixStore.getState();
  return (
    <section className="card" aria-labelledby="mcfg-title">
      <div className="card-head">
        <h2 id="mcfg-title">Evaluation</h2>
      </div>
      <fieldset disabled={running} className="stack-sm">
        <Select
          label="Dataset"
          value={datasetId ?? ''}
          options={[{ value: '', label: datasets.length ? 'Choose…' : 'none: import one in the Data panel', disabled: true }, ...datasets.map((d) => ({ value: d.id, label: d.name }))]}
          onChange={(id) => m.setConfig({ datasetId: id })}
        />
        <div className="options">
          <Select<RowsChoice>
            label="Rows"
            value={rows}
            options={[
              { value: 'test', label: 'test split' },
              { value: 'validation', label: 'validation split' },
              { value: 'all', label: 'all rows' },
            ]}
            onChange={(r) => m.setConfig({ rows: r })}
          />
          <NumberField label="Examples per cell" value={limit} min={1} step={1} integer onChange={(v) => v !== null && m.setConfig({ limit: v })} />
          <AdapterSelect
            value={adapter}
            onChange={(n) => m.setConfig({ adapter: n })}
            testId="matrix-adapter"
            hint="Applied under the heads (cells and batch prediction); cells without a head use the base model."
          />
        </div>
        <div className="field">
          <label htmlFor="cell-template">Cell template</label>
          <textarea id="cell-template" rows={3} value={pattern} spellCheck={false} onChange={(e) => m.setConfig({ pattern: e.target.value })} />
          <span className="field-hint">
            {'<$DOMAIN>'} and {'<$FUNCTION>'} are replaced by each pair; fields come from the dataset's mapping
            {Object.keys(fieldMap).length ? ` (${Object.entries(fieldMap).map(([f, src]) => `{${f}} ← ${src}`).join(', ')})` : ''}.
          </span>
          {defaultsFrom && (
            <span className="field-hint" data-testid="matrix-defaults">
              From {defaultsFrom}.
            </span>
          )}
        </div>
        <div className="field">
          <label htmlFor="cell-output">Output field</label>
          <input id="cell-output" type="text" className="mono" value={outputField} onChange={(e) => m.setConfig({ outputField: e.target.value.trim() || 'output' })} />
          <span className="field-hint">The label (head) or target text (LM loss).</span>
        </div>
      </fieldset>
      <p className="hint">
        A function tag with a head is scored by its head (MSE for regression, accuracy for classification); one without a head by the perplexity of the output text. Nothing is trained.
      </p>
    </section>
  );
}
