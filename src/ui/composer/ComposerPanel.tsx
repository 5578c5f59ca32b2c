import { useMemo, useRef, useState } from 'react';
import { composerStore, dataStore, datasetRowsOf, useComposer, useLibrary, useModel, useTrain } from '../../state/app';
import { parseTemplate } from '../../tags/template';
import { prefillRow, prefillSegments, segmentsToTemplate, type ComposerColumn, type CompareMode, type ComposeMode, type Segment } from '../../state/composer';
import type { TagKind } from '../../tags/tag';
import type { TagSummary } from '../../worker/protocol';
import { AdapterSelect } from '../common/AdapterSelect';
import { TagChip } from '../common/TagChip';
import { NumberField } from '../NumberField';
import { PromptEditor, type PromptEditorHandle } from './PromptEditor';

export function ComposerPanel() {
  const tags = useLibrary((s) => s.summary.tags);
  const kinds = useMemo(() => new Map<string, TagKind>(tags.map((t) => [t.name, t.kind])), [tags]);
  const a = useComposer((s) => s.a);
  const b = useComposer((s) => s.b);
  const compare = useComposer((s) => s.compare);
  const mode = useComposer((s) => s.mode);
  const status = useComposer((s) => s.status);
  const model = useModel((s) => s.model);
  const edA = useRef<PromptEditorHandle>(null);
  const edB = useRef<PromptEditorHandle>(null);
  const [target, setTarget] = useState<'a' | 'b'>('a');
  const c = composerStore.getState();
  const running = status === 'running';

  const insert = (name: string) => {
    const which = compare === 'variant' ? target : 'a';
    (which === 'a' ? edA : edB).current?.insertTag(name);
  };

  return (
    <div className="panel-grid">
      <div className="col">
        {!model && (
          <div className="callout" role="status">
            No model is loaded. <a href="#/model">Load one in the Model panel</a> first.
          </div>
        )}
        <section className="card" aria-labelledby="compose-title">
          <div className="card-head">
            <h2 id="compose-title">Prompt</h2>
            <div className="tabs" role="radiogroup" aria-label="Run as">
              {(
                [
                  ['generate', 'Generate'],
                  ['head', 'Head prediction'],
                ] as Array<[ComposeMode, string]>
              ).map(([m, label]) => (
                <button key={m} type="button" role="radio" aria-checked={mode === m} className={mode === m ? 'tab active' : 'tab'} onClick={() => c.setMode(m)}>
                  {label}
                </button>
              ))}
            </div>
          </div>
          {compare === 'variant' && (
            <label className="editor-label" htmlFor="prompt-a">
              Prompt A
            </label>
          )}
          <PromptEditor
            ref={edA}
            id="prompt-a"
            label={compare === 'variant' ? 'Prompt A' : 'Prompt'}
            segments={a}
            onChange={(s) => c.setSegments('a', s)}
            kinds={kinds}
            onSubmit={() => void c.run()}
            onFocus={() => setTarget('a')}
            testId="prompt-editor-a"
          />
          <SentLine segs={a} testId="prompt-sent-a" />
          {compare === 'variant' && (
            <>
              <label className="editor-label" htmlFor="prompt-b">
                Prompt B
              </label>
              <PromptEditor
                ref={edB}
                id="prompt-b"
                label="Prompt B"
                segments={b}
                onChange={(s) => c.setSegments('b', s)}
                kinds={kinds}
                onSubmit={() => void c.run()}
                onFocus={() => setTarget('b')}
                testId="prompt-editor-b"
              />
              <SentLine segs={b} testId="prompt-sent-b" />
            </>
          )}
          <div className="actions">
            <label className="inline-label" htmlFor="compare-mode">
              Side by side
            </label>
            <select id="compare-mode" value={compare} onChange={(e) => c.setCompare(e.target.value as CompareMode)} disabled={running}>
              <option value="off">Off</option>
              <option value="no-tags" disabled={mode === 'head'} title={mode === 'head' ? 'Without its tags the prompt has no function tag, so no head to read' : undefined}>
                Same prompt without its tags{mode === 'head' ? ' (generation only)' : ''}
              </option>
              <option value="variant">A second prompt (B)</option>
              <option value="adapter" title="The prompt with the chosen adapter and with the base model">
                Same prompt: adapter vs base model
              </option>
            </select>
            <span className="hint">Ctrl+Enter to run</span>
            <button type="button" onClick={() => c.clear()} disabled={running} title="Empty the prompt and the outputs" data-testid="compose-clear">
              Clear
            </button>
            {running ? (
              <button type="button" className="danger" onClick={() => c.stop()}>
                Stop
              </button>
            ) : (
              <button type="button" className="primary" onClick={() => void c.run()} disabled={!model} data-testid="compose-run">
                Run
              </button>
            )}
          </div>
        </section>
        <Outputs />
      </div>
      <div className="col col-side">
        <Palette tags={tags} onInsert={insert} />
        <PrefillCard />
        <OptionsCard />
      </div>
    </div>
  );
}

/** The template the engine will get, exactly (tags as <Name>): the editor's chips, read back. */
function SentLine({ segs, testId }: { segs: Segment[]; testId: string }) {
  const t = segmentsToTemplate(segs);
  return (
    <p className="sent-line small">
      <span className="muted">Sends: </span>
      <code data-testid={testId}>{t || '(empty)'}</code>
    </p>
  );
}

function Palette({ tags, onInsert }: { tags: TagSummary[]; onInsert(name: string): void }) {
  const groups: Array<[string, TagSummary[]]> = [
    ['Domain tags', tags.filter((t) => t.kind === 'domain')],
    ['Function tags', tags.filter((t) => t.kind === 'function')],
  ];
  return (
    <section className="card" aria-labelledby="palette-title" data-testid="tag-palette">
      <div className="card-head">
        <h2 id="palette-title">Tags</h2>
        <span className="legend">
          <span className="tagchip tagchip-domain tagchip-small">domain</span>
          <span className="tagchip tagchip-function tagchip-small">function</span>
        </span>
      </div>
      {tags.length === 0 ? (
        <p className="muted">The library is empty. Train a tag in the Train panel or import a library.</p>
      ) : (
        groups.map(([title, list]) =>
          list.length ? (
            <div key={title} className="palette-group">
              <h3>{title}</h3>
              <div className="palette" role="list">
                {list.map((t) => (
                  <span role="listitem" key={t.id}>
                    <TagChip
                      name={t.name}
                      kind={t.kind}
                      draggable
                      onInsert={onInsert}
                      badge={t.head ? (t.head.kind === 'regression' ? 'ƒ' : 'ƒc') : undefined}
                      title={`<${t.name}>: ${t.kind}, ${t.p} rows, ${t.provenance.stage}${t.provenance.dataset ? ` on ${t.provenance.dataset}` : ''}${t.head ? `; ${t.head.kind} head` : ''}. Drag into the prompt, or press Enter to insert at the cursor.`}
                    />
                  </span>
                ))}
              </div>
            </div>
          ) : null,
        )
      )}
      <p className="hint">Drag a chip into the prompt, or focus it (Tab) and press Enter to insert it at the cursor. ƒ = has a head.</p>
    </section>
  );
}

/** Starts the prompt from the template a tag was trained with, its fields filled from a held-out row. */
function PrefillCard() {
  const history = useTrain((s) => s.history);
  const tags = useLibrary((s) => s.summary.tags);
  const runs = useMemo(() => {
    const names = new Set(tags.map((t) => t.name));
    return [...history].reverse().filter((r) => r.saved.tags.some((n) => names.has(n)) || (r.saved.head && names.has(r.saved.head)));
  }, [history, tags]);
  const [runId, setRunId] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (runs.length === 0) return null;
  const chosen = runs.find((r) => r.runId === runId) ?? runs[0]!;
  const [reading, setReading] = useState(false);
  const use = async () => {
    setError(null);
    let template;
    try {
      template = parseTemplate(chosen.config.template);
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    const ds = dataStore.getState().get(chosen.config.datasetIds[0] ?? null);
    let row: Record<string, string> = {};
    if (ds) {
      // A large upload's row comes from the mapping worker (mapping 500k rows here would freeze the page).
      setReading(true);
      try {
        row = await prefillRow(ds, datasetRowsOf);
      } catch (e) {
        setError(String((e as Error)?.message ?? e));
        return;
      } finally {
        setReading(false);
      }
    }
    const segs = prefillSegments(template, row, chosen.config.outputField, chosen.config.fieldMap);
    composerStore.getState().setSegments('a', segs);
    if (chosen.config.outputKind !== 'text' && chosen.saved.head) composerStore.getState().setMode('head');
  };
  return (
    <section className="card" aria-labelledby="prefill-title">
      <div className="card-head">
        <h2 id="prefill-title">Start from a training template</h2>
      </div>
      <div className="inline-form">
        <select aria-label="Run" value={chosen.runId} onChange={(e) => setRunId(e.target.value)}>
          {runs.map((r) => (
            <option key={r.runId} value={r.runId}>
              {r.label}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => void use()} disabled={reading} data-testid="compose-prefill">
          {reading ? 'Reading rows…' : 'Use'}
        </button>
      </div>
      <p className="hint">
        <span className="mono">{chosen.config.template}</span>, filled from a test row of {chosen.datasetNames[0] ?? 'its data set'} and cut before {`{${chosen.config.outputField}}`}.
      </p>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function OptionsCard() {
  const o = useComposer((s) => s.options);
  const mode = useComposer((s) => s.mode);
  const compare = useComposer((s) => s.compare);
  const adapters = useComposer((s) => s.adapters);
  const c = composerStore.getState();
  return (
    <section className="card" aria-labelledby="copts-title">
      <div className="card-head">
        <h2 id="copts-title">Sampling</h2>
      </div>
      {/* The adapter applies in both modes (a head reads the hidden state of the model with it); sampling only to generation. */}
      <div className="options">
        <AdapterSelect label={compare === 'variant' ? 'Adapter (prompt A)' : 'Adapter'} value={adapters.a} onChange={(n) => c.setAdapter('a', n)} testId="compose-adapter-a" />
        {compare === 'variant' && <AdapterSelect label="Adapter (prompt B)" value={adapters.b} onChange={(n) => c.setAdapter('b', n)} testId="compose-adapter-b" />}
      </div>
      <fieldset disabled={mode === 'head'}>
        <div className="options">
          <NumberField label="Max tokens" value={o.maxTokens} min={1} step={1} integer onChange={(v) => v !== null && c.setOptions({ maxTokens: v })} />
          <NumberField label="Temperature" value={o.temperature} min={0} step={0.05} hint="0 = greedy" onChange={(v) => v !== null && c.setOptions({ temperature: v })} />
          <NumberField label="Top-p" value={o.topP} min={0} max={1} step={0.05} onChange={(v) => v !== null && c.setOptions({ topP: v })} />
          <NumberField label="Seed" value={o.seed} min={0} step={1} integer allowEmpty placeholder="random" onChange={(v) => c.setOptions({ seed: v })} />
        </div>
      </fieldset>
      {mode === 'head' && <p className="hint">Head prediction reads the final hidden state at the last row of the prompt's function tag, of the base model or, when one is chosen, the model with the adapter.</p>}
    </section>
  );
}

function Outputs() {
  const columns = useComposer((s) => s.columns);
  const status = useComposer((s) => s.status);
  const error = useComposer((s) => s.error);
  return (
    <section className="card" aria-labelledby="outputs-title">
      <div className="card-head">
        <h2 id="outputs-title">Output</h2>
        <span className={`pill pill-${status === 'running' ? 'busy' : status === 'error' ? 'bad' : status === 'done' ? 'ok' : 'idle'}`} data-testid="compose-status">
          {status}
        </span>
      </div>
      {error && status === 'error' && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      {columns.length === 0 ? (
        <p className="muted">Run the prompt to see the continuation (or the head's prediction) here.</p>
      ) : (
        <div className={`side-by-side cols-${columns.length}`}>
          {columns.map((col, i) => (
            <Column key={i} col={col} running={status === 'running'} index={i} />
          ))}
        </div>
      )}
    </section>
  );
}

function Column({ col, running, index }: { col: ComposerColumn; running: boolean; index: number }) {
  return (
    <div className="column" data-testid={`compose-column-${index}`}>
      <div className="column-head">
        <strong>{col.title}</strong>
        <span className="pill pill-idle" data-testid={`compose-adapter-${index}`} title={col.prediction ? 'The LoRA adapter applied under the head' : 'The LoRA adapter this column generated with'}>
          {col.adapter ? `adapter ${col.adapter}` : 'base'}
        </span>
        {col.info && (
          <span className="muted">
            {col.info.tokens} tokens · {col.info.tagRows} tag rows
          </span>
        )}
      </div>
      <code className="column-template" title="The template sent to the engine">
        {col.template}
      </code>
      {col.prediction ? (
        <div className="prediction" data-testid="head-prediction">
          <span className="muted">
            head of ‹{col.prediction.head}› at position {col.prediction.position}
            {col.prediction.adapter ? `, with adapter ${col.prediction.adapter}` : ', base model'}
          </span>
          {col.prediction.value !== undefined && <span className="prediction-value">{col.prediction.value.toPrecision(5)}</span>}
          {col.prediction.classes && (
            <ul className="class-bars">
              {col.prediction.classes.map((c) => (
                <li key={c.name}>
                  <span className="class-name">{c.name}</span>
                  <span className="class-bar">
                    <span style={{ width: `${(c.p * 100).toFixed(1)}%` }} />
                  </span>
                  <span className="num">{(c.p * 100).toFixed(1)}%</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : (
        <pre className="output small" data-testid={`compose-output-${index}`}>
          {col.output}
          {running && <span className="caret" aria-hidden="true" />}
          {!col.output && !running && <span className="muted">—</span>}
        </pre>
      )}
      {col.finish && <span className="muted small">finish: {col.finish}</span>}
    </div>
  );
}
