/**
 * Instruction generation (METHODS.md §2.2): the brainstorm prompt with 3 random seeds, a parser for
 * the model's numbered `Instruction:` / `Input:` continuation that never throws (tiny models write
 * junk), and self-instruct's filters — length, malformed, things a text model cannot act on,
 * near-duplicates (ROUGE-L ≥ 0.7 against the pool). Every rejection carries a reason code.
 */
import type { DedupPool } from './rouge';
import type { Seed } from './seeds';

/**
 * The default prompt, editable. Placeholders: {domain}; {examples}, the numbered seed entries;
 * {next}, the number of the entry the model is to write. It ends with `{next}. Instruction:` so the
 * continuation starts with the instruction text.
 */
export const DEFAULT_INSTRUCTION_TEMPLATE = `You are asked to come up with a set of diverse task instructions about {domain}. These task instructions will be given to a language model and we will evaluate how well it completes them.

Here are the requirements:
1. Try not to repeat the verb for each instruction to maximize diversity.
2. The language used for the instructions should also be diverse. For example, you should combine questions with imperative instructions.
3. The tasks should be diverse and about {domain}.
4. A language model should be able to complete the instruction in text. For example, do not ask it to create any visual or audio output.
5. The instructions should be in English and 1 to 2 sentences long. Either an imperative sentence or a question is permitted.
6. Give each instruction an appropriate input: a specific, realistic example with substantial content, not a simple placeholder. If no input is needed, write "<noinput>".

List of tasks:
{examples}
{next}. Instruction:`;

/** One seed as a numbered entry of the prompt's list. */
export function formatSeedEntry(seed: Seed, n: number): string {
  return `${n}. Instruction: ${seed.instruction.trim()}\n${n}. Input:\n${seed.input.trim() || '<noinput>'}\n${n}. Output:\n${seed.output.trim()}\n###`;
}

/** The prompt for one generation request; the model continues entry number seeds.length + 1. */
export function buildInstructionPrompt(template: string, seeds: readonly Seed[], domain: string): string {
  if (!template.includes('{examples}')) throw new Error('the instruction prompt template needs an {examples} placeholder (where the seed tasks go).');
  if (seeds.length === 0) throw new Error('buildInstructionPrompt needs at least one seed.');
  const examples = seeds.map((s, i) => formatSeedEntry(s, i + 1)).join('\n');
  return template.replaceAll('{domain}', domain).replaceAll('{examples}', examples).replaceAll('{next}', String(seeds.length + 1));
}

/** n distinct seeds drawn at random (partial Fisher–Yates); all of them, shuffled, when fewer. rng() ∈ [0, 1). */
export function sampleSeeds<T>(seeds: readonly T[], n: number, rng: () => number): T[] {
  if (seeds.length === 0) throw new Error('no seeds to sample from.');
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  const a = [...seeds];
  const k = Math.min(n, a.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

export type RejectionCode = 'malformed' | 'truncated' | 'too-short' | 'too-long' | 'unactionable' | 'duplicate';

export interface GeneratedInstruction {
  /** The entry number the model wrote. */
  number: number;
  instruction: string;
  /** '' when the model wrote <noinput> or nothing. */
  input: string;
}

export interface InstructionRejection {
  code: RejectionCode;
  /** Human-readable detail (which word, how many words, …). */
  detail: string;
  /** What was parsed (may be partial for malformed entries). */
  instruction: string;
  input: string;
  /** For 'duplicate': the pooled instruction it repeats. */
  duplicateOf?: { index: number; text: string; score: number };
}

export interface ParsedInstructions {
  accepted: GeneratedInstruction[];
  rejected: InstructionRejection[];
}

// An entry starts at a line "N. Instruction:" (the number may be missing: tiny models drop it).
const ENTRY = /(?:^|\n)[ \t]*(?:#+[ \t]*)?(?:(\d+)[ \t]*[.)][ \t]*)?Instruction[ \t]*:/gi;
const FIELD = (name: string) => new RegExp(`(?:^|\\n)[ \\t]*(?:\\d+[ \\t]*[.)][ \\t]*)?${name}[ \\t]*:`, 'i');
const INPUT = FIELD('Input');
const OUTPUT = FIELD('Output');
const NO_INPUT = /^<?\s*no\s*[-_ ]?input\s*>?\.?$/i;

function clean(s: string): string {
  return s.replace(/(?:^|\n)[ \t]*#{3,}[\s\S]*$/, '').trim();
}

/**
 * Entries of a continuation of a prompt that ended with `{startNumber}. Instruction:`. Entries
 * without an `Input:` field are malformed; with `truncated` (generation hit its token limit) the
 * last entry is rejected as cut off, as self-instruct does. Never throws.
 */
export function parseInstructions(continuation: string, startNumber: number, opts: { truncated?: boolean } = {}): ParsedInstructions {
  const accepted: GeneratedInstruction[] = [];
  const rejected: InstructionRejection[] = [];
  const text = `\n${startNumber}. Instruction:${typeof continuation === 'string' ? continuation.replace(/\r\n?/g, '\n') : ''}`;
  const heads = [...text.matchAll(ENTRY)];
  let prev = startNumber - 1;
  heads.forEach((h, i) => {
    const number = h[1] === undefined ? prev + 1 : Number(h[1]);
    prev = number;
    const body = text.slice(h.index! + h[0].length, i + 1 < heads.length ? heads[i + 1].index : text.length);
    const last = i === heads.length - 1;
    const inAt = body.search(INPUT);
    const outAt = body.search(OUTPUT);
    if (inAt < 0) {
      const instruction = clean(outAt < 0 ? body : body.slice(0, outAt));
      if (last && opts.truncated) rejected.push({ code: 'truncated', detail: 'cut off by the token limit', instruction, input: '' });
      else if (instruction !== '' || !last) rejected.push({ code: 'malformed', detail: 'no "Input:" field', instruction, input: '' });
      return;
    }
    const instruction = clean(body.slice(0, inAt));
    const afterInput = body.slice(inAt).replace(INPUT, '');
    const outRel = afterInput.search(OUTPUT);
    let input = clean(outRel < 0 ? afterInput : afterInput.slice(0, outRel));
    if (NO_INPUT.test(input)) input = '';
    if (last && opts.truncated) return void rejected.push({ code: 'truncated', detail: 'cut off by the token limit', instruction, input });
    if (instruction === '') return void rejected.push({ code: 'malformed', detail: 'empty instruction', instruction, input });
    accepted.push({ number, instruction, input });
  });
  return { accepted, rejected };
}

/** Self-instruct's words for what a text model cannot act on (matched as whole words, any case). */
export const UNACTIONABLE_WORDS = ['image', 'images', 'graph', 'graphs', 'picture', 'pictures', 'file', 'files', 'map', 'maps', 'draw', 'plot', 'go to', 'video', 'audio', 'music', 'flowchart', 'diagram'];

export interface FilterOptions {
  /** Fewest words in an instruction (self-instruct drops ≤ 3). */
  minWords?: number;
  /** Most words in an instruction (self-instruct drops > 150). */
  maxWords?: number;
  /** Most words in an input. */
  maxInputWords?: number;
  /** ROUGE-L F at or above which an instruction duplicates a pooled one. */
  dedupThreshold?: number;
}

export const DEFAULT_FILTER: Required<FilterOptions> = { minWords: 4, maxWords: 150, maxInputWords: 400, dedupThreshold: 0.7 };

const UNACTIONABLE_RE = new RegExp(`\\b(${UNACTIONABLE_WORDS.map((w) => w.replace(' ', '\\s+')).join('|')})\\b`, 'i');
const wordCount = (s: string) => s.split(/\s+/).filter((w) => w !== '').length;

/**
 * Why an instruction is rejected, or null when it passes every filter (cheapest first; the
 * duplicate search last). The pool is only read: add accepted instructions yourself, or use
 * filterInstructions.
 */
export function checkInstruction(item: GeneratedInstruction, pool: DedupPool | null, options: FilterOptions = {}): InstructionRejection | null {
  const o = { ...DEFAULT_FILTER, ...options };
  const { instruction, input } = item;
  const reject = (code: RejectionCode, detail: string, extra: Partial<InstructionRejection> = {}): InstructionRejection => ({ code, detail, instruction, input, ...extra });
  const n = wordCount(instruction);
  if (n < o.minWords) return reject('too-short', `${n} word${n === 1 ? '' : 's'}, fewer than ${o.minWords}`);
  if (n > o.maxWords) return reject('too-long', `${n} words, more than ${o.maxWords}`);
  const ni = wordCount(input);
  if (ni > o.maxInputWords) return reject('too-long', `input has ${ni} words, more than ${o.maxInputWords}`);
  // Self-instruct's shape checks: starts with punctuation or a non-ASCII character.
  if (/^[\p{P}\p{S}]/u.test(instruction)) return reject('malformed', 'starts with punctuation');
  if (!/^[\x00-\x7f]/.test(instruction)) return reject('malformed', 'starts with a non-ASCII character');
  const bad = UNACTIONABLE_RE.exec(instruction);
  if (bad) return reject('unactionable', `mentions "${bad[1].toLowerCase().replace(/\s+/g, ' ')}", which a text model cannot act on`);
  if (/^write a program/i.test(instruction)) return reject('unactionable', 'asks for a program');
  if (pool) {
    const near = pool.nearest(instruction, o.dedupThreshold);
    if (near) {
      const text = pool.text(near.index);
      return reject('duplicate', `ROUGE-L ${near.score.toFixed(2)} with "${text}"`, { duplicateOf: { index: near.index, text, score: near.score } });
    }
  }
  return null;
}

/** Filters candidates in order, adding each accepted instruction to the pool (so later ones dedup against it). */
export function filterInstructions(items: readonly GeneratedInstruction[], pool: DedupPool, options: FilterOptions = {}): ParsedInstructions {
  const accepted: GeneratedInstruction[] = [];
  const rejected: InstructionRejection[] = [];
  for (const item of items) {
    const r = checkInstruction(item, pool, options);
    if (r) rejected.push(r);
    else {
      pool.add(item.instruction);
      accepted.push(item);
    }
  }
  return { accepted, rejected };
}

/** parseInstructions then filterInstructions: one model continuation to accepted instructions + every rejection. */
export function extractInstructions(continuation: string, startNumber: number, pool: DedupPool, options: FilterOptions & { truncated?: boolean } = {}): ParsedInstructions {
  const parsed = parseInstructions(continuation, startNumber, { truncated: options.truncated });
  const filtered = filterInstructions(parsed.accepted, pool, options);
  return { accepted: filtered.accepted, rejected: [...parsed.rejected, ...filtered.rejected] };
}
