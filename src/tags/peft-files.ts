/**
 * Where PEFT adapter files come from and go to: a zip (export download, import upload), or a
 * Hugging Face repository / any folder URL read through UrlSource (Range requests, so a large
 * adapter streams tensor by tensor). The two files as such are handled by peft.ts.
 */
import { unzipSync, zipSync } from 'fflate';
import type { ByteSource } from '../model/source';
import { BytesSource, UrlSource, type UrlSourceOptions } from '../model/sources';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, type PeftFiles } from './peft';

/** Fixed time stamp of zip entries, so the same adapter always zips to the same bytes. */
const ZIP_TIME = new Date(2000, 0, 1);

/** A zip holding adapter_config.json and adapter_model.safetensors at its root. */
export function zipPeft(files: PeftFiles): Uint8Array {
  return zipSync(
    { [PEFT_CONFIG_FILE]: files.config, [PEFT_WEIGHTS_FILE]: files.weights },
    { level: 6, mtime: ZIP_TIME },
  );
}

/** The two PEFT files of a zip (at its root or in one folder); refuses anything else with a reason. */
export function unzipPeft(zip: Uint8Array, name = 'the zip'): PeftFiles {
  let entries: Record<string, Uint8Array>;
  try {
    // Only the files we need are inflated: a zip of a whole checkpoint costs no memory for the rest.
    entries = unzipSync(zip, { filter: (f) => /(^|\/)(adapter_config\.json|adapter_model\.safetensors|adapter_model\.bin)$/.test(f.name) });
  } catch (e) {
    throw new Error(`${name} is not a readable zip file (${(e as Error).message}).`);
  }
  const pick = (file: string): Uint8Array | null => {
    const hits = Object.keys(entries).filter((k) => k === file || k.endsWith(`/${file}`));
    if (hits.length > 1) throw new Error(`${name} holds ${hits.length} files named ${file} (${hits.join(', ')}); zip one adapter at a time.`);
    return hits.length ? entries[hits[0]!]! : null;
  };
  const config = pick(PEFT_CONFIG_FILE);
  const weights = pick(PEFT_WEIGHTS_FILE);
  if (!weights && pick('adapter_model.bin')) throw new Error(pickledRefusal(name));
  if (!config || !weights) {
    const lacks = [!config && PEFT_CONFIG_FILE, !weights && PEFT_WEIGHTS_FILE].filter(Boolean).join(' and ');
    throw new Error(`${name} has no ${lacks}; a PEFT adapter is those two files (as save_pretrained writes them).`);
  }
  return { config, weights };
}

function pickledRefusal(where: string): string {
  return (
    `${where} has adapter_model.bin (pickled PyTorch) but no adapter_model.safetensors. Pickles can run code, so ` +
    'they are never opened here; re-save the adapter with model.save_pretrained(dir, safe_serialization=True).'
  );
}

/** URLs of the two files of an adapter given as a Hugging Face repository or a folder URL. */
export function peftUrls(url: string, hub = 'https://huggingface.co'): { config: string; weights: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${url}" is not a URL; give a Hugging Face repository (https://huggingface.co/<owner>/<name>) or a folder URL.`);
  }
  const hubUrl = new URL(hub);
  let base: string;
  if (u.host === 'huggingface.co' || u.host === hubUrl.host) {
    // <owner>/<name>[/(tree|resolve|blob)/<revision>[/<folder…>]]
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length < 2) throw new Error(`"${url}" names no repository; expected https://huggingface.co/<owner>/<name>.`);
    const [owner, repo, kind, rev, ...rest] = parts;
    if (kind !== undefined && !['tree', 'resolve', 'blob'].includes(kind)) {
      throw new Error(`"${url}" is not a repository URL this workbench understands (expected …/<owner>/<name>[/tree/<revision>/<folder>]).`);
    }
    const folder = rest.filter((p) => p !== PEFT_CONFIG_FILE && p !== PEFT_WEIGHTS_FILE);
    base = `${hub.replace(/\/$/, '')}/${owner}/${repo}/resolve/${rev ?? 'main'}/${folder.map((p) => `${p}/`).join('')}`;
  } else {
    base = u.href.replace(/(adapter_config\.json|adapter_model\.safetensors)$/, '');
    if (!base.endsWith('/')) base += '/';
  }
  return { config: base + PEFT_CONFIG_FILE, weights: base + PEFT_WEIGHTS_FILE };
}

/**
 * Opens an adapter from a URL: a .zip, a Hugging Face repository, or a folder holding the two
 * files. The config is read whole; the weights stay a ByteSource (read tensor by tensor).
 */
export async function fetchPeft(
  url: string,
  opts: UrlSourceOptions & { hub?: string; signal?: AbortSignal } = {},
): Promise<{ config: Uint8Array; weights: ByteSource }> {
  const { hub, signal, ...sourceOpts } = opts;
  if (/\.zip($|\?)/i.test(url)) {
    const src = new UrlSource(url, sourceOpts);
    const files = unzipPeft(await src.read(0, await src.size(signal), signal), url);
    return { config: files.config, weights: new BytesSource(files.weights, PEFT_WEIGHTS_FILE) };
  }
  const urls = peftUrls(url, hub);
  const configSrc = new UrlSource(urls.config, sourceOpts);
  let config: Uint8Array;
  try {
    config = await configSrc.read(0, await configSrc.size(signal), signal);
  } catch (e) {
    throw new Error(`Could not read ${PEFT_CONFIG_FILE} of ${url} (${(e as Error).message}); is it a PEFT adapter, and public?`);
  }
  const weights = new UrlSource(urls.weights, sourceOpts);
  try {
    await weights.size(signal);
  } catch (e) {
    const bin = new UrlSource(urls.weights.replace(/\.safetensors$/, '.bin'), sourceOpts);
    const hasBin = await bin.size(signal).then(() => true, () => false);
    if (hasBin) throw new Error(pickledRefusal(url));
    throw new Error(`Could not read ${PEFT_WEIGHTS_FILE} of ${url} (${(e as Error).message}).`);
  }
  return { config, weights };
}
