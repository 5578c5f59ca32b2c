import { useState } from 'react';
import { useLibrary, useModel } from '../../state/app';
import { MAX_CORPUS_BYTES } from '../../selfspec/corpus';
import { DEFAULT_SPECIALISE } from '../../selfspec/specialise';
import { corpusChoice, type PickedFile } from './corpus-choice';
import { slotFit, type InputChoice } from '../../state/selfspec';
import type { SpecMethod } from '../../selfspec/specialise';
import type { Scoring } from '../../selfspec/evaluate';
import { FileDrop } from '../common/FileDrop';
import { NumberField } from '../NumberField';
import { selfspecStore, useSelfSpec } from './store';

const SEEDS = [
  { id: 'box', label: 'BoX biomedical seeds (32 tasks, ≤ 5 each)' },
  { id: 'self-instruct', label: 'Self-instruct seeds (generic, 175 tasks)' },
];
const METHODS: Array<{ id: SpecMethod; label: string }> = [
  { id: 'lora', label: 'LoRA (r 8, α 16)' },
  { id: 'tag', label: 'Domain tag' },
  { id: 'both', label: 'LoRA + tag' },
];

const label = (c: InputChoice, builtins: Array<{ id: string; label: string }>) =>
  c.kind === 'builtin'
    ? (builtins.find((b) => b.id === c.id)?.label ?? c.id)
    : c.kind === 'file'
      ? `${c.name} (${(c.bytes.byteLength / 1024).toFixed(1)} KB)`
      : c.kind === 'folder'
        ? `${c.name}: ${c.files.length} .txt documents (${(c.files.reduce((a, f) => a + f.bytes.byteLength, 0) / 1024).toFixed(1)} KB)`
        : 'none';


async function choiceOf(files: File[]): Promise<InputChoice> {
  const f = files[0];
  return { kind: 'file', name: f.name, bytes: await f.arrayBuffer() };
}

/** Inputs (built-in or uploaded seeds and corpus) and the run's settings. */
export function SetupCard() {
  const settings = useSelfSpec((s) => s.settings);
  const seeds = useSelfSpec((s) => s.seeds);
  const corpus = useSelfSpec((s) => s.corpus);
  const given = useSelfSpec((s) => s.instructions);
  const errors = useSelfSpec((s) => s.errors);
  const status = useSelfSpec((s) => s.status);
  const error = useSelfSpec((s) => s.error);
  const model = useModel((s) => s.model);
  const modelLoading = useModel((s) => s.status === 'loading');
  const fit = slotFit(settings, model);
  const adapters = useLibrary((s) => s.summary.adapters);
  // A refused corpus pick (too big, no .txt) is said here; the corpus chosen before stays.
  const [corpusError, setCorpusError] = useState<string | null>(null);
  const pickCorpus = (files: PickedFile[] | Promise<PickedFile[]>, folder = false) => {
    setCorpusError(null);
    Promise.resolve(files)
      .then((f) => corpusChoice(f, { folder }))
      .then(st.setCorpus, (e: Error) => setCorpusError(e.message));
  };
  const start = adapters.find((a) => a.name === settings.initAdapter) ?? null;
  const st = selfspecStore.getState();
  const runId = useSelfSpec((s) => s.runId);
  const busy = status === 'running' || status === 'pausing' || status === 'starting';
  const set = st.setSettings;
  const num = (key: keyof typeof settings, text: string, o: { min?: number; integer?: boolean; step?: number; hint?: string } = {}) => (
    <NumberField label={text} value={settings[key] as number} onChange={(v) => v !== null && set({ [key]: v })} min={o.min} integer={o.integer ?? true} step={o.step} hint={errors[key] ?? o.hint} disabled={busy} />
  );
  // With a run on screen the settings fold away (they stay one click away).
  const [open, setOpen] = useState(false);
  const folded = !!runId && !open;
  const toggle = <T,>(xs: T[], x: T) => (xs.includes(x) ? xs.filter((y) => y !== x) : [...xs, x]);
  return (
    <section className="card" aria-labelledby="ss-setup-title" data-testid="ss-setup">
      <div className="card-head">
        <h2 id="ss-setup-title">New run</h2>
        <div className="actions">
          {runId && (
            <button type="button" onClick={() => setOpen(!open)} aria-expanded={!folded} data-testid="ss-setup-toggle">
              {folded ? 'Show settings' : 'Hide settings'}
            </button>
          )}
          <button type="button" className="primary" disabled={busy || !model || modelLoading || !fit.ok || Object.keys(errors).length > 0}
            title={!fit.ok ? `The loaded model has ${fit.have} slots; these settings need ${fit.need}.` : undefined}
            onClick={() => void st.start()}
            data-testid="ss-start"
          >
            Start
          </button>
        </div>
      </div>
      {!fit.ok && (
        <div className="inline-error ss-slots" role="alert" data-testid="ss-slots" data-need={fit.need} data-have={fit.have ?? ''}>
          <p>
            These settings need <strong>{fit.need} decoding slots</strong>: {fit.reason}. The loaded model has {fit.have}.
          </p>
          <div className="actions">
            <button type="button" className="primary" disabled={busy || modelLoading} onClick={() => void st.reloadForSlots()} data-testid="ss-reload-slots">
              {modelLoading ? 'Reloading…' : `Reload with ${fit.need} slots`}
            </button>
            {fit.fittingK !== null && (
              <button type="button" disabled={busy} onClick={() => set({ k: fit.fittingK! })} data-testid="ss-fit-k">
                Use k = {fit.fittingK}
              </button>
            )}
            {fit.oneRoundFits && (
              <button type="button" disabled={busy} onClick={() => set({ rounds: 1 })} data-testid="ss-fit-rounds">
                Run 1 round
              </button>
            )}
          </div>
          <p className="hint tight">Reloading keeps the model and its context setting; more slots take more KV memory (the context may be halved to stay under the KV cap unless set in the Model panel).</p>
        </div>
      )}
      {!folded && (
      <>
      <div className="ss-inputs">
        <div className="field">
          <label htmlFor="ss-seeds">Seeds</label>
          <select
            id="ss-seeds"
            data-testid="ss-seeds"
            disabled={busy}
            value={seeds.kind === 'builtin' ? seeds.id : 'file'}
            onChange={(e) => e.target.value !== 'file' && st.setSeeds({ kind: 'builtin', id: e.target.value })}
          >
            {SEEDS.map((b) => (
              <option key={b.id} value={b.id}>
                {b.label}
              </option>
            ))}
            {seeds.kind === 'file' && <option value="file">{label(seeds, SEEDS)}</option>}
          </select>
          <FileDrop label="Upload seeds" accept=".json,.jsonl,.csv,.tsv,.txt" disabled={busy} onFiles={(f) => void choiceOf(f).then(st.setSeeds)} testId="ss-seeds-file">
            BoX JSON, self-instruct JSONL, or CSV / JSONL with instruction, input, output
          </FileDrop>
        </div>
        <div className="field">
          <label htmlFor="ss-corpus">Corpus (retrieval)</label>
          <select
            id="ss-corpus"
            data-testid="ss-corpus"
            disabled={busy}
            value={corpus.kind === 'builtin' ? corpus.id : corpus.kind}
            onChange={(e) => (e.target.value === 'none' ? st.setCorpus({ kind: 'none' }) : e.target.value !== 'file' && e.target.value !== 'folder' && st.setCorpus({ kind: 'builtin', id: e.target.value }))}
          >
            <option value="pubmedqa">PubMedQA abstracts (1,000)</option>
            <option value="none">None (k = 0)</option>
            {(corpus.kind === 'file' || corpus.kind === 'folder') && <option value={corpus.kind}>{label(corpus, [])}</option>}
          </select>
          <FileDrop label="Upload a corpus" accept=".jsonl,.json,.txt" multiple disabled={busy} onFiles={(f) => pickCorpus(f)} onFolderDrop={(f) => pickCorpus(f, true)} testId="ss-corpus-file">
            JSONL with id and text, or plain text with one passage per line; several .txt files are documents
          </FileDrop>
          <FileDrop label="Choose or drop a folder of .txt documents" directory disabled={busy} onFiles={(f) => pickCorpus(f, true)} onFolderDrop={(f) => pickCorpus(f, true)} testId="ss-corpus-folder">
            split at blank lines into passages, ids &lt;file&gt;#&lt;n&gt;; up to {MAX_CORPUS_BYTES / 1024 / 1024} MB in all
          </FileDrop>
          {corpusError && (
            <p className="inline-error" role="alert" data-testid="ss-corpus-error">
              {corpusError}
            </p>
          )}
        </div>
      </div>
      <div className="field">
        <label htmlFor="ss-init-adapter">Start LoRA from</label>
        <select
          id="ss-init-adapter"
          data-testid="ss-init-adapter"
          disabled={busy}
          value={settings.initAdapter ?? ''}
          onChange={(e) => {
            const a = adapters.find((x) => x.name === e.target.value);
            // The specialisation takes the start adapter's shape (rank, α, targets) so that training continues it.
            set(a ? { initAdapter: a.name, lora: { rank: a.rank, alpha: a.alpha, targets: [...a.targets] } } : { initAdapter: null, lora: undefined });
          }}
        >
          <option value="">
            a fresh LoRA (r {DEFAULT_SPECIALISE.lora.rank}, α {DEFAULT_SPECIALISE.lora.alpha}, all layers)
          </option>
          {adapters.map((a) => (
            <option key={a.id} value={a.name}>
              {a.name} (r {a.rank}, α {a.alpha}, {a.targets.join(' ')})
            </option>
          ))}
        </select>
        <span className="field-hint">
          {start ? 'LoRA training continues this library adapter (e.g. an imported PEFT adapter); the table adds its row as the start.' : adapters.length ? 'or continue an adapter of the library' : 'import a PEFT adapter in the Library panel to continue it here'}
        </span>
        {settings.initAdapter && !start && <span className="field-hint">“{settings.initAdapter}” is no longer in the library: choose another.</span>}
      </div>
      <details className="ss-advanced" data-testid="ss-advanced">
        <summary>Instruction prompt, given instructions, iteration</summary>
        <div className="field">
          <label htmlFor="ss-template">Instruction prompt ({'{domain}'}, {'{examples}'}, {'{next}'}; empty = the paper&rsquo;s)</label>
          <textarea
            id="ss-template"
            rows={4}
            value={settings.instructionTemplate ?? ''}
            disabled={busy}
            placeholder="You are asked to come up with a set of diverse task instructions about {domain}. …"
            onChange={(e) => set({ instructionTemplate: e.target.value || undefined })}
            data-testid="ss-template"
          />
        </div>
        <div className="ss-grid">
          <NumberField label="Seeds per prompt" value={settings.seedsPerPrompt ?? 3} onChange={(v) => v !== null && set({ seedsPerPrompt: v })} min={1} integer disabled={busy} />
          <NumberField label="Give up after barren batches" value={settings.maxBarrenBatches ?? 20} onChange={(v) => v !== null && set({ maxBarrenBatches: v })} min={1} integer disabled={busy} />
        </div>
        <label className="check">
          <input type="checkbox" checked={settings.freshInstructions !== false} disabled={busy} onChange={(e) => set({ freshInstructions: e.target.checked })} data-testid="ss-fresh" />
          Rounds ≥ 2 generate a fresh instruction set (else reuse round 1&rsquo;s)
        </label>
        <div className="field">
          <span className="muted">
            Round-1 instructions: {given.kind === 'file' ? <strong data-testid="ss-given-name">{given.name}</strong> : 'generated by the model'}{' '}
            {given.kind === 'file' && (
              <button type="button" className="link" onClick={() => st.setInstructions({ kind: 'none' })} disabled={busy}>
                generate instead
              </button>
            )}
          </span>
          <FileDrop label="Use a given instruction set" accept=".jsonl,.json" disabled={busy} onFiles={(f) => void choiceOf(f).then(st.setInstructions)} testId="ss-instructions-file">
            JSON lines with instruction and input (e.g. another run&rsquo;s instructions.jsonl)
          </FileDrop>
        </div>
      </details>
      <div className="ss-grid">
        <div className="field">
          <label htmlFor="ss-name">Run name</label>
          <input id="ss-name" type="text" value={settings.name} disabled={busy} onChange={(e) => set({ name: e.target.value })} data-testid="ss-name" />
        </div>
        <div className="field">
          <label htmlFor="ss-domain">Domain</label>
          <input id="ss-domain" type="text" value={settings.domain} disabled={busy} onChange={(e) => set({ domain: e.target.value })} />
        </div>
        {num('instructions', 'Instructions per round', { min: 1 })}
        {num('k', 'Passages k', { min: 0, hint: '0, 1 or 5: the paper’s ablation' })}
        {num('rounds', 'Rounds', { min: 1, hint: 'round 2+: contrastive against the base' })}
        {num('epochs', 'Epochs', { min: 0, integer: false, step: 0.5 })}
        {num('batch', 'Batch', { min: 1 })}
        {num('accum', 'Accumulation', { min: 1 })}
        {num('lr', 'Learning rate', { min: 0, integer: false, step: 0.0001 })}
        {num('tagLength', 'Tag length', { min: 1 })}
        {num('evalN', 'PubMedQA questions', { min: 0, hint: '0 = skip PubMedQA' })}
        {num('rougeN', 'Held-out seeds (ROUGE-L)', { min: 0 })}
        {num('instructionTokens', 'Instruction tokens', { min: 1 })}
        {num('responseTokens', 'Response tokens', { min: 1 })}
        {num('seed', 'Seed', { min: 0 })}
        <div className="field">
          <label htmlFor="ss-shots">Shots</label>
          <input
            id="ss-shots"
            type="text"
            defaultValue={settings.shots.join(', ')}
            disabled={busy}
            onChange={(e) => {
              const xs = e.target.value.split(/[\s,]+/).filter(Boolean).map(Number);
              if (xs.every((x) => Number.isInteger(x) && x >= 0)) set({ shots: xs });
            }}
          />
          {errors.shots && <span className="field-hint">{errors.shots}</span>}
        </div>
      </div>
      <div className="ss-checks">
        <span className="muted">Methods</span>
        {METHODS.map((m) => (
          <label key={m.id} className="check">
            <input type="checkbox" checked={settings.methods.includes(m.id)} disabled={busy} onChange={() => set({ methods: toggle(settings.methods, m.id) })} data-testid={`ss-method-${m.id}`} />
            {m.label}
          </label>
        ))}
        <span className="muted">Scoring</span>
        {(['likelihood', 'generation'] as Scoring[]).map((s) => (
          <label key={s} className="check">
            <input type="checkbox" checked={settings.scorings.includes(s)} disabled={busy} onChange={() => set({ scorings: toggle(settings.scorings, s) })} data-testid={`ss-scoring-${s}`} />
            {s}
          </label>
        ))}
      </div>
      {errors.methods && <p className="field-hint">{errors.methods}</p>}
      </>
      )}
      {modelLoading && <p className="hint" data-testid="ss-model-loading">The model is loading: Start waits for it.</p>}
      {!model && !modelLoading && <p className="hint">Load a model in the Model panel first: the run generates, trains and evaluates on it.</p>}
      {error && !busy && !runId && (
        <p className="inline-error" role="alert" data-testid="ss-error">
          {error}
        </p>
      )}
    </section>
  );
}
