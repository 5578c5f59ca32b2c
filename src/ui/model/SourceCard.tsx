import { useId, useRef, useState, type DragEvent } from 'react';
import { CATALOG, DEFAULT_CATALOG_ID, resolveUrl } from '../../state/catalog';
import { modelStore, useModel } from '../../state/app';
import { formatBytes } from '../format';
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
      <p className="hint">Loading replaces the current model. You can also drop a model file (and its tokenizer) anywhere on this card.</p>
    </section>
  );
}

function CatalogTab({ busy }: { busy: boolean }) {
  const [selected, setSelected] = useState(DEFAULT_CATALOG_ID);
  const entry = CATALOG.find((e) => e.id === selected) ?? CATALOG[0]!;
  return (
    <form
      className="catalog"
      onSubmit={(e) => {
        e.preventDefault();
        void modelStore.getState().load(
          {
            kind: 'url',
            url: resolveUrl(entry.url),
            tokenizerUrl: entry.tokenizerUrl ? resolveUrl(entry.tokenizerUrl) : undefined,
            name: entry.name,
          },
          entry.name,
        );
      }}
    >
      <fieldset>
        <legend className="sr-only">Catalog models</legend>
        {CATALOG.map((c) => (
          <label key={c.id} className={c.id === selected ? 'catalog-entry selected' : 'catalog-entry'}>
            <input type="radio" name="catalog" value={c.id} checked={c.id === selected} onChange={() => setSelected(c.id)} />
            <span className="catalog-text">
              <span className="catalog-name">
                {c.name} <span className="tag">{c.format}</span> <span className="muted">{formatBytes(c.sizeBytes)}</span>
              </span>
              <span className="catalog-desc">{c.description}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Load {entry.name}
        </button>
      </div>
    </form>
  );
}

function UrlTab({ busy }: { busy: boolean }) {
  const [url, setUrl] = useState('');
  const [tokUrl, setTokUrl] = useState('');
  const [err, setErr] = useState<string | null>(null);
  return (
    <form
      className="form-grid"
      onSubmit={(e) => {
        e.preventDefault();
        let abs: string;
        let tokAbs: string | undefined;
        try {
          abs = resolveUrl(url.trim());
          tokAbs = tokUrl.trim() ? resolveUrl(tokUrl.trim()) : undefined;
        } catch {
          setErr('That is not a valid URL.');
          return;
        }
        setErr(null);
        void modelStore.getState().load({ kind: 'url', url: abs, tokenizerUrl: tokAbs });
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
        <button type="submit" className="primary" disabled={busy || !url.trim()}>
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
        <button type="submit" className="primary" disabled={busy || !files.model}>
          Load file
        </button>
      </div>
    </form>
  );
}
