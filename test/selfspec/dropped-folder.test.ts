/**
 * A folder dropped on the corpus area: fake File and Directory Entries (readEntries handing out
 * batches, as Chrome does 100 at a time) walked into the files a folder picker gives, then through
 * the panel's corpus choice: the same passages, the same size limit before any read, the same
 * messages.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CORPUS_BYTES } from '../../src/selfspec/corpus';
import { droppedFiles, entriesOf, hasFolder, type DropEntry } from '../../src/ui/common/dropped-entries';
import { corpusChoice } from '../../src/ui/selfspec/corpus-choice';
import { folderCorpus } from '../../src/worker/selfspec';

type Tree = { [name: string]: string | number | Tree };

/** Fake entries for `tree` under `path` (a number = a file of that size whose bytes must not be read). */
function entry(name: string, node: string | number | Tree, parent: string, batch: number, log: string[]): DropEntry {
  const fullPath = `${parent}/${name}`;
  if (typeof node === 'object') {
    const children = Object.entries(node).map(([n, c]) => entry(n, c, fullPath, batch, log));
    return {
      isFile: false,
      isDirectory: true,
      name,
      fullPath,
      createReader() {
        let at = 0;
        return {
          readEntries(ok) {
            log.push(`read ${fullPath} @${at}`);
            const out = children.slice(at, at + batch);
            at += out.length;
            // Asynchronous, as in browsers.
            setTimeout(() => ok(out), 0);
          },
        };
      },
    };
  }
  const bytes = typeof node === 'string' ? new TextEncoder().encode(node) : null;
  const size = bytes ? bytes.byteLength : (node as number);
  const file = {
    name,
    size,
    arrayBuffer: async () => {
      if (!bytes) throw new Error(`read ${fullPath}, an oversized file`);
      return bytes.buffer as ArrayBuffer;
    },
  } as unknown as File;
  return { isFile: true, isDirectory: false, name, fullPath, file: (ok) => setTimeout(() => ok(file), 0) };
}

const drop = (tree: Tree, batch = 2, log: string[] = []) => Object.entries(tree).map(([n, c]) => entry(n, c, '', batch, log));

describe('dropped folder → corpus', () => {
  it('walks folders recursively, calling readEntries until an empty batch, with picker-style paths', async () => {
    const log: string[] = [];
    const entries = drop({ docs: { 'a.txt': 'epsilon', 'b.txt': 'alpha beta\n\ngamma delta', 'n.md': '# x', 'x.txt': 'eta', 'y.txt': 'theta', sub: { 'c.txt': 'zeta' } } }, 2, log);
    expect(hasFolder(entries)).toBe(true);
    const files = await droppedFiles(entries);
    expect(files.map((f) => f.webkitRelativePath)).toEqual(['docs/a.txt', 'docs/b.txt', 'docs/n.md', 'docs/x.txt', 'docs/y.txt', 'docs/sub/c.txt']);
    // 6 children in batches of 2: three full batches and the empty one that ends the folder.
    expect(log.filter((l) => l.startsWith('read /docs @'))).toEqual(['read /docs @0', 'read /docs @2', 'read /docs @4', 'read /docs @6']);
    expect(log).toContain('read /docs/sub @1');

    const choice = await corpusChoice(files, { folder: true });
    expect(choice).toMatchObject({ kind: 'folder', name: 'docs' });
    const lines = new TextDecoder().decode(folderCorpus(choice as Extract<typeof choice, { kind: 'folder' }>).bytes).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { id: 'a.txt#1', text: 'epsilon' },
      { id: 'b.txt#1', text: 'alpha beta' },
      { id: 'b.txt#2', text: 'gamma delta' },
      { id: 'sub/c.txt#1', text: 'zeta' },
      { id: 'x.txt#1', text: 'eta' },
      { id: 'y.txt#1', text: 'theta' },
    ]);
  });

  it('gets every entry of a folder larger than one batch (Chrome gives 100 at a time)', async () => {
    const big: Tree = {};
    for (let i = 0; i < 250; i++) big[`d${String(i).padStart(3, '0')}.txt`] = `doc ${i}`;
    const files = await droppedFiles(drop({ many: big }, 100));
    expect(files).toHaveLength(250);
    const choice = await corpusChoice(files, { folder: true });
    expect(choice.kind === 'folder' && choice.files.length).toBe(250);
  });

  it('refuses a too-large folder on its sizes before reading a byte, and says when there is no .txt', async () => {
    const entries = drop({ d: { 'a.txt': MAX_CORPUS_BYTES, 'b.txt': 1 } });
    await expect(droppedFiles(entries).then((f) => corpusChoice(f, { folder: true }))).rejects.toThrow(/^d \(2 \.txt files\) is 32\.0 MB; a corpus may be at most 32\.0 MB/);
    await expect(droppedFiles(drop({ notes: { 'a.md': 'x', 'b.pdf': 'y' } })).then((f) => corpusChoice(f, { folder: true }))).rejects.toThrow(
      /^notes: no \.txt documents among the 2 files/,
    );
    await expect(droppedFiles(drop({ empty: { inner: {} } }))).rejects.toThrow(/^empty: the dropped folder holds no files/);
  });

  it('takes entries from the drop items; a browser without the entries API falls back to the file list', async () => {
    const [dir] = drop({ docs: { 'a.txt': 'x' } });
    const items = [
      { kind: 'file', webkitGetAsEntry: () => dir },
      { kind: 'string', webkitGetAsEntry: () => null },
    ];
    expect(entriesOf(items)).toEqual([dir]);
    expect(entriesOf([{ kind: 'file' }])).toBeNull();
    expect(entriesOf(null)).toBeNull();
    const [loose] = drop({ 'a.txt': 'x' });
    expect(hasFolder([loose!])).toBe(false);
    // A loose file beside a folder keeps its own name (no folder path), as a multi-file pick does.
    const files = await droppedFiles([dir!, loose!]);
    expect(files.map((f) => [f.name, f.webkitRelativePath])).toEqual([
      ['a.txt', 'docs/a.txt'],
      ['a.txt', ''],
    ]);
  });

  it('reports a folder the browser cannot read, naming it', async () => {
    const bad: DropEntry = { isFile: false, isDirectory: true, name: 'locked', fullPath: '/locked', createReader: () => ({ readEntries: (_ok, err) => err?.(new DOMException('denied', 'NotReadableError')) }) };
    await expect(droppedFiles([bad])).rejects.toThrow(/The folder locked could not be read \(denied\)/);
  });
});
