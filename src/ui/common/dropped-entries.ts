/**
 * Files of a drag-and-drop that may hold folders. `DataTransfer.files` lists a dropped folder as one
 * unreadable pseudo-file, so folders are walked through the File and Directory Entries API instead:
 * `webkitGetAsEntry()` per item (only valid during the drop event, so entries are taken first and
 * walked afterwards), `createReader().readEntries()` per folder — called until it returns an empty
 * batch, since browsers hand out a folder's entries in batches (Chrome: 100). Nothing is read: each
 * file comes with its size, and its bytes only when asked, so a caller can refuse a too-large drop
 * before reading it.
 */

/** The parts of FileSystemEntry / FileSystemFileEntry / FileSystemDirectoryEntry used here. */
export interface DropEntry {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly name: string;
  /** "/folder/sub/a.txt" for an entry inside a dropped folder. */
  readonly fullPath: string;
  file?(success: (f: File) => void, error?: (e: unknown) => void): void;
  createReader?(): { readEntries(success: (batch: DropEntry[]) => void, error?: (e: unknown) => void): void };
}

/** What the drop gives for each file: as a folder picker's File (name, size, webkitRelativePath, bytes). */
export interface DroppedFile {
  name: string;
  size: number;
  /** "folder/sub/a.txt": the path inside the dropped folder, the folder's name first ("" for a loose file). */
  webkitRelativePath: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The entries of a drop's items (call during the drop event); null when the browser has no entries API. */
export function entriesOf(items: ArrayLike<{ kind: string; webkitGetAsEntry?(): unknown }> | null | undefined): DropEntry[] | null {
  if (!items || items.length === 0 || typeof items[0]?.webkitGetAsEntry !== 'function') return null;
  const out: DropEntry[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (it.kind !== 'file') continue;
    const e = it.webkitGetAsEntry?.() as DropEntry | null | undefined;
    if (e) out.push(e);
  }
  return out;
}

/** Whether a drop holds a folder (else the plain file list serves). */
export function hasFolder(entries: readonly DropEntry[]): boolean {
  return entries.some((e) => e.isDirectory);
}

const why = (e: unknown) => (e instanceof Error ? e.message : e && typeof e === 'object' && 'name' in e ? String((e as { name: unknown }).name) : String(e));

function fileOf(entry: DropEntry): Promise<File> {
  return new Promise((resolve, reject) => {
    if (!entry.file) return reject(new Error(`${entry.fullPath}: not a readable file.`));
    entry.file(resolve, (e) => reject(new Error(`${entry.fullPath.replace(/^\//, '')} could not be opened (${why(e)}).`)));
  });
}

/** Every entry of a folder: readEntries until an empty batch. */
async function childrenOf(dir: DropEntry): Promise<DropEntry[]> {
  const reader = dir.createReader?.();
  if (!reader) return [];
  const all: DropEntry[] = [];
  for (;;) {
    const batch = await new Promise<DropEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, (e) => reject(new Error(`The folder ${dir.fullPath.replace(/^\//, '')} could not be read (${why(e)}).`))),
    );
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/**
 * Every file under the dropped entries (folders walked recursively, depth first, names in the
 * order the browser gives them), each with its path inside the drop. `signal` stops a long walk.
 */
export async function droppedFiles(entries: readonly DropEntry[], signal?: AbortSignal): Promise<DroppedFile[]> {
  const out: DroppedFile[] = [];
  const walk = async (e: DropEntry): Promise<void> => {
    if (signal?.aborted) throw new DOMException('The drop was cancelled.', 'AbortError');
    if (e.isDirectory) {
      for (const c of await childrenOf(e)) await walk(c);
      return;
    }
    if (!e.isFile) return;
    const f = await fileOf(e);
    const path = e.fullPath.replace(/^\/+/, '');
    out.push({ name: f.name, size: f.size, webkitRelativePath: path.includes('/') ? path : '', arrayBuffer: () => f.arrayBuffer() });
  };
  for (const e of entries) await walk(e);
  if (out.length === 0) {
    const names = entries.map((e) => e.name).join(', ');
    throw new Error(`${names || 'The drop'}: the dropped folder holds no files.`);
  }
  return out;
}
