/**
 * The Library panel's other formats, worker side: export an adapter as a PEFT zip or tags as
 * tags.safetensors + sidecar (zipped into one download), and recognise what the user dropped
 * (a zip, the two PEFT files, the tag files, or a URL) on import.
 */
import { unzipSync, zipSync } from 'fflate';
import type { ModelConfig } from '../model/types';
import type { LoraAdapter } from '../tags/head';
import type { TagLibrary } from '../tags/library';
import type { LibraryFile } from '../tags/library-format';
import { exportPeft, importPeft, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../tags/peft';
import { fetchPeft, unzipPeft, zipPeft } from '../tags/peft-files';
import { exportTagsSafetensors, tagsSafetensorsToLibrary, TAGS_FILE, TAGS_SIDECAR_FILE } from '../tags/tags-safetensors';
import type { LibraryExportFilesParams, LibraryImportFilesParams } from './protocol';

const ZIP_TIME = new Date(2000, 0, 1);

export function exportFiles(lib: TagLibrary, cfg: ModelConfig | null, p: LibraryExportFilesParams): { fileName: string; bytes: Uint8Array } {
  if (p.format === 'peft') {
    const a = lib.getAdapter(p.adapter);
    if (!a) throw new Error(`The library has no adapter named ${JSON.stringify(p.adapter)}.`);
    if (!cfg) throw new Error('Load the model this adapter belongs to first: the PEFT layout depends on it (shapes, q/k row order).');
    return { fileName: `${fileSafe(a.name)}-peft.zip`, bytes: zipPeft(exportPeft(a, cfg)) };
  }
  const { safetensors, sidecar } = exportTagsSafetensors(lib, p.selection);
  const sidecarBytes = new TextEncoder().encode(JSON.stringify(sidecar, null, 2) + '\n');
  const bytes = zipSync({ [TAGS_FILE]: safetensors, [TAGS_SIDECAR_FILE]: sidecarBytes }, { level: 6, mtime: ZIP_TIME });
  const one = p.selection?.tags?.length === 1 ? p.selection.tags[0] : 'library';
  return { fileName: `tags-${fileSafe(one!)}-safetensors.zip`, bytes };
}

export type ImportedFiles = { kind: 'peft'; adapter: LoraAdapter; warnings: string[] } | { kind: 'tags'; file: LibraryFile };

/** What the dropped files or the URL hold, read onto the loaded model's configuration. */
export async function readImportFiles(p: LibraryImportFilesParams, cfg: ModelConfig, signal?: AbortSignal): Promise<ImportedFiles> {
  if (p.url) {
    const name = p.name ?? (adapterNameFromUrl(p.url) || 'peft-adapter');
    return { kind: 'peft', ...(await importPeft(await fetchPeft(p.url, { signal }), cfg, { name, signal })) };
  }
  let files = p.files ?? [];
  if (files.length === 0) throw new Error('Nothing to import: choose files or give a URL.');
  let zipName: string | null = null;
  if (files.length === 1 && /\.zip$/i.test(files[0]!.name)) {
    zipName = files[0]!.name;
    files = unzipNamed(files[0]!.bytes, zipName);
  }
  const byBase = new Map(files.map((f) => [f.name.split('/').pop()!, f.bytes]));
  if (byBase.has(PEFT_CONFIG_FILE) || byBase.has(PEFT_WEIGHTS_FILE) || byBase.has('adapter_model.bin')) {
    const { config, weights } = zipName
      ? unzipPeft(p.files![0]!.bytes, zipName)
      : { config: byBase.get(PEFT_CONFIG_FILE), weights: byBase.get(PEFT_WEIGHTS_FILE) };
    if (!config || !weights) {
      throw new Error(`A PEFT adapter needs both ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE}; choose the two files together (or a zip of them).`);
    }
    const name = p.name ?? (zipName ? zipName.replace(/\.zip$/i, '').replace(/-peft$/, '') : 'peft-adapter');
    return { kind: 'peft', ...(await importPeft({ config, weights }, cfg, { name, signal })) };
  }
  const tensors = files.find((f) => /\.safetensors$/i.test(f.name));
  const sidecar = files.find((f) => /\.json$/i.test(f.name));
  if (tensors && sidecar) return { kind: 'tags', file: await tagsSafetensorsToLibrary(tensors.bytes, sidecar.bytes) };
  throw new Error(
    `Not recognised: ${files.map((f) => f.name).join(', ')}. Import a library .json, a PEFT adapter (${PEFT_CONFIG_FILE} + ` +
      `${PEFT_WEIGHTS_FILE}, or a zip of them), or tags (${TAGS_FILE} + ${TAGS_SIDECAR_FILE}, or a zip of them).`,
  );
}

function unzipNamed(zip: Uint8Array, name: string): Array<{ name: string; bytes: Uint8Array }> {
  try {
    return Object.entries(unzipSync(zip, { filter: (f) => /\.(json|safetensors|bin)$/i.test(f.name) })).map(([n, bytes]) => ({ name: n, bytes }));
  } catch (e) {
    throw new Error(`${name} is not a readable zip file (${(e as Error).message}).`);
  }
}

function adapterNameFromUrl(url: string): string {
  try {
    const parts = new URL(url).pathname.split('/').filter(Boolean);
    const i = parts.findIndex((x) => x === 'tree' || x === 'resolve' || x === 'blob');
    return (i >= 0 ? parts[i - 1] : parts.at(-1))?.replace(/\.zip$/i, '') ?? '';
  } catch {
    return '';
  }
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_') || 'export';
}
