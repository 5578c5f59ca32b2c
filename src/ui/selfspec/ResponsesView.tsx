import { useState } from 'react';
import type { ResponseView } from '../../state/selfspec';
import { passageColor } from './format';
import { useSelfSpec } from './store';

/**
 * Responses token by token beside their k passages (BM25 score, weight p_ret). Each token is
 * coloured by the passage that dominates its posterior share; hovering shows all k shares. The
 * shares stream with the tokens, so a response is coloured as it is generated.
 */
export function ResponsesView({ minRound = 1 }: { minRound?: number }) {
  const responses = useSelfSpec((s) => s.view.responses);
  const done = useSelfSpec((s) => s.view.responsesDone);
  const live = useSelfSpec((s) => s.status === 'running' || s.status === 'pausing');
  const shown = responses.filter((r) => r.round >= minRound);
  const [picked, setPicked] = useState<string | null>(null);
  const key = (r: ResponseView) => `${r.round}/${r.index}`;
  // Default: the newest one still streaming, else the newest.
  const current = shown.find((r) => key(r) === picked) ?? [...shown].reverse().find((r) => !r.done) ?? shown[shown.length - 1];
  return (
    <div className="ss-responses" data-testid="ss-responses-view" data-done={done}>
      <div className="ss-resp-list">
        <div className="muted small">{done} finished · newest last</div>
        <ol>
          {shown.map((r) => (
            <li key={key(r)}>
              <button type="button" className={current && key(current) === key(r) ? 'ss-resp-item active' : 'ss-resp-item'} onClick={() => setPicked(key(r))} data-testid="ss-resp-item">
                <span className={r.done ? 'pill pill-ok' : live ? 'pill pill-busy' : 'pill pill-idle'}>{r.done ? 'done' : live ? 'live' : 'stopped'}</span> #{r.index + 1} <span className="muted">r{r.round}</span> {r.instruction.slice(0, 70)}
              </button>
            </li>
          ))}
        </ol>
      </div>
      {current ? <Response r={current} /> : <p className="muted">Responses appear here as they are generated.</p>}
    </div>
  );
}

function Response({ r }: { r: ResponseView }) {
  const k = r.passages.length;
  const mixed = !!r.posterior && r.posterior.length > 0;
  return (
    <div className="ss-resp" data-testid="ss-response" data-done={r.done} data-tokens={r.tokens.length} data-coloured={mixed}>
      <div className="ss-resp-main">
        <div className="ss-resp-q">
          <strong>Instruction.</strong> {r.instruction}
          {r.input && (
            <>
              <br />
              <strong>Input.</strong> {r.input}
            </>
          )}
        </div>
        <div className="ss-tokens" data-testid="ss-tokens">
          {r.tokens.length === 0 && r.output !== null ? (
            <span>{r.output}</span>
          ) : (
            r.tokens.map((t, i) => <Token key={i} text={t.text} shares={r.posterior?.[i] ?? null} ids={r.passages.map((p) => p.id)} />)
          )}
          {!r.done && <span className="caret" aria-hidden="true" />}
        </div>
        <p className="muted small">
          {r.decoding ? `${r.decoding} decoding` : 'decoding…'}
          {k > 1 && !mixed && r.done ? ' · no per-token posterior came back (the engine decodes without mixture)' : ''}
          {k > 1 && !mixed && !r.done && r.tokens.length > 0 ? ' · no live shares (not mixture decoding)' : ''}
          {k <= 1 ? ` · ${k === 0 ? 'no retrieval' : 'one passage'}: nothing to colour` : ''}
        </p>
      </div>
      <ol className="ss-passages" data-testid="ss-passages">
        {k === 0 && <li className="muted">No passages (k = 0).</li>}
        {r.passages.map((p, j) => (
          <li key={p.id} className="ss-passage" style={{ borderLeftColor: passageColor(j) }} data-testid="ss-passage">
            <div className="ss-passage-head">
              <span className="swatch" style={{ background: passageColor(j) }} aria-hidden="true" />
              <strong>{p.id}</strong>
              <span className="muted">
                BM25 {p.score.toFixed(2)} · weight {p.weight.toFixed(3)}
              </span>
            </div>
            {p.text && <div className="ss-passage-text">{p.text.length > 420 ? `${p.text.slice(0, 417)}…` : p.text}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function Token({ text, shares, ids }: { text: string; shares: number[] | null; ids: string[] }) {
  if (!shares || shares.length === 0) return <span className="ss-tok">{text}</span>;
  let best = 0;
  for (let j = 1; j < shares.length; j++) if (shares[j] > shares[best]) best = j;
  const title = shares.map((s, j) => `${ids[j] ?? `passage ${j + 1}`}: ${(100 * s).toFixed(1)}%`).join('\n');
  // Stronger colour for a more decisive token.
  const alpha = Math.round(40 + 160 * Math.max(0, Math.min(1, (shares[best] - 1 / shares.length) / (1 - 1 / shares.length || 1))))
    .toString(16)
    .padStart(2, '0');
  return (
    <span className="ss-tok coloured" style={{ background: `${passageColor(best)}${alpha}` }} title={title} data-passage={best}>
      {text}
    </span>
  );
}
