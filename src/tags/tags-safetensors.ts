/**
 * Tags and heads as `tags.safetensors` + a JSON sidecar, for use outside the workbench (PyTorch,
 * numpy). Tensors: `tags.<name>` f32 [p, d] (rows spliced into inputs_embeds in place of the
 * tag's p placeholder positions), `heads.<name>.weight` f32 [k, d] and `heads.<name>.bias` f32 [k]
 * (an nn.Linear on the final normed hidden state at the tag's last row). The sidecar holds what
 * tensors cannot: names, kinds, provenance, label standardisation, class names, templates.
 *
 * Built on the JSON library format (library-format.ts): export goes through exportLibrary and
 * import rebuilds a LibraryFile for importLibrary, so both share its validation and rules.
 */
import { readSafetensorsTensors, writeSafetensors } from '../model/safetensors';
import type { ByteSource } from '../model/source';
import { BytesSource } from '../model/sources';
import { GgmlType, type HostTensor } from '../model/types';
import { base64ToF32, f32ToBase64 } from './f32-base64';
import { exportLibrary, LIBRARY_FORMAT, LIBRARY_VERSION, type ExportSelection, type HeadJson, type LibraryFile, type TagJson } from './library-format';
import type { TagLibrary } from './library';

export const TAGS_SIDECAR_FORMAT = 'tag-workbench/tags-safetensors';
export const TAGS_SIDECAR_VERSION = 1;
export const TAGS_FILE = 'tags.safetensors';
export const TAGS_SIDECAR_FILE = 'tags.json';

export interface TagsSidecar {
  format: typeof TAGS_SIDECAR_FORMAT;
  version: typeof TAGS_SIDECAR_VERSION;
  exported: string;
  /** The safetensors file the tensor names refer to. */
  tensors: string;
  /**
   * Templates the tags were trained or are meant to be used with (e.g. "<SMILES> {input}"): those
   * given at export, then each tag's training templates, without repeats.
   */
  templates: string[];
  /** `templates`: the templates the tag was last trained with (its provenance.training), [] when untrained. */
  tags: Array<Omit<TagJson, 'data'> & { tensor: string; templates: string[] }>;
  heads: Array<Omit<HeadJson, 'W' | 'b'> & { weight: string; bias: string }>;
}

export const tagTensorName = (name: string) => `tags.${name}`;
export const headTensorNames = (name: string) => ({ weight: `heads.${name}.weight`, bias: `heads.${name}.bias` });

/** Tags and heads of the library (or a selection; adapters go to PEFT instead) as safetensors + sidecar. */
export function exportTagsSafetensors(
  lib: TagLibrary,
  selection?: ExportSelection,
  opts: { templates?: string[] } = {},
): { safetensors: Uint8Array; sidecar: TagsSidecar } {
  const file = exportLibrary(lib, { ...selection, adapters: [] });
  const tensors: HostTensor[] = [];
  const f32 = (name: string, shape: number[], b64: string) => {
    const v = base64ToF32(b64, shape.reduce((a, b) => a * b, 1));
    tensors.push({ name, type: GgmlType.F32, shape, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
  };
  const tags = file.tags.map(({ data, ...t }) => {
    f32(tagTensorName(t.name), [t.p, t.d], data);
    return { ...t, tensor: tagTensorName(t.name), templates: [...(t.provenance.training?.templates ?? [])] };
  });
  const heads = file.heads.map(({ W, b, ...h }) => {
    const n = headTensorNames(h.name);
    f32(n.weight, [h.k, h.d], W);
    f32(n.bias, [h.k], b);
    return { ...h, ...n };
  });
  return {
    safetensors: writeSafetensors(tensors, { format: 'pt' }),
    sidecar: {
      format: TAGS_SIDECAR_FORMAT,
      version: TAGS_SIDECAR_VERSION,
      exported: file.exported,
      tensors: TAGS_FILE,
      templates: [...new Set([...(opts.templates ?? []), ...tags.flatMap((t) => t.templates)])],
      tags,
      heads,
    },
  };
}

/**
 * Reads tags.safetensors + its sidecar back into a library file (hand it to importLibrary, which
 * checks widths and embedding fingerprints). Throws an Error naming the problem when the two files
 * do not belong together.
 */
export async function tagsSafetensorsToLibrary(weights: Uint8Array | ByteSource, sidecarJson: unknown): Promise<LibraryFile> {
  let side = sidecarJson;
  if (side instanceof Uint8Array) side = new TextDecoder().decode(side);
  if (typeof side === 'string') {
    try {
      side = JSON.parse(side);
    } catch (e) {
      throw new Error(`The tags sidecar is not JSON (${(e as Error).message}).`);
    }
  }
  const s = side as Partial<TagsSidecar> | null;
  if (!s || typeof s !== 'object' || s.format !== TAGS_SIDECAR_FORMAT) {
    throw new Error(`This is not a tags sidecar: "format" should be "${TAGS_SIDECAR_FORMAT}".`);
  }
  if (s.version !== TAGS_SIDECAR_VERSION) throw new Error(`Unsupported tags sidecar version ${JSON.stringify(s.version)}; this app reads ${TAGS_SIDECAR_VERSION}.`);
  if (!Array.isArray(s.tags) || !Array.isArray(s.heads)) throw new Error('The tags sidecar lacks its "tags" and "heads" lists.');
  const src = weights instanceof Uint8Array ? new BytesSource(weights, TAGS_FILE) : weights;
  const byName = new Map((await readSafetensorsTensors(src)).map((t) => [t.name, t]));
  const used = new Set<string>();
  const tensor = (name: unknown, shape: number[], what: string): string => {
    const t = typeof name === 'string' ? byName.get(name) : undefined;
    if (!t) throw new Error(`${TAGS_FILE} has no tensor ${JSON.stringify(name)} for ${what}; the sidecar belongs to another file.`);
    if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
      throw new Error(`${TAGS_FILE}: "${t.name}" for ${what} has shape [${t.shape.join(', ')}], the sidecar says [${shape.join(', ')}].`);
    }
    used.add(t.name);
    return f32ToBase64(t.data);
  };
  const tags: TagJson[] = s.tags.map(({ tensor: name, templates, ...t }) => ({
    ...withTemplates(t, templates, `tag <${t.name}>`),
    data: tensor(name, [t.p, t.d], `tag <${t.name}>`),
  }));
  const heads: HeadJson[] = s.heads.map(({ weight, bias, ...h }) => ({
    ...h,
    W: tensor(weight, [h.k, h.d], `head ${h.name}`),
    b: tensor(bias, [h.k], `head ${h.name}`),
  }));
  const extra = [...byName.keys()].filter((n) => !used.has(n));
  if (extra.length) throw new Error(`${TAGS_FILE} holds tensors the sidecar does not describe: ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}.`);
  return { format: LIBRARY_FORMAT, version: LIBRARY_VERSION, exported: s.exported ?? '', tags, heads, adapters: [] };
}

/**
 * A sidecar tag's own `templates` (the field a Python user edits) back into its provenance: they
 * become its training record's templates; a tag without a training record keeps them in its notes,
 * so nothing the sidecar says is dropped. Absent (older sidecars): the provenance as it is.
 */
function withTemplates<T extends Omit<TagJson, 'data'>>(t: T, templates: unknown, what: string): T {
  if (templates === undefined) return t;
  if (!Array.isArray(templates) || templates.some((x) => typeof x !== 'string')) throw new Error(`The tags sidecar: "templates" of ${what} should be a list of strings.`);
  const list = templates as string[];
  const pv = t.provenance;
  if (!pv || typeof pv !== 'object') return t;
  if (pv.training) return { ...t, provenance: { ...pv, training: { ...pv.training, templates: [...list] } } };
  if (!list.length) return t;
  const note = `Templates: ${list.join(' | ')}`;
  return { ...t, provenance: { ...pv, notes: pv.notes ? (pv.notes.includes(note) ? pv.notes : `${pv.notes}\n${note}`) : note } };
}
