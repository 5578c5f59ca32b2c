/** Number formatting for the UI. */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 KB" (binary multiples, short SI-looking names as browsers show them). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${UNITS[u]}`;
}

export function formatRate(bytesPerSec: number | null | undefined): string {
  if (bytesPerSec === null || bytesPerSec === undefined || !Number.isFinite(bytesPerSec)) return '—';
  return `${formatBytes(bytesPerSec)}/s`;
}

/** Seconds → "42 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec) || sec < 0) return '—';
  if (sec < 1) return '< 1 s';
  if (sec < 60) return `${Math.round(sec)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${String(Math.round(sec % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** 1234567 → "1,234,567". */
export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

/** Limits are mostly byte sizes or counts; the name says which. */
export function formatLimit(name: string, v: number): string {
  return /Size$|Alignment$/.test(name) && v >= 1024 ? `${formatBytes(v)} (${formatInt(v)})` : formatInt(v);
}

/** "maxStorageBufferBindingSize" → "Max storage buffer binding size". */
export function humanizeKey(key: string): string {
  const s = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * A token as text that is visible in any font: spaces (and SentencePiece's ▁) as ␣, newlines as ↵,
 * tabs as ⇥, other control characters as \uXXXX; the empty token as ∅.
 */
export function showToken(text: string): string {
  if (text === '') return '∅';
  return text.replace(/[\u0000-\u001f\u007f\u2581 ]/g, (c) => {
    if (c === ' ' || c === '\u2581') return '␣';
    if (c === '\n') return '↵';
    if (c === '\r') return '␍';
    if (c === '\t') return '⇥';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
