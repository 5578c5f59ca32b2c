import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmaxRows,
  crossEntropyRows,
  mae,
  meanNll,
  mse,
  pearson,
  perplexity,
  summarize,
} from '../../src/train/metrics';

describe('metrics', () => {
  it('mse and mae on hand-computed values', () => {
    expect(mse([1, 2, 3], [1, 1, 1])).toBeCloseTo(5 / 3, 14);
    expect(mae([1, 2, 3], [1, 1, 1])).toBeCloseTo(1, 14);
    expect(mae([-1, 4], [1, 1])).toBeCloseTo(2.5, 14);
    expect(mse([], [])).toBeNaN();
    expect(() => mse([1], [1, 2])).toThrow();
  });

  it('pearson on a small known case and the perfect cases', () => {
    // x̄ = 3, ȳ = 4: Σdxdy = 6, Σdx² = 10, Σdy² = 6 → r = 6/√60
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(6 / Math.sqrt(60), 14);
    expect(pearson([1, 2, 3], [3, 5, 7])).toBeCloseTo(1, 14);
    expect(pearson([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 14);
    expect(pearson(Float32Array.from([0.1, 0.4, 0.2]), [1, 4, 2])).toBeCloseTo(1, 6);
  });

  it('pearson is 0 when the variance is degenerate (constant side, fewer than two points)', () => {
    expect(pearson([2, 2, 2], [1, 2, 3])).toBe(0);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBe(0);
    expect(pearson([1], [1])).toBe(0);
    expect(pearson([], [])).toBe(0);
    // A constant column whose mean is not exact in binary (rounding noise only).
    expect(pearson([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [1, 2, 3, 4, 5, 6, 7])).toBe(0);
    expect(pearson([1e6 + 0.1, 1e6 + 0.1, 1e6 + 0.1], [1, 2, 4])).toBe(0);
    // Tiny but real spread is still a correlation.
    expect(pearson([1e-9, 2e-9, 3e-9], [1, 2, 3])).toBeCloseTo(1, 10);
  });

  it('accuracy, argmax, cross-entropy, mean NLL and perplexity', () => {
    expect(accuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(Array.from(argmaxRows([0, 1, 5, 5, 3, -1], 3))).toEqual([2, 0]); // ties: lowest index
    const ce = crossEntropyRows([0, 0, 1000, 0], [0, 1], 2);
    expect(ce[0]).toBeCloseTo(Math.LN2, 14);
    expect(ce[1]).toBeCloseTo(1000, 10); // stable: no exp(1000)
    expect(meanNll([1, 2, 3])).toBe(2);
    expect(meanNll([1, 2, 3], 2)).toBe(3);
    expect(meanNll([], 0)).toBeNaN();
    expect(perplexity(Math.LN2)).toBeCloseTo(2, 14);
  });

  it('summarize: regression', () => {
    const s = summarize('regression', [1, 2, 3], [1, 1, 1]);
    expect(s).toMatchObject({ task: 'regression', n: 3, pearson: 0 });
    expect(s.mse).toBeCloseTo(5 / 3, 14);
    expect(s.rmse).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(s.mae).toBeCloseTo(1, 14);
  });

  it('summarize: classification from class ids and from scores', () => {
    expect(summarize('classification', [0, 1, 1], [0, 1, 0])).toEqual({ task: 'classification', n: 3, accuracy: 2 / 3 });
    const s = summarize('classification', [2, 0, 0, 0, 0, 0], [0, 1, 1]);
    // k = 2: rows [2,0] → 0 ✓, [0,0] → 0 ✗ (label 1), [0,0] → 0 ✗
    expect(s.accuracy).toBeCloseTo(1 / 3, 14);
    expect(s.nll).toBeCloseTo((Math.log(1 + Math.exp(-2)) + 2 * Math.LN2) / 3, 14);
  });

  it('summarize: language modelling from per-token NLLs, with and without weights', () => {
    const s = summarize('lm', [Math.LN2, Math.LN2, 5], [1, 1, 0]);
    expect(s.n).toBe(2);
    expect(s.nll).toBeCloseTo(Math.LN2, 14);
    expect(s.perplexity).toBeCloseTo(2, 14);
    const all = summarize('lm', [1, 3], []);
    expect(all).toMatchObject({ n: 2, nll: 2 });
    expect(all.perplexity).toBeCloseTo(Math.exp(2), 12);
  });
});
