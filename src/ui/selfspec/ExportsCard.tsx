import { useEffect, useState } from 'react';
import { exportableFiles, tableCsv } from '../../state/selfspec';
import type { EvalTable } from '../../selfspec/evaluate';
import { downloadText } from '../common/download';
import { selfspecStore, useSelfSpec } from './store';

const TYPE: Record<string, string> = { jsonl: 'application/x-ndjson', library: 'application/json', table: 'text/plain', other: 'application/json' };

/** The run's files (instructions / responses JSONL, tag libraries, the table) to download, and the table as CSV. */
export function ExportsCard() {
  const runId = useSelfSpec((s) => s.runId);
  const name = useSelfSpec((s) => s.runName);
  const status = useSelfSpec((s) => s.status);
  const responsesDone = useSelfSpec((s) => s.view.responsesDone);
  const trainDone = useSelfSpec((s) => s.view.train.filter((t) => t.library).length);
  const cells = useSelfSpec((s) => s.view.cells.length);
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!runId) return setNames([]);
    let live = true;
    // The list follows the run: reread it when a stage writes a new kind of file.
    void selfspecStore
      .getState()
      .files()
      .then((f) => live && setNames(Object.keys(f)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [runId, status, responsesDone > 0, trainDone, cells > 0]);
  if (!runId) return null;
  const base = (name ?? runId).replace(/[^A-Za-z0-9._-]+/g, '-');
  const download = async (file: string, kind: string) => {
    const f = await selfspecStore.getState().files([file]);
    if (f[file] !== undefined) downloadText(f[file], `${base}.${file.replace(/\//g, '.')}`, TYPE[kind]);
  };
  const csv = async () => {
    const f = await selfspecStore.getState().files(['eval.json']);
    if (f['eval.json']) downloadText(tableCsv(JSON.parse(f['eval.json']) as EvalTable), `${base}.eval.csv`, 'text/csv');
  };
  const list = exportableFiles(names);
  return (
    <section className="card" aria-labelledby="ss-exports-title" data-testid="ss-exports">
      <div className="card-head">
        <h2 id="ss-exports-title">Files</h2>
        <div className="actions">
          <button type="button" onClick={() => void csv()} disabled={!names.includes('eval.json')} data-testid="ss-export-csv">
            Table as CSV
          </button>
        </div>
      </div>
      {list.length === 0 ? (
        <p className="muted">The run's files appear here as it writes them.</p>
      ) : (
        <ul className="ss-files">
          {list.map((f) => (
            <li key={f.name}>
              <button type="button" className="link" onClick={() => void download(f.name, f.kind)} data-testid="ss-file" data-name={f.name}>
                {f.name}
              </button>{' '}
              <span className="muted small">{f.kind === 'jsonl' ? 'JSON lines' : f.kind === 'library' ? 'tag library (import it in the Library panel)' : f.kind === 'table' ? 'table' : ''}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
