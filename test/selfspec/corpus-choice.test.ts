import { describe, expect, it } from 'vitest';
import { MAX_CORPUS_BYTES } from '../../src/selfspec/corpus';
import { corpusChoice, type PickedFile } from '../../src/ui/selfspec/corpus-choice';
import { folderCorpus } from '../../src/worker/selfspec';

const file = (name: string, text: string, rel = ''): PickedFile => {
  const bytes = new TextEncoder().encode(text);
  return { name, size: bytes.byteLength, webkitRelativePath: rel, arrayBuffer: async () => bytes.buffer as ArrayBuffer };
};
/** A file whose size is all that is looked at (reading it fails the test). */
const huge = (name: string, size: number, rel = ''): PickedFile => ({ name, size, webkitRelativePath: rel, arrayBuffer: async () => { throw new Error('read an oversized file'); } });

describe('panel corpus choice', () => {
  it('one file is a corpus file; a folder or several files are .txt documents split into <file>#<n>', async () => {
    expect(await corpusChoice([file('c.jsonl', '{"id":"a","text":"x"}')])).toMatchObject({ kind: 'file', name: 'c.jsonl' });
    const picked = [file('b.txt', 'alpha beta\n\ngamma delta', 'docs/b.txt'), file('a.txt', 'epsilon', 'docs/a.txt'), file('n.md', '# x', 'docs/n.md'), file('c.txt', 'zeta', 'docs/sub/c.txt')];
    const choice = await corpusChoice(picked, { folder: true });
    expect(choice).toMatchObject({ kind: 'folder', name: 'docs' });
    if (choice.kind !== 'folder') throw new Error('not a folder');
    expect(choice.files.map((f) => f.name)).toEqual(['b.txt', 'a.txt', 'sub/c.txt']);
    // What the worker makes of it: JSONL passages with ids <file>#<n>, files in name order.
    const { name, bytes } = folderCorpus(choice);
    expect(name).toBe('docs.jsonl');
    const lines = new TextDecoder().decode(bytes).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { id: 'a.txt#1', text: 'epsilon' },
      { id: 'b.txt#1', text: 'alpha beta' },
      { id: 'b.txt#2', text: 'gamma delta' },
      { id: 'sub/c.txt#1', text: 'zeta' },
    ]);
    // Several files picked without a folder are documents too.
    expect(await corpusChoice([file('x.txt', 'a'), file('y.txt', 'b')])).toMatchObject({ kind: 'folder', name: '2 files' });
  });

  it('refuses a corpus over the limit before reading it, saying what to do; and a folder without .txt', async () => {
    await expect(corpusChoice([huge('big.txt', 50 * 1024 * 1024)])).rejects.toThrow(/^big\.txt is 50\.0 MB; a corpus may be at most 32\.0 MB .*Keep the documents closest to your domain, or split the corpus/);
    await expect(corpusChoice([huge('a.txt', MAX_CORPUS_BYTES, 'd/a.txt'), huge('b.txt', 1, 'd/b.txt')], { folder: true })).rejects.toThrow(/^d \(2 \.txt files\) is 32\.0 MB/);
    await expect(corpusChoice([file('a.md', 'x', 'd/a.md')], { folder: true })).rejects.toThrow(/d: no \.txt documents/);
    await expect(corpusChoice([])).rejects.toThrow(/No file/);
    // At the limit exactly is fine.
    const ok = { ...file('ok.txt', 'x'), size: MAX_CORPUS_BYTES };
    expect(await corpusChoice([ok])).toMatchObject({ kind: 'file' });
  });
});
