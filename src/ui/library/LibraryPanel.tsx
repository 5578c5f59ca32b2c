import { Fragment, useMemo, useState } from 'react';
import { libraryStore, useLibrary, useModel } from '../../state/app';
import type { TrainingRecord } from '../../tags/tag';
import type { HeadSummary, TagSummary } from '../../worker/protocol';
import { Dialog } from '../common/Dialog';
import { downloadBytes, downloadText } from '../common/download';
import { FileDrop } from '../common/FileDrop';
import { TagChip } from '../common/TagChip';
import { formatInt } from '../format';
import { TrainingDetails } from './Provenance';

function fmtMetric(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
}

export function LibraryPanel() {
  const summary = useLibrary((s) => s.summary);
  const fingerprint = useLibrary((s) => s.fingerprint);
  const pending = useLibrary((s) => s.pendingImport);
  const lastImport = useLibrary((s) => s.lastImport);
  const importError = useLibrary((s) => s.importError);
  const model = useModel((s) => s.model);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const lib = libraryStore.getState();
  const tagNames = useMemo(() => new Set(summary.tags.map((t) => t.name)), [summary.tags]);
  const sel = [...selected].filter((n) => tagNames.has(n));
  const orphanHeads = summary.heads.filter((h) => !tagNames.has(h.name));

  const [format, setFormat] = useState<'json' | 'safetensors'>('json');
  const [peftUrl, setPeftUrl] = useState('');
  const doExport = async (selection?: { tags: string[] }) => {
    if (format === 'safetensors') {
      const r = await lib.exportFiles({ format: 'safetensors', selection });
      if (r) downloadBytes(r.bytes, r.fileName, 'application/zip');
      return;
    }
    const r = await lib.exportJson(selection);
    if (r) downloadText(r.json, r.fileName);
  };

  return (
    <div className="stack">
      <section className="card" aria-labelledby="lib-title">
        <div className="card-head">
          <h2 id="lib-title">
            Tag library <span className="muted normal">· {summary.tags.length} tags, {summary.heads.length} heads, {summary.adapters.length} adapters</span>
          </h2>
          <div className="actions">
            <select aria-label="Export format" value={format} onChange={(e) => setFormat(e.target.value as 'json' | 'safetensors')} data-testid="export-format">
              <option value="json">JSON (workbench library)</option>
              <option value="safetensors">safetensors (tags + heads, for Python)</option>
            </select>
            <button type="button" onClick={() => void doExport({ tags: sel })} disabled={sel.length === 0} data-testid="export-selected">
              Export selected ({sel.length})
            </button>
            <button type="button" className="primary" onClick={() => void doExport()} disabled={summary.tags.length + summary.heads.length + summary.adapters.length === 0} data-testid="export-all">
              Export all
            </button>
          </div>
        </div>
        {summary.tags.length === 0 ? (
          <p className="muted">No tags yet. Train one in the Train panel, or import a library file below.</p>
        ) : (
          <div className="table-scroll">
            <table className="table library" data-testid="library-tags">
              <thead>
                <tr>
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select all tags"
                      checked={sel.length === summary.tags.length && sel.length > 0}
                      onChange={(e) => setSelected(e.target.checked ? new Set(tagNames) : new Set())}
                    />
                  </th>
                  <th scope="col">Tag</th>
                  <th scope="col">Shape</th>
                  <th scope="col">Trained</th>
                  <th scope="col">Metrics</th>
                  <th scope="col">Model</th>
                  <th scope="col">Head</th>
                  <th scope="col" className="right">
                    Actions
                  </th>
                </tr>
              </thead>
              <tbody>
                {summary.tags.map((t) => (
                  <TagRow
                    key={t.id}
                    t={t}
                    checked={selected.has(t.name)}
                    onCheck={(on) => {
                      const next = new Set(selected);
                      if (on) next.add(t.name);
                      else next.delete(t.name);
                      setSelected(next);
                    }}
                    fingerprint={fingerprint}
                    modelD={model?.config.dModel ?? null}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <div className="two-col">
        <section className="card" aria-labelledby="import-lib-title">
          <div className="card-head">
            <h2 id="import-lib-title">Import</h2>
          </div>
          <FileDrop
            label="Drop a library file (.json), a PEFT adapter or tags.safetensors, or choose them"
            accept=".json,.zip,.safetensors,application/json,application/zip"
            multiple
            onFiles={async (files) => {
              const f = files[0]!;
              if (files.length === 1 && /\.json$/i.test(f.name) && f.name !== 'adapter_config.json' && f.name !== 'tags.json') {
                void lib.importText(await f.text(), f.name);
                return;
              }
              void lib.importFiles(await Promise.all(files.map(async (x) => ({ name: x.name, bytes: new Uint8Array(await x.arrayBuffer()) }))));
            }}
            testId="library-import"
          >
            A PEFT adapter is <code>adapter_config.json</code> + <code>adapter_model.safetensors</code> (both at once) or a zip of them;
            tags come as <code>tags.safetensors</code> + <code>tags.json</code> or their zip. Items made for another d_model are refused;
            tags trained on another embedding table ask first.
          </FileDrop>
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (peftUrl.trim()) void lib.importUrl(peftUrl);
            }}
          >
            <input
              type="url"
              aria-label="PEFT adapter URL"
              placeholder="https://huggingface.co/<owner>/<adapter>"
              value={peftUrl}
              onChange={(e) => setPeftUrl(e.target.value)}
              data-testid="peft-url"
            />
            <button type="submit" className="small" disabled={!model || !peftUrl.trim()}>
              Import adapter
            </button>
          </form>
          {!model && <p className="hint">Load a model first: imports are checked against it.</p>}
          {importError && (
            <p className="inline-error" role="alert" data-testid="import-error">
              {importError}
            </p>
          )}
          {lastImport && (
            <div className="callout ok" data-testid="import-result">
              Imported {lastImport.fileName}: {lastImport.added.join(', ') || 'nothing new'}.
              {lastImport.alreadyPresent.length > 0 && <> Already in the library (not added again): {lastImport.alreadyPresent.join(', ')}.</>}
              {lastImport.renamed.length > 0 && <> Renamed to avoid clashes: {lastImport.renamed.join(', ')}.</>}
              {lastImport.warnings.map((w) => (
                <p key={w} className="muted small">
                  {w}
                </p>
              ))}
            </div>
          )}
        </section>
        <section className="card" aria-labelledby="other-title">
          <div className="card-head">
            <h2 id="other-title">Heads without a tag, and LoRA adapters</h2>
          </div>
          {orphanHeads.length === 0 && summary.adapters.length === 0 ? (
            <p className="muted">None. (Linear-probe heads and LoRA adapters from the baselines appear here.)</p>
          ) : (
            <table className="table compact">
              <tbody>
                {orphanHeads.map((h) => (
                  <HeadRow key={h.id} h={h} />
                ))}
                {summary.adapters.map((a) => (
                  <AdapterRow key={a.id} name={a.name} text={`LoRA r ${a.rank}, α ${a.alpha}, ${a.targets.join(' ')} × ${a.layers} layers, ${formatInt(a.params)} params`} training={a.training} />
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>

      {pending && (
        <Dialog
          title={`Import ${pending.fileName}?`}
          tone="warning"
          onClose={() => lib.cancelImport()}
          actions={
            pending.conflicts ? (
              <>
                <button type="button" onClick={() => lib.cancelImport()}>
                  Cancel
                </button>
                <button type="button" onClick={() => void lib.confirmImport('rename')} data-testid="import-keep-both">
                  Keep both (rename the imported)
                </button>
                <button type="button" className="danger" onClick={() => void lib.confirmImport('replace')} data-testid="import-replace">
                  Replace
                </button>
              </>
            ) : (
              <>
                <button type="button" onClick={() => lib.cancelImport()}>
                  Cancel
                </button>
                <button type="button" className="primary" onClick={() => void lib.confirmImport()} data-testid="confirm-import">
                  Import anyway
                </button>
              </>
            )
          }
        >
          {pending.conflicts ? (
            <div data-testid="import-conflicts">
              <p>These tags differ from the library's tag of the same {pending.conflicts.every((c) => c.sameId) ? 'id' : 'id or name'}:</p>
              <ul>
                {pending.conflicts.map((c) => (
                  <li key={c.name}>
                    &lt;{c.name}&gt; {c.sameId ? `is a changed version of <${c.existing}> (same id)` : `has the name of another tag <${c.existing}>`}
                  </li>
                ))}
              </ul>
            </div>
          ) : (
            <p>{pending.warning}</p>
          )}
        </Dialog>
      )}
    </div>
  );
}

function headText(h: HeadSummary): string {
  if (h.kind === 'classification') return `classification, ${h.k} classes${h.classes ? ` (${h.classes.join(', ')})` : ''}`;
  return `regression (label mean ${h.labelMean[0]?.toPrecision(3)}, std ${h.labelStd[0]?.toPrecision(3)})`;
}

function TagRow({ t, checked, onCheck, fingerprint, modelD }: { t: TagSummary; checked: boolean; onCheck(on: boolean): void; fingerprint: string | null; modelD: number | null }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(t.name);
  const [open, setOpen] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const lib = libraryStore.getState();
  const p = t.provenance;
  const match = modelD === null ? null : t.d !== modelD ? 'width' : fingerprint && p.embeddingFingerprint === fingerprint ? 'same' : fingerprint ? 'other' : null;
  const metrics = Object.entries(p.metrics).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
  return (
    <Fragment>
      <tr data-testid={`library-row-${t.name}`}>
        <td>
          <input type="checkbox" aria-label={`Select <${t.name}>`} checked={checked} onChange={(e) => onCheck(e.target.checked)} />
        </td>
        <td>
          {renaming ? (
            <form
              className="inline-form"
              onSubmit={async (e) => {
                e.preventDefault();
                if (await lib.rename('tag', t.name, name)) setRenaming(false);
              }}
            >
              <input type="text" className="mono" aria-label={`New name for <${t.name}>`} value={name} onChange={(e) => setName(e.target.value)} autoFocus />
              <button type="submit" className="primary small">
                Save
              </button>
              <button type="button" className="small" onClick={() => setRenaming(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <button type="button" className="plain" onClick={() => setOpen(!open)} aria-expanded={open} title="Show provenance" data-testid={`library-details-${t.name}`}>
              <TagChip name={t.name} kind={t.kind} badge={t.head ? 'ƒ' : undefined} /> <span className="muted small">{t.kind}</span>
            </button>
          )}
        </td>
        <td className="mono">
          {t.p} × {formatInt(t.d)}
        </td>
        <td className="nowrap">
          <span className="tag">{p.stage}</span> {p.steps ? `${formatInt(p.steps)} steps` : ''}
          {p.dataset && <div className="muted small">{p.dataset}</div>}
        </td>
        <td className="small">{metrics.length ? metrics.map(([k, v]) => `${k} ${fmtMetric(v)}`).join(' · ') : <span className="muted">—</span>}</td>
        <td className="small">
          <span title={`fingerprint ${p.embeddingFingerprint}`}>{p.modelName.split('/').pop() || '—'}</span>
          {match === 'same' && <span className="pill pill-ok tiny"> ✓ loaded model</span>}
          {match === 'other' && <span className="pill pill-busy tiny"> other embeddings</span>}
          {match === 'width' && <span className="pill pill-bad tiny"> other width</span>}
        </td>
        <td className="small">{t.head ? headText(t.head) : <span className="muted">—</span>}</td>
        <td className="right nowrap">
          {confirmDelete ? (
            <>
              <button type="button" className="danger small" onClick={() => void lib.remove('tag', t.name)} data-testid={`confirm-delete-${t.name}`}>
                Delete {t.head ? 'tag + head' : 'tag'}
              </button>
              <button type="button" className="small" onClick={() => setConfirmDelete(false)}>
                Keep
              </button>
            </>
          ) : (
            <>
              <DetailsButton open={open} onToggle={() => setOpen(!open)} testId={`provenance-toggle-${t.name}`} />
              <button
                type="button"
                className="small"
                onClick={() => {
                  setName(t.name);
                  setRenaming(true);
                }}
              >
                Rename
              </button>
              <button type="button" className="danger small" onClick={() => setConfirmDelete(true)} data-testid={`delete-${t.name}`}>
                Delete
              </button>
            </>
          )}
        </td>
      </tr>
      {open && (
        <tr className="detail-row">
          <td />
          <td colSpan={7}>
            <dl className="kv small">
              <dt>Id</dt>
              <dd className="mono">{t.id}</dd>
              <dt>Model</dt>
              <dd>
                {p.modelName} ({p.modelArch}, d_model {p.dModel}, vocabulary {formatInt(p.vocabSize)})
              </dd>
              <dt>Embedding fingerprint</dt>
              <dd className="mono">{p.embeddingFingerprint || '—'}</dd>
              <dt>Stage</dt>
              <dd>
                {p.stage}, {p.steps} steps
              </dd>
              <dt>Dataset</dt>
              <dd>{p.dataset || '—'}</dd>
              <dt>Created</dt>
              <dd>{new Date(p.created).toLocaleString()}</dd>
              <dt>Mean row norm</dt>
              <dd>{t.meanNorm.toFixed(4)}</dd>
              {p.notes && (
                <>
                  <dt>Notes</dt>
                  <dd className="pre">{p.notes}</dd>
                </>
              )}
              {t.head && (
                <>
                  <dt>Head</dt>
                  <dd>{headText(t.head)}</dd>
                </>
              )}
            </dl>
            <h4 className="prov-title">How it was trained{t.head ? ' (tag and head)' : ''}</h4>
            <TrainingDetails training={p.training} testId={`provenance-${t.name}`} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** The Details / Hide details toggle of a library row. */
function DetailsButton({ open, onToggle, testId }: { open: boolean; onToggle: () => void; testId: string }) {
  return (
    <button type="button" className="small" onClick={onToggle} aria-expanded={open} data-testid={testId}>
      {open ? 'Hide details' : 'Details'}
    </button>
  );
}

/** A head's or adapter's provenance, spanning its row's three columns. */
function TrainingDetailRow({ training, testId }: { training?: TrainingRecord; testId: string }) {
  return (
    <tr className="detail-row">
      <td colSpan={3}>
        <TrainingDetails training={training} testId={testId} />
      </td>
    </tr>
  );
}

function HeadRow({ h }: { h: HeadSummary }) {
  const [open, setOpen] = useState(false);
  const lib = libraryStore.getState();
  return (
    <Fragment>
      <tr>
        <td>
          head <strong>{h.name}</strong>
        </td>
        <td className="muted">{headText(h)}</td>
        <td className="right nowrap">
          <DetailsButton open={open} onToggle={() => setOpen(!open)} testId={`provenance-toggle-head-${h.name}`} />
          <button type="button" className="danger small" onClick={() => void lib.remove('head', h.name)}>
            Delete
          </button>
        </td>
      </tr>
      {open && <TrainingDetailRow training={h.training} testId={`provenance-head-${h.name}`} />}
    </Fragment>
  );
}

function AdapterRow({ name, text, training }: { name: string; text: string; training?: TrainingRecord }) {
  const [renaming, setRenaming] = useState(false);
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState(name);
  const lib = libraryStore.getState();
  return (
    <Fragment>
      <tr>
        <td>
          {renaming ? (
            <form
              className="inline-form"
              onSubmit={async (e) => {
                e.preventDefault();
                if (await lib.rename('adapter', name, value)) setRenaming(false);
              }}
            >
              <input type="text" aria-label={`New name for adapter ${name}`} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
              <button type="submit" className="primary small">
                Save
              </button>
            </form>
          ) : (
            <>
              adapter <strong>{name}</strong>
            </>
          )}
        </td>
        <td className="muted">{text}</td>
        <td className="right nowrap">
          <DetailsButton open={open} onToggle={() => setOpen(!open)} testId={`provenance-toggle-adapter-${name}`} />
          <button type="button" className="small" onClick={() => setRenaming(!renaming)}>
            Rename
          </button>
          <button
            type="button"
            className="small"
            title="adapter_config.json + adapter_model.safetensors (Hugging Face PEFT, vLLM, TGI), zipped"
            onClick={async () => {
              const r = await lib.exportFiles({ format: 'peft', adapter: name });
              if (r) downloadBytes(r.bytes, r.fileName, 'application/zip');
            }}
            data-testid={`export-peft-${name}`}
          >
            Export PEFT
          </button>
          <button type="button" className="danger small" onClick={() => void lib.remove('adapter', name)}>
            Delete
          </button>
        </td>
      </tr>
      {open && <TrainingDetailRow training={training} testId={`provenance-adapter-${name}`} />}
    </Fragment>
  );
}
