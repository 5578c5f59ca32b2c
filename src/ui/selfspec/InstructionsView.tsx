import { useMemo, useState } from 'react';
import type { InstructionView } from '../../state/selfspec';
import { useSelfSpec } from './store';
import { VerbRings } from './VerbRings';

const SHOWN = 120;

/** Instructions as they are generated: accepted and rejected (reason; for a duplicate, what it repeats), and the verb–noun rings. */
export function InstructionsView({ minRound = 1 }: { minRound?: number }) {
  const all = useSelfSpec((s) => s.view.instructions);
  const allAccepted = useSelfSpec((s) => s.view.accepted);
  const allRejected = useSelfSpec((s) => s.view.rejected);
  const allReasons = useSelfSpec((s) => s.view.reasons);
  const allTexts = useSelfSpec((s) => s.view.acceptedTexts);
  // Later rounds only (Iterate): counts of the items kept in the view, which hold every later-round item
  // unless a round brings more than the view keeps.
  const later = useMemo(() => {
    if (minRound <= 1) return null;
    const xs = all.filter((x) => x.round >= minRound);
    const reasons: Record<string, number> = {};
    for (const x of xs) if (!x.accepted && x.reason) reasons[x.reason.split(':')[0]] = (reasons[x.reason.split(':')[0]] ?? 0) + 1;
    return { accepted: xs.filter((x) => x.accepted).length, rejected: xs.filter((x) => !x.accepted).length, reasons, texts: xs.filter((x) => x.accepted).map((x) => x.instruction) };
  }, [all, minRound]);
  const accepted = later?.accepted ?? allAccepted;
  const rejected = later?.rejected ?? allRejected;
  const reasons = later?.reasons ?? allReasons;
  const texts = later?.texts ?? allTexts;
  const [filter, setFilter] = useState<'all' | 'accepted' | 'rejected'>('all');
  const items = useMemo(() => {
    const xs = all.filter((x) => x.round >= minRound && (filter === 'all' || (filter === 'accepted') === x.accepted));
    return xs.slice(-SHOWN).reverse();
  }, [all, filter, minRound]);
  return (
    <div className="ss-instructions" data-testid="ss-instructions-view">
      <div className="ss-col">
        <div className="ss-counts">
          <span className="pill pill-ok" data-testid="ss-accepted">
            {accepted} accepted
          </span>
          <span className="pill pill-bad" data-testid="ss-rejected">
            {rejected} rejected
          </span>
          {Object.entries(reasons)
            .sort((a, b) => b[1] - a[1])
            .map(([r, n]) => (
              <span key={r} className="chip" title="rejection reason">
                {r} ×{n}
              </span>
            ))}
        </div>
        <div className="tabs ss-filter" role="tablist">
          {(['all', 'accepted', 'rejected'] as const).map((f) => (
            <button key={f} type="button" role="tab" aria-selected={filter === f} className={filter === f ? 'tab active' : 'tab'} onClick={() => setFilter(f)}>
              {f}
            </button>
          ))}
        </div>
        <ol className="ss-list" data-testid="ss-instruction-list">
          {items.length === 0 && <li className="muted">Nothing yet.</li>}
          {items.map((x, i) => (
            <Item key={`${x.round}-${i}-${x.instruction}`} x={x} />
          ))}
        </ol>
      </div>
      <div className="ss-col">
        <VerbRings texts={texts} />
      </div>
    </div>
  );
}

function Item({ x }: { x: InstructionView }) {
  return (
    <li className={x.accepted ? 'ss-inst ok' : 'ss-inst bad'} data-testid={x.accepted ? 'ss-inst-accepted' : 'ss-inst-rejected'}>
      <div className="ss-inst-text">
        <span className="ss-inst-mark" aria-label={x.accepted ? 'accepted' : 'rejected'}>
          {x.accepted ? '✓' : '✗'}
        </span>
        {x.instruction || <span className="muted">(empty)</span>}
        {x.input && <span className="ss-inst-input"> — {x.input.length > 160 ? `${x.input.slice(0, 157)}…` : x.input}</span>}
        <span className="muted small"> · round {x.round}</span>
      </div>
      {!x.accepted && (
        <div className="ss-inst-reason" data-testid="ss-reason">
          {x.reason}
          {x.duplicateOf && (
            <>
              {' '}
              — duplicates <q data-testid="ss-duplicate-of">{x.duplicateOf}</q>
            </>
          )}
        </div>
      )}
    </li>
  );
}
