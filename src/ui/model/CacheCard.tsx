import { modelCacheStore, useModelCache } from '../../state/app';
import { formatBytes } from '../format';

/** Model files kept in the browser's Cache API (URL loads are cache-first). */
export function CacheCard() {
  const entries = useModelCache((s) => s.entries);
  const status = useModelCache((s) => s.status);
  const error = useModelCache((s) => s.error);
  const c = modelCacheStore.getState();
  const total = entries.reduce((s, e) => s + e.size, 0);
  return (
    <section className="card" aria-labelledby="cache-title" data-testid="model-cache">
      <div className="card-head">
        <h2 id="cache-title">Cached models</h2>
        <div className="actions">
          <button type="button" className="link" onClick={() => void c.refresh()} disabled={status === 'loading'}>
            Refresh
          </button>
          {entries.length > 1 && (
            <button type="button" className="link" onClick={() => void c.clear()}>
              Delete all
            </button>
          )}
        </div>
      </div>
      {error && <p className="inline-error">{error}</p>}
      {entries.length === 0 ? (
        <p className="muted">Files loaded from a URL are kept here, so the next load is from disk (and works offline).</p>
      ) : (
        <>
          <ul className="cache-list">
            {entries.map((e) => (
              <li key={e.url} data-testid="cached-model">
                <div className="cache-text">
                  <span className="pick-name" title={e.url}>
                    {e.name}
                  </span>
                  <span className="pick-meta">
                    {formatBytes(e.size)}
                    {e.cachedAt ? ` · ${new Date(e.cachedAt).toLocaleDateString()}` : ''}
                  </span>
                </div>
                <button type="button" className="icon-button" aria-label={`Delete cached ${e.name}`} title="Delete from the cache" onClick={() => void c.remove(e.url)}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <p className="hint">
            {entries.length} file{entries.length === 1 ? '' : 's'}, {formatBytes(total)}
          </p>
        </>
      )}
    </section>
  );
}
