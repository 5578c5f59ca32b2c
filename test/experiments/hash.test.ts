/**
 * hashOf (the cells' configKey): always 16 lower-case hex digits, never a signed "-1a2b" half, and
 * unchanged for values that printed correctly before the fix (saved results still resume).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/experiments/runner';

describe('hashOf', () => {
  it('is unsigned fixed-width hex for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(hashOf(v)).toMatch(/^[0-9a-f]{16}$/);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('gives {a: 0} (whose second half used to print as "-4a489fbb") its unsigned value', () => {
    // Before: "87a07d5c-4a489fbb" (17 characters). -0x4a489fbb as uint32 = 0xb5b76045.
    expect(hashOf({ a: 0 })).toBe('87a07d5cb5b76045');
    for (let a = 0; a < 200; a++) expect(hashOf({ a })).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps the keys that were already unsigned, and sorts keys', () => {
    expect(hashOf({ a: 1 })).toBe('8b9e4511592ccf8c');
    expect(hashOf({ a: 1, b: [1, 2] })).toBe(hashOf({ b: [1, 2], a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
  });
});
