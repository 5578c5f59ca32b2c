/**
 * `cli export` and `cli import`: the tag library to and from the formats other tools read — LoRA
 * adapters as PEFT folders/zips, tags and heads as tags.safetensors + sidecar. The model is only
 * described (its header read; no GPU): it gives adapter shapes, q/k row order and, for tag imports,
 * the embedding fingerprint.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeModel } from '../model/describe';
import { dequantize } from '../model/quant';
import type { ByteSource } from '../model/source';
import { NodeFileSource } from '../model/source-node';
import { TensorNames, type ModelDescription } from '../model/types';
import { embeddingFingerprint } from '../tags/embedding';
import { exportLibrary, importLibrary, TagLibrary } from '../tags/library';
import { exportPeft, importPeft, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../tags/peft';
import { fetchPeft, unzipPeft, zipPeft } from '../tags/peft-files';
import { exportTagsSafetensors, tagsSafetensorsToLibrary, TAGS_FILE, TAGS_SIDECAR_FILE } from '../tags/tags-safetensors';
import { validateOptions } from './options';
import { openSource } from './sources';

export const EXCHANGE_USAGE = `  cli export --tags-in lib.json (--adapter <name> --format peft --model <path|url> [--zip] [--base-model <hf id>]
                                | --format safetensors [--tag <name> …] [--template "…" …]) --out <dir>
  cli import (--peft <dir|zip|url> [--name <adapter name>] | --tags <dir>) --model <path|url> [--tags-in lib.json] --out lib.json [--accept-fingerprint]`;

/** The model's description from its header (safetensors: config.json beside it). */
async function describe(pathOrUrl: string): Promise<{ desc: ModelDescription; src: ByteSource }> {
  const src = openSource(pathOrUrl);
  let configJson: unknown;
  if (pathOrUrl.endsWith('.safetensors')) {
    const cfgPath = join(dirname(pathOrUrl), 'config.json');
    if (!existsSync(cfgPath)) throw new Error(`${pathOrUrl} is a safetensors checkpoint; its config.json should be beside it (${cfgPath}).`);
    configJson = JSON.parse(readFileSync(cfgPath, 'utf8'));
  }
  return { desc: await describeModel(src, { configJson }), src };
}

/** A tag-library JSON file (empty library without a path); widths checked against dModel when given. */
export function readLibrary(path: string | undefined, dModel: number | null): TagLibrary {
  const lib = new TagLibrary();
  if (!path) return lib;
  const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  // Widths are checked by whoever uses the items; here the file only has to be well-formed.
  const r = importLibrary(json, { dModel: dModel ?? guessWidth(json), fingerprint: '' }, { acceptFingerprintMismatch: true });
  if (r.status === 'refused') throw new Error(`${path}: ${r.error}`);
  if (r.status !== 'ok') throw new Error(`${path}: ${r.warning}`);
  lib.merge(r, 'replace');
  return lib;
}

function guessWidth(json: unknown): number {
  const o = json as { tags?: Array<{ d?: number }>; heads?: Array<{ d?: number }> };
  return o.tags?.[0]?.d ?? o.heads?.[0]?.d ?? 0;
}

export async function exportCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'tags-in': { type: 'string' },
      adapter: { type: 'string' },
      format: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
      zip: { type: 'boolean', default: false },
      'base-model': { type: 'string' },
      tag: { type: 'string', multiple: true },
      template: { type: 'string', multiple: true },
    },
  });
  validateOptions('export', v);
  if (!v['tags-in'] || !v.out || !v.format) throw new Error('unreachable: validateOptions requires --tags-in, --format and --out');
  if (v.format === 'peft') {
    if (!v.adapter || !v.model) throw new Error(`--format peft needs --adapter <name> and --model (for shapes and q/k row order)\n${EXCHANGE_USAGE}`);
    const { desc } = await describe(v.model);
    const lib = readLibrary(v['tags-in'], desc.config.dModel);
    const adapter = lib.getAdapter(v.adapter);
    if (!adapter) throw new Error(`${v['tags-in']} has no adapter "${v.adapter}" (it has: ${lib.adapters.map((a) => a.name).join(', ') || 'none'}).`);
    const files = exportPeft(adapter, desc.config, v['base-model'] !== undefined ? { baseModel: v['base-model'] } : {});
    let written: string[];
    if (v.zip) {
      const path = v.out.endsWith('.zip') ? v.out : join(v.out, `${safeName(adapter.name)}.zip`);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, zipPeft(files));
      written = [path];
    } else {
      mkdirSync(v.out, { recursive: true });
      writeFileSync(join(v.out, PEFT_CONFIG_FILE), files.config);
      writeFileSync(join(v.out, PEFT_WEIGHTS_FILE), files.weights);
      written = [join(v.out, PEFT_CONFIG_FILE), join(v.out, PEFT_WEIGHTS_FILE)];
    }
    console.log(JSON.stringify({ adapter: adapter.name, format: 'peft', rank: adapter.rank, alpha: adapter.alpha, written }));
    return 0;
  }
  if (v.format === 'safetensors') {
    const lib = readLibrary(v['tags-in'], null);
    const { safetensors, sidecar } = exportTagsSafetensors(lib, v.tag ? { tags: v.tag } : undefined, { templates: v.template ?? [] });
    mkdirSync(v.out, { recursive: true });
    writeFileSync(join(v.out, TAGS_FILE), safetensors);
    writeFileSync(join(v.out, TAGS_SIDECAR_FILE), JSON.stringify(sidecar, null, 2) + '\n');
    console.log(JSON.stringify({ format: 'safetensors', tags: sidecar.tags.map((t) => t.name), heads: sidecar.heads.map((h) => h.name), written: [join(v.out, TAGS_FILE), join(v.out, TAGS_SIDECAR_FILE)] }));
    return 0;
  }
  throw new Error(`--format must be peft or safetensors, got "${v.format}"\n${EXCHANGE_USAGE}`);
}

export async function importCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      peft: { type: 'string' },
      tags: { type: 'string' },
      name: { type: 'string' },
      model: { type: 'string' },
      'tags-in': { type: 'string' },
      out: { type: 'string' },
      'accept-fingerprint': { type: 'boolean', default: false },
    },
  });
  validateOptions('import', v);
  if (!v.model || !v.out) throw new Error('unreachable: validateOptions requires --model and --out');
  const { desc, src } = await describe(v.model);
  const lib = readLibrary(v['tags-in'], desc.config.dModel);
  if (v.peft) {
    const files = await openPeft(v.peft);
    const name = v.name ?? (basename(v.peft.replace(/[/\\]+$/, '')).replace(/\.zip$/i, '') || 'peft-adapter');
    const { adapter, warnings } = await importPeft(files, desc.config, { name });
    const report = lib.merge({ adapters: [adapter] });
    writeFileSync(v.out, JSON.stringify(exportLibrary(lib)) + '\n');
    console.log(JSON.stringify({ imported: report.renamed[0]?.to ?? adapter.name, rank: adapter.rank, alpha: adapter.alpha, targets: adapter.targets, warnings, out: v.out }));
    return 0;
  }
  const dir = v.tags!;
  const file = await tagsSafetensorsToLibrary(new NodeFileSource(join(dir, TAGS_FILE)), readFileSync(join(dir, TAGS_SIDECAR_FILE), 'utf8'));
  const r = importLibrary(file, { dModel: desc.config.dModel, fingerprint: await fingerprintOf(desc, src) }, { acceptFingerprintMismatch: v['accept-fingerprint'] });
  if (r.status === 'refused') throw new Error(r.error);
  if (r.status === 'needs-confirmation') throw new Error(`${r.warning} Pass --accept-fingerprint to import them anyway.`);
  const report = lib.merge(r);
  writeFileSync(v.out, JSON.stringify(exportLibrary(lib)) + '\n');
  console.log(JSON.stringify({ tags: r.tags.map((t) => t.name), heads: r.heads.map((h) => h.name), renamed: report.renamed, warnings: r.warnings, out: v.out }));
  return 0;
}

/** A PEFT adapter from a folder, a zip or a URL. */
async function openPeft(where: string): Promise<{ config: Uint8Array; weights: Uint8Array | ByteSource }> {
  if (/^https?:\/\//i.test(where)) return fetchPeft(where);
  if (!existsSync(where)) throw new Error(`No such file or folder: ${where}`);
  if (statSync(where).isDirectory()) {
    const c = join(where, PEFT_CONFIG_FILE);
    const w = join(where, PEFT_WEIGHTS_FILE);
    if (!existsSync(w) && existsSync(join(where, 'adapter_model.bin'))) {
      throw new Error(`${where} has adapter_model.bin (pickled PyTorch) but no ${PEFT_WEIGHTS_FILE}; re-save it with safe_serialization=True.`);
    }
    for (const f of [c, w]) if (!existsSync(f)) throw new Error(`${where} has no ${basename(f)}; a PEFT adapter folder holds ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE}.`);
    return { config: readFileSync(c), weights: new NodeFileSource(w) };
  }
  return unzipPeft(readFileSync(where), where);
}

/** The embedding fingerprint the workbench computes on the GPU, from the file on the CPU. */
async function fingerprintOf(desc: ModelDescription, src: ByteSource): Promise<string> {
  const t = desc.tensors.get(TensorNames.tokEmbd)!;
  const n = t.shape.reduce((a, b) => a * b, 1);
  const table = dequantize(t.type, await src.read(t.offset, t.bytes), n);
  return embeddingFingerprint(table, desc.config.vocabSize, desc.config.dModel);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'adapter';
}
