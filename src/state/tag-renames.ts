/**
 * Tags are identities, not names: when the library renames a tag (same id, new name), prompts and
 * templates that use it follow. Derived from two library summaries, so it works whatever renamed it.
 */
import type { AdapterSummary, TagSummary } from '../worker/protocol';

export interface TagRename {
  id: string;
  from: string;
  to: string;
}

/** Tags (or adapters) present in both lists (by id) whose name changed. */
export function tagRenames(prev: ReadonlyArray<Pick<TagSummary, 'id' | 'name'>>, next: ReadonlyArray<Pick<TagSummary, 'id' | 'name'>>): TagRename[] {
  const before = new Map(prev.map((t) => [t.id, t.name]));
  const out: TagRename[] = [];
  for (const t of next) {
    const from = before.get(t.id);
    if (from !== undefined && from !== t.name) out.push({ id: t.id, from, to: t.name });
  }
  return out;
}

/** Applies several renames at once (a swap A↔B stays a swap): `rename(name)` → its new name. */
export function renamer(renames: readonly TagRename[]): (name: string) => string {
  const map = new Map(renames.map((r) => [r.from, r.to]));
  return (name) => map.get(name) ?? name;
}

/** Every <Name> of a template source renamed at once (escaped \<Name> left alone). */
export function renameTagsInTemplate(source: string, renames: readonly TagRename[]): string {
  if (renames.length === 0) return source;
  const rename = renamer(renames);
  return source.replace(/(^|[^\\])<([A-Za-z_][A-Za-z0-9_-]*)>/g, (_m, pre: string, name: string) => `${pre}<${rename(name)}>`);
}

/**
 * A chosen adapter after the library changed: its new name when renamed (same id), null when it is
 * gone (so no request names an adapter the library lacks), else unchanged.
 */
export function followAdapter(prev: readonly AdapterSummary[], next: readonly AdapterSummary[], name: string | null): string | null {
  if (!name) return null;
  const id = prev.find((a) => a.name === name)?.id;
  // Not one the library listed before (chosen ahead of a restore): leave it to the worker to refuse.
  if (id === undefined) return name;
  return (next.find((a) => a.id === id) ?? next.find((a) => a.name === name))?.name ?? null;
}
