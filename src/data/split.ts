/**
 * Seeded train / validation / test split: the same seed and fractions give the same split on every
 * machine (mulberry32 Rng, Fisher–Yates), so results can be compared and reproduced.
 */
import { Rng } from '../model/sampling';

export interface SplitFractions {
  train: number;
  validation: number;
  test: number;
}

export interface Split<T> {
  train: T[];
  validation: T[];
  test: T[];
}

/**
 * Shuffles row indices with Rng(seed), gives the first round(n·test) to test, the next
 * round(n·validation) to validation and the rest to train (fractions are normalised by their sum).
 * Each part keeps the rows' original order, so a split reads like the source data.
 */
export function splitDataset<T>(rows: readonly T[], opts: { seed: number; fractions: SplitFractions }): Split<T> {
  const { train, validation, test } = opts.fractions;
  const fr = [train, validation, test];
  if (fr.some((f) => !Number.isFinite(f) || f < 0)) throw new Error(`Split fractions must be finite and ≥ 0 (got ${fr.join(', ')}).`);
  const sum = train + validation + test;
  if (!(sum > 0)) throw new Error('Split fractions must not all be 0.');
  const n = rows.length;
  const nTest = Math.round((n * test) / sum);
  const nVal = Math.min(n - nTest, Math.round((n * validation) / sum));

  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(opts.seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const part = (a: number, b: number) => idx.slice(a, b).sort((x, y) => x - y).map((i) => rows[i]);
  return { test: part(0, nTest), validation: part(nTest, nTest + nVal), train: part(nTest + nVal, n) };
}
