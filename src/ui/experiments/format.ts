/** Number formatting of the Experiments panel's charts. */

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toPrecision(4).replace(/\.?0+$/, '');
}

export function fmtTick(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-2 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Line / bar colours, in order. */
export const PALETTE = ['#2f5bd3', '#1f8a4c', '#b7791f', '#8e44ad', '#0f766e', '#c2410c', '#64748b', '#be185d'];

/** A model name for display: a URL is shortened to its file name. */
export function modelLabel(name: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return name;
  try {
    return decodeURIComponent(new URL(name).pathname.split('/').filter(Boolean).pop() ?? name);
  } catch {
    return name;
  }
}
