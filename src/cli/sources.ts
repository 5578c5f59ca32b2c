import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NodeFileSource } from '../model/source-node';
import { UrlSource } from '../model/sources';
import type { ByteSource } from '../model/source';

/** A model or tokenizer argument: an http(s) URL or a local path. */
export function openSource(pathOrUrl: string): ByteSource {
  if (/^https?:\/\//i.test(pathOrUrl)) return new UrlSource(pathOrUrl);
  if (!existsSync(pathOrUrl)) throw new Error(`No such file: ${pathOrUrl}`);
  return new NodeFileSource(pathOrUrl);
}

/** llama2.c models keep their tokenizer beside them (tokenizer.bin, tok512.bin…): find it when not given. */
export function siblingTokenizer(modelPath: string): string | undefined {
  if (/^https?:\/\//i.test(modelPath) || !modelPath.endsWith('.bin')) return undefined;
  const dir = dirname(modelPath);
  const names = readdirSync(dir).filter((n) => /^tok.*\.(bin|json)$/.test(n) || n === 'tokenizer.json');
  return names.length ? join(dir, names.sort()[0]) : undefined;
}
