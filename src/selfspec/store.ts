/**
 * Where a self-specialization run keeps its files. The pipeline only appends lines and replaces
 * whole files, so a run directory (Node), a Map (tests) or IndexedDB (the worker) can all hold it;
 * every file is plain text (JSONL / JSON / Markdown) that a person can read.
 */
export interface RunStore {
  /** The file's text, or null when it does not exist. */
  read(name: string): Promise<string | null>;
  /** Replaces the file. */
  write(name: string, text: string): Promise<void>;
  /** Adds to the end of the file, creating it. */
  append(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
  /** Names of the files, in no particular order. */
  list(): Promise<string[]>;
}

/** A store in memory (tests; a worker can persist its `files` map to IndexedDB after each write). */
export class MemoryStore implements RunStore {
  readonly files = new Map<string, string>();
  constructor(private readonly onChange?: (name: string, text: string | null) => void) {}
  async read(name: string): Promise<string | null> {
    return this.files.get(name) ?? null;
  }
  async write(name: string, text: string): Promise<void> {
    this.files.set(name, text);
    this.onChange?.(name, text);
  }
  async append(name: string, text: string): Promise<void> {
    const t = (this.files.get(name) ?? '') + text;
    this.files.set(name, t);
    this.onChange?.(name, t);
  }
  async remove(name: string): Promise<void> {
    this.files.delete(name);
    this.onChange?.(name, null);
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
}

/**
 * Reads a JSONL file written by the pipeline. A torn last line (the process died mid-append) is
 * dropped, not fatal: resuming then redoes that one record.
 */
export function parseJsonl<T>(text: string | null): T[] {
  if (!text) return [];
  const out: T[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) throw new Error(`line ${i + 1} is not valid JSON`);
    }
  }
  return out;
}

export const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r) + '\n').join('');
