import { generationStore, useGeneration, useModel } from '../../state/app';
import { formatInt, formatMs } from '../format';
import { AdapterSelect } from '../common/AdapterSelect';
import { NumberField } from '../NumberField';

export function GeneratePanel() {
  const model = useModel((s) => s.model);
  const prompt = useGeneration((s) => s.prompt);
  const options = useGeneration((s) => s.options);
  const status = useGeneration((s) => s.status);
  const adapter = useGeneration((s) => s.adapter);
  const running = status === 'running';
  const g = generationStore.getState();

  return (
    <div className="panel-grid">
      <div className="col">
        {!model && (
          <div className="callout" role="status">
            No model is loaded. <a href="#/model">Load one in the Model panel</a> first.
          </div>
        )}
        <section className="card" aria-labelledby="prompt-title">
          <div className="card-head">
            <h2 id="prompt-title">Prompt</h2>
            {model && <span className="muted">{model.name}</span>}
          </div>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void g.generate();
            }}
          >
            <label htmlFor="prompt" className="sr-only">
              Prompt
            </label>
            <textarea
              id="prompt"
              rows={4}
              value={prompt}
              onChange={(e) => g.setPrompt(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  if (!running && model) void g.generate();
                }
              }}
              placeholder="Once upon a time"
              spellCheck={false}
            />
            <div className="actions">
              <span className="hint">Ctrl+Enter to generate</span>
              <button type="button" onClick={() => g.clear()} disabled={running}>
                Clear
              </button>
              {running ? (
                <button type="button" className="danger" onClick={() => g.stop()}>
                  Stop
                </button>
              ) : (
                <button type="submit" className="primary" disabled={!model}>
                  Generate
                </button>
              )}
            </div>
          </form>
        </section>
        <OutputCard />
      </div>
      <div className="col col-side">
        <section className="card" aria-labelledby="options-title">
          <div className="card-head">
            <h2 id="options-title">Sampling</h2>
            <button type="button" className="link" onClick={() => g.resetOptions()} disabled={running}>
              Reset
            </button>
          </div>
          <div className="options">
            <AdapterSelect value={adapter} onChange={(a) => g.setAdapter(a)} disabled={running} testId="generate-adapter" />
            <NumberField
              label="Max tokens"
              value={options.maxTokens}
              min={1}
              max={model?.config.maxSeqLen}
              step={1}
              integer
              onChange={(v) => v !== null && g.setOptions({ maxTokens: v })}
            />
            <NumberField
              label="Temperature"
              value={options.temperature}
              min={0}
              step={0.05}
              hint="0 = greedy"
              onChange={(v) => v !== null && g.setOptions({ temperature: v })}
            />
            <NumberField label="Top-p" value={options.topP} min={0} max={1} step={0.05} onChange={(v) => v !== null && g.setOptions({ topP: v })} />
            <NumberField
              label="Top-k"
              value={options.topK}
              min={0}
              step={1}
              integer
              hint="0 = off"
              onChange={(v) => v !== null && g.setOptions({ topK: v })}
            />
            <NumberField
              label="Seed"
              value={options.seed}
              min={0}
              step={1}
              integer
              allowEmpty
              placeholder="random"
              hint="empty = random"
              onChange={(v) => g.setOptions({ seed: v })}
            />
          </div>
        </section>
      </div>
    </div>
  );
}

function OutputCard() {
  const runPrompt = useGeneration((s) => s.runPrompt);
  const output = useGeneration((s) => s.output);
  const status = useGeneration((s) => s.status);
  const stats = useGeneration((s) => s.stats);
  const seed = useGeneration((s) => s.seedUsed);
  const runAdapter = useGeneration((s) => s.runAdapter);
  const error = useGeneration((s) => s.error);
  const empty = !runPrompt && !output;

  return (
    <section className="card" aria-labelledby="output-title">
      <div className="card-head">
        <h2 id="output-title">Output</h2>
        <span className={`pill pill-${status === 'running' ? 'busy' : status === 'error' ? 'bad' : status === 'done' ? 'ok' : 'idle'}`} data-testid="generation-status">
          {status}
        </span>
      </div>
      <pre className="output" data-testid="output" aria-live="polite" aria-busy={status === 'running'} data-status={status}>
        {empty ? (
          <span className="muted">Generated text appears here.</span>
        ) : (
          <>
            <span className="out-prompt">{runPrompt}</span>
            <span className="out-gen">{output}</span>
            {status === 'running' && <span className="caret" aria-hidden="true" />}
          </>
        )}
      </pre>
      {error && status === 'error' && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <dl className="stats" aria-label="Generation statistics">
        <div>
          <dt>Tokens</dt>
          <dd data-testid="token-count">{formatInt(stats.tokens)}</dd>
        </div>
        <div>
          <dt>Tokens/s</dt>
          <dd data-testid="tokens-per-sec">{stats.tokensPerSec ? stats.tokensPerSec.toFixed(1) : '—'}</dd>
        </div>
        <div>
          <dt>First token</dt>
          <dd>{formatMs(stats.firstTokenMs)}</dd>
        </div>
        <div>
          <dt>Prefill</dt>
          <dd>{stats.prefillTokens !== undefined ? `${stats.prefillTokens} tok · ${formatMs(stats.prefillMs)}` : '—'}</dd>
        </div>
        <div>
          <dt>Finish</dt>
          <dd>{stats.finish ?? '—'}</dd>
        </div>
        <div>
          <dt>Seed</dt>
          <dd>{seed ?? '—'}</dd>
        </div>
        <div>
          <dt>Adapter</dt>
          <dd data-testid="output-adapter">{empty ? '—' : (runAdapter ?? 'none (base)')}</dd>
        </div>
      </dl>
    </section>
  );
}
