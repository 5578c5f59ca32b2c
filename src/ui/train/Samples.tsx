import { useEffect, useId, useMemo, useState } from 'react';
import { datasetRowsOf, trainStore, useData, useTrain } from '../../state/app';
import { SYNC_CHECK_ROWS } from '../../state/mapping-check';
import { defaultSamplePromptOf, runTimes, sampleRowIn, samplePromptOfRow } from '../../state/train';
import { formatDuration } from '../format';
import { NumberField } from '../NumberField';

/** Sample generations: how often, how long, and from which prompt (the default is shown, editable). */
export function SampleSettings() {
  const config = useTrain((s) => s.config);
  const running = useTrain((s) => s.status === 'running' || s.status === 'starting');
  const datasets = useData((s) => s.datasets);
  const t = trainStore.getState();
  const id = useId();
  const ds = datasets.find((d) => d.id === config.datasetIds[0]);
  // A large upload's sample row comes from the mapping worker (mapping 500k rows here would freeze the panel).
  const large = !!ds && ds.rows.length > SYNC_CHECK_ROWS;
  const inPlace = useMemo(() => (large ? '' : defaultSamplePromptOf(config, ds)), [config, ds, large]);
  const [fromWorker, setFromWorker] = useState('');
  useEffect(() => {
    if (!large) return;
    const c = new AbortController();
    sampleRowIn(config, ds, datasetRowsOf, { signal: c.signal }).then(
      (row) => setFromWorker(samplePromptOfRow(config, row)),
      () => {},
    );
    return () => c.abort();
  }, [config, ds, large]);
  const fallback = large ? fromWorker : inPlace;
  const edited = config.samplePrompt.trim() !== '';
  return (
    <section className="card" aria-labelledby={`${id}-title`} data-testid="train-sample-settings">
      <div className="card-head">
        <h2 id={`${id}-title`}>Samples while training</h2>
      </div>
      <fieldset disabled={running}>
        <div className="options">
          <NumberField label="Sample every" value={config.sampleEvery} min={0} step={1} integer hint="steps; 0 = off" onChange={(v) => v !== null && t.setConfig({ sampleEvery: v })} />
          <NumberField label="Sample tokens" value={config.sampleTokens} min={1} max={4096} step={1} integer hint="greedy" onChange={(v) => v !== null && t.setConfig({ sampleTokens: v })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-prompt`}>Sample prompt</label>
          <textarea
            id={`${id}-prompt`}
            rows={2}
            className="mono"
            spellCheck={false}
            value={edited ? config.samplePrompt : fallback}
            placeholder="text and <Tags> of this run"
            onChange={(e) => t.setConfig({ samplePrompt: e.target.value === fallback ? '' : e.target.value })}
            data-testid="train-sample-prompt"
            aria-describedby={`${id}-hint`}
          />
          <span id={`${id}-hint`} className="field-hint">
            {edited ? (
              <>
                Edited.{' '}
                <button type="button" className="link" onClick={() => t.setConfig({ samplePrompt: '' })}>
                  Back to the default
                </button>
              </>
            ) : (
              'Default: the template filled with the first validation row, cut before the output (tokenized as in training).'
            )}
          </span>
        </div>
      </fieldset>
    </section>
  );
}

/** The run's samples, newest first, as they arrive. */
export function SampleList() {
  const samples = useTrain((s) => s.samples);
  const every = useTrain((s) => s.config.sampleEvery);
  const hasRun = useTrain((s) => s.run !== null);
  if (!hasRun || (samples.length === 0 && every === 0)) return null;
  return (
    <div className="samples" data-testid="train-samples">
      <h3>Samples</h3>
      {samples.length === 0 ? (
        <p className="muted">The first sample comes after step {every}.</p>
      ) : (
        <ol className="sample-list" reversed>
          {[...samples].reverse().map((x) => (
            <li key={x.step} data-step={x.step}>
              <span className="sample-step">step {x.step}</span>
              <span className="sample-text mono">{x.text || '(empty)'}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/** Elapsed time and the estimated time left, ticking once a second while the run is active. */
export function RunClock() {
  const clock = useTrain((s) => s.clock);
  const total = useTrain((s) => s.run?.totalSteps ?? 0);
  const active = useTrain((s) => s.status === 'running' || s.status === 'starting');
  const [nowMs, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const h = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(h);
  }, [active]);
  // Once the run is over, the clock stops at its last step.
  const times = runTimes(clock, total, active ? Math.max(nowMs, clock?.lastMs ?? 0) : (clock?.lastMs ?? nowMs));
  return (
    <>
      <div>
        <dt>Elapsed</dt>
        <dd data-testid="train-elapsed">{times ? formatDuration(times.elapsed) : '—'}</dd>
      </div>
      <div>
        <dt>Time left</dt>
        <dd data-testid="train-eta">{times && active ? (times.eta === null ? 'estimating…' : formatDuration(times.eta)) : '—'}</dd>
      </div>
    </>
  );
}
