import { useId, useState } from 'react';
import { useData } from '../../state/app';
import { DEFAULT_FORM, type DataTaskForm, type ExperimentForm } from '../../state/experiments';
import { inferKind } from '../../experiments/dataset-task';
import { BUILTIN_TASKS } from '../../experiments/tasks';
import { ABLATIONS, EXPERIMENT_METHODS, METHOD_LABELS, METRIC_INFO, VARIANT_LABELS } from '../../experiments/types';
import { FileDrop } from '../common/FileDrop';
import { NumberField } from '../NumberField';
import { experimentsStore, useExperiments } from './store';

const PRESETS: Array<{ id: string; label: string; title: string; form: ExperimentForm }> = [
  { id: 'tiny', label: 'Tiny', title: 'One task, Tag-LLM vs a linear probe, a few steps on tiny caps: seconds on stories260K', form: DEFAULT_FORM },
  {
    id: 'paper',
    label: 'Paper tables',
    title: 'Every task and method, 3 seeds, the ablations and the tag-length sweep at the paper’s settings (hours, a real model)',
    form: {
      name: 'paper',
      tasks: BUILTIN_TASKS.map((t) => t.id),
      data: [],
      methods: [...EXPERIMENT_METHODS],
      seeds: '0, 1, 2',
      steps: 100,
      epochs: null,
      batch: 4,
      lr: 1e-4,
      tagLength: 10,
      maxTrain: null,
      maxEval: null,
      maxChars: null,
      ablations: [...ABLATIONS],
      tagLengths: '1, 5, 10, 20',
    },
  },
];

function toggle<T>(list: readonly T[], item: T, on: boolean): T[] {
  return on ? (list.includes(item) ? [...list] : [...list, item]) : list.filter((x) => x !== item);
}

export function DefinitionCard() {
  const mode = useExperiments((s) => s.mode);
  const running = useExperiments((s) => s.status === 'running');
  const formNote = useExperiments((s) => s.formNote);
  const e = experimentsStore.getState();
  return (
    <section className="card" aria-labelledby="exp-def-title">
      <div className="card-head">
        <h2 id="exp-def-title">Definition</h2>
        <div className="tabs" role="tablist" aria-label="Edit the definition as">
          {(['form', 'json'] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={mode === m}
              className={mode === m ? 'tab active' : 'tab'}
              onClick={() => e.setMode(m)}
              disabled={running}
              data-testid={`exp-mode-${m}`}
            >
              {m === 'form' ? 'Form' : 'JSON'}
            </button>
          ))}
        </div>
      </div>
      {formNote && (
        <p className="hint tight exp-note" role="status">
          {formNote}
        </p>
      )}
      <fieldset disabled={running} className="stack-sm">
        {mode === 'form' ? <FormEditor /> : <JsonEditor />}
      </fieldset>
      <Validation />
    </section>
  );
}

function FormEditor() {
  const form = useExperiments((s) => s.form);
  const e = experimentsStore.getState();
  const nameId = useId();
  const seedsId = useId();
  const lengthsId = useId();
  const set = (patch: Partial<ExperimentForm>) => e.setForm(patch);
  return (
    <>
      <div className="exp-presets">
        <span className="muted small">Presets</span>
        {PRESETS.map((p) => (
          <button key={p.id} type="button" className="small" title={p.title} onClick={() => set({ ...p.form, data: form.data })}>
            {p.label}
          </button>
        ))}
      </div>
      <div className="field">
        <label htmlFor={nameId}>Name</label>
        <input id={nameId} type="text" value={form.name} onChange={(ev) => set({ name: ev.target.value })} spellCheck={false} data-testid="exp-name" />
        <span className="field-hint">Results are saved under this name; running it again skips the cells already done.</span>
      </div>
      <div className="field">
        <span className="label">Tasks</span>
        <div className="checks">
          {BUILTIN_TASKS.map((t) => {
            const m = METRIC_INFO[t.metric];
            return (
              <label key={t.id} className="check" title={t.template}>
                <input type="checkbox" checked={form.tasks.includes(t.id)} onChange={(ev) => set({ tasks: BUILTIN_TASKS.map((x) => x.id).filter((id) => (id === t.id ? ev.target.checked : form.tasks.includes(id))) })} />
                {t.title}
                <span className="muted small">
                  {m.label} {m.higherIsBetter ? '↑' : '↓'}
                </span>
              </label>
            );
          })}
        </div>
      </div>
      <DataTasks />
      <div className="field">
        <span className="label">Methods</span>
        <div className="checks">
          {EXPERIMENT_METHODS.map((m) => (
            <label key={m} className="check">
              <input type="checkbox" checked={form.methods.includes(m)} onChange={(ev) => set({ methods: EXPERIMENT_METHODS.filter((x) => (x === m ? ev.target.checked : form.methods.includes(x))) })} />
              {METHOD_LABELS[m]}
            </label>
          ))}
        </div>
      </div>
      <div className="options exp-options">
        <div className="field">
          <label htmlFor={seedsId}>Seeds</label>
          <input id={seedsId} type="text" className="mono" value={form.seeds} onChange={(ev) => set({ seeds: ev.target.value })} placeholder="0, 1, 2" />
        </div>
        <NumberField label="Steps" value={form.steps} min={1} step={1} integer disabled={form.epochs !== null} hint={form.epochs !== null ? 'epochs set' : undefined} onChange={(v) => v !== null && set({ steps: v })} />
        <NumberField label="Epochs" value={form.epochs} min={0.01} step={1} allowEmpty placeholder="use steps" onChange={(v) => set({ epochs: v === null || v <= 0 ? null : v })} />
        <NumberField label="Batch" value={form.batch} min={1} step={1} integer onChange={(v) => v !== null && set({ batch: v })} />
        <NumberField label="Learning rate" value={form.lr} min={0} step={0.001} onChange={(v) => v !== null && set({ lr: v })} />
        <NumberField label="Tag length" value={form.tagLength} min={1} max={256} step={1} integer onChange={(v) => v !== null && set({ tagLength: v })} />
        <NumberField label="Max train rows" value={form.maxTrain} min={1} step={1} integer allowEmpty placeholder="all" onChange={(v) => set({ maxTrain: v })} />
        <NumberField label="Max eval rows" value={form.maxEval} min={1} step={1} integer allowEmpty placeholder="all" onChange={(v) => set({ maxEval: v })} />
        <NumberField label="Max chars / field" value={form.maxChars} min={1} step={1} integer allowEmpty placeholder="no limit" onChange={(v) => set({ maxChars: v })} />
      </div>
      <details className="more" open={form.ablations.length > 0 || form.tagLengths.trim() !== ''}>
        <summary>Ablations and tag-length sweep (Tag-LLM)</summary>
        <div className="stack-sm exp-more">
          <div className="checks">
            {ABLATIONS.map((a) => (
              <label key={a} className="check">
                <input type="checkbox" checked={form.ablations.includes(a)} onChange={(ev) => set({ ablations: toggle(form.ablations, a, ev.target.checked) })} />
                {VARIANT_LABELS[a]}
              </label>
            ))}
          </div>
          <div className="field">
            <label htmlFor={lengthsId}>Tag lengths to sweep</label>
            <input id={lengthsId} type="text" className="mono" value={form.tagLengths} onChange={(ev) => set({ tagLengths: ev.target.value })} placeholder="e.g. 1, 5, 10, 20" />
          </div>
        </div>
      </details>
    </>
  );
}

const KIND_LABELS = { regression: 'Regression', classification: 'Classification', text: 'Generation' } as const;

/** Tasks over the Data panel's data sets: which columns are read, which is predicted, how, and the split. */
function DataTasks() {
  const entries = useExperiments((s) => s.form.data);
  const datasets = useData((s) => s.datasets);
  const [pick, setPick] = useState('');
  const e = experimentsStore.getState();
  const chosen = datasets.some((d) => d.id === pick) ? pick : (datasets[0]?.id ?? '');
  return (
    <div className="field" data-testid="exp-data">
      <span className="label">Your data sets</span>
      {entries.map((d, i) => (
        <DataTaskEditor key={i} index={i} entry={d} />
      ))}
      {datasets.length === 0 ? (
        <span className="field-hint">Import a file or load a built-in data set in the Data panel to run experiments on it.</span>
      ) : (
        <div className="row exp-add-data">
          <select aria-label="Data set to add" value={chosen} onChange={(ev) => setPick(ev.target.value)} data-testid="exp-data-pick">
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.rows.length.toLocaleString('en-US')} rows)
              </option>
            ))}
          </select>
          <button type="button" className="small" onClick={() => chosen && e.addDataTask(chosen)} data-testid="exp-add-data">
            Add as a task
          </button>
        </div>
      )}
    </div>
  );
}

function DataTaskEditor({ index, entry }: { index: number; entry: DataTaskForm }) {
  const datasets = useData((s) => s.datasets);
  const e = experimentsStore.getState();
  const ds = datasets.find((d) => d.id === entry.datasetId);
  const set = (patch: Partial<DataTaskForm>) => e.setDataTask(index, patch);
  const targetId = useId();
  const kindId = useId();
  const inferred = ds && entry.target ? inferKind(ds.rows.map((r) => r[entry.target] ?? '')) : null;
  return (
    <fieldset className="exp-data-task stack-sm" data-testid="exp-data-task" data-dataset={ds?.name ?? ''}>
      <legend>
        {ds ? ds.name : 'a data set no longer in the workbench'} <span className="muted small">{ds ? `${ds.rows.length.toLocaleString('en-US')} rows` : ''}</span>
        <button type="button" className="small link" onClick={() => e.removeDataTask(index)} aria-label={`Remove the task on ${ds?.name ?? 'this data set'}`}>
          Remove
        </button>
      </legend>
      {ds && (
        <>
          <div className="field">
            <span className="label">Input column(s)</span>
            <div className="checks" data-testid="exp-data-inputs">
              {ds.columns.map((c) => (
                <label key={c} className="check">
                  <input
                    type="checkbox"
                    checked={entry.inputs.includes(c)}
                    disabled={c === entry.target}
                    onChange={(ev) => set({ inputs: ds.columns.filter((x) => (x === c ? ev.target.checked : entry.inputs.includes(x))) })}
                  />
                  {c}
                </label>
              ))}
            </div>
          </div>
          <div className="options exp-options">
            <div className="field">
              <label htmlFor={targetId}>Target column</label>
              <select
                id={targetId}
                value={entry.target}
                onChange={(ev) => set({ target: ev.target.value, inputs: entry.inputs.filter((x) => x !== ev.target.value) })}
                data-testid="exp-data-target"
              >
                {ds.columns.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={kindId}>Task</label>
              <select id={kindId} value={entry.kind} onChange={(ev) => set({ kind: ev.target.value as DataTaskForm['kind'] })} data-testid="exp-data-kind">
                <option value="auto">Auto{inferred ? ` (${KIND_LABELS[inferred].toLowerCase()})` : ''}</option>
                <option value="regression">Regression</option>
                <option value="classification">Classification</option>
                <option value="text">Generation</option>
              </select>
            </div>
            <NumberField label="Test fraction" value={entry.test} min={0.01} max={0.9} step={0.05} onChange={(v) => v !== null && set({ test: v })} hint="of the distinct inputs" />
            <NumberField label="Split seed" value={entry.seed} min={0} step={1} integer onChange={(v) => v !== null && set({ seed: v })} />
          </div>
        </>
      )}
    </fieldset>
  );
}

function JsonEditor() {
  const text = useExperiments((s) => s.jsonText);
  const fileName = useExperiments((s) => s.fileName);
  const e = experimentsStore.getState();
  const id = useId();
  return (
    <>
      <FileDrop
        label="Upload a definition"
        accept=".json,application/json"
        testId="exp-upload"
        onFiles={(files) => {
          const f = files[0];
          if (f) void f.text().then((t) => e.setJsonText(t, f.name));
        }}
      >
        a .json file (docs/experiments.md), or drop it here
      </FileDrop>
      <div className="field">
        <label htmlFor={id}>
          Definition JSON{fileName && <span className="muted normal"> · {fileName}</span>}
        </label>
        <textarea
          id={id}
          className="mono exp-json"
          rows={16}
          spellCheck={false}
          value={text}
          onChange={(ev) => e.setJsonText(ev.target.value, null)}
          placeholder={'{\n  "name": "quick",\n  "tasks": ["descriptor"],\n  "methods": ["tag-llm", "linear-probe"],\n  "seeds": [0],\n  "hyper": { "steps": 3, "batch": 2, "lr": 0.01 },\n  "tagLength": 2,\n  "caps": { "maxTrain": 12, "maxEval": 6, "maxChars": 16 }\n}'}
          data-testid="exp-json"
        />
      </div>
    </>
  );
}

function Validation() {
  const check = useExperiments((s) => s.check);
  const v = check.validation;
  if (check.parseError) {
    return (
      <div className="exp-validation bad" data-testid="exp-validation" data-ok="false" role="alert">
        {check.parseError}
      </div>
    );
  }
  if (!v) return null;
  if (!v.ok) {
    return (
      <div className="exp-validation bad" data-testid="exp-validation" data-ok="false" role="alert">
        <strong>
          {v.errors.length} problem{v.errors.length === 1 ? '' : 's'}:
        </strong>
        <ul>
          {v.errors.map((err, i) => (
            <li key={i} data-testid="exp-error">
              {err}
            </li>
          ))}
        </ul>
      </div>
    );
  }
  const d = v.definition;
  const parts = [`${d.tasks.length} task${d.tasks.length === 1 ? '' : 's'}`, `${d.methods.length} method${d.methods.length === 1 ? '' : 's'}`, `${d.seeds.length} seed${d.seeds.length === 1 ? '' : 's'}`];
  if (d.ablations.length) parts.push(`${d.ablations.length} ablation${d.ablations.length === 1 ? '' : 's'}`);
  if (d.tagLengths.length) parts.push(`tag lengths ${d.tagLengths.join(', ')}`);
  return (
    <div className="exp-validation ok" data-testid="exp-validation" data-ok="true">
      ✓ Valid: <strong>{check.cells}</strong> cell{check.cells === 1 ? '' : 's'} ({parts.join(' × ')}), {d.hyper.epochs ? `${d.hyper.epochs} epoch${d.hyper.epochs === 1 ? '' : 's'}` : `${d.hyper.steps ?? 100} steps`} × batch {d.hyper.batch ?? 4} each.
    </div>
  );
}
