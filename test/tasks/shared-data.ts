// The project's shared/ folder sits beside the repository (../shared); tests read its data files.
import { readdirSync, readFileSync } from 'node:fs';

const DATA = new URL('../../../shared/data/', import.meta.url);

export function readShared(path: string): string {
  return readFileSync(new URL(path, DATA), 'utf8');
}

export function listShared(dir: string): string[] {
  return readdirSync(new URL(dir.endsWith('/') ? dir : `${dir}/`, DATA)).sort();
}
