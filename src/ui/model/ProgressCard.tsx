import { useEffect, useState } from 'react';
import type { LoadProgress } from '../../model/api';
import { modelStore, useModel } from '../../state/app';
import { formatBytes, formatDuration, formatInt, formatRate } from '../format';

const PHASES: Record<LoadProgress['phase'], { label: string; bytes: boolean }> = {
  download: { label: 'Downloading', bytes: true },
  parse: { label: 'Parsing', bytes: false },
  upload: { label: 'Uploading to the GPU', bytes: true },
  compile: { label: 'Compiling kernels', bytes: false },
  ready: { label: 'Finishing', bytes: false },
};

/** Re-renders every `ms` while mounted (for the elapsed clock). */
function useTick(ms: number) {
  const [, setN] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setN((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
}

export function ProgressCard() {
  const progress = useModel((s) => s.progress);
  const label = useModel((s) => s.sourceLabel);
  useTick(500);
  if (!progress) return null;
  const phase = PHASES[progress.phase] ?? { label: progress.phase, bytes: false };
  const pct = progress.fraction !== null ? Math.round(progress.fraction * 100) : null;
  const amount = phase.bytes ? formatBytes : formatInt;
  const elapsed = (performance.now() - progress.startedAt) / 1000;

  return (
    <section className="card" aria-labelledby="progress-title" data-testid="load-progress" data-phase={progress.phase}>
      <div className="card-head">
        <h2 id="progress-title">
          {phase.label} {label}
        </h2>
        <button type="button" className="danger" onClick={() => modelStore.getState().cancelLoad()}>
          Cancel
        </button>
      </div>
      <div
        className={pct === null ? 'progress indeterminate' : 'progress'}
        role="progressbar"
        aria-label={`${phase.label} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct ?? undefined}
      >
        <div className="progress-fill" style={{ width: pct === null ? undefined : `${pct}%` }} />
      </div>
      <dl className="stats">
        <div>
          <dt>{phase.bytes ? 'Bytes' : 'Steps'}</dt>
          <dd>
            {progress.loaded === 0 && progress.total === 0 ? '—' : amount(progress.loaded)}
            {progress.total > 0 ? ` of ${amount(progress.total)}` : ''}
            {pct !== null ? ` (${pct}%)` : ''}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{phase.bytes ? formatRate(progress.rate) : progress.rate ? `${progress.rate.toFixed(1)}/s` : '—'}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd>{formatDuration(progress.etaSec)}</dd>
        </div>
        <div>
          <dt>Elapsed</dt>
          <dd>{formatDuration(elapsed)}</dd>
        </div>
      </dl>
      {progress.message && <p className="muted mono">{progress.message}</p>}
    </section>
  );
}
