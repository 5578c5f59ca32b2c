/** Small formatters of the Self-specialization panel. */

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 1) return '< 1 s';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function rate(perSecond: number, unit: string): string {
  if (!(perSecond > 0)) return '—';
  const u = unit || 'items';
  return perSecond >= 1 ? `${perSecond.toFixed(perSecond >= 10 ? 0 : 1)} ${u}/s` : `${(perSecond * 60).toFixed(1)} ${u}/min`;
}

export const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(1));

/** Passage colours (colour-blind-safe Okabe–Ito order). */
export const PASSAGE_COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#999999'];
export const passageColor = (j: number) => PASSAGE_COLORS[j % PASSAGE_COLORS.length];
