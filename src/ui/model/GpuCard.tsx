import { modelStore, useModel } from '../../state/app';
import { formatLimit, humanizeKey } from '../format';

const FEATURE_LABELS: Array<[keyof NonNullable<ReturnType<typeof modelStore.getState>['gpu']>['features'], string]> = [
  ['shaderF16', 'shader-f16'],
  ['subgroups', 'subgroups'],
  ['timestampQuery', 'timestamp-query'],
];

export function GpuCard() {
  const status = useModel((s) => s.gpuStatus);
  const gpu = useModel((s) => s.gpu);
  const error = useModel((s) => s.gpuError);

  return (
    <section className="card" aria-labelledby="gpu-title" data-testid="gpu-info" data-status={status}>
      <div className="card-head">
        <h2 id="gpu-title">WebGPU adapter</h2>
        {status === 'ready' && <span className="pill pill-ok">ready</span>}
      </div>
      {(status === 'idle' || status === 'pending') && <p className="muted">Requesting a WebGPU adapter…</p>}
      {status === 'error' && (
        <div className="inline-error" role="alert">
          <p>{error}</p>
          <button type="button" onClick={() => void modelStore.getState().queryGpu()}>
            Retry
          </button>
        </div>
      )}
      {gpu && (
        <>
          <dl className="kv" aria-label="Adapter info">
            <dt>Vendor</dt>
            <dd data-testid="gpu-vendor">{gpu.adapterInfo.vendor || '—'}</dd>
            <dt>Architecture</dt>
            <dd>{gpu.adapterInfo.architecture || '—'}</dd>
            <dt>Device</dt>
            <dd>{gpu.adapterInfo.device || '—'}</dd>
            <dt>Description</dt>
            <dd>{gpu.adapterInfo.description || '—'}</dd>
          </dl>
          <div className="features" aria-label="Optional features">
            {FEATURE_LABELS.map(([key, label]) => (
              <span key={key} className={gpu.features[key] ? 'chip chip-on' : 'chip chip-off'} title={gpu.features[key] ? 'available' : 'not available'}>
                {gpu.features[key] ? '✓' : '✗'} {label}
              </span>
            ))}
          </div>
          <details className="limits">
            <summary>Limits ({Object.keys(gpu.limits).length})</summary>
            <table>
              <tbody>
                {Object.entries(gpu.limits).map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">{humanizeKey(k)}</th>
                    <td className="num">{formatLimit(k, v)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </section>
  );
}
