import { describe, expect, it } from 'vitest';
import { panelFromHash } from './ui';

describe('panelFromHash', () => {
  it('follows known panel ids only', () => {
    const ids = ['model', 'generate'];
    expect(panelFromHash('#/generate', ids, 'model')).toBe('generate');
    expect(panelFromHash('#generate', ids, 'model')).toBe('generate');
    expect(panelFromHash('#/generate/sub?x=1', ids, 'model')).toBe('generate');
    expect(panelFromHash('#/nope', ids, 'model')).toBe('model');
    expect(panelFromHash('', ids, 'model')).toBe('model');
  });
});
