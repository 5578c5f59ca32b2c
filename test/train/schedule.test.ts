import { describe, expect, it } from 'vitest';
import { lrAt, warmupSteps, type ScheduleOptions } from '../../src/train/schedule';
import { EpochIterator, epochOrder } from '../../src/train/shuffle';

describe('lrAt', () => {
  // step is 0-based: lrAt(s) is the rate of the (s+1)-th update.
  const base: ScheduleOptions = { base: 1, totalSteps: 100, warmupFraction: 0.1, schedule: 'cosine' };

  it('warms up linearly to the peak at the last warmup step', () => {
    expect(warmupSteps(100, 0.1)).toBe(10);
    expect(warmupSteps(100, 0.03)).toBe(3); // 0.03·100 = 3.0000000000000004 in floating point
    expect(warmupSteps(10, 0.03)).toBe(1);
    expect(warmupSteps(100, 0)).toBe(0);
    expect(lrAt(-1, base)).toBe(0);
    expect(lrAt(0, base)).toBeCloseTo(0.1, 12); // the first update already moves
    expect(lrAt(4, base)).toBeCloseTo(0.5, 12);
    expect(lrAt(9, base)).toBeCloseTo(1, 12);
  });

  it('cosine: peak right after warmup, half way at the middle of the decay, minLr only after the last step', () => {
    const o = { ...base, minLr: 0.1 };
    expect(lrAt(10, o)).toBeCloseTo(1, 12);
    expect(lrAt(55, o)).toBeCloseTo(0.55, 12);
    // The last update (step 99) still moves: HF's convention, no update wasted at minLr.
    expect(lrAt(99, o)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 89) / 90)), 12);
    expect(lrAt(99, o)).toBeGreaterThan(0.1);
    expect(lrAt(100, o)).toBeCloseTo(0.1, 12);
    expect(lrAt(250, o)).toBeCloseTo(0.1, 12);
    expect(lrAt(55, base)).toBeCloseTo(0.5, 12);
    expect(lrAt(32.5, base)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
  });

  it('linear and constant', () => {
    expect(lrAt(55, { ...base, schedule: 'linear' })).toBeCloseTo(0.5, 12);
    expect(lrAt(82, { ...base, schedule: 'linear', minLr: 0.2 })).toBeCloseTo(0.2 + 0.8 * 0.2, 12);
    expect(lrAt(100, { ...base, schedule: 'linear' })).toBe(0);
    expect(lrAt(4, { ...base, schedule: 'constant' })).toBeCloseTo(0.5, 12);
    expect(lrAt(50, { ...base, schedule: 'constant', minLr: 0.1 })).toBe(1);
    expect(lrAt(1000, { ...base, schedule: 'constant' })).toBe(1);
  });

  it('defaults to 3% warmup; no warmup starts the decay at the first update', () => {
    const o: ScheduleOptions = { base: 2e-4, totalSteps: 1000, schedule: 'cosine' };
    expect(lrAt(29, o)).toBeCloseTo(2e-4, 15);
    expect(lrAt(14, o)).toBeCloseTo(1e-4, 15);
    const nw = { ...o, warmupFraction: 0 };
    expect(lrAt(0, nw)).toBeCloseTo(2e-4, 15);
    expect(lrAt(500, nw)).toBeCloseTo(1e-4, 15);
    // A run of one step: warmup and decay collapse to the peak.
    expect(lrAt(0, { ...o, totalSteps: 1 })).toBe(2e-4);
  });
});

// Data order (src/train/shuffle.ts) lives here too: it is the other half of the step plan.
describe('epochOrder and EpochIterator', () => {
  it('epochOrder is a deterministic permutation that differs between epochs and seeds', () => {
    const a = epochOrder(50, 7, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochOrder(50, 7, 0)).toEqual(a);
    expect(epochOrder(50, 7, 1)).not.toEqual(a);
    expect(epochOrder(50, 8, 0)).not.toEqual(a);
    expect(epochOrder(0, 1, 0).length).toBe(0);
    expect(epochOrder(1, 1, 5)).toEqual([0]);
  });

  it('is close to uniform: every position sees every item about equally often', () => {
    const n = 5;
    const counts = Array.from({ length: n }, () => new Array(n).fill(0));
    const epochs = 5000;
    for (let e = 0; e < epochs; e++) epochOrder(n, 3, e).forEach((item, pos) => counts[pos][item]++);
    for (const row of counts) for (const c of row) expect(Math.abs(c / epochs - 1 / n)).toBeLessThan(0.03);
  });

  it('streams epoch after epoch, batches crossing the boundary, and resumes exactly from its state', () => {
    const it1 = new EpochIterator(7, 42);
    const first = it1.nextBatch(5);
    expect(first).toEqual(epochOrder(7, 42, 0).slice(0, 5));
    const saved = JSON.parse(JSON.stringify(it1.state));
    expect(saved).toEqual({ epoch: 0, index: 5 });
    const cont = it1.nextBatch(5); // 2 from epoch 0, then 3 from epoch 1
    expect(cont).toEqual([...epochOrder(7, 42, 0).slice(5), ...epochOrder(7, 42, 1).slice(0, 3)]);
    expect(it1.state).toEqual({ epoch: 1, index: 3 });
    expect(it1.progress).toBeCloseTo(1 + 3 / 7, 12);
    const it2 = new EpochIterator(7, 42, saved);
    expect(it2.nextBatch(5)).toEqual(cont);
    expect(it2.nextBatch(20)).toEqual(it1.nextBatch(20));
    // A state at the very end of an epoch means the start of the next one.
    expect(new EpochIterator(7, 42, { epoch: 2, index: 7 }).state).toEqual({ epoch: 3, index: 0 });
  });

  it('keeps the natural order without shuffling, and rejects bad input', () => {
    const it0 = new EpochIterator(3, 1, undefined, { shuffle: false });
    expect(it0.nextBatch(7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(() => new EpochIterator(0, 1)).toThrow();
    expect(() => new EpochIterator(3, 1, { epoch: -1, index: 0 })).toThrow();
  });
});
