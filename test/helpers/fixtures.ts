// Every file a test reads lives in this repository and is found relative to this file, so the suite
// runs from a clone at any path with nothing beside it.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../', import.meta.url);

/** Absolute path of a file under test/fixtures/. */
export function fixturePath(rel: string): string {
  return fileURLToPath(new URL(`test/fixtures/${rel}`, ROOT));
}

/** Absolute path of a file the app ships under public/ (stories260K, built-in data). */
export function publicPath(rel: string): string {
  return fileURLToPath(new URL(`public/${rel}`, ROOT));
}

/** Text of a built-in data file (public/data/…, the same bytes as the project's source data). */
export function readData(rel: string): string {
  return readFileSync(publicPath(`data/${rel}`), 'utf8');
}

/** Sorted file names of a built-in data folder. */
export function listData(dir: string): string[] {
  return readdirSync(publicPath(`data/${dir}`)).sort();
}

/** The stories260K greedy golden (public/models/stories260K/golden_greedy.json). */
export function storiesGolden(): { prompt: string; prompt_ids: number[]; greedy_ids_after_bos: number[]; text: string } {
  return JSON.parse(readFileSync(publicPath('models/stories260K/golden_greedy.json'), 'utf8'));
}
