import { useEffect } from 'react';
import { modelStore, restoreSession, useModel } from '../state/app';
import { EngineRestartBanner } from './EngineRestartBanner';
import { ErrorBoundary } from './ErrorBoundary';
import { Notices } from './Notices';
import { PANELS, useUi } from './panels';

function StatusPill() {
  const status = useModel((s) => s.status);
  const name = useModel((s) => s.model?.name ?? s.sourceLabel);
  const gpuStatus = useModel((s) => s.gpuStatus);
  const label =
    status === 'loaded'
      ? name
      : status === 'loading'
        ? `Loading ${name ?? ''}…`
        : gpuStatus === 'error'
          ? 'No WebGPU'
          : 'No model loaded';
  const tone = status === 'loaded' ? 'ok' : status === 'loading' ? 'busy' : gpuStatus === 'error' ? 'bad' : 'idle';
  return (
    <span className={`pill pill-${tone}`} data-testid="model-status">
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function App() {
  const panel = useUi((s) => s.panel);
  const setPanel = useUi((s) => s.setPanel);
  const active = PANELS.find((p) => p.id === panel) ?? PANELS[0]!;

  useEffect(() => {
    void modelStore.getState().queryGpu();
    restoreSession();
  }, []);

  return (
    <div className="app">
      <header className="app-header">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            #
          </span>
          <span className="brand-name">Tag Workbench</span>
        </div>
        <StatusPill />
      </header>
      <nav className="app-nav" aria-label="Panels">
        <ul>
          {PANELS.map((p) => (
            <li key={p.id}>
              <a
                href={`#/${p.id}`}
                className={p.id === active.id ? 'nav-item active' : 'nav-item'}
                aria-current={p.id === active.id ? 'page' : undefined}
                title={p.description}
                onClick={(e) => {
                  e.preventDefault();
                  setPanel(p.id);
                }}
              >
                <span className="nav-icon" aria-hidden="true">
                  {p.icon}
                </span>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main className="app-main" aria-labelledby="panel-title">
        <EngineRestartBanner />
        <Notices />
        <div className="panel-head">
          <h1 id="panel-title">{active.label}</h1>
          <p className="muted">{active.description}</p>
        </div>
        <ErrorBoundary key={active.id} label={active.label}>
          <active.component />
        </ErrorBoundary>
      </main>
    </div>
  );
}

