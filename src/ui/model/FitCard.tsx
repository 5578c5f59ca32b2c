import { useMemo } from 'react';
import { modelStore, useModel } from '../../state/app';
import { fitLimitsOf, fitOf, sourceKey } from '../../state/model';
import type { ModelSourceSpec } from '../../worker/protocol';
import { NumberField } from '../NumberField';
import { formatBytes, formatInt } from '../format';

const GIB = 2 ** 30;

/** Whether the current inspection refuses this source (its Load button is then disabled). */
export function useRefused(source: ModelSourceSpec | null): boolean {
  const inspection = useModel((s) => s.inspection);
  const gpu = useModel((s) => s.gpu);
  const budgetBytes = useModel((s) => s.budgetBytes);
  return useMemo(() => {
    if (!source || inspection.key !== sourceKey(source)) return false;
    // The header says the file is not a model we can read: loading it would fail the same way
    // (after freeing the current model). A network failure is not a refusal: the cache may have it.
    if (inspection.status === 'error' && inspection.errorName === 'ModelFormatError') return true;
    const v = fitOf({ inspection, gpu, budgetBytes });
    return v !== null && !v.ok;
  }, [source, inspection, gpu, budgetBytes]);
}

function Mark({ ok }: { ok: boolean }) {
  return (
    <span className={ok ? 'fit-mark fit-ok' : 'fit-mark fit-bad'} aria-label={ok ? 'fits' : 'exceeds'}>
      {ok ? '✓' : '✗'}
    </span>
  );
}

/**
 * Before loading: what the selected model is (from its header), what it needs on the GPU, and the
 * adapter's limits against it. Refusals are explained here; the Load button follows the verdict.
 */
export function FitCard() {
  const inspection = useModel((s) => s.inspection);
  const gpu = useModel((s) => s.gpu);
  const gpuStatus = useModel((s) => s.gpuStatus);
  const budgetBytes = useModel((s) => s.budgetBytes);
  const verdict = useMemo(() => fitOf({ inspection, gpu, budgetBytes }, formatBytes), [inspection, gpu, budgetBytes]);
  if (inspection.status === 'idle') return null;

  const r = inspection.result;
  const limits = fitLimitsOf(gpu);
  const check = (id: string) => verdict?.checks.find((c) => c.id === id);
  const label = inspection.label ?? r?.source ?? 'the model';

  return (
    <div
      className="fit"
      data-testid="model-fit"
      data-status={inspection.status}
      data-verdict={verdict ? (verdict.ok ? 'ok' : 'refused') : undefined}
      aria-live="polite"
    >
      <div className="fit-head">
        <h3>Before loading · {label}</h3>
        {verdict && (verdict.ok ? <span className="pill pill-ok">fits</span> : <span className="pill pill-bad">refused</span>)}
      </div>

      {inspection.status === 'pending' && <p className="muted">Reading the header of {label}…</p>}

      {inspection.status === 'error' && (
        <div className="inline-error" role="alert" data-testid="fit-error">
          <p>
            <strong>{inspection.errorName === 'ModelFormatError' ? 'This file cannot be loaded' : `Could not inspect ${label}`}:</strong>{' '}
            {inspection.error}
          </p>
        </div>
      )}

      {r && (
        <>
          <p className="fit-model">
            <strong>{r.name}</strong> <span className="tag">{r.format}</span> <span className="tag">{r.config.arch}</span> {formatInt(r.config.nLayers)} layers · d{' '}
            {formatInt(r.config.dModel)} · {r.config.nHeads}/{r.config.nKvHeads} heads · vocabulary {formatInt(r.config.vocabSize)} · context{' '}
            {formatInt(r.config.maxSeqLen)} · file {formatBytes(r.fileBytes)}
            <br />
            <span className="muted">
              {r.types.map((t) => `${t.type} × ${t.tensors} (${formatBytes(t.bytes)})`).join(' · ')} · tokenizer:{' '}
              {r.tokenizer.kind === 'file' ? `file ${r.tokenizer.detail}` : r.tokenizer.detail} · header read: {formatBytes(r.bytesRead)}
            </span>
          </p>
          <p className="fit-estimate" data-testid="fit-estimate">
            Needs ≈ <strong>{formatBytes(r.estimate.total)}</strong> (weights {formatBytes(r.estimate.weights)} + KV {formatBytes(r.estimate.kv)} + scratch{' '}
            {formatBytes(r.estimate.scratch)})
            <span className="muted">
              {' '}
              for {r.shape.slots} slots × {formatInt(r.shape.maxContext)}-token context, {r.shape.maxTokens}-token chunks
            </span>
          </p>
          <table className="memtable fit-table">
            <tbody>
              <tr>
                <th scope="row">Largest tensor</th>
                <td className="mono">
                  {r.largestTensor.name} ({r.largestTensor.type}, [{r.largestTensor.shape.join(', ')}])
                </td>
                <td className="num">{formatBytes(r.largestTensor.bytes)}</td>
                <td />
              </tr>
              <tr>
                <th scope="row">maxStorageBufferBindingSize</th>
                <td className="muted">one weight per binding</td>
                <td className="num">{limits ? formatBytes(limits.maxStorageBufferBindingSize) : '—'}</td>
                <td>{check('binding') && <Mark ok={check('binding')!.ok} />}</td>
              </tr>
              <tr>
                <th scope="row">maxBufferSize</th>
                <td className="muted">one weight per buffer</td>
                <td className="num">{limits ? formatBytes(limits.maxBufferSize) : '—'}</td>
                <td>{check('buffer') && <Mark ok={check('buffer')!.ok} />}</td>
              </tr>
              <tr>
                <th scope="row">Memory budget</th>
                <td className="muted">the whole estimate</td>
                <td className="num">{budgetBytes > 0 ? formatBytes(budgetBytes) : 'none'}</td>
                <td>{check('budget') && <Mark ok={check('budget')!.ok} />}</td>
              </tr>
            </tbody>
          </table>
        </>
      )}

      <div className="fit-budget">
        <NumberField
          label="Memory budget (GiB, 0 = none)"
          value={Math.round((budgetBytes / GIB) * 100) / 100}
          min={0}
          step={0.5}
          onChange={(v) => modelStore.getState().setBudget((v ?? 0) * GIB)}
        />
        <p className="hint tight">
          WebGPU does not expose how much memory the GPU has (only per-buffer limits), so the estimate is held against this budget: set it to
          the GPU memory you can spare.
          {!limits && gpuStatus !== 'ready' && ' The adapter is not known yet: only the budget is checked.'}
        </p>
      </div>

      {verdict && !verdict.ok && (
        <div className="inline-error" role="alert" data-testid="fit-refusal">
          {verdict.problems.map((p) => (
            <p key={p}>{p}</p>
          ))}
        </div>
      )}
    </div>
  );
}
