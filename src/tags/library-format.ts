/**
 * The tag library's file format, version 1 (documented in docs/tag-library-format.md):
 *
 *   { "format": "tag-workbench/library", "version": 1, "exported": ISO time,
 *     "tags": [...], "heads": [...], "adapters": [...] }
 *
 * Float arrays are base64 of little-endian f32 bytes, so export → import is bit-exact. Files are
 * untrusted: import validates every field and never throws; it answers ok, needs-confirmation
 * (tags trained against a different embedding table) or refused (malformed, or made for a model of
 * another width, which can never work).
 */
import { base64ToF32, f32ToBase64 } from './f32-base64';
import { LORA_TARGETS, type Head, type LoraAdapter, type LoraPair, type LoraTarget } from './head';
import type { LibraryItems, TagLibrary } from './library';
import { TAG_STAGES, tagNameProblem, type Tag, type TagProvenance, type TrainingRecord } from './tag';

export const LIBRARY_FORMAT = 'tag-workbench/library';
export const LIBRARY_VERSION = 1;

export interface TagJson {
  id: string;
  name: string;
  kind: Tag['kind'];
  p: number;
  d: number;
  data: string; // base64, p·d little-endian f32
  /** Metrics that are not finite numbers (a NaN Pearson r) are written as null. */
  provenance: Omit<TagProvenance, 'metrics'> & { metrics: Record<string, number | null> };
}
export interface HeadJson {
  id: string;
  name: string;
  kind: Head['kind'];
  k: number;
  d: number;
  W: string; // base64, k·d
  b: string; // base64, k
  labelMean: number[];
  labelStd: number[];
  classes?: string[];
  training?: TrainingRecord;
}
export interface AdapterJson {
  id: string;
  name: string;
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  /** Per layer: target → { in, out, A: base64 [rank, in], B: base64 [out, rank] }. */
  layers: Array<Record<string, { in: number; out: number; A: string; B: string }>>;
  dropout?: number;
  baseModel?: string;
  training?: TrainingRecord;
}
export interface LibraryFile {
  format: typeof LIBRARY_FORMAT;
  version: typeof LIBRARY_VERSION;
  exported: string;
  tags: TagJson[];
  heads: HeadJson[];
  adapters: AdapterJson[];
}

/** Names to export. Without a selection everything goes; with one, heads default to those of the chosen tags and adapters to none. */
export interface ExportSelection {
  tags?: string[];
  heads?: string[];
  adapters?: string[];
}

/** The library (or a selection of it) as a JSON-ready object; JSON.stringify it to save. Throws if a value is not finite. */
export function exportLibrary(lib: TagLibrary, selection?: ExportSelection): LibraryFile {
  const pick = <T extends { name: string }>(all: T[], names: string[] | undefined, what: string): T[] => {
    if (!names) return all;
    return names.map((n) => {
      const x = all.find((a) => a.name === n);
      if (!x) throw new Error(`Cannot export ${what} ${JSON.stringify(n)}: the library has none by that name.`);
      return x;
    });
  };
  const tags = pick(lib.tags, selection?.tags, 'tag');
  const headNames = selection && !selection.heads ? lib.heads.filter((h) => tags.some((t) => t.name === h.name)).map((h) => h.name) : selection?.heads;
  const heads = pick(lib.heads, headNames, 'head');
  const adapters = pick(lib.adapters, selection ? (selection.adapters ?? []) : undefined, 'adapter');
  const enc = (v: Float32Array, what: string): string => {
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`Cannot export ${what}: value ${i} is ${v[i]} (training diverged?).`);
    return f32ToBase64(v);
  };
  return {
    format: LIBRARY_FORMAT,
    version: LIBRARY_VERSION,
    exported: new Date().toISOString(),
    tags: tags.map((t) => ({
      id: t.id,
      name: t.name,
      kind: t.kind,
      p: t.p,
      d: t.d,
      data: enc(t.data, `tag <${t.name}>`),
      provenance: {
        ...t.provenance,
        metrics: Object.fromEntries(Object.entries(t.provenance.metrics).map(([k, v]) => [k, Number.isFinite(v) ? v : null])),
      },
    })),
    heads: heads.map((h) => ({
      id: h.id,
      name: h.name,
      kind: h.kind,
      k: h.k,
      d: h.d,
      W: enc(h.W, `head ${h.name}`),
      b: enc(h.b, `head ${h.name}`),
      labelMean: [...h.labelMean],
      labelStd: [...h.labelStd],
      ...(h.classes ? { classes: [...h.classes] } : {}),
      ...(h.training ? { training: structuredClone(h.training) } : {}),
    })),
    adapters: adapters.map((a) => ({
      id: a.id,
      name: a.name,
      rank: a.rank,
      alpha: a.alpha,
      targets: [...a.targets],
      layers: a.layers.map((layer, l) =>
        Object.fromEntries(
          a.targets.map((t) => {
            const pair = layer[t];
            if (!pair) throw new Error(`Cannot export adapter "${a.name}": layer ${l} has no ${t} pair.`);
            const what = `adapter "${a.name}" layer ${l} ${t}`;
            return [t, { in: pair.A.length / a.rank, out: pair.B.length / a.rank, A: enc(pair.A, what), B: enc(pair.B, what) }];
          }),
        ),
      ),
      ...(a.dropout !== undefined ? { dropout: a.dropout } : {}),
      ...(a.baseModel !== undefined ? { baseModel: a.baseModel } : {}),
      ...(a.training ? { training: structuredClone(a.training) } : {}),
    })),
  };
}

/** The model the library is imported into. */
export interface ImportTarget {
  dModel: number;
  /** embeddingFingerprint() of its token embedding table. */
  fingerprint: string;
}

export type ImportResult =
  | ({ status: 'ok'; needsConfirmation: false; warnings: string[] } & LibraryItems)
  | { status: 'needs-confirmation'; needsConfirmation: true; warning: string }
  | { status: 'refused'; needsConfirmation: false; error: string };

/**
 * Reads a library file (text or parsed JSON) for a model of the given width and fingerprint.
 * Refused: not JSON, not this format, a version this code does not know, any malformed field, or a
 * width ≠ target.dModel (nothing is imported). Tags trained against another embedding table
 * (fingerprint differs: another model of the same width, or another quantization) may still work
 * but should be checked: the answer is needs-confirmation unless acceptFingerprintMismatch.
 */
export function importLibrary(json: unknown, target: ImportTarget, opts: { acceptFingerprintMismatch?: boolean } = {}): ImportResult {
  let items: LibraryItems;
  try {
    items = parseFile(json);
  } catch (e) {
    return { status: 'refused', needsConfirmation: false, error: (e as Error).message };
  }

  const wrongWidth = [
    ...items.tags.filter((t) => t.d !== target.dModel).map((t) => `tag <${t.name}> (d_model ${t.d}, from ${t.provenance.modelName || 'an unnamed model'})`),
    ...items.heads.filter((h) => h.d !== target.dModel).map((h) => `head ${h.name} (d_model ${h.d})`),
    ...items.adapters.filter((a) => !adapterFits(a, target.dModel)).map((a) => `LoRA adapter "${a.name}"`),
  ];
  if (wrongWidth.length) {
    return {
      status: 'refused',
      needsConfirmation: false,
      error:
        `Nothing was imported: the loaded model has d_model ${target.dModel}, but this file holds ${wrongWidth.join(', ')}. ` +
        'Tags and heads only work with a model of the width they were trained for.',
    };
  }

  const foreign = items.tags.filter((t) => t.provenance.embeddingFingerprint !== target.fingerprint);
  const warnings: string[] = [];
  if (foreign.length) {
    const list = foreign.map((t) => `<${t.name}> (trained on ${t.provenance.modelName || 'an unnamed model'}, fingerprint ${t.provenance.embeddingFingerprint || 'unknown'})`).join(', ');
    const warning =
      `These tags were trained against a different embedding table than the loaded model's (fingerprint ${target.fingerprint}): ${list}. ` +
      'The widths match, so they load, but they may not work: a different model or quantization reads them differently.';
    if (!opts.acceptFingerprintMismatch) return { status: 'needs-confirmation', needsConfirmation: true, warning };
    warnings.push(warning);
  }
  return { status: 'ok', needsConfirmation: false, warnings, ...items };
}

/** Adapted matrices reading or writing the residual stream must be d_model wide. */
function adapterFits(a: LoraAdapter, dModel: number): boolean {
  const readsResidual: LoraTarget[] = ['q', 'k', 'v', 'gate', 'up'];
  const writesResidual: LoraTarget[] = ['o', 'down'];
  return a.layers.every((layer) =>
    a.targets.every((t) => {
      const pair = layer[t];
      if (readsResidual.includes(t) && pair.A.length !== a.rank * dModel) return false;
      if (writesResidual.includes(t) && pair.B.length !== a.rank * dModel) return false;
      return true;
    }),
  );
}

// ---- validation of untrusted JSON: each reader throws Error("<path>: <problem>") ----

const MAX_FLOATS = 1 << 28; // 1 GiB of f32: beyond any tag or head, and a guard against absurd sizes

function parseFile(json: unknown): LibraryItems {
  let root = json;
  if (typeof root === 'string') {
    try {
      // Files saved by Windows editors start with a byte-order mark, which JSON.parse refuses.
      root = JSON.parse(root.charCodeAt(0) === 0xfeff ? root.slice(1) : root);
    } catch (e) {
      throw new Error(`This file is not JSON (${(e as Error).message}).`);
    }
  }
  if (!isObject(root)) throw new Error('This is not a Tag Workbench library file: expected a JSON object.');
  if (root.format !== LIBRARY_FORMAT) {
    throw new Error(`This is not a Tag Workbench library file: "format" is ${JSON.stringify(root.format)}, expected "${LIBRARY_FORMAT}".`);
  }
  if (root.version !== LIBRARY_VERSION) {
    const newer = typeof root.version === 'number' && root.version > LIBRARY_VERSION;
    throw new Error(
      `Unsupported library version ${JSON.stringify(root.version)}: this app reads version ${LIBRARY_VERSION}` +
        (newer ? ' (the file was written by a newer version of the workbench).' : '.'),
    );
  }
  const tags = list(root.tags, 'tags', true).map((t, i) => readTag(t, `tags[${i}]`));
  const heads = list(root.heads, 'heads', false).map((h, i) => readHead(h, `heads[${i}]`));
  const adapters = list(root.adapters, 'adapters', false).map((a, i) => readAdapter(a, `adapters[${i}]`));
  unique(tags.map((t) => t.name), 'tags', 'tag');
  unique(heads.map((h) => h.name), 'heads', 'head');
  unique(adapters.map((a) => a.name), 'adapters', 'adapter');
  return { tags, heads, adapters };
}

function readTag(v: unknown, at: string): Tag {
  const o = object(v, at);
  const name = string(o.name, `${at}.name`);
  const bad = tagNameProblem(name);
  if (bad) throw new Error(`${at}.name: ${bad}`);
  const kind = oneOf(o.kind, ['domain', 'function'] as const, `${at}.kind`);
  const p = posInt(o.p, `${at}.p`);
  const d = posInt(o.d, `${at}.d`);
  const data = floats(o.data, p * d, `${at}.data`);
  const pv = object(o.provenance, `${at}.provenance`);
  const provenance: TagProvenance = {
    modelArch: string(pv.modelArch, `${at}.provenance.modelArch`),
    modelName: string(pv.modelName, `${at}.provenance.modelName`),
    dModel: posInt(pv.dModel, `${at}.provenance.dModel`),
    vocabSize: posInt(pv.vocabSize, `${at}.provenance.vocabSize`),
    embeddingFingerprint: string(pv.embeddingFingerprint, `${at}.provenance.embeddingFingerprint`),
    stage: oneOf(pv.stage, TAG_STAGES, `${at}.provenance.stage`),
    steps: int(pv.steps, `${at}.provenance.steps`, 0),
    dataset: string(pv.dataset, `${at}.provenance.dataset`),
    metrics: metrics(pv.metrics, `${at}.provenance.metrics`),
    created: string(pv.created, `${at}.provenance.created`),
    notes: string(pv.notes, `${at}.provenance.notes`),
    ...(pv.training !== undefined ? { training: readTraining(pv.training, `${at}.provenance.training`) } : {}),
  };
  if (provenance.dModel !== d) throw new Error(`${at}: d = ${d} but provenance.dModel = ${provenance.dModel}; the file is inconsistent.`);
  return { id: string(o.id, `${at}.id`), name, kind, p, d, data, provenance };
}

/** The optional training record of a tag's provenance (TrainingRecord). */
function readTraining(v: unknown, at: string): TrainingRecord {
  const o = object(v, at);
  const strMap = (x: unknown, p: string) => Object.fromEntries(Object.entries(object(x, p)).map(([k, y]) => [k, string(y, `${p}.${k}`)]));
  const hyper = Object.fromEntries(
    Object.entries(object(o.hyper, `${at}.hyper`)).map(([k, y]) => [k, typeof y === 'string' ? y : finite(y, `${at}.hyper.${k}`)]),
  );
  const m = object(o.model, `${at}.model`);
  return {
    method: string(o.method, `${at}.method`),
    ...(o.peft !== undefined ? { peft: string(o.peft, `${at}.peft`) } : {}),
    templates: list(o.templates, `${at}.templates`, true).map((t, i) => string(t, `${at}.templates[${i}]`)),
    fieldMapping: strMap(o.fieldMapping, `${at}.fieldMapping`),
    hyper,
    seed: int(o.seed, `${at}.seed`, 0),
    tagLength: posInt(o.tagLength, `${at}.tagLength`),
    enrich: o.enrich === true,
    datasets: list(o.datasets, `${at}.datasets`, true).map((x, i) => {
      const d = object(x, `${at}.datasets[${i}]`);
      return { name: string(d.name, `${at}.datasets[${i}].name`), rows: int(d.rows, `${at}.datasets[${i}].rows`, 0), hash: string(d.hash, `${at}.datasets[${i}].hash`) };
    }),
    model: { name: string(m.name, `${at}.model.name`), arch: string(m.arch, `${at}.model.arch`), weightsFingerprint: string(m.weightsFingerprint, `${at}.model.weightsFingerprint`) },
  };
}

function readHead(v: unknown, at: string): Head {
  const o = object(v, at);
  const kind = oneOf(o.kind, ['regression', 'classification'] as const, `${at}.kind`);
  const k = posInt(o.k, `${at}.k`);
  const d = posInt(o.d, `${at}.d`);
  const labelMean = numbers(o.labelMean, k, `${at}.labelMean`);
  const labelStd = numbers(o.labelStd, k, `${at}.labelStd`);
  labelStd.forEach((s, j) => {
    if (!(s > 0)) throw new Error(`${at}.labelStd[${j}]: must be > 0, got ${s}.`);
  });
  const head: Head = {
    id: string(o.id, `${at}.id`),
    name: string(o.name, `${at}.name`),
    kind,
    k,
    d,
    W: floats(o.W, k * d, `${at}.W`),
    b: floats(o.b, k, `${at}.b`),
    labelMean,
    labelStd,
  };
  if (!head.name) throw new Error(`${at}.name: a head needs a name.`);
  if (o.classes !== undefined) {
    const classes = list(o.classes, `${at}.classes`, true).map((c, j) => string(c, `${at}.classes[${j}]`));
    if (classes.length !== k) throw new Error(`${at}.classes: ${classes.length} names for k = ${k} outputs.`);
    head.classes = classes;
  }
  if (o.training !== undefined) head.training = readTraining(o.training, `${at}.training`);
  return head;
}

function readAdapter(v: unknown, at: string): LoraAdapter {
  const o = object(v, at);
  const rank = posInt(o.rank, `${at}.rank`);
  const alpha = finite(o.alpha, `${at}.alpha`);
  const targets = list(o.targets, `${at}.targets`, true).map((t, i) => oneOf(t, LORA_TARGETS, `${at}.targets[${i}]`));
  unique(targets, `${at}.targets`, 'target');
  const layers = list(o.layers, `${at}.layers`, true).map((lv, l) => {
    const lo = object(lv, `${at}.layers[${l}]`);
    const extra = Object.keys(lo).filter((k) => !targets.includes(k as LoraTarget));
    if (extra.length) throw new Error(`${at}.layers[${l}]: ${extra.join(', ')} not among the adapter's targets (${targets.join(', ')}).`);
    const layer: Record<string, LoraPair> = {};
    for (const t of targets) {
      const pat = `${at}.layers[${l}].${t}`;
      const po = object(lo[t], pat);
      const nIn = posInt(po.in, `${pat}.in`);
      const nOut = posInt(po.out, `${pat}.out`);
      layer[t] = { A: floats(po.A, rank * nIn, `${pat}.A`), B: floats(po.B, nOut * rank, `${pat}.B`) };
    }
    return layer;
  });
  const name = string(o.name, `${at}.name`);
  if (!name) throw new Error(`${at}.name: an adapter needs a name.`);
  const adapter: LoraAdapter = { id: string(o.id, `${at}.id`), name, rank, alpha, targets, layers };
  if (o.dropout !== undefined) {
    const p = finite(o.dropout, `${at}.dropout`);
    if (p < 0 || p >= 1) throw new Error(`${at}.dropout: ${p} is not in [0, 1).`);
    adapter.dropout = p;
  }
  if (o.baseModel !== undefined) adapter.baseModel = string(o.baseModel, `${at}.baseModel`);
  if (o.training !== undefined) adapter.training = readTraining(o.training, `${at}.training`);
  return adapter;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
function object(v: unknown, at: string): Record<string, unknown> {
  if (!isObject(v)) throw new Error(`${at}: expected an object, got ${shown(v)}.`);
  return v;
}
function list(v: unknown, at: string, required: boolean): unknown[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) throw new Error(`${at}: expected a list, got ${shown(v)}.`);
  return v;
}
function string(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new Error(`${at}: expected a string, got ${shown(v)}.`);
  return v;
}
function finite(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${at}: expected a finite number, got ${shown(v)}.`);
  return v;
}
function int(v: unknown, at: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new Error(`${at}: expected an integer ≥ ${min}, got ${shown(v)}.`);
  return v;
}
function posInt(v: unknown, at: string): number {
  return int(v, at, 1);
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], at: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Error(`${at}: expected one of ${allowed.join(', ')}, got ${shown(v)}.`);
  return v as T;
}
function numbers(v: unknown, n: number, at: string): number[] {
  const a = list(v, at, true);
  if (a.length !== n) throw new Error(`${at}: expected ${n} numbers, got ${a.length}.`);
  return a.map((x, i) => finite(x, `${at}[${i}]`));
}
function metrics(v: unknown, at: string): Record<string, number> {
  const o = object(v, at);
  return Object.fromEntries(
    Object.entries(o).map(([k, x]) => {
      if (x === null) return [k, NaN];
      return [k, finite(x, `${at}.${k}`)];
    }),
  );
}
function floats(v: unknown, count: number, at: string): Float32Array<ArrayBuffer> {
  if (count > MAX_FLOATS) throw new Error(`${at}: ${count} values is more than this app accepts (${MAX_FLOATS}).`);
  try {
    return base64ToF32(v, count);
  } catch (e) {
    throw new Error(`${at}: ${(e as Error).message}.`);
  }
}
function unique(names: string[], at: string, what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`${at}: two ${what}s are named ${JSON.stringify(n)}.`);
    seen.add(n);
  }
}
