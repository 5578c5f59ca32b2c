import { useId, useMemo } from 'react';
import { METHODS, type Method } from '../../train/protocol';
import { trainStore, useData, useLibrary, useModel, useTrain } from '../../state/app';
import {
  METHOD_LABELS,
  PAPER_HYPER,
  renameTagInTemplate,
  TEMPLATE_PRESETS,
  TINY_HYPER,
  continuedAdapterName,
  trainedTagOf,
  tryParseTemplate,
  type OutputKind,
} from '../../state/train';
import type { TagKind } from '../../tags/tag';
import type { Template } from '../../tags/template';
import { AdapterSelect } from '../common/AdapterSelect';
import { Select } from '../common/Select';
import { TagChip } from '../common/TagChip';
import { formatInt } from '../format';
import { NumberField } from '../NumberField';
import { Checkpoints } from './Checkpoints';
import { LiveRun } from './LiveRun';
import { RunHistory } from './RunHistory';
import { SampleSettings } from './Samples';

export function TrainPanel() {
  return (
    <div className="stack">
      <div className="panel-grid">
        <div className="col">
          <RunCard />
        </div>
        <div className="col col-side">
          <HyperCard />
          <SampleSettings />
          <Checkpoints />
        </div>
      </div>
      <LiveRun />
      <RunHistory />
    </div>
  );
}

function useKinds(): Map<string, TagKind> {
  const tags = useLibrary((s) => s.summary.tags);
  return useMemo(() => new Map(tags.map((t) => [t.name, t.kind])), [tags]);
}

/** The template's segments as chips and slots. */
export function TemplatePreview({ template, kinds, newTag, newKind }: { template: Template; kinds: Map<string, TagKind>; newTag?: string | null; newKind?: TagKind }) {
  return (
    <div className="template-preview" aria-label="Template preview" data-testid="template-preview">
      {template.segments.map((s, i) => {
        if (s.kind === 'text')
          return (
            <span key={i} className="tp-text">
              {s.text}
            </span>
          );
        if (s.kind === 'field')
          return (
            <span key={i} className="tp-field" title={`field {${s.name}}`}>
              {s.name}
            </span>
          );
        if (s.kind === 'tagFromField')
          return (
            <span key={i} className="tagchip tagchip-unknown" title={`the tag named by the value of {${s.field}}`}>
              ‹{`{${s.field}}`}›
            </span>
          );
        const kind = kinds.get(s.name) ?? (s.name === newTag ? (newKind ?? 'unknown') : 'unknown');
        const isNew = !kinds.has(s.name);
        return <TagChip key={i} name={s.name} kind={kind} badge={isNew ? (s.name === newTag ? 'new' : 'missing') : undefined} title={isNew ? (s.name === newTag ? `<${s.name}> will be created by this run` : `<${s.name}> is not in the library`) : undefined} />;
      })}
    </div>
  );
}

function RunCard() {
  const config = useTrain((s) => s.config);
  const running = useTrain((s) => s.status === 'running' || s.status === 'starting');
  const datasets = useData((s) => s.datasets);
  const kinds = useKinds();
  const t = trainStore.getState();
  const { template, error } = useMemo(() => tryParseTemplate(config.template), [config.template]);
  const trained = template ? trainedTagOf(config.method, template, config.outputField) : null;
  const firstDs = datasets.find((d) => d.id === config.datasetIds[0]);
  const dsFields = firstDs ? Object.keys(firstDs.mapping) : [];
  const stage1 = config.method === 'stage1';
  const templateId = useId();

  return (
    <section className="card" aria-labelledby="run-title">
      <div className="card-head">
        <h2 id="run-title">Run</h2>
        <div className="actions">
          <label className="inline-label" htmlFor={`${templateId}-preset`}>
            Preset
          </label>
          <select id={`${templateId}-preset`} value="" onChange={(e) => t.applyPreset(e.target.value)} disabled={running} aria-label="Template preset">
            <option value="">Choose a template…</option>
            {TEMPLATE_PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <fieldset disabled={running} className="run-form">
        <div className="options run-row">
          <Select<Method>
            label="Method"
            value={config.method}
            options={METHODS.map((m) => ({ value: m, label: METHOD_LABELS[m] }))}
            onChange={(method) => t.setConfig({ method })}
            testId="train-method"
          />
          <div className="field">
            <label htmlFor={`${templateId}-tag`}>Trained tag</label>
            <input
              id={`${templateId}-tag`}
              type="text"
              className="mono"
              value={trained ?? ''}
              placeholder={stage1 ? 'first tag of the template' : 'the tag before the output field'}
              disabled={!trained}
              onChange={(e) => {
                const to = e.target.value.replace(/[^A-Za-z0-9_-]/g, '');
                if (trained && to) t.setConfig({ template: renameTagInTemplate(config.template, trained, to) });
              }}
              aria-describedby={`${templateId}-tag-hint`}
            />
            <span id={`${templateId}-tag-hint`} className="field-hint">
              {trained ? (kinds.has(trained) ? 'exists: training continues from it' : 'new: created by this run') : 'this method trains no tag'}
            </span>
          </div>
          <NumberField label="Tag length (rows)" value={config.tagLength} min={1} max={256} step={1} integer hint="paper: 10" onChange={(v) => v !== null && t.setConfig({ tagLength: v })} />
          {config.method === 'lora' && (
            <AdapterSelect
              label="Start from adapter"
              value={config.initAdapter ?? null}
              onChange={(initAdapter) => t.setConfig({ initAdapter })}
              noneLabel="none (fresh adapter)"
              hint={config.initAdapter ? `its rank, α and targets; saved as ${continuedAdapterName(config.initAdapter)}` : undefined}
              testId="train-init-adapter"
              wide={false}
            />
          )}
        </div>

        <div className="field">
          <label htmlFor={templateId}>Template</label>
          <textarea
            id={templateId}
            rows={3}
            value={config.template}
            spellCheck={false}
            onChange={(e) => t.setConfig({ template: e.target.value })}
            aria-invalid={!!error || undefined}
            aria-describedby={`${templateId}-help`}
            data-testid="train-template"
          />
          <span id={`${templateId}-help`} className="field-hint">
            {'<Name>'} is a tag, {'{field}'} a dataset field, {'<{field}>'} the tag named by a field. Stage 1: {'<Domain> {text}'}; numeric tasks end with a function tag right before {'{output}'}.
          </span>
        </div>
        {template ? (
          <TemplatePreview template={template} kinds={kinds} newTag={trained} newKind={stage1 ? 'domain' : 'function'} />
        ) : (
          <p className="inline-error" role="alert">
            {error}
          </p>
        )}

        <div className="options run-row data-row">
          {config.method === 'stage3' ? (
            <div className="field span-2">
              <span className="label">Datasets (batches mix them)</span>
              <div className="checks">
                {datasets.map((d) => (
                  <label key={d.id} className="check">
                    <input
                      type="checkbox"
                      checked={config.datasetIds.includes(d.id)}
                      onChange={(e) => t.setConfig({ datasetIds: e.target.checked ? [...config.datasetIds, d.id] : config.datasetIds.filter((x) => x !== d.id) })}
                    />
                    {d.name}
                  </label>
                ))}
                {!datasets.length && <span className="muted">Import one in the Data panel.</span>}
              </div>
            </div>
          ) : (
            <Select
              label="Dataset"
              value={config.datasetIds[0] ?? ''}
              options={[{ value: '', label: datasets.length ? 'Choose…' : 'none: import one in the Data panel', disabled: true }, ...datasets.map((d) => ({ value: d.id, label: `${d.name} (${formatInt(d.rows.length)} rows)` }))]}
              onChange={(id) => t.setConfig({ datasetIds: [id], fieldMap: {} })}
              testId="train-dataset"
            />
          )}
          {!stage1 && (
            <>
              <Select<OutputKind>
                label="Output"
                value={config.outputKind}
                options={[
                  { value: 'text', label: 'Text (LM loss)' },
                  { value: 'regression', label: 'Regression head (MSE)' },
                  { value: 'classification', label: 'Classification head (CE)' },
                ]}
                onChange={(outputKind) => t.setConfig({ outputKind })}
              />
              <Select
                label="Output field"
                value={config.outputField}
                options={(template?.fields.length ? template.fields : [config.outputField]).map((f) => ({ value: f, label: `{${f}}` }))}
                onChange={(outputField) => t.setConfig({ outputField })}
              />
            </>
          )}
        </div>

        {template && template.fields.length > 0 && firstDs && (
          <div className="field">
            <span className="label">Field mapping</span>
            <div className="mapping-row" data-testid="train-field-map">
              {template.fields.map((f) => {
                const value = config.fieldMap[f] || f;
                const missing = !dsFields.includes(value);
                return (
                  <label key={f} className={missing ? 'map-pill invalid' : 'map-pill'}>
                    <span className="tp-field">{f}</span>
                    <span aria-hidden="true">←</span>
                    <select aria-label={`Dataset field for {${f}}`} value={missing ? '' : value} onChange={(e) => t.setConfig({ fieldMap: { ...config.fieldMap, [f]: e.target.value } })}>
                      {missing && <option value="">choose…</option>}
                      {dsFields.map((x) => (
                        <option key={x} value={x}>
                          {x}
                        </option>
                      ))}
                    </select>
                  </label>
                );
              })}
            </div>
          </div>
        )}

        <details className="more">
          <summary>Options</summary>
          <div className="checks">
            <label className="check" title="Stage 2: train the domain tags further, with the stage-1 loss added">
              <input type="checkbox" checked={config.enrich} disabled={config.method !== 'stage2'} onChange={(e) => t.setConfig({ enrich: e.target.checked })} />
              Enrich domain tags (stage 2)
            </label>
            <label className="check" title="Domain-tagged spans do not attend to the text before the tag">
              <input type="checkbox" checked={config.isolate} onChange={(e) => t.setConfig({ isolate: e.target.checked })} />
              Isolation mask
            </label>
            {template?.fields.map((f) => (
              <label key={f} className="check" title="Write a space between residues (proteins: one token per residue)">
                <input
                  type="checkbox"
                  checked={config.spacedFields.includes(f)}
                  onChange={(e) => t.setConfig({ spacedFields: e.target.checked ? [...config.spacedFields, f] : config.spacedFields.filter((x) => x !== f) })}
                />
                Space out {`{${f}}`}
              </label>
            ))}
          </div>
        </details>
      </fieldset>
    </section>
  );
}

function HyperCard() {
  const h = useTrain((s) => s.config.hyper);
  const config = useTrain((s) => s.config);
  const running = useTrain((s) => s.status === 'running' || s.status === 'starting');
  const dModel = useModel((s) => s.model?.config.dModel ?? null);
  const t = trainStore.getState();
  return (
    <section className="card" aria-labelledby="hyper-title">
      <div className="card-head">
        <h2 id="hyper-title">Hyperparameters</h2>
        <div className="actions">
          <button type="button" className="link" onClick={() => t.setConfig({ hyper: { ...PAPER_HYPER } })} disabled={running} title="AdamW lr 1e-4, wd 0, cosine, 3% warmup, batch 4 × accumulation 8">
            Paper
          </button>
          <button type="button" className="link" onClick={() => t.setConfig({ hyper: { ...TINY_HYPER } })} disabled={running} title="For tiny models: 10 steps, batch 2, lr 3e-2">
            Tiny model
          </button>
        </div>
      </div>
      <fieldset disabled={running}>
        <div className="options">
          <NumberField label="Steps" value={h.steps} min={1} step={1} integer onChange={(v) => v !== null && t.setHyper({ steps: v })} />
          <NumberField label="Learning rate" value={h.lr} min={0} step={0.0001} onChange={(v) => v !== null && t.setHyper({ lr: v })} />
          <NumberField label="Batch" value={h.batch} min={1} step={1} integer onChange={(v) => v !== null && t.setHyper({ batch: v })} />
          <NumberField label="Grad. accumulation" value={h.accum} min={1} step={1} integer onChange={(v) => v !== null && t.setHyper({ accum: v })} />
          <NumberField label="Weight decay" value={h.weightDecay} min={0} step={0.01} onChange={(v) => v !== null && t.setHyper({ weightDecay: v })} />
          <NumberField label="Warmup (fraction)" value={h.warmupFraction} min={0} max={0.99} step={0.01} onChange={(v) => v !== null && t.setHyper({ warmupFraction: v })} />
          <Select
            label="Schedule"
            value={h.schedule}
            options={[
              { value: 'cosine', label: 'cosine' },
              { value: 'linear', label: 'linear' },
              { value: 'constant', label: 'constant' },
            ]}
            onChange={(schedule) => t.setHyper({ schedule })}
          />
          <NumberField label="Max grad. norm" value={h.maxGradNorm} min={0} step={0.1} hint="0 = no clipping" onChange={(v) => v !== null && t.setHyper({ maxGradNorm: v })} />
          <NumberField label="Seed" value={h.seed} min={0} step={1} integer onChange={(v) => v !== null && t.setHyper({ seed: v })} />
          <NumberField label="Checkpoint every" value={config.checkpointEvery} min={0} step={1} integer hint="steps; 0 = only on pause" onChange={(v) => v !== null && t.setConfig({ checkpointEvery: v })} />
          <NumberField label="Validate every" value={config.evalEvery} min={0} step={1} integer hint="steps; 0 = start and end" onChange={(v) => v !== null && t.setConfig({ evalEvery: v })} />
          <NumberField label="Validation examples" value={config.evalLimit} min={1} step={1} integer hint="per periodic check" onChange={(v) => v !== null && t.setConfig({ evalLimit: v })} />
        </div>
      </fieldset>
      <p className="hint">
        Trainable: {config.tagLength} rows × d{dModel ? ` = ${formatInt(config.tagLength * dModel)}` : ''} per new tag. Optimizer: AdamW; effective batch {h.batch * h.accum}.
      </p>
    </section>
  );
}
