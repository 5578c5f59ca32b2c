/**
 * Worker-side helpers around the tag library: summaries for the UI (no floats), restoring a saved
 * library (which may hold tags of several model widths), and scratch copies for training runs.
 */
import type { Head, LoraAdapter } from '../tags/head';
import { TagLibrary } from '../tags/library';
import { importLibrary, type LibraryFile } from '../tags/library-format';
import type { Tag } from '../tags/tag';
import type { AdapterSummary, HeadSummary, LibrarySummary, TagSummary } from './protocol';

export function headSummary(h: Head): HeadSummary {
  return {
    id: h.id,
    name: h.name,
    kind: h.kind,
    k: h.k,
    d: h.d,
    ...(h.classes ? { classes: [...h.classes] } : {}),
    labelMean: [...h.labelMean],
    labelStd: [...h.labelStd],
    ...(h.training ? { training: structuredClone(h.training) } : {}),
  };
}

/** Mean L2 norm of a tag's rows. */
export function meanRowNorm(t: Pick<Tag, 'p' | 'd' | 'data'>): number {
  let sum = 0;
  for (let r = 0; r < t.p; r++) {
    let sq = 0;
    for (let j = 0; j < t.d; j++) sq += t.data[r * t.d + j] ** 2;
    sum += Math.sqrt(sq);
  }
  return t.p ? sum / t.p : 0;
}

export function tagSummary(t: Tag, head: Head | undefined): TagSummary {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind,
    p: t.p,
    d: t.d,
    provenance: { ...t.provenance, metrics: { ...t.provenance.metrics } },
    meanNorm: meanRowNorm(t),
    head: head ? headSummary(head) : null,
  };
}

export function adapterSummary(a: LoraAdapter): AdapterSummary {
  let params = 0;
  for (const layer of a.layers) for (const pair of Object.values(layer)) params += pair.A.length + pair.B.length;
  return { id: a.id, name: a.name, rank: a.rank, alpha: a.alpha, targets: [...a.targets], layers: a.layers.length, params, ...(a.training ? { training: structuredClone(a.training) } : {}) };
}

export function summarizeLibrary(lib: TagLibrary): LibrarySummary {
  return {
    tags: lib.tags.map((t) => tagSummary(t, lib.getHead(t.name))),
    heads: lib.heads.map(headSummary),
    adapters: lib.adapters.map(adapterSummary),
  };
}

/** A library sharing the items of `lib` (a run writes its results here, not into `lib`). */
export function cloneLibrary(lib: TagLibrary): TagLibrary {
  return new TagLibrary({ tags: lib.tags, heads: lib.heads, adapters: lib.adapters });
}

/** The width an adapter JSON was made for: `in` of a matrix reading the residual stream, or `out` of one writing it. */
function adapterWidth(a: LibraryFile['adapters'][number]): number | null {
  const layer = a.layers?.[0];
  if (!layer) return null;
  for (const [t, m] of Object.entries(layer)) {
    if (['q', 'k', 'v', 'gate', 'up'].includes(t)) return m.in;
    if (['o', 'down'].includes(t)) return m.out;
  }
  return null;
}

/**
 * Fills `lib` from a saved library file. The file is the user's own library (it may mix models of
 * different widths), so it is checked per width and fingerprints are not questioned. Returns the
 * problems met (items that could not be read are left out, never the whole library).
 */
export function restoreLibrary(lib: TagLibrary, file: LibraryFile | null): string[] {
  if (!file) return [];
  const problems: string[] = [];
  const widths = new Set<number>();
  for (const t of file.tags ?? []) widths.add(t.d);
  for (const h of file.heads ?? []) widths.add(h.d);
  for (const a of file.adapters ?? []) {
    const w = adapterWidth(a);
    if (w !== null) widths.add(w);
  }
  for (const w of widths) {
    const part: LibraryFile = {
      ...file,
      tags: (file.tags ?? []).filter((t) => t.d === w),
      heads: (file.heads ?? []).filter((h) => h.d === w),
      adapters: (file.adapters ?? []).filter((a) => adapterWidth(a) === w),
    };
    const r = importLibrary(part, { dModel: w, fingerprint: '' }, { acceptFingerprintMismatch: true });
    if (r.status === 'ok') lib.merge({ tags: r.tags, heads: r.heads, adapters: r.adapters }, 'replace');
    else problems.push(r.status === 'refused' ? r.error : r.warning);
  }
  return problems;
}
