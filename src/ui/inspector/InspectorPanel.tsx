import { useEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
import { showToken } from '../format';
import { Bar, BarChart, CartesianGrid, Legend, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis, ZAxis } from 'recharts';
import { inspectorStore, useInspector, useLibrary, useModel } from '../../state/app';
import { attentionLayer } from '../../state/inspector';
import type { AttentionReply, InspectReply } from '../../worker/protocol';
import { ChartExport } from '../common/ChartExport';
import { TagChip } from '../common/TagChip';
import { NumberField } from '../NumberField';

const PCA_COLORS = ['#0f766e', '#6d28d9', '#c2410c', '#be123c', '#0369a1', '#4d7c0f'];

export function InspectorPanel() {
  const tags = useLibrary((s) => s.summary.tags);
  const tag = useInspector((s) => s.tag);
  const status = useInspector((s) => s.status);
  const data = useInspector((s) => s.data);
  const error = useInspector((s) => s.error);
  const model = useModel((s) => s.model);
  const neighbours = useInspector((s) => s.neighbours);
  const sample = useInspector((s) => s.sample);
  const ins = inspectorStore.getState();

  return (
    <div className="stack">
      <div className="panel-grid">
        <div className="col">
          {!model && (
            <div className="callout" role="status">
              No model is loaded. <a href="#/model">Load one</a>: the inspector compares tags with the model's vocabulary.
            </div>
          )}
          {status === 'error' && (
            <p className="inline-error card" role="alert">
              {error}
            </p>
          )}
          {data && tag === data.name ? (
            <>
              <NormsCard data={data} />
              <PcaCard data={data} />
              <NearestCard data={data} />
            </>
          ) : (
            status !== 'error' && (
              <section className="card empty-card">
                <h2>{status === 'running' ? `Inspecting <${tag}>…` : 'Pick a tag'}</h2>
                <p className="muted">Row norms against the vocabulary's, the nearest vocabulary tokens of each row (cosine), and a 2-D PCA of the tag's rows among vocabulary embeddings.</p>
              </section>
            )
          )}
        </div>
        <div className="col col-side">
          <section className="card" aria-labelledby="itag-title">
            <div className="card-head">
              <h2 id="itag-title">Tag</h2>
              {status === 'running' && <span className="pill pill-busy">working…</span>}
            </div>
            {tags.length === 0 ? (
              <p className="muted">The library is empty.</p>
            ) : (
              <ul className="pick-list" aria-label="Tags">
                {tags.map((t) => (
                  <li key={t.id}>
                    <button type="button" className={t.name === tag ? 'pick active' : 'pick'} aria-pressed={t.name === tag} disabled={!model} onClick={() => void ins.inspect(t.name)}>
                      <TagChip name={t.name} kind={t.kind} small />
                      <span className="pick-meta">
                        {t.p} × {t.d} · {t.provenance.stage}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            )}
            <div className="options inspector-options">
              <NumberField label="Nearest tokens" value={neighbours} min={1} max={50} step={1} integer onChange={(v) => v !== null && ins.setOptions({ neighbours: v })} />
              <NumberField label="Vocabulary sample" value={sample} min={10} max={5000} step={50} integer hint="points in the PCA" onChange={(v) => v !== null && ins.setOptions({ sample: v })} />
            </div>
          </section>
        </div>
      </div>
      <AttentionCard />
    </div>
  );
}

function NormsCard({ data }: { data: InspectReply }) {
  const rows = data.rowNorms.map((n, i) => ({ row: `${i}`, norm: n }));
  const chart = useRef<HTMLDivElement>(null);
  const csvRows = useMemo(() => data.rowNorms.map((n, i) => ({ row: i, norm: n, vocab_mean: data.vocabNorm.mean })), [data]);
  return (
    <section className="card" aria-labelledby="norms-title" data-testid="inspector-norms">
      <div className="card-head">
        <h2 id="norms-title">
          Row norms of <TagChip name={data.name} kind={data.kind} small />
        </h2>
        <span className="muted">
          vocabulary: mean {data.vocabNorm.mean.toFixed(3)} (min {data.vocabNorm.min.toFixed(3)}, max {data.vocabNorm.max.toFixed(3)})
        </span>
        <ChartExport target={chart} title={`Row norms of ${data.name}`} rows={csvRows} />
      </div>
      <div ref={chart}>
        <ResponsiveContainer width="100%" height={180}>
          <BarChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: -8 }}>
            <CartesianGrid stroke="#eef0f3" vertical={false} />
            <XAxis dataKey="row" tick={{ fontSize: 11 }} />
            <YAxis tick={{ fontSize: 11 }} width={52} />
            <Tooltip formatter={(v) => Number(v).toFixed(4)} labelFormatter={(r) => `row ${r}`} />
            <ReferenceLine y={data.vocabNorm.mean} stroke="#b7791f" strokeDasharray="4 3" label={{ value: 'vocab mean', fontSize: 11, fill: '#b7791f', position: 'insideTopRight' }} />
            <Bar dataKey="norm" fill={data.kind === 'domain' ? '#0f766e' : '#6d28d9'} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </section>
  );
}

function PcaCard({ data }: { data: InspectReply }) {
  const vocab = useMemo(() => data.pca.points.filter((p) => !p.tag), [data]);
  const allTags = useLibrary((s) => s.summary.tags);
  const withTags = useInspector((s) => s.withTags);
  const groups = useMemo(() => {
    const by = new Map<string, typeof data.pca.points>();
    for (const p of data.pca.points) if (p.tag) by.set(p.tagName ?? data.name, [...(by.get(p.tagName ?? data.name) ?? []), p]);
    return [...by.entries()];
  }, [data]);
  const chart = useRef<HTMLDivElement>(null);
  const csvRows = useMemo(() => data.pca.points.map((p) => ({ group: p.tag ? `<${p.tagName ?? data.name}>` : 'vocabulary', label: p.label, pc1: p.x, pc2: p.y })), [data]);
  return (
    <section className="card" aria-labelledby="pca-title" data-testid="inspector-pca">
      <div className="card-head">
        <h2 id="pca-title">PCA of tag rows among the vocabulary</h2>
        <span className="muted">
          PC1 {(data.pca.explained[0] * 100).toFixed(1)}% · PC2 {(data.pca.explained[1] * 100).toFixed(1)}% of variance
        </span>
        <ChartExport target={chart} title={`PCA of ${data.name}`} rows={csvRows} columns={['group', 'label', 'pc1', 'pc2']} />
      </div>
      <div ref={chart}>
        <ResponsiveContainer width="100%" height={300}>
          <ScatterChart margin={{ top: 8, right: 16, bottom: 8, left: -8 }}>
            <CartesianGrid stroke="#eef0f3" />
            <XAxis type="number" dataKey="x" name="PC1" tick={{ fontSize: 11 }} tickFormatter={(v) => Number(v).toFixed(2)} />
            <YAxis type="number" dataKey="y" name="PC2" tick={{ fontSize: 11 }} width={52} tickFormatter={(v) => Number(v).toFixed(2)} />
            <ZAxis range={[18, 18]} />
            <Tooltip
              cursor={{ strokeDasharray: '3 3' }}
              content={({ payload }) => {
                const p = payload?.[0]?.payload as { label: string; x: number; y: number } | undefined;
                return p ? (
                  <div className="chart-tip">
                    <strong>{p.label}</strong>
                    <br />({p.x.toFixed(3)}, {p.y.toFixed(3)})
                  </div>
                ) : null;
              }}
            />
            <Scatter name="vocabulary" data={vocab} fill="#9aa4b2" fillOpacity={0.55} isAnimationActive={false} />
            {groups.map(([name, pts], i) => (
              <Scatter key={name} name={`<${name}>`} data={pts} fill={PCA_COLORS[i % PCA_COLORS.length]} shape={i === 0 ? 'diamond' : 'triangle'} isAnimationActive={false} />
            ))}
            {groups.length > 1 && <Legend />}
          </ScatterChart>
        </ResponsiveContainer>
      </div>
      <div className="pca-with" role="group" aria-label="Tags in the PCA">
        <span className="muted small">Also in this PCA:</span>
        {allTags
          .filter((t) => t.name !== data.name)
          .map((t) => (
            <label key={t.id} className="chart-toggle">
              <input
                type="checkbox"
                checked={withTags.includes(t.name)}
                onChange={(e) => inspectorStore.getState().setOptions({ withTags: e.target.checked ? [...withTags, t.name] : withTags.filter((x) => x !== t.name) })}
              />
              ‹{t.name}›
            </label>
          ))}
      </div>
      <p className="hint">
        Grey: {vocab.length} vocabulary embeddings (evenly spaced ids). Coloured: the rows of {groups.map(([n, pts]) => `<${n}> (${pts.length})`).join(', ')}, in one basis.
      </p>
    </section>
  );
}

function NearestCard({ data }: { data: InspectReply }) {
  return (
    <section className="card" aria-labelledby="near-title" data-testid="inspector-nearest">
      <div className="card-head">
        <h2 id="near-title">Nearest vocabulary tokens (cosine)</h2>
      </div>
      <div className="table-scroll">
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col" className="num">
                Row
              </th>
              <th scope="col" className="num">
                Norm
              </th>
              {data.nearest[0]?.map((_, i) => (
                <th key={i} scope="col">
                  #{i + 1}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.nearest.map((row, r) => (
              <tr key={r}>
                <td className="num mono">{r}</td>
                <td className="num">{data.rowNorms[r]?.toFixed(3)}</td>
                {row.map((n) => (
                  <td key={n.id}>
                    <span className="token" title={JSON.stringify(n.token)}>{showToken(n.token)}</span> <span className="muted small">{n.cos.toFixed(3)}</span>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function AttentionCard() {
  const prompt = useInspector((s) => s.prompt);
  const attention = useInspector((s) => s.attention);
  const status = useInspector((s) => s.attentionStatus);
  const error = useInspector((s) => s.attentionError);
  const layer = useInspector((s) => s.layer);
  const model = useModel((s) => s.model);
  const ins = inspectorStore.getState();
  const adapters = useLibrary((s) => s.summary.adapters);
  const chosen = useInspector((s) => s.adapter);
  // An adapter deleted from the library since it was chosen falls back to the base model.
  const adapter = adapters.some((a) => a.name === chosen) ? chosen : null;
  return (
    <section className="card" aria-labelledby="attn-title" data-testid="inspector-attention">
      <div className="card-head">
        <h2 id="attn-title">Attention</h2>
        {attention && (
          <div className="actions">
            <label className="inline-label" htmlFor="attn-layer">
              Layer
            </label>
            <select id="attn-layer" value={layer} onChange={(e) => ins.setLayer(Number(e.target.value))}>
              <option value={-1}>mean of all</option>
              {attention.layers.map((_, i) => (
                <option key={i} value={i}>
                  {i}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void ins.runAttention();
        }}
      >
        <input type="text" className="mono" aria-label="Prompt (tags written <Name>)" value={prompt} onChange={(e) => ins.setPrompt(e.target.value)} placeholder="<SMILES> CCO is" />
        {adapters.length > 0 && (
          <select aria-label="Adapter" value={adapter ?? ''} onChange={(e) => ins.setAdapter(e.target.value || null)} data-testid="attn-adapter">
            <option value="">base model</option>
            {adapters.map((a) => (
              <option key={a.id} value={a.name}>
                with {a.name}
              </option>
            ))}
          </select>
        )}
        <button type="submit" className="primary" disabled={!model || status === 'running'}>
          {status === 'running' ? 'Running…' : 'Show attention'}
        </button>
      </form>
      <p className="hint">Write tags as {'<Name>'}. Each row is a query token, each column a key; the map is averaged over heads.</p>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      {attention && <Heatmap a={attention} layer={layer} />}
    </section>
  );
}

/** White → deep blue for a weight in [0, 1] of the row's maximum. */
function heat(v: number): string {
  const r = Math.round(255 - v * (255 - 30));
  const g = Math.round(255 - v * (255 - 64));
  const b = Math.round(255 - v * (255 - 175));
  return `rgb(${r},${g},${b})`;
}

function Heatmap({ a, layer }: { a: AttentionReply; layer: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const m = useMemo(() => attentionLayer(a, layer), [a, layer]);
  const [hover, setHover] = useState<{ i: number; j: number; x: number; y: number } | null>(null);
  const heatRef = useRef<HTMLDivElement>(null);
  const cell = Math.max(6, Math.min(34, Math.floor(640 / Math.max(1, a.T))));
  const fontPx = Math.min(12, Math.max(8, cell));
  const labels = useMemo(() => a.tokens.map((t) => showToken(t.text)).map((s) => (s.length > 16 ? `${s.slice(0, 15)}…` : s)), [a]);
  // Room for the longest label (monospace: ~0.62 em per character), so none is cut off.
  const labelW = Math.min(220, 12 + Math.ceil(Math.max(1, ...labels.map((l) => l.length)) * fontPx * 0.62));
  const labelH = labelW;
  const W = labelW + a.T * cell;
  const H = labelH + a.T * cell;
  const max = useMemo(() => {
    let mx = 0;
    for (let i = 0; i < m.length; i++) mx = Math.max(mx, m[i]);
    return mx;
  }, [m]);
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = W * dpr;
    c.height = H * dpr;
    const g = c.getContext('2d');
    if (!g) return;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, W, H);
    for (let i = 0; i < a.T; i++)
      for (let j = 0; j < a.T; j++) {
        g.fillStyle = heat(max > 0 ? m[i * a.T + j] / max : 0);
        g.fillRect(labelW + j * cell, labelH + i * cell, cell, cell);
      }
    g.font = `${fontPx}px ui-monospace, monospace`;
    g.textBaseline = 'middle';
    a.tokens.forEach((t, i) => {
      g.fillStyle = t.tag ? '#6d28d9' : '#344054';
      g.textAlign = 'right';
      g.fillText(labels[i], labelW - 4, labelH + i * cell + cell / 2);
      g.save();
      g.translate(labelW + i * cell + cell / 2, labelH - 4);
      g.rotate(-Math.PI / 2);
      g.textAlign = 'left';
      g.fillText(labels[i], 0, 0);
      g.restore();
    });
  }, [a, m, max, cell, W, H, labelW, labelH, labels, fontPx]);
  const at = (e: MouseEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const j = Math.floor((x - labelW) / cell);
    const i = Math.floor((y - labelH) / cell);
    setHover(i >= 0 && j >= 0 && i < a.T && j < a.T ? { i, j, x, y } : null);
  };
  const csvRows = useMemo(() => {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < a.T; i++) for (let j = 0; j <= i; j++) out.push({ query: i, key: j, query_token: a.tokens[i]!.text, key_token: a.tokens[j]!.text, weight: m[i * a.T + j] });
    return out;
  }, [a, m]);
  return (
    <div className="heatmap-wrap">
      <div className="heatmap-scale" data-testid="attention-scale" aria-label="Colour scale">
        <span className="muted small">0</span>
        <span className="heatmap-gradient" style={{ background: `linear-gradient(to right, ${heat(0)}, ${heat(0.5)}, ${heat(1)})` }} />
        <span className="muted small">{max.toPrecision(3)} (max weight)</span>
        <ChartExport target={heatRef} title={`Attention ${layer < 0 ? 'mean of layers' : `layer ${layer}`}`} rows={csvRows} raster />
      </div>
      <div className="heatmap-canvas" ref={heatRef}>
        <canvas
          ref={canvas}
          style={{ width: W, height: H }}
          role="img"
          aria-label={`Attention map over ${a.T} tokens`}
          data-testid="attention-heatmap"
          onMouseMove={at}
          onMouseLeave={() => setHover(null)}
        />
        {hover && (
          <div className="heatmap-tip" style={{ left: hover.x + 12, top: Math.max(0, hover.y - 48) }} data-testid="attention-tip">
            <span className="mono">{labels[hover.i]}</span> → <span className="mono">{labels[hover.j]}</span>: <strong>{m[hover.i * a.T + hover.j]!.toFixed(4)}</strong>
            <div className="muted small">
              query {hover.i}, key {hover.j}
            </div>
          </div>
        )}
      </div>
    </div>
  );
}
