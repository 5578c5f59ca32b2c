/**
 * Seed tasks for self-specialization (METHODS.md §2, step 1): human-written (instruction, input,
 * output) triples. Formats, chosen by content (the file name only breaks ties):
 *  - BoX JSON (In-BoXBART templates): `{task: {"Definition:": text, "Examples": [{input, output,
 *    explanation}], "Prompt"}}`; each example is one seed, at most 5 per task as in the paper, the
 *    instruction being the task definition;
 *  - self-instruct JSONL: `{instruction, instances: [{input, output}]}`; each instance is one seed;
 *  - JSONL or CSV/TSV with `instruction`, `input` (optional), `output` columns.
 * A bad record is reported with its line and skipped; only a file with no usable seed is an error.
 */
import { parseDelimited } from '../data/csv';
import { assertUtf8Text, stripBom } from './text';

export interface Seed {
  instruction: string;
  input: string;
  output: string;
  /** Task name (BoX task, self-instruct `name`), when the format has one. */
  task?: string;
}

export interface SeedRejection {
  /** 1-based line of the record in the file. */
  line: number;
  reason: string;
}

export interface ParsedSeeds {
  seeds: Seed[];
  rejected: SeedRejection[];
}

/** Built-in seed files under public/data/ (fetched as src/data/builtin.ts does). */
export const BUILTIN_SEED_FILES = {
  /** The paper's biomedical seeds (In-BoXBART templates). */
  box: 'biomed/BoX_instructions.json',
  /** Self-instruct's 175 general seeds: a non-domain set. */
  selfInstruct: 'biomed/self_instruct_seed_tasks.jsonl',
} as const;

/** The paper takes at most this many examples of each BoX task. */
export const MAX_SEEDS_PER_TASK = 5;

export function parseSeeds(text: string, fileName: string): ParsedSeeds {
  assertUtf8Text(text, fileName);
  const body = stripBom(text);
  if (body.trim() === '') throw new Error(`${fileName}: the seed file is empty. Give BoX JSON, self-instruct JSONL, or CSV/JSONL with instruction, input, output columns.`);
  const kind = seedFormat(body, fileName);
  const parsed = kind === 'box' ? parseBox(body, fileName) : kind === 'jsonl' ? parseSeedJsonl(body) : parseSeedCsv(body, fileName, kind === 'tsv' ? '\t' : ',');
  if (parsed.seeds.length === 0) {
    const why = parsed.rejected.slice(0, 3).map((r) => `line ${r.line}: ${r.reason}`).join('; ');
    throw new Error(`${fileName}: no usable seed${why ? ` (${why}${parsed.rejected.length > 3 ? '; …' : ''})` : ''}. Each seed needs an instruction and an output.`);
  }
  return parsed;
}

type SeedFormat = 'box' | 'jsonl' | 'csv' | 'tsv';

function seedFormat(body: string, fileName: string): SeedFormat {
  const head = body.trimStart();
  const lower = fileName.toLowerCase();
  if (head.startsWith('{')) {
    // A whole-file JSON object is BoX; otherwise each line is a record.
    try {
      const v = JSON.parse(body);
      if (v && typeof v === 'object' && !Array.isArray(v) && !looksLikeRecord(v)) return 'box';
    } catch {
      /* not one JSON document: JSON lines */
    }
    return 'jsonl';
  }
  const header = head.split('\n', 1)[0];
  if (lower.endsWith('.tsv') || (!lower.endsWith('.csv') && header.includes('\t') && !header.includes(','))) return 'tsv';
  return 'csv';
}

function looksLikeRecord(v: object): boolean {
  return 'instruction' in v || 'instances' in v;
}

/** 1-based line where `"key":` appears in a JSON text (1 when not found). */
function lineOfKey(body: string, key: string): number {
  const at = body.indexOf(`${JSON.stringify(key)}`);
  return at < 0 ? 1 : body.slice(0, at).split('\n').length;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function parseBox(body: string, fileName: string): ParsedSeeds {
  const doc = JSON.parse(body) as Record<string, unknown>;
  const seeds: Seed[] = [];
  const rejected: SeedRejection[] = [];
  for (const [task, value] of Object.entries(doc)) {
    const line = lineOfKey(body, task);
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      rejected.push({ line, reason: `task "${task}": expected an object with "Definition" and "Examples"` });
      continue;
    }
    const t = value as Record<string, unknown>;
    const rawDef = t['Definition:'] ?? t['Definition'];
    const definition = Array.isArray(rawDef) ? rawDef.map(str).filter(Boolean).join(' ') : str(rawDef);
    if (!definition) {
      rejected.push({ line, reason: `task "${task}": no "Definition" text` });
      continue;
    }
    const examples = t['Examples'] ?? t['Positive Examples'];
    if (!Array.isArray(examples) || examples.length === 0) {
      rejected.push({ line, reason: `task "${task}": no "Examples" list` });
      continue;
    }
    let kept = 0;
    examples.forEach((ex, i) => {
      if (kept >= MAX_SEEDS_PER_TASK) return;
      const e = (ex ?? {}) as Record<string, unknown>;
      const output = str(e.output);
      if (!output) {
        rejected.push({ line, reason: `task "${task}", example ${i + 1}: no "output"` });
        return;
      }
      seeds.push({ instruction: definition, input: str(e.input) ?? '', output, task });
      kept++;
    });
  }
  if (Object.keys(doc).length === 0) throw new Error(`${fileName}: the JSON object has no tasks.`);
  return { seeds, rejected };
}

function parseSeedJsonl(body: string): ParsedSeeds {
  const seeds: Seed[] = [];
  const rejected: SeedRejection[] = [];
  body.split(/\r?\n/).forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      rejected.push({ line, reason: `not valid JSON (${(e as Error).message})` });
      return;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      rejected.push({ line, reason: 'expected a JSON object' });
      return;
    }
    const r = v as Record<string, unknown>;
    const instruction = str(r.instruction);
    if (!instruction) {
      rejected.push({ line, reason: 'no "instruction" text' });
      return;
    }
    const task = str(r.name) ?? str(r.task) ?? undefined;
    if (Array.isArray(r.instances)) {
      r.instances.forEach((inst, j) => {
        const x = (inst ?? {}) as Record<string, unknown>;
        const output = str(x.output);
        if (!output) {
          rejected.push({ line, reason: `instance ${j + 1}: no "output"` });
          return;
        }
        seeds.push({ instruction, input: str(x.input) ?? '', output, ...(task ? { task } : {}) });
      });
      if (r.instances.length === 0) rejected.push({ line, reason: '"instances" is empty' });
      return;
    }
    const output = str(r.output);
    if (!output) {
      rejected.push({ line, reason: 'no "output" (nor "instances")' });
      return;
    }
    seeds.push({ instruction, input: str(r.input) ?? '', output, ...(task ? { task } : {}) });
  });
  return { seeds, rejected };
}

function parseSeedCsv(body: string, fileName: string, delimiter: ',' | '\t'): ParsedSeeds {
  const d = parseDelimited(body, delimiter);
  const col = (name: string) => d.columns.find((c) => c.trim().toLowerCase() === name);
  const ci = col('instruction');
  const co = col('output');
  if (!ci || !co) {
    throw new Error(`${fileName}: needs "instruction" and "output" columns (found: ${d.columns.join(', ') || 'none'}).`);
  }
  const cin = col('input');
  const ct = col('task');
  const seeds: Seed[] = [];
  const rejected: SeedRejection[] = d.report.skipped.map((s) => ({ line: s.line, reason: s.reason }));
  d.rows.forEach((row, i) => {
    const line = d.lines[i];
    const instruction = row[ci].trim();
    const output = row[co].trim();
    if (!instruction) return void rejected.push({ line, reason: 'empty "instruction"' });
    if (!output) return void rejected.push({ line, reason: 'empty "output"' });
    const task = ct ? row[ct].trim() : '';
    seeds.push({ instruction, input: cin ? row[cin].trim() : '', output, ...(task ? { task } : {}) });
  });
  rejected.sort((a, b) => a.line - b.line);
  return { seeds, rejected };
}
