import type { TrainingRecord } from '../../tags/tag';

/** How a tag (and its head) was trained: everything needed to reproduce the run, as recorded in the library. */
export function TrainingDetails({ training, testId }: { training: TrainingRecord | undefined; testId?: string }) {
  if (!training) {
    return (
      <p className="muted small" data-testid={testId}>
        No training record (untrained, imported, or saved by an older version).
      </p>
    );
  }
  const mapping = Object.entries(training.fieldMapping);
  const hyper = Object.entries(training.hyper);
  return (
    <dl className="kv small provenance" data-testid={testId}>
      <dt>Method</dt>
      <dd>
        {training.method}
        {training.peft ? ` (${training.peft})` : ''}, tag length {training.tagLength}
        {training.enrich ? ', enriched domain tags' : ''}
      </dd>
      <dt>{training.templates.length > 1 ? 'Templates' : 'Template'}</dt>
      <dd>
        {training.templates.map((t) => (
          <code key={t} className="pre block" data-testid="prov-template">
            {t}
          </code>
        ))}
      </dd>
      <dt>Field mapping</dt>
      <dd data-testid="prov-mapping">{mapping.length ? mapping.map(([f, c]) => `{${f}} ← ${c}`).join(', ') : 'fields named as the data columns'}</dd>
      <dt>Hyperparameters</dt>
      <dd className="mono" data-testid="prov-hyper">
        {hyper.map(([k, v]) => `${k} ${v}`).join(' · ')}
      </dd>
      <dt>Seed</dt>
      <dd data-testid="prov-seed">{training.seed}</dd>
      <dt>{training.datasets.length > 1 ? 'Datasets' : 'Dataset'}</dt>
      <dd data-testid="prov-datasets">
        {training.datasets.map((d) => (
          <div key={d.name + d.hash}>
            {d.name} · {d.rows} rows · hash <span className="mono">{d.hash}</span>
          </div>
        ))}
      </dd>
      <dt>Model</dt>
      <dd data-testid="prov-model">
        {training.model.name} ({training.model.arch}) · weights fingerprint <span className="mono">{training.model.weightsFingerprint}</span>
      </dd>
    </dl>
  );
}
