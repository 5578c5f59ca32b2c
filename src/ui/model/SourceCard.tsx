import { useEffect, useId, useMemo, useRef, useState, type DragEvent } from 'react';
import { CATALOG, DEFAULT_CATALOG_ID, catalogSource, describeTokenizer, resolveUrl, type CatalogEntry } from '../../state/catalog';
import { modelStore, useModel } from '../../state/app';
import type { ModelSourceSpec } from '../../worker/protocol';
import { formatBytes } from '../format';
import { FitCard, useRefused } from './FitCard';
import { LoadSettingsFields, useLoadSettingsOk } from './LoadSettingsFields';
import { classifyFiles } from './files';

type Tab = 'catalog' | 'url' | 'files';
const TABS: Array<[Tab, string]> = [
  ['catalog', 'Catalog'],
  ['url', 'URL'],
  ['files', 'Files'],
];

export function SourceCard() {
  const [tab, setTab] = useState<Tab>('catalog');
  const [dragging, setDragging] = useState(false);
  const [files, setFiles] = useState<{ model?: File; tokenizer?: File }>({});
  const busy = useModel((s) => s.status === 'loading');
  const idBase = useId();

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const dropped = Array.from(e.dataTransfer.files);
    if (!dropped.length) return;
    const { model, tokenizer } = classifyFiles(dropped);
    setFiles((f) => ({ model: model ?? f.model, tokenizer: tokenizer ?? f.tokenizer }));
    setTab('files');
  };

  return (
    <section
      className={dragging ? 'card dropping' : 'card'}
      aria-labelledby="source-title"
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <div className="card-head">
        <h2 id="source-title">Load a model</h2>
        <div className="tabs" role="tablist" aria-label="Model source">
          {TABS.map(([id, label]) => (
            <button
              key={id}
              type="button"
              role="tab"
              id={`${idBase}-tab-${id}`}
              aria-selected={tab === id}
              aria-controls={`${idBase}-panel-${id}`}
              className={tab === id ? 'tab active' : 'tab'}
              onClick={() => setTab(id)}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      <div role="tabpanel" id={`${idBase}-panel-${tab}`} aria-labelledby={`${idBase}-tab-${tab}`}>
        {tab === 'catalog' && <CatalogTab busy={busy} />}
        {tab === 'url' && <UrlTab busy={busy} />}
        {tab === 'files' && <FilesTab busy={busy} files={files} setFiles={setFiles} />}
      </div>
      <LoadSettingsFields disabled={busy} />
      <FitCard />
      <p className="hint">Loading replaces the current model. You can also drop a model file (and its tokenizer) anywhere on this card.</p>
    </section>
  );
}

function CatalogItem({ c, selected, onSelect }: { c: CatalogEntry; selected: boolean; onSelect(): void }) {
  return (
    <label className={selected ? 'catalog-entry selected' : 'catalog-entry'} data-testid="catalog-entry" data-id={c.id}>
      <input type="radio" name="catalog" value={c.id} checked={selected} onChange={onSelect} />
      <span className="catalog-text">
        <span className="catalog-name">
          {c.name} <span className="tag">{c.format}</span> <span className="tag">{c.quant}</span>{' '}
          <span className="muted">
            {c.params} params · {formatBytes(c.sizeBytes)}
          </span>
        </span>
        <span className="catalog-desc">{c.description}</span>
        <span className="catalog-meta">
          {c.repo ? (
            <>
              <a href={`https://huggingface.co/${c.repo}`} target="_blank" rel="noreferrer">
                {c.repo}
              </a>{' '}
              · <span className="mono">{c.file}</span> ·{' '}
            </>
          ) : null}
          tokenizer: {describeTokenizer(c.tokenizer)}
        </span>
      </span>
    </label>
  );
}

function CatalogTab({ busy }: { busy: boolean }) {
  const [selected, setSelected] = useState(DEFAULT_CATALOG_ID);
  const entry = CATALOG.find((e) => e.id === selected) ?? CATALOG[0]!;
  const source = useMemo(() => catalogSource(entry), [entry]);
  const settingsOk = useLoadSettingsOk();
  const refused = useRefused(source) || !settingsOk;
  // Selecting an entry inspects it (header only: a hub file costs a few Range requests).
  useEffect(() => {
    void modelStore.getState().inspect(source, entry.name);
  }, [source, entry.name]);
  const bundled = CATALOG.filter((c) => c.origin === 'bundled');
  const hub = CATALOG.filter((c) => c.origin === 'huggingface');
  return (
    <form
      className="catalog"
      onSubmit={(e) => {
        e.preventDefault();
        void modelStore.getState().load(source, entry.name);
      }}
    >
      <fieldset>
        <legend className="catalog-group">Ships with the app</legend>
        {bundled.map((c) => (
          <CatalogItem key={c.id} c={c} selected={c.id === selected} onSelect={() => setSelected(c.id)} />
        ))}
      </fieldset>
      <fieldset>
        <legend className="catalog-group">Hugging Face hub (downloaded once, then cached)</legend>
        {hub.map((c) => (
          <CatalogItem key={c.id} c={c} selected={c.id === selected} onSelect={() => setSelected(c.id)} />
        ))}
      </fieldset>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || refused} title={refused ? 'It cannot be loaded here: see below.' : undefined}>
          Load {entry.name}
        </button>
      </div>
    </form>
  );
}

/** The URL tab's source, or null while the fields do not parse. */
function urlSpec(url: string, tokUrl: string): ModelSourceSpec | null {
  if (!url.trim()) return null;
  try {
    return { kind: 'url', url: resolveUrl(url.trim()), tokenizerUrl: tokUrl.trim() ? resolveUrl(tokUrl.trim()) : undefined };
  } catch {
    return null;
  }
}

function UrlTab({ busy }: { busy: boolean }) {
  const [url, setUrl] = useState('');
  const [tokUrl, setTokUrl] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const source = useMemo(() => urlSpec(url, tokUrl), [url, tokUrl]);
  const settingsOk = useLoadSettingsOk();
  const refused = useRefused(source) || !settingsOk;
  const inspecting = useModel((s) => s.inspection.status === 'pending');
  // What the catalog showed is not about this tab's URL.
  useEffect(() => {
    modelStore.getState().clearInspection();
  }, []);
  const parsed = (): ModelSourceSpec | null => {
    const spec = urlSpec(url, tokUrl);
    setErr(spec ? null : 'That is not a valid URL.');
    return spec;
  };
  return (
    <form
      className="form-grid"
      onSubmit={(e) => {
        e.preventDefault();
        const spec = parsed();
        if (spec) void modelStore.getState().load(spec);
      }}
    >
      <label htmlFor="model-url">Model URL</label>
      <input
        id="model-url"
        type="url"
        required
        placeholder="https://…/model.gguf"
        value={url}
        onChange={(e) => setUrl(e.target.value)}
        spellCheck={false}
      />
      <label htmlFor="tokenizer-url">Tokenizer URL (optional)</label>
      <input
        id="tokenizer-url"
        type="url"
        placeholder="https://…/tokenizer.json"
        value={tokUrl}
        onChange={(e) => setTokUrl(e.target.value)}
        spellCheck={false}
      />
      {err && (
        <p className="inline-error" role="alert">
          {err}
        </p>
      )}
      <div className="actions">
        <button
          type="button"
          disabled={!url.trim() || inspecting}
          onClick={() => {
            const spec = parsed();
            if (spec) void modelStore.getState().inspect(spec);
          }}
          title="Read the header only and estimate the memory it needs"
        >
          Inspect
        </button>
        <button type="submit" className="primary" disabled={busy || !url.trim() || refused} title={refused ? 'It cannot be loaded here: see below.' : undefined}>
          Load from URL
        </button>
      </div>
    </form>
  );
}

function FilesTab({
  busy,
  files,
  setFiles,
}: {
  busy: boolean;
  files: { model?: File; tokenizer?: File };
  setFiles: (f: { model?: File; tokenizer?: File }) => void;
}) {
  const modelInput = useRef<HTMLInputElement>(null);
  const tokInput = useRef<HTMLInputElement>(null);
  const source = useMemo<ModelSourceSpec | null>(
    () => (files.model ? { kind: 'file', file: files.model, tokenizerFile: files.tokenizer } : null),
    [files.model, files.tokenizer],
  );
  const settingsOk = useLoadSettingsOk();
  const refused = useRefused(source) || !settingsOk;
  // A picked or dropped file is inspected at once (slices of the header; nothing is uploaded).
  useEffect(() => {
    if (source) void modelStore.getState().inspect(source);
    else modelStore.getState().clearInspection();
  }, [source]);
  return (
    <form
      className="form-grid"
      onSubmit={(e) => {
        e.preventDefault();
        if (!files.model) return;
        void modelStore.getState().load({ kind: 'file', file: files.model, tokenizerFile: files.tokenizer });
      }}
    >
      <label htmlFor="model-file">Model file</label>
      <div className="file-row">
        <input
          ref={modelInput}
          id="model-file"
          type="file"
          accept=".gguf,.bin,.safetensors"
          onChange={(e) => setFiles({ ...files, model: e.target.files?.[0] })}
        />
        {files.model && <span className="muted">{formatBytes(files.model.size)}</span>}
      </div>
      <label htmlFor="tokenizer-file">Tokenizer file (optional)</label>
      <div className="file-row">
        <input
          ref={tokInput}
          id="tokenizer-file"
          type="file"
          accept=".bin,.json,.model"
          onChange={(e) => setFiles({ ...files, tokenizer: e.target.files?.[0] })}
        />
        {files.tokenizer && <span className="muted">{formatBytes(files.tokenizer.size)}</span>}
      </div>
      <div className="dropzone" aria-hidden="true">
        {files.model ? (
          <>
            <strong>{files.model.name}</strong>
            {files.tokenizer ? ` + ${files.tokenizer.name}` : ''}
          </>
        ) : (
          'Drop a model file (.gguf, .bin, .safetensors) and optionally its tokenizer here'
        )}
      </div>
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            setFiles({});
            if (modelInput.current) modelInput.current.value = '';
            if (tokInput.current) tokInput.current.value = '';
          }}
          disabled={!files.model && !files.tokenizer}
        >
          Clear
        </button>
        <button type="submit" className="primary" disabled={busy || !files.model || refused} title={refused ? 'It cannot be loaded here: see below.' : undefined}>
          Load file
        </button>
      </div>
    </form>
  );
}
