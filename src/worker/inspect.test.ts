import { describe, expect, it } from 'vitest';
import { evenSample, nearestByCosine, normStats, pca2, rowNorms } from './inspect';

describe('inspector math', () => {
  it('row norms and their stats', () => {
    const n = rowNorms([3, 4, 0, 0, 1, 0], 3, 2);
    expect(n).toEqual([5, 0, 1]);
    expect(normStats(n)).toEqual({ mean: 2, min: 0, max: 5 });
    expect(normStats([])).toEqual({ mean: 0, min: 0, max: 0 });
  });

  it('nearest rows by cosine, best first', () => {
    const table = [1, 0, 0, 1, 1, 1, -1, 0];
    const r = nearestByCosine([2, 0.1], 1, table, 4, 2, 3);
    expect(r[0]!.map((x) => x.id)).toEqual([0, 2, 1]);
    expect(r[0]![0]!.cos).toBeCloseTo(2 / Math.hypot(2, 0.1));
    expect(nearestByCosine([1, 0], 1, table, 4, 2, 10)[0]).toHaveLength(4);
  });

  it('even samples cover both ends', () => {
    expect(evenSample(5, 10)).toEqual([0, 1, 2, 3, 4]);
    expect(evenSample(101, 3)).toEqual([0, 50, 100]);
  });

  it('PCA finds the dominant directions of a stretched cloud', () => {
    // Points along (1, 1, 0) with a little spread along (0, 0, 1).
    const X: number[] = [];
    for (let i = -10; i <= 10; i++) X.push(i, i, (i % 3) * 0.1);
    const r = pca2(X, 21, 3);
    const [a, b] = r.components;
    expect(Math.abs(a[0]!)).toBeCloseTo(Math.SQRT1_2, 3);
    expect(Math.abs(a[1]!)).toBeCloseTo(Math.SQRT1_2, 3);
    expect(Math.abs(b[2]!)).toBeGreaterThan(0.9);
    expect(r.explained[0]).toBeGreaterThan(0.99);
    expect(r.explained[0] + r.explained[1]).toBeLessThanOrEqual(1 + 1e-9);
    // Coordinates are the centered projections.
    expect(r.coords[20]![0]).toBeCloseTo(10 * Math.SQRT2, 3);
  });

  it('PCA of identical rows is all zeros', () => {
    const r = pca2([1, 2, 1, 2], 2, 2);
    expect(r.coords).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(r.explained).toEqual([0, 0]);
  });
});
