import { describe, expect, it } from 'vitest';
import type { TagSummary } from '../worker/protocol';
import { createComposerStore } from './composer';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { renamer, renameTagsInTemplate, tagRenames } from './tag-renames';
import { fakeClient } from '../../test/worker/fake-engine';

const tag = (id: string, name: string) => ({ id, name }) as TagSummary;

describe('tag renames follow the id', () => {
  it('finds renamed tags by id, ignoring added and deleted ones', () => {
    expect(tagRenames([tag('1', 'Story'), tag('2', 'QED'), tag('3', 'Gone')], [tag('1', 'Tale'), tag('2', 'QED'), tag('4', 'New')])).toEqual([
      { id: '1', from: 'Story', to: 'Tale' },
    ]);
  });

  it('renames templates at once (a swap stays a swap; escaped and longer names untouched)', () => {
    const r = [
      { id: '1', from: 'A', to: 'B' },
      { id: '2', from: 'B', to: 'A' },
    ];
    expect(renameTagsInTemplate('<A> x <B> \\<A> <AB> {input}', r)).toBe('<B> x <A> \\<A> <AB> {input}');
    expect(renamer(r)('C')).toBe('C');
  });

  it('moves Composer chips to the new name', () => {
    const { client } = fakeClient();
    const notices = createNoticesStore();
    const c = createComposerStore({ client, notices, model: createModelStore({ client, notices }) });
    c.getState().setSegments('a', [{ kind: 'text', text: 'Hi ' }, { kind: 'tag', name: 'Story' }, { kind: 'tag', name: 'QED' }]);
    c.getState().renameTags(renamer([{ id: '1', from: 'Story', to: 'Tale' }]));
    expect(c.getState().a).toEqual([{ kind: 'text', text: 'Hi ' }, { kind: 'tag', name: 'Tale' }, { kind: 'tag', name: 'QED' }]);
  });

  it('Clear empties the prompts; head mode drops the tag-less comparison', () => {
    const { client } = fakeClient();
    const notices = createNoticesStore();
    const c = createComposerStore({ client, notices, model: createModelStore({ client, notices }) });
    c.getState().setCompare('no-tags');
    c.getState().setMode('head');
    expect(c.getState().compare).toBe('off');
    c.getState().setCompare('no-tags');
    expect(c.getState().compare).toBe('off');
    c.getState().clear();
    expect(c.getState().a).toEqual([]);
  });
});
