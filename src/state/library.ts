/**
 * Library store: the UI's view of the worker's tag library (summaries, no floats), its persistence
 * in IndexedDB (every change the worker announces is saved; the saved library is restored into the
 * worker at start), and the rename / delete / export / import flows, including the confirmation
 * asked for tags trained against another embedding table.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ExportSelection } from '../tags/library-format';
import type { EngineClientLike } from '../worker/client';
import type { ImportConflict, LibraryExportFilesParams, LibraryImportReply, LibraryItemKind, LibrarySummary } from '../worker/protocol';
import type { WorkbenchDb } from './db';
import type { NoticesStore } from './notices';

export const EMPTY_LIBRARY: LibrarySummary = { tags: [], heads: [], adapters: [] };

export interface PendingImport {
  fileName: string;
  /** A library JSON, or the files of a tags.safetensors import. */
  text?: string;
  files?: Array<{ name: string; bytes: Uint8Array }>;
  /** Tags trained against another embedding table: import anyway? */
  warning?: string;
  /** Tags that clash with the library (same id or name, other content): keep both or replace? */
  conflicts?: ImportConflict[];
  /** The embedding question was answered already. */
  confirmed?: boolean;
}

export interface LibraryState {
  summary: LibrarySummary;
  /** The saved library has been loaded into the worker (changes are persisted from then on). */
  restored: boolean;
  /** The loaded model's embedding fingerprint (tags are compared against it). */
  fingerprint: string | null;
  fingerprintModel: string | null;
  /** An import waiting for the user's confirmation. */
  pendingImport: PendingImport | null;
  /** What the last import added. */
  lastImport: { fileName: string; added: string[]; renamed: string[]; warnings: string[]; alreadyPresent: string[] } | null;
  /** An import that was refused (shown in the panel). */
  importError: string | null;

  restore(): Promise<void>;
  refreshFingerprint(modelName: string | null): Promise<void>;
  rename(kind: 'tag' | 'adapter', from: string, to: string): Promise<boolean>;
  remove(kind: LibraryItemKind, name: string): Promise<boolean>;
  /** The library file (all, or a selection) as JSON text and a file name for the download. */
  exportJson(selection?: ExportSelection): Promise<{ json: string; fileName: string } | null>;
  importText(text: string, fileName: string): Promise<LibraryImportReply | null>;
  /** A PEFT adapter (zip or its two files) or tags.safetensors + sidecar (or their zip). */
  importFiles(files: Array<{ name: string; bytes: Uint8Array }>): Promise<LibraryImportReply | null>;
  /** A PEFT adapter from a Hugging Face repository, a folder URL or a .zip URL. */
  importUrl(url: string): Promise<LibraryImportReply | null>;
  /** A PEFT adapter zip, or tags.safetensors + sidecar zipped: bytes and a file name for the download. */
  exportFiles(params: LibraryExportFilesParams): Promise<{ bytes: Uint8Array; fileName: string } | null>;
  /** Answers the pending question: import despite the embedding warning, or resolve clashes (`rename` keeps both). */
  confirmImport(onConflict?: 'rename' | 'replace'): Promise<LibraryImportReply | null>;
  cancelImport(): void;
}

export type LibraryStore = StoreApi<LibraryState>;

export interface LibraryStoreDeps {
  client: EngineClientLike;
  notices: NoticesStore;
  db: Promise<WorkbenchDb>;
  now?: () => Date;
}

export function exportFileName(selection: ExportSelection | undefined, date: Date): string {
  const stamp = date.toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const tags = selection?.tags ?? [];
  const what = tags.length === 1 && !selection?.adapters?.length ? tags[0] : selection ? 'selection' : 'library';
  return `tags-${what}-${stamp}.json`;
}

export function createLibraryStore({ client, notices, db, now = () => new Date() }: LibraryStoreDeps): LibraryStore {
  let persistQueue: Promise<void> = Promise.resolve();
  const store = createStore<LibraryState>()((set, get) => ({
    summary: EMPTY_LIBRARY,
    restored: false,
    fingerprint: null,
    fingerprintModel: null,
    pendingImport: null,
    lastImport: null,
    importError: null,

    async restore() {
      try {
        const saved = await (await db).getLibrary();
        const summary = await client.request('libraryRestore', { file: saved });
        set({ summary, restored: true });
      } catch (e) {
        // Start empty but keep the saved copy untouched (restored stays false: nothing is overwritten).
        notices.getState().pushError(e, 'Restoring the tag library');
        try {
          set({ summary: await client.request('libraryList', {}) });
        } catch {
          /* the engine is gone; the banner says so */
        }
      }
    },

    async refreshFingerprint(modelName) {
      if (!modelName) {
        set({ fingerprint: null, fingerprintModel: null });
        return;
      }
      try {
        const f = await client.request('modelFingerprint', {});
        set({ fingerprint: f.fingerprint, fingerprintModel: modelName });
      } catch {
        set({ fingerprint: null, fingerprintModel: null });
      }
    },

    async rename(kind, from, to) {
      const name = to.trim();
      if (!name || name === from) return false;
      try {
        set({ summary: await client.request('libraryRename', { kind, from, to: name }) });
        return true;
      } catch (e) {
        notices.getState().pushError(e, `Renaming ${from}`);
        return false;
      }
    },

    async remove(kind, name) {
      try {
        set({ summary: await client.request('libraryDelete', { kind, name }) });
        return true;
      } catch (e) {
        notices.getState().pushError(e, `Deleting ${name}`);
        return false;
      }
    },

    async exportJson(selection) {
      try {
        const r = await client.request('libraryExport', { selection });
        return { json: r.json, fileName: exportFileName(selection, now()) };
      } catch (e) {
        notices.getState().pushError(e, 'Exporting the library');
        return null;
      }
    },

    async importText(text, fileName) {
      set({ importError: null, pendingImport: null });
      try {
        const r = await client.request('libraryImport', { text });
        handleReply(r, { fileName, text });
        return r;
      } catch (e) {
        notices.getState().pushError(e, `Importing ${fileName}`);
        return null;
      }
    },

    async importFiles(files) {
      const label = files.map((f) => f.name).join(' + ');
      set({ importError: null, pendingImport: null });
      try {
        const r = await client.request('libraryImportFiles', { files });
        if (r.status === 'needs-confirmation') set({ pendingImport: { fileName: label, files, warning: r.warning } });
        else if (r.status === 'conflicts') set({ pendingImport: { fileName: label, files, conflicts: r.conflicts } });
        else afterImport(r, label);
        return r;
      } catch (e) {
        notices.getState().pushError(e, `Importing ${label}`);
        return null;
      }
    },

    async importUrl(url) {
      set({ importError: null, pendingImport: null });
      try {
        const r = await client.request('libraryImportFiles', { url: url.trim() });
        afterImport(r, url.trim());
        return r;
      } catch (e) {
        notices.getState().pushError(e, `Importing ${url}`);
        return null;
      }
    },

    async exportFiles(params) {
      try {
        return await client.request('libraryExportFiles', params);
      } catch (e) {
        notices.getState().pushError(e, params.format === 'peft' ? `Exporting adapter ${params.adapter}` : 'Exporting tags as safetensors');
        return null;
      }
    },

    async confirmImport(onConflict) {
      const p = get().pendingImport;
      if (!p) return null;
      set({ pendingImport: null });
      const confirmed = p.confirmed || !!p.warning;
      try {
        const r = p.files
          ? await client.request('libraryImportFiles', { files: p.files, confirm: confirmed, onConflict: p.conflicts ? onConflict : undefined })
          : await client.request('libraryImport', { text: p.text ?? '', confirm: confirmed, onConflict: p.conflicts ? onConflict : undefined });
        if (p.files) {
          if (r.status === 'needs-confirmation') set({ pendingImport: { ...p, warning: r.warning, confirmed } });
          else if (r.status === 'conflicts') set({ pendingImport: { ...p, warning: undefined, conflicts: r.conflicts, confirmed } });
          else afterImport(r, p.fileName);
        }
        else handleReply(r, { fileName: p.fileName, text: p.text ?? '', confirmed });
        return r;
      } catch (e) {
        notices.getState().pushError(e, `Importing ${p.fileName}`);
        return null;
      }
    },

    cancelImport() {
      set({ pendingImport: null });
    },
  }));

  function handleReply(r: LibraryImportReply, p: Pick<PendingImport, 'fileName' | 'text' | 'confirmed'>) {
    if (r.status === 'needs-confirmation') store.setState({ pendingImport: { ...p, warning: r.warning } });
    else if (r.status === 'conflicts') store.setState({ pendingImport: { ...p, conflicts: r.conflicts } });
    else afterImport(r, p.fileName);
  }

  function afterImport(r: LibraryImportReply, fileName: string) {
    if (r.status === 'refused') {
      store.setState({ importError: r.error, lastImport: null });
      notices.getState().push({ kind: 'error', title: `${fileName} was not imported`, message: r.error });
      return;
    }
    if (r.status !== 'ok') return;
    store.setState({
      summary: r.summary,
      importError: null,
      lastImport: {
        fileName,
        added: [...r.added.tags.map((n) => `<${n}>`), ...r.added.adapters],
        renamed: r.report.renamed.map((x) => `${x.from} → ${x.to}`),
        warnings: r.warnings,
        alreadyPresent: r.alreadyPresent.map((n) => `<${n}>`),
      },
    });
  }

  // The worker announces every change with the whole file: keep the summary and save it.
  client.onNotify((msg) => {
    if (msg.type !== 'library') return;
    store.setState({ summary: msg.summary });
    const file = msg.file;
    if (!file || !store.getState().restored) return;
    persistQueue = persistQueue
      .then(async () => (await db).putLibrary(file))
      .catch((e) => {
        notices.getState().pushError(e, 'Saving the tag library');
      });
  });

  return store;
}
