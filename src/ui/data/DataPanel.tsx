import { useEffect, useMemo, useState } from 'react';
import { BUILTIN_DATASETS } from '../../data/builtin';
import type { SkippedRow } from '../../data/dataset';
import { keptRows } from '../../data/mapping-check';
import { splitSizes } from '../../data/split';
import { dataStore, mappingCheckStore, useData, useMappingCheck } from '../../state/app';
import { datasetView, isFieldName, validateSplit } from '../../state/data';
import type { StoredDataset } from '../../state/db';
import { SYNC_CHECK_ROWS, type CheckEntry } from '../../state/mapping-check';
import { FileDrop } from '../common/FileDrop';
import { formatInt } from '../format';
import { NumberField } from '../NumberField';

const ACCEPT = '.csv,.tsv,.tab,.jsonl,.ndjson,.fa,.fasta,.faa,.fna,.fas,.txt,.smi,text/*';
const PREVIEW_ROWS = 12;

export function DataPanel() {
  const selected = useData((s) => s.get(s.selectedId));
  return (
    <div className="panel-grid">
      <div className="col">{selected ? <DatasetDetails key={selected.id} ds={selected} /> : <EmptyDetails />}</div>
      <div className="col col-side">
        <ImportCard />
        <DatasetsCard />
        <BuiltinsCard />
      </div>
    </div>
  );
}

function EmptyDetails() {
  const loaded = useData((s) => s.loaded);
  return (
    <section className="card empty-card">
      <h2>No dataset selected</h2>
      <p className="muted">
        {loaded
          ? 'Upload a CSV, TSV, JSONL, FASTA or plain-lines file, or load a built-in dataset. Bad rows are skipped and listed here with the reason; they never stop an import.'
          : 'Reading saved datasets…'}
      </p>
    </section>
  );
}

function ImportCard() {
  const busy = useData((s) => s.busy);
  return (
    <section className="card" aria-labelledby="import-title">
      <div className="card-head">
        <h2 id="import-title">Import a file</h2>
        {busy && <span className="pill pill-busy">reading {busy}…</span>}
      </div>
      <FileDrop label="Drop a file or choose one" accept={ACCEPT} onFiles={(f) => void dataStore.getState().importFile(f[0]!)} disabled={!!busy} testId="dataset-drop">
        CSV / TSV (header row), JSONL, FASTA, or one record per line
      </FileDrop>
    </section>
  );
}

function DatasetsCard() {
  const datasets = useData((s) => s.datasets);
  // Re-render when a large dataset's check finishes (its skipped count comes from it).
  useMappingCheck((s) => s.checks);
  const selectedId = useData((s) => s.selectedId);
  return (
    <section className="card" aria-labelledby="datasets-title">
      <div className="card-head">
        <h2 id="datasets-title">Datasets</h2>
        <span className="muted">{datasets.length} saved</span>
      </div>
      {datasets.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <ul className="pick-list" aria-label="Saved datasets">
          {datasets.map((d) => (
            <li key={d.id}>
              <button
                type="button"
                className={d.id === selectedId ? 'pick active' : 'pick'}
                aria-pressed={d.id === selectedId}
                onClick={() => dataStore.getState().select(d.id)}
              >
                <span className="pick-name">{d.name}</span>
                <span className="pick-meta">
                  {formatInt(d.rows.length)} rows · {d.format}
                  {skippedCount(d) ? ` · ${formatInt(skippedCount(d)!)} skipped` : ''}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const skippedCache = new WeakMap<StoredDataset, number>();
/**
 * Rows skipped at import plus rows the field mapping leaves out: the same count the details show.
 * A large dataset's mapping count comes from its worker check, once there is one (null until then).
 */
function skippedCount(ds: StoredDataset): number | null {
  if (ds.rows.length > SYNC_CHECK_ROWS) {
    const r = mappingCheckStore.getState().resultFor(ds);
    return r ? ds.report.skipped.length + r.skipped.length : null;
  }
  let n = skippedCache.get(ds);
  if (n === undefined) {
    n = ds.report.skipped.length + datasetView(ds).skipped.length;
    skippedCache.set(ds, n);
  }
  return n;
}

/** What the details show of the mapping check: counts, reasons, a preview. */
interface PanelView {
  usable: number;
  skipped: SkippedRow[];
  error: string | null;
  preview: Array<Record<string, string>>;
}

/**
 * The mapping check of `ds`: in place for a small dataset; a large one is checked in the mapping
 * worker (null until it answers, with the check's progress in `entry`).
 */
function useMappingView(ds: StoredDataset): { view: PanelView | null; entry: CheckEntry | undefined } {
  const large = ds.rows.length > SYNC_CHECK_ROWS;
  const entry = useMappingCheck((s) => (large ? s.checks[ds.id] : undefined));
  useEffect(() => {
    if (large) mappingCheckStore.getState().request(ds);
  }, [ds, large]);
  const small = useMemo(() => {
    if (large) return null;
    const v = datasetView(ds);
    return { usable: v.rows.length, skipped: v.skipped, error: v.error, preview: v.rows.slice(0, PREVIEW_ROWS) };
  }, [ds, large]);
  const result = large && entry?.status === 'done' ? mappingCheckStore.getState().resultFor(ds) : null;
  const fromWorker = useMemo(
    () => (result ? { usable: result.kept.length, skipped: result.skipped, error: result.error, preview: keptRows(ds, result.kept, 0, PREVIEW_ROWS) } : null),
    [result, ds],
  );
  return { view: small ?? fromWorker, entry };
}

/** Progress of a large dataset's mapping check, with Cancel (and Check again after a cancel). */
function CheckProgress({ ds, entry }: { ds: StoredDataset; entry: CheckEntry | undefined }) {
  if (!entry || entry.status === 'done') return null;
  const pct = entry.total ? Math.floor((100 * entry.done) / entry.total) : 0;
  return (
    <div className="check-progress" data-testid="mapping-check" data-status={entry.status}>
      {entry.status === 'running' ? (
        <>
          <span>
            Checking the mapping of {formatInt(entry.total)} rows… {pct}%
          </span>
          <progress max={100} value={pct} aria-label="Mapping check" />
          <button type="button" className="small" onClick={() => mappingCheckStore.getState().cancel(ds.id)} data-testid="mapping-check-cancel">
            Cancel
          </button>
        </>
      ) : (
        <>
          <span className={entry.status === 'error' ? 'inline-error' : 'muted'}>
            {entry.status === 'error' ? `The mapping check failed: ${entry.error}` : 'The mapping check was cancelled: usable and skipped rows are not counted.'}
          </span>
          <button type="button" className="small" onClick={() => mappingCheckStore.getState().request(ds)} data-testid="mapping-check-again">
            Check again
          </button>
        </>
      )}
    </div>
  );
}

function BuiltinsCard() {
  const busy = useData((s) => s.busy);
  const datasets = useData((s) => s.datasets);
  const have = new Set(datasets.map((d) => d.id));
  return (
    <section className="card" aria-labelledby="builtins-title">
      <div className="card-head">
        <h2 id="builtins-title">Built-in datasets</h2>
      </div>
      <ul className="builtin-list">
        {BUILTIN_DATASETS.map((b) => (
          <li key={b.id}>
            <div className="builtin-text">
              <span className="pick-name">{b.title}</span>
              <span className="pick-meta" title={b.source}>
                {b.description}
              </span>
            </div>
            <button type="button" onClick={() => void dataStore.getState().loadBuiltin(b.id)} disabled={!!busy} aria-label={`Load ${b.title}`}>
              {have.has(`builtin-${b.id}`) ? 'Reload' : 'Load'}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function DatasetDetails({ ds }: { ds: StoredDataset }) {
  const { view, entry } = useMappingView(ds);
  const splitError = validateSplit(ds.split);
  // The split's sizes depend on the count only (the rows it picks are drawn when a run starts).
  const split = view && !splitError ? splitSizes(view.usable, ds.split) : null;
  const [name, setName] = useState(ds.name);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const skipped = useMemo(
    () => [...ds.report.skipped.map((s) => ({ ...s, stage: 'parse' as const })), ...(view?.skipped ?? []).map((s) => ({ ...s, stage: 'mapping' as const }))],
    [ds.report.skipped, view],
  );

  return (
    <>
      <section className="card" aria-labelledby="ds-title" data-testid="dataset-details">
        <div className="card-head">
          <h2 id="ds-title">
            <input
              className="title-input"
              aria-label="Dataset name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              onBlur={() => name.trim() && name !== ds.name && dataStore.getState().update(ds.id, { name: name.trim() })}
            />
          </h2>
          <div className="actions">
            <span className="tag">{ds.format}</span>
            {confirmDelete ? (
              <>
                <button type="button" className="danger" onClick={() => void dataStore.getState().remove(ds.id)} data-testid="confirm-delete-dataset">
                  Delete {ds.name}
                </button>
                <button type="button" onClick={() => setConfirmDelete(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" className="danger" onClick={() => setConfirmDelete(true)} data-testid="delete-dataset">
                Delete
              </button>
            )}
          </div>
        </div>
        <dl className="stats" data-testid="dataset-stats">
          <div>
            <dt>Records</dt>
            <dd>{formatInt(ds.report.total)}</dd>
          </div>
          <div>
            <dt>Imported</dt>
            <dd>{formatInt(ds.rows.length)}</dd>
          </div>
          <div>
            <dt>Usable</dt>
            <dd data-testid="usable-rows">{view ? formatInt(view.usable) : '…'}</dd>
          </div>
          <div>
            <dt>Skipped</dt>
            <dd data-testid="skipped-count">{view ? formatInt(skipped.length) : '…'}</dd>
          </div>
          {split && (
            <div>
              <dt>Train / val / test</dt>
              <dd data-testid="split-counts">
                {split.train} / {split.validation} / {split.test}
              </dd>
            </div>
          )}
        </dl>
        <CheckProgress ds={ds} entry={entry} />
        {ds.report.notes?.map((n) => (
          <p key={n} className="hint">
            {n}
          </p>
        ))}
      </section>

      {view && <ReportCard skipped={skipped} />}

      <div className="two-col">
        <MappingCard ds={ds} error={view?.error ?? null} />
        <SplitCard ds={ds} error={splitError} />
      </div>

      <PreviewCard ds={ds} rows={view?.preview ?? []} total={view?.usable ?? null} fields={Object.keys(ds.mapping)} />
    </>
  );
}

function ReportCard({ skipped }: { skipped: Array<{ line: number; reason: string; stage: 'parse' | 'mapping' }> }) {
  const [all, setAll] = useState(false);
  const shown = all ? skipped : skipped.slice(0, 8);
  return (
    <section className="card" aria-labelledby="report-title" data-testid="validation-report">
      <div className="card-head">
        <h2 id="report-title">Validation report</h2>
        <span className={skipped.length ? 'pill pill-busy' : 'pill pill-ok'}>{skipped.length ? `${skipped.length} rows skipped` : 'every row is usable'}</span>
      </div>
      {skipped.length > 0 && (
        <>
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col" className="num">
                  Line
                </th>
                <th scope="col">Stage</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((s, i) => (
                <tr key={`${s.stage}-${s.line}-${i}`} data-testid="skipped-row">
                  <td className="num mono">{s.line}</td>
                  <td className="muted">{s.stage}</td>
                  <td>{s.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {skipped.length > shown.length && (
            <button type="button" className="link" onClick={() => setAll(true)}>
              Show all {skipped.length}
            </button>
          )}
        </>
      )}
    </section>
  );
}

function MappingCard({ ds, error }: { ds: StoredDataset; error: string | null }) {
  const entries = Object.entries(ds.mapping);
  const [newField, setNewField] = useState('');
  const update = (mapping: Record<string, string>, numeric = ds.numeric) => dataStore.getState().update(ds.id, { mapping, numeric: numeric.filter((f) => f in mapping) });
  const renameField = (from: string, to: string) => {
    if (from === to || !isFieldName(to) || to in ds.mapping) return;
    update(Object.fromEntries(entries.map(([f, c]) => [f === from ? to : f, c])), ds.numeric.map((f) => (f === from ? to : f)));
  };
  return (
    <section className="card" aria-labelledby="map-title">
      <div className="card-head">
        <h2 id="map-title">Template fields</h2>
      </div>
      <p className="hint tight">Each template field {'{name}'} reads one column. Numeric fields skip rows that are not numbers.</p>
      <table className="table compact mapping" data-testid="field-mapping">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Column</th>
            <th scope="col" title="Skip rows whose value is not a number">
              Number
            </th>
            <th />
          </tr>
        </thead>
        <tbody>
          {entries.map(([field, column]) => (
            <tr key={field}>
              <td>
                <FieldNameInput value={field} onCommit={(v) => renameField(field, v)} taken={(v) => v !== field && v in ds.mapping} />
              </td>
              <td>
                <select aria-label={`Column for {${field}}`} value={column} onChange={(e) => update({ ...ds.mapping, [field]: e.target.value })}>
                  {ds.columns.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
              </td>
              <td className="center">
                <input
                  type="checkbox"
                  aria-label={`{${field}} must be a number`}
                  checked={ds.numeric.includes(field)}
                  onChange={(e) => update(ds.mapping, e.target.checked ? [...ds.numeric, field] : ds.numeric.filter((f) => f !== field))}
                />
              </td>
              <td>
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Remove field ${field}`}
                  title="Remove"
                  onClick={() => update(Object.fromEntries(entries.filter(([f]) => f !== field)))}
                >
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const f = newField.trim();
          if (!isFieldName(f) || f in ds.mapping || !ds.columns[0]) return;
          update({ ...ds.mapping, [f]: ds.columns[0] });
          setNewField('');
        }}
      >
        <input type="text" aria-label="New field name" placeholder="new field, e.g. output" value={newField} onChange={(e) => setNewField(e.target.value)} />
        <button type="submit" disabled={!isFieldName(newField.trim()) || newField.trim() in ds.mapping}>
          Add field
        </button>
      </form>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function FieldNameInput({ value, onCommit, taken }: { value: string; onCommit(v: string): void; taken(v: string): boolean }) {
  const [text, setText] = useState(value);
  const bad = !isFieldName(text) || taken(text);
  return (
    <input
      type="text"
      className={bad ? 'mono invalid' : 'mono'}
      aria-label={`Field name ${value}`}
      aria-invalid={bad || undefined}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={() => (bad ? setText(value) : onCommit(text))}
      onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
    />
  );
}

function SplitCard({ ds, error }: { ds: StoredDataset; error: string | null }) {
  const set = (patch: Partial<StoredDataset['split']>) => dataStore.getState().update(ds.id, { split: { ...ds.split, ...patch } });
  return (
    <section className="card" aria-labelledby="split-title">
      <div className="card-head">
        <h2 id="split-title">Split</h2>
      </div>
      <p className="hint tight">Seeded: the same seed gives the same split everywhere. Training uses train + validation; the matrix evaluates on test.</p>
      <div className="options three">
        <NumberField label="Train" value={ds.split.train} min={0} max={1} step={0.05} onChange={(v) => v !== null && set({ train: v })} />
        <NumberField label="Validation" value={ds.split.validation} min={0} max={1} step={0.05} onChange={(v) => v !== null && set({ validation: v })} />
        <NumberField label="Test" value={ds.split.test} min={0} max={1} step={0.05} onChange={(v) => v !== null && set({ test: v })} />
        <NumberField label="Seed" value={ds.split.seed} min={0} step={1} integer onChange={(v) => v !== null && set({ seed: v })} />
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** `rows`: the first mapped rows (PREVIEW_ROWS); `total`: how many there are (null: still being checked). */
function PreviewCard({ ds, rows, total, fields }: { ds: StoredDataset; rows: Array<Record<string, string>>; total: number | null; fields: string[] }) {
  const [raw, setRaw] = useState(false);
  const cols = raw ? ds.columns : fields;
  const data = raw ? ds.rows : rows;
  const count = raw ? ds.rows.length : total;
  return (
    <section className="card" aria-labelledby="preview-title">
      <div className="card-head">
        <h2 id="preview-title">Preview</h2>
        <div className="tabs" role="tablist" aria-label="Preview of">
          <button type="button" role="tab" className={raw ? 'tab' : 'tab active'} aria-selected={!raw} onClick={() => setRaw(false)}>
            Fields
          </button>
          <button type="button" role="tab" className={raw ? 'tab active' : 'tab'} aria-selected={raw} onClick={() => setRaw(true)}>
            Columns
          </button>
        </div>
      </div>
      <div className="table-scroll">
        <table className="table compact preview" data-testid="preview-table">
          <thead>
            <tr>
              <th scope="col" className="num">
                #
              </th>
              {cols.map((c) => (
                <th key={c} scope="col">
                  {raw ? c : `{${c}}`}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.slice(0, PREVIEW_ROWS).map((r, i) => (
              <tr key={i}>
                <td className="num muted">{i + 1}</td>
                {cols.map((c) => (
                  <td key={c} className="cell-text" title={r[c]}>
                    {r[c]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {count !== null && count > PREVIEW_ROWS && <p className="hint">First {PREVIEW_ROWS} of {formatInt(count)} rows.</p>}
      {count === null && <p className="hint">The mapped rows appear once the mapping is checked.</p>}
    </section>
  );
}
