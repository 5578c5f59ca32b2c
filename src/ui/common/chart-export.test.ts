import { describe, expect, it } from 'vitest';
import { smoothSeries } from './smooth';
import { fileStem, rowsToCsv } from './chart-export';

describe('chart export', () => {
  it('writes rows as CSV with quoting and blanks for missing values', () => {
    expect(rowsToCsv([{ step: 1, loss: 2.5 }, { step: 2, note: 'a, "b"' }])).toBe('step,loss,note\n1,2.5,\n2,,"a, ""b"""\n');
    expect(rowsToCsv([{ a: 1, b: 2 }], ['b', 'a'])).toBe('b,a\n2,1\n');
  });
  it('names files after the title', () => {
    expect(fileStem('Training loss (MSE on standardised labels)')).toBe('training-loss-mse-on-standardised-labels');
    expect(fileStem('∅')).toBe('chart');
  });
  it('smooths with a debiased moving average (a constant stays constant)', () => {
    expect(smoothSeries([3, 3, 3], 0.8).map((v) => Number(v.toFixed(12)))).toEqual([3, 3, 3]);
    const s = smoothSeries([0, 10], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(10 * 0.5 / 0.75, 12);
  });
});
