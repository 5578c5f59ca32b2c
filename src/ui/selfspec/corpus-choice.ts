/**
 * What the panel makes of picked or dropped corpus files: one file is a corpus file (JSONL {id, text},
 * PubMedQA JSON, or one passage per line); several files, or a folder (webkitdirectory, or dropped:
 * ../common/dropped-entries.ts), are .txt
 * documents that the worker splits into passages `<file>#<n>` (src/selfspec/corpus.ts). Sizes are
 * checked against MAX_CORPUS_BYTES before a byte is read, so a too-big corpus costs nothing and the
 * current choice stays.
 */
import { checkCorpusSize } from '../../selfspec/corpus';
import type { InputChoice } from '../../state/selfspec';

/** The part of a browser File this needs (Node's File has it too). */
export interface PickedFile {
  name: string;
  size: number;
  /** "folder/sub/a.txt" for files picked with a folder picker; "" otherwise. */
  webkitRelativePath?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A file's name inside its picked folder (without the folder itself), else its own name. */
function nameIn(f: PickedFile): string {
  const rel = f.webkitRelativePath ?? '';
  const parts = rel.split('/').filter(Boolean);
  return parts.length > 1 ? parts.slice(1).join('/') : f.name;
}

export async function corpusChoice(files: readonly PickedFile[], o: { folder?: boolean } = {}): Promise<InputChoice> {
  if (files.length === 0) throw new Error('No file was chosen.');
  if (files.length === 1 && !o.folder) {
    const f = files[0];
    checkCorpusSize(f.size, f.name);
    return { kind: 'file', name: f.name, bytes: await f.arrayBuffer() };
  }
  const folderName = (files[0].webkitRelativePath ?? '').split('/').filter(Boolean)[0] ?? `${files.length} files`;
  const txt = files.filter((f) => f.name.toLowerCase().endsWith('.txt'));
  if (txt.length === 0) throw new Error(`${folderName}: no .txt documents among the ${files.length} file${files.length === 1 ? '' : 's'}. A corpus of several files takes plain-text .txt documents.`);
  checkCorpusSize(
    txt.reduce((a, f) => a + f.size, 0),
    `${folderName} (${txt.length} .txt files)`,
  );
  return { kind: 'folder', name: folderName, files: await Promise.all(txt.map(async (f) => ({ name: nameIn(f), bytes: await f.arrayBuffer() }))) };
}
