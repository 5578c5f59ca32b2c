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

/** How many of n rows splitDataset puts in each part (it depends on n and the fractions only, not the seed). */
export function splitSizes(n: number, fractions: SplitFractions): SplitFractions {
  const { train, validation, test } = fractions;
  const fr = [train, validation, test];
  if (fr.some((f) => !Number.isFinite(f) || f < 0)) throw new Error(`Split fractions must be finite and ≥ 0 (got ${fr.join(', ')}).`);
  const sum = train + validation + test;
  if (!(sum > 0)) throw new Error('Split fractions must not all be 0.');
  const nTest = Math.round((n * test) / sum);
  const nVal = Math.min(n - nTest, Math.round((n * validation) / sum));
  return { train: n - nTest - nVal, validation: nVal, test: nTest };
}

/**
 * Shuffles row indices with Rng(seed), gives the first round(n·test) to test, the next
 * round(n·validation) to validation and the rest to train (fractions are normalised by their sum).
 * Each part keeps the rows' original order, so a split reads like the source data.
 */
export function splitDataset<T>(rows: readonly T[], opts: { seed: number; fractions: SplitFractions }): Split<T> {
  const n = rows.length;
  const { test: nTest, validation: nVal } = splitSizes(n, opts.fractions);

  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(opts.seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const part = (a: number, b: number) => idx.slice(a, b).sort((x, y) => x - y).map((i) => rows[i]);
  return { test: part(0, nTest), validation: part(nTest, nTest + nVal), train: part(nTest + nVal, n) };
}

/**
 * splitDataset over distinct keys instead of rows: every row with the same key (the same input, e.g.
 * one protein sequence or canonical SMILES) lands in the same part, so no test input is trained on.
 * Fractions apply to distinct keys; each part keeps the rows' original order.
 */
export function splitByKey<T>(rows: readonly T[], key: (row: T) => string, opts: { seed: number; fractions: SplitFractions }): Split<T> {
  const keys: string[] = [];
  const seen = new Map<string, number>();
  const keyIdx = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const k = key(r);
    let j = seen.get(k);
    if (j === undefined) {
      j = keys.length;
      seen.set(k, j);
      keys.push(k);
    }
    keyIdx[i] = j;
  });
  const parts = splitDataset(keys.map((_, j) => j), opts);
  const where = new Uint8Array(keys.length); // 0 train, 1 validation, 2 test
  for (const j of parts.validation) where[j] = 1;
  for (const j of parts.test) where[j] = 2;
  const out: Split<T> = { train: [], validation: [], test: [] };
  rows.forEach((r, i) => out[(['train', 'validation', 'test'] as const)[where[keyIdx[i]]]].push(r));
  return out;
}
