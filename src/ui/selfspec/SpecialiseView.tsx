import { fmt, MiniChart } from '../common/LiveChart';
import type { TrainSeries } from '../../state/selfspec';
import { useSelfSpec } from './store';

const METHOD_LABEL: Record<string, string> = { lora: 'LoRA', tag: 'Domain tag', both: 'LoRA + tag' };

/** Specialisation runs with the Train panel's live charts: loss, learning rate and speed per step. */
export function SpecialiseView({ minRound = 1 }: { minRound?: number }) {
  const train = useSelfSpec((s) => s.view.train).filter((t) => t.round >= minRound);
  if (train.length === 0) return <p className="muted">Training curves appear here when specialisation starts.</p>;
  return (
    <div className="stack" data-testid="ss-specialise-view">
      {train.map((t) => (
        <Series key={t.key} t={t} />
      ))}
    </div>
  );
}

function Series({ t }: { t: TrainSeries }) {
  const last = t.points[t.points.length - 1];
  const data = t.points.map((p) => ({ step: p.step, loss: p.loss, lr: p.lr, tokensPerSec: p.tokensPerSec }));
  const [, method] = t.key.split('/');
  return (
    <section className="ss-train" data-testid="ss-train-series" data-key={t.key} data-points={t.points.length}>
      <h3>
        Round {t.round}: {METHOD_LABEL[method.replace(/-k\d+$/, '')] ?? method}
        {/-k\d+$/.test(method) ? ` (k = ${method.split('-k')[1]})` : ''}
      </h3>
      <dl className="stats">
        <div>
          <dt>Step</dt>
          <dd>
            {last?.step ?? 0} / {t.totalSteps}
          </dd>
        </div>
        <div>
          <dt>Epoch</dt>
          <dd>{last ? last.epoch.toFixed(2) : '—'}</dd>
        </div>
        <div>
          <dt>Loss</dt>
          <dd>{last ? fmt(last.loss) : '—'}</dd>
        </div>
        <div>
          <dt>Saved</dt>
          <dd className="mono small">{t.library ?? '—'}</dd>
        </div>
      </dl>
      <div className="charts">
        <MiniChart title="Training loss" data={data} dataKey="loss" color="#2f5bd3" testId="ss-chart-loss" />
        <MiniChart title="Learning rate" data={data} dataKey="lr" color="#8e44ad" testId="ss-chart-lr" />
        <MiniChart title="Tokens / s" data={data} dataKey="tokensPerSec" color="#0f766e" testId="ss-chart-tps" />
      </div>
    </section>
  );
}
