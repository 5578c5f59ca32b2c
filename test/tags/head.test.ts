import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/sampling';
import { applyHead, createHead, standardize, unstandardize } from '../../src/tags/head';

describe('createHead', () => {
  it('standardises regression labels: mean and (population) std per output', () => {
    // Labels 1, 2, 3, 6: mean 3, variance (4+1+0+9)/4 = 3.5.
    const h = createHead('regression', 1, 16, new Rng(1), [1, 2, 3, 6], 'QED');
    expect(h).toMatchObject({ name: 'QED', kind: 'regression', k: 1, d: 16 });
    expect(h.labelMean).toEqual([3]);
    expect(h.labelStd[0]).toBeCloseTo(Math.sqrt(3.5), 12);
    expect(h.W.length).toBe(16);
    expect([...h.b]).toEqual([0]);
    expect(standardize(h, [6])[0]).toBeCloseTo(3 / Math.sqrt(3.5), 12);
    expect(unstandardize(h, standardize(h, [4.25]))[0]).toBeCloseTo(4.25, 12);
  });

  it('handles k-vector labels, a constant output (std 1), and bad labels', () => {
    const h = createHead('regression', 2, 4, new Rng(1), [
      [0, 5],
      [2, 5],
    ]);
    expect(h.labelMean).toEqual([1, 5]);
    expect(h.labelStd).toEqual([1, 1]);
    expect(() => createHead('regression', 1, 4, new Rng(1), [1, NaN])).toThrow(/label 1 \(NaN\) is not a finite number/);
    expect(() => createHead('regression', 2, 4, new Rng(1), [[1]])).toThrow(/is not 2 finite numbers/);
  });

  it('small random init, deterministic per seed, scaled by 1/√d', () => {
    const a = createHead('regression', 1, 4096, new Rng(3));
    expect(a.W).toEqual(createHead('regression', 1, 4096, new Rng(3)).W);
    const sd = Math.sqrt(a.W.reduce((s, x) => s + x * x, 0) / a.W.length);
    expect(sd).toBeGreaterThan(0.09 / 64);
    expect(sd).toBeLessThan(0.11 / 64);
  });

  it('classification: sorted class names from string labels, identity standardisation', () => {
    const h = createHead('classification', 3, 8, new Rng(1), ['yes', 'no', 'maybe', 'yes']);
    expect(h.classes).toEqual(['maybe', 'no', 'yes']);
    expect(h.labelMean).toEqual([0, 0, 0]);
    expect(h.labelStd).toEqual([1, 1, 1]);
    expect(() => createHead('classification', 2, 8, new Rng(1), ['a', 'b', 'c'])).toThrow(/3 classes .* but k = 2/);
  });
});

describe('applyHead', () => {
  it('computes W·h + b', () => {
    const h = createHead('classification', 2, 3, new Rng(1));
    h.W.set([1, 2, 3, -1, 0, 0.5]);
    h.b.set([0.5, -1]);
    expect([...applyHead(h, Float32Array.from([1, 1, 2]))]).toEqual([9.5, -1]);
    expect(() => applyHead(h, new Float32Array(2))).toThrow(/expected d = 3/);
  });
});
