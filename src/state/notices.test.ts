import { describe, expect, it } from 'vitest';
import { createNoticesStore, errorTitle } from './notices';

describe('notices store', () => {
  it('titles errors by class name, or by context', () => {
    expect(errorTitle('GpuOutOfMemoryError')).toBe('Not enough GPU memory');
    expect(errorTitle('TypeError', 'Loading the model')).toBe('Loading the model failed');
    expect(errorTitle(undefined)).toBe('Something went wrong');
  });

  it('pushes, de-duplicates, caps and dismisses', () => {
    const s = createNoticesStore();
    const e = new Error('x');
    s.getState().pushError(e, 'A');
    s.getState().pushError(e, 'A');
    expect(s.getState().notices).toHaveLength(1);
    for (let i = 0; i < 10; i++) s.getState().push({ kind: 'info', title: `t${i}`, message: '' });
    expect(s.getState().notices).toHaveLength(5);
    expect(s.getState().notices.at(-1)!.title).toBe('t9');
    s.getState().dismiss(s.getState().notices[0]!.id);
    expect(s.getState().notices).toHaveLength(4);
    s.getState().clear();
    expect(s.getState().notices).toHaveLength(0);
  });

  it('copes with non-Error throwables', () => {
    const s = createNoticesStore();
    s.getState().pushError('plain string');
    expect(s.getState().notices[0]).toMatchObject({ message: 'plain string', errorName: 'Error' });
  });
});
