import type { MemoryReport } from '../../model/api';
import { modelStore, useModel } from '../../state/app';
import { formatBytes, formatInt, formatMs } from '../format';

const MEMORY: Array<{ key: Exclude<keyof MemoryReport, 'total'>; label: string }> = [
  { key: 'weights', label: 'Weights' },
  { key: 'kv', label: 'KV cache' },
  { key: 'scratch', label: 'Scratch' },
  { key: 'train', label: 'Training' },
];

export function SummaryCard() {
  const model = useModel((s) => s.model);
  if (!model) return null;
  const c = model.config;
  const mem = model.memory;
  const total = mem.total || MEMORY.reduce((a, m) => a + mem[m.key], 0);

  return (
    <section className="card" aria-labelledby="summary-title" data-testid="model-summary">
      <div className="card-head">
        <h2 id="summary-title">
          {model.name} <span className="tag">{c.arch}</span>
        </h2>
        <div className="actions">
          <button type="button" onClick={() => void modelStore.getState().unload()}>
            Unload
          </button>
          <a className="button primary" href="#/generate">
            Generate →
          </a>
        </div>
      </div>
      <div className="summary-grid">
        <dl className="kv" aria-label="Architecture">
          <dt>Architecture</dt>
          <dd>{c.arch}</dd>
          <dt>Model dim</dt>
          <dd>{formatInt(c.dModel)}</dd>
          <dt>Layers</dt>
          <dd>{formatInt(c.nLayers)}</dd>
          <dt>Heads (KV)</dt>
          <dd>
            {c.nHeads} ({c.nKvHeads}) × {c.headDim}
          </dd>
          <dt>FFN dim</dt>
          <dd>{formatInt(c.dFF)}</dd>
          <dt>Vocabulary</dt>
          <dd>{formatInt(c.vocabSize)}</dd>
          <dt>Context</dt>
          <dd>{formatInt(c.maxSeqLen)}</dd>
          <dt>RoPE</dt>
          <dd>
            {c.ropeStyle}, θ = {formatInt(c.ropeTheta)}
            {c.ropeScale !== 1 ? `, scale ${c.ropeScale}` : ''}
          </dd>
          <dt>Embeddings</dt>
          <dd>{c.tiedEmbeddings ? 'tied' : 'separate LM head'}</dd>
          <dt>Load time</dt>
          <dd>{formatMs(model.loadMs)}</dd>
        </dl>
        <div className="memory" aria-label="GPU memory">
          <h3>GPU memory · {formatBytes(total)}</h3>
          <div className="membar" aria-hidden="true">
            {MEMORY.map((m) =>
              mem[m.key] > 0 ? (
                <div key={m.key} className={`membar-seg mem-${m.key}`} style={{ flexGrow: mem[m.key] }} title={`${m.label}: ${formatBytes(mem[m.key])}`} />
              ) : null,
            )}
          </div>
          <table className="memtable">
            <tbody>
              {MEMORY.map((m) => (
                <tr key={m.key}>
                  <th scope="row">
                    <span className={`swatch mem-${m.key}`} aria-hidden="true" />
                    {m.label}
                  </th>
                  <td className="num">{formatBytes(mem[m.key])}</td>
                  <td className="num muted">{total > 0 ? `${((mem[m.key] / total) * 100).toFixed(1)}%` : ''}</td>
                </tr>
              ))}
              <tr className="total">
                <th scope="row">Total</th>
                <td className="num">{formatBytes(total)}</td>
                <td />
              </tr>
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
