/**
 * The tag library: the learned tags, the heads of function tags, and LoRA adapters, each unique by
 * name (a tag's name is how templates refer to it; a head is named after its function tag, one head
 * per tag). Export and import live in library-format.ts (re-exported here).
 */
import type { Head, LoraAdapter } from './head';
import { newId } from './id';
import { tagNameProblem, type Tag } from './tag';

export {
  exportLibrary,
  importLibrary,
  LIBRARY_FORMAT,
  LIBRARY_VERSION,
  type ExportSelection,
  type ImportResult,
  type ImportTarget,
  type LibraryFile,
} from './library-format';

export interface LibraryItems {
  tags: Tag[];
  heads: Head[];
  adapters: LoraAdapter[];
}

/** What merge() did to resolve name clashes. */
export interface MergeReport {
  renamed: Array<{ kind: 'tag' | 'head' | 'adapter'; from: string; to: string }>;
  replaced: Array<{ kind: 'tag' | 'head' | 'adapter'; name: string }>;
}

export class TagLibrary {
  // Maps keep insertion order: the UI lists items in the order they were added.
  private readonly tagsByName = new Map<string, Tag>();
  private readonly headsByName = new Map<string, Head>();
  private readonly adaptersByName = new Map<string, LoraAdapter>();
  private readonly listeners = new Set<() => void>();

  constructor(init: Partial<LibraryItems> = {}) {
    for (const t of init.tags ?? []) this.addTag(t);
    for (const h of init.heads ?? []) this.setHead(h);
    for (const a of init.adapters ?? []) this.addAdapter(a);
  }

  get tags(): Tag[] {
    return [...this.tagsByName.values()];
  }
  get heads(): Head[] {
    return [...this.headsByName.values()];
  }
  get adapters(): LoraAdapter[] {
    return [...this.adaptersByName.values()];
  }
  /** Name → tag, as renderExample's context wants it (a snapshot). */
  tagMap(): Map<string, Tag> {
    return new Map(this.tagsByName);
  }

  /** Calls `fn` after every change (add, rename, delete, merge); returns the unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  /** Tell listeners that an item changed in place (e.g. a tag's data after training steps). */
  touch(): void {
    for (const fn of this.listeners) fn();
  }

  getTag(name: string): Tag | undefined {
    return this.tagsByName.get(name);
  }
  /** Adds a tag; a tag of the same name is an error unless `replace`. */
  addTag(tag: Tag, opts: { replace?: boolean } = {}): void {
    const bad = tagNameProblem(tag.name);
    if (bad) throw new Error(bad);
    if (this.tagsByName.has(tag.name) && !opts.replace) throw new Error(`The library already has a tag <${tag.name}>.`);
    this.tagsByName.set(tag.name, tag);
    this.touch();
  }
  /** Renames a tag and the head it owns. Templates that say <old> must be edited by the caller. */
  renameTag(from: string, to: string): void {
    const tag = this.need(this.tagsByName, from, 'tag');
    if (from === to) return;
    const bad = tagNameProblem(to);
    if (bad) throw new Error(bad);
    if (this.tagsByName.has(to)) throw new Error(`The library already has a tag <${to}>.`);
    if (this.headsByName.has(to) && this.headsByName.has(from)) throw new Error(`The library already has a head named ${to}.`);
    tag.name = to;
    renameKey(this.tagsByName, from, to);
    const head = this.headsByName.get(from);
    if (head) {
      head.name = to;
      renameKey(this.headsByName, from, to);
    }
    this.touch();
  }
  /** Deletes a tag and its head; false if there was none. */
  deleteTag(name: string): boolean {
    const had = this.tagsByName.delete(name);
    const hadHead = this.headsByName.delete(name);
    if (had || hadHead) this.touch();
    return had;
  }

  getHead(name: string): Head | undefined {
    return this.headsByName.get(name);
  }
  /** Sets the head of function tag `head.name`, replacing any it had. */
  setHead(head: Head): void {
    if (!head.name) throw new Error('A head needs a name (the function tag it belongs to).');
    this.headsByName.set(head.name, head);
    this.touch();
  }
  deleteHead(name: string): boolean {
    const had = this.headsByName.delete(name);
    if (had) this.touch();
    return had;
  }

  getAdapter(name: string): LoraAdapter | undefined {
    return this.adaptersByName.get(name);
  }
  addAdapter(adapter: LoraAdapter, opts: { replace?: boolean } = {}): void {
    if (!adapter.name) throw new Error('A LoRA adapter needs a name.');
    if (this.adaptersByName.has(adapter.name) && !opts.replace) throw new Error(`The library already has an adapter "${adapter.name}".`);
    this.adaptersByName.set(adapter.name, adapter);
    this.touch();
  }
  renameAdapter(from: string, to: string): void {
    const a = this.need(this.adaptersByName, from, 'adapter');
    if (from === to) return;
    if (!to) throw new Error('A LoRA adapter needs a name.');
    if (this.adaptersByName.has(to)) throw new Error(`The library already has an adapter "${to}".`);
    a.name = to;
    renameKey(this.adaptersByName, from, to);
    this.touch();
  }
  deleteAdapter(name: string): boolean {
    const had = this.adaptersByName.delete(name);
    if (had) this.touch();
    return had;
  }

  /**
   * Adds imported items. On a name clash, 'rename' gives the newcomer a free name (SMILES → SMILES_2;
   * its head follows) and 'replace' overwrites. Ids already in the library are replaced by fresh ones.
   */
  merge(items: Partial<LibraryItems>, onConflict: 'rename' | 'replace' = 'rename'): MergeReport {
    const report: MergeReport = { renamed: [], replaced: [] };
    const ids = new Set([...this.tags, ...this.heads, ...this.adapters].map((x) => x.id));
    const freshId = <T extends { id: string }>(x: T, prefix: string): T => {
      const id = ids.has(x.id) ? newId(prefix) : x.id;
      ids.add(id);
      return { ...x, id };
    };
    const tagRenames = new Map<string, string>();
    for (const t of items.tags ?? []) {
      let tag = freshId(t, 'tag');
      if (this.tagsByName.has(tag.name)) {
        if (onConflict === 'replace') report.replaced.push({ kind: 'tag', name: tag.name });
        else {
          const to = freeName(tag.name, (n) => this.tagsByName.has(n) || this.headsByName.has(n), '_');
          report.renamed.push({ kind: 'tag', from: tag.name, to });
          tagRenames.set(tag.name, to);
          tag = { ...tag, name: to };
        }
      }
      this.tagsByName.set(tag.name, tag);
    }
    for (const h of items.heads ?? []) {
      let head = freshId(h, 'head');
      const follow = tagRenames.get(head.name);
      if (follow) head = { ...head, name: follow };
      else if (this.headsByName.has(head.name)) {
        if (onConflict === 'replace') report.replaced.push({ kind: 'head', name: head.name });
        else {
          const to = freeName(head.name, (n) => this.headsByName.has(n) || this.tagsByName.has(n), '_');
          report.renamed.push({ kind: 'head', from: head.name, to });
          head = { ...head, name: to };
        }
      }
      this.headsByName.set(head.name, head);
    }
    for (const a of items.adapters ?? []) {
      let adapter = freshId(a, 'lora');
      if (this.adaptersByName.has(adapter.name)) {
        if (onConflict === 'replace') report.replaced.push({ kind: 'adapter', name: adapter.name });
        else {
          const to = freeName(adapter.name, (n) => this.adaptersByName.has(n), ' ');
          report.renamed.push({ kind: 'adapter', from: adapter.name, to });
          adapter = { ...adapter, name: to };
        }
      }
      this.adaptersByName.set(adapter.name, adapter);
    }
    this.touch();
    return report;
  }

  private need<T>(map: Map<string, T>, name: string, what: string): T {
    const x = map.get(name);
    if (!x) throw new Error(`The library has no ${what} named ${JSON.stringify(name)}.`);
    return x;
  }
}

/** Renames a key in place, keeping its position in the insertion order. */
function renameKey<T>(map: Map<string, T>, from: string, to: string): void {
  const entries = [...map].map(([k, v]): [string, T] => [k === from ? to : k, v]);
  map.clear();
  for (const [k, v] of entries) map.set(k, v);
}

/** base + sep + 2, 3, … : the first name `taken` refuses (kept within the 64 characters of a tag name). */
function freeName(base: string, taken: (n: string) => boolean, sep: string): string {
  for (let i = 2; ; i++) {
    const suffix = `${sep}${i}`;
    const n = base.slice(0, 64 - suffix.length) + suffix;
    if (!taken(n)) return n;
  }
}
