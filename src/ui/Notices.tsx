import { useEffect } from 'react';
import { useNotices } from '../state/app';

/** Info notices (a run finished…) go away by themselves; warnings and errors stay until dismissed. */
const INFO_MS = 10_000;

/** The banner stack under the header: every error the app meets is shown here. */
export function Notices() {
  const notices = useNotices((s) => s.notices);
  const dismiss = useNotices((s) => s.dismiss);
  useEffect(() => {
    const timers = notices.filter((n) => n.kind === 'info').map((n) => setTimeout(() => dismiss(n.id), INFO_MS));
    return () => timers.forEach(clearTimeout);
  }, [notices, dismiss]);
  if (notices.length === 0) return null;
  return (
    <div className="notices">
      {notices.map((n) => (
        <div
          key={n.id}
          className={`notice notice-${n.kind}`}
          role={n.kind === 'error' ? 'alert' : 'status'}
          data-testid={n.kind === 'error' ? 'error-banner' : 'notice'}
        >
          <div className="notice-body">
            <strong className="notice-title">{n.title}</strong>
            <span className="notice-message">{n.message}</span>
            {n.errorName && n.kind === 'error' && <span className="notice-name">{n.errorName}</span>}
          </div>
          <button type="button" className="icon-button" aria-label={`Dismiss: ${n.title}`} onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
