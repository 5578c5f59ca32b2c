import { describe, expect, it } from 'vitest';
import { argmax, classify, parseAnswer } from '../../src/selfspec/metrics';

const C = ['yes', 'no', 'maybe'];

describe('classification metrics', () => {
  it('accuracy, macro-F1 and the confusion matrix on hand-computed values', () => {
    // gold: yes yes yes no no maybe; pred: yes no yes no null yes
    const r = classify(['yes', 'yes', 'yes', 'no', 'no', 'maybe'], ['yes', 'no', 'yes', 'no', null, 'yes'], C);
    expect(r.confusion).toEqual([
      [2, 1, 0, 0],
      [0, 1, 0, 1],
      [1, 0, 0, 0],
    ]);
    expect(r.accuracy).toBeCloseTo(3 / 6, 12);
    // yes: P 2/3, R 2/3 → F1 2/3; no: P 1/2, R 1/2 → 1/2; maybe: 0.
    expect(r.perClass.map((c) => c.f1)).toEqual([expect.closeTo(2 / 3, 12), expect.closeTo(0.5, 12), 0]);
    expect(r.macroF1).toBeCloseTo((2 / 3 + 0.5 + 0) / 3, 12);
    expect(r.n).toBe(6);
  });

  it('perfect predictions score 1 and a class never predicted scores 0 F1', () => {
    expect(classify(['yes', 'no', 'maybe'], ['yes', 'no', 'maybe'], C)).toMatchObject({ accuracy: 1, macroF1: 1 });
    const all = classify(['yes', 'no', 'maybe', 'yes'], ['yes', 'yes', 'yes', 'yes'], C);
    // yes: P 2/4, R 1 → F1 2/3; others 0.
    expect(all.macroF1).toBeCloseTo(2 / 9, 12);
  });

  it('refuses labels outside the classes and length mismatches', () => {
    expect(() => classify(['perhaps'], ['yes'], C)).toThrow(/not one of/);
    expect(() => classify(['yes'], [], C)).toThrow(/1 labels but 0/);
  });

  it('parses the first answer word of a generation, whole words only', () => {
    expect(parseAnswer(' Yes, because the trial showed it.', C)).toBe('yes');
    expect(parseAnswer('The answer is no; maybe later.', C)).toBe('no');
    expect(parseAnswer('Maybe.', C)).toBe('maybe');
    expect(parseAnswer('eyes and nose', C)).toBeNull();
    expect(parseAnswer('', C)).toBeNull();
  });

  it('argmax takes the first of equal maxima', () => {
    expect(argmax([-3, -1, -1])).toBe(1);
  });
});
