/** Learning-rate schedules: linear warmup, then cosine, linear or constant. */

export type ScheduleKind = 'cosine' | 'constant' | 'linear';

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warmup. */
  base: number;
  /** Number of optimizer steps in the run. */
  totalSteps: number;
  /** Fraction of totalSteps spent warming up linearly from 0 (default 0.03; 0 = none). */
  warmupFraction?: number;
  schedule: ScheduleKind;
  /** Floor the decay ends at (default 0); ignored by 'constant'. */
  minLr?: number;
}

/** Warmup length in steps: ceil(fraction · total), at most total (float noise such as 0.03·100 is rounded away). */
export function warmupSteps(totalSteps: number, warmupFraction = 0.03): number {
  if (!(warmupFraction > 0) || !(totalSteps > 0)) return 0;
  const w = Math.ceil(warmupFraction * totalSteps - 1e-9);
  return Math.min(Math.max(w, 0), Math.floor(totalSteps));
}

/**
 * The learning rate of the update with 0-based index `step` (the number of updates already taken;
 * AdamW's 1-based step count is step + 1):
 *   warmup (W = warmupSteps):  base · (step + 1) / W        for 0 ≤ step < W
 *   then, with p = (step − W) / (totalSteps − W) ∈ [0, 1):
 *     cosine:   minLr + (base − minLr) · (1 + cos(π·p)) / 2
 *     linear:   minLr + (base − minLr) · (1 − p)
 *     constant: base
 * so the first update already moves (base / W), the first after warmup runs at base, and the last one
 * (step = totalSteps − 1) still moves a little (as Hugging Face's cosine schedule: no wasted update at
 * lr = minLr). Steps past the end decay to minLr; a negative step gives 0.
 */
export function lrAt(step: number, o: ScheduleOptions): number {
  const { base, schedule } = o;
  const minLr = o.minLr ?? 0;
  const T = Math.max(0, Math.floor(o.totalSteps));
  if (!(step >= 0)) return 0;
  const s = step + 1;
  const W = warmupSteps(T, o.warmupFraction ?? 0.03);
  if (s <= W) return (base * s) / W;
  if (schedule === 'constant') return base;
  const span = T - W;
  const p = span > 0 ? Math.min(1, (step - W) / span) : 1;
  switch (schedule) {
    case 'cosine':
      return minLr + ((base - minLr) * (1 + Math.cos(Math.PI * p))) / 2;
    case 'linear':
      return minLr + (base - minLr) * (1 - p);
    default:
      throw new Error(`unknown learning-rate schedule "${schedule as string}"`);
  }
}
