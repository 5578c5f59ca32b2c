/**
 * From rendered examples to the `inject` / `injected` inputs of a forward pass (ForwardInput): the
 * rows of every tag a batch uses go into one f32 [nRows, d] array (uploaded once per batch), and each
 * token position holding a tag row points at its row there.
 */
import { NO_INJECT } from '../model/transformer';
import type { Tag } from './tag';
import type { RenderedExample } from './template';

export interface PackedTags {
  data: Float32Array<ArrayBuffer>; // [nRows, d]: the tags' rows back to back, in the order given
  nRows: number;
  d: number;
  /** Tag name → index of its first row in `data`. */
  offsets: Map<string, number>;
}

/** Lays out the rows of `tags` (each name once; the same tag object may repeat) into one array. */
export function packInjected(tags: readonly Tag[]): PackedTags {
  const unique: Tag[] = [];
  const byName = new Map<string, Tag>();
  for (const t of tags) {
    const seen = byName.get(t.name);
    if (seen && seen !== t) throw new Error(`Two different tags are named <${t.name}>.`);
    if (!seen) {
      byName.set(t.name, t);
      unique.push(t);
    }
  }
  const d = unique[0]?.d ?? 0;
  for (const t of unique) {
    if (t.d !== d) throw new Error(`Tags of different widths in one batch: <${unique[0].name}> has d=${d}, <${t.name}> has d=${t.d}.`);
    if (t.data.length !== t.p * t.d) throw new Error(`Tag <${t.name}>: data has ${t.data.length} values, expected p·d = ${t.p * t.d}.`);
  }
  const nRows = unique.reduce((s, t) => s + t.p, 0);
  const data = new Float32Array(nRows * d);
  const offsets = new Map<string, number>();
  let row = 0;
  for (const t of unique) {
    offsets.set(t.name, row);
    data.set(t.data, row * d);
    row += t.p;
  }
  return { data, nRows, d, offsets };
}

/** [T] row of the packed array for each token of `rendered`, NO_INJECT (0xFFFFFFFF) where there is no tag. */
export function injectIndex(rendered: RenderedExample, offsets: ReadonlyMap<string, number>): Uint32Array {
  const out = new Uint32Array(rendered.ids.length).fill(NO_INJECT);
  for (const { pos, tag, row } of rendered.tagAt) {
    const base = offsets.get(tag);
    if (base === undefined) throw new Error(`Tag <${tag}> is used by the example but was not packed.`);
    out[pos] = base + row;
  }
  return out;
}
