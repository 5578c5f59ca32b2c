/**
 * Numeric labels from dataset text. Number() alone would read "" and "  " as 0 and accept
 * "Infinity"; a label that is not a finite number is a bad row, reported and skipped, never trained on.
 */
export function numericLabel(v: unknown): number | null {
  if (typeof v !== 'string' || v.trim() === '') return null;
  const x = Number(v);
  return Number.isFinite(x) ? x : null;
}
