/** A RunStore over a directory (Node: the CLI). Not imported by the worker. */
import { appendFile, mkdir, readdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { RunStore } from './store';

export class DirectoryStore implements RunStore {
  constructor(readonly dir: string) {}
  private path(name: string): string {
    if (name.includes('..')) throw new Error(`bad file name ${name}`);
    return join(this.dir, name);
  }
  async read(name: string): Promise<string | null> {
    try {
      return await readFile(this.path(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  async write(name: string, text: string): Promise<void> {
    const p = this.path(name);
    await mkdir(dirname(p), { recursive: true });
    // Write then rename: a crash never leaves a half-written JSON file behind.
    await writeFile(p + '.tmp', text);
    await rename(p + '.tmp', p);
  }
  async append(name: string, text: string): Promise<void> {
    const p = this.path(name);
    await mkdir(dirname(p), { recursive: true });
    await appendFile(p, text);
  }
  async remove(name: string): Promise<void> {
    await rm(this.path(name), { force: true });
  }
  async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      let ents;
      try {
        ents = await readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of ents) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else out.push(relative(this.dir, join(d, e.name)));
      }
    };
    await walk(this.dir);
    return out;
  }
}
