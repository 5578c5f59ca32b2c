/**
 * Retrieval corpora (issue 8 item 5): unlabeled domain text cut into passages with stable ids.
 *  - PubMedQA (built in, public/data/biomed/pubmedqa_ori_pqal.json): each CONTEXTS entry is one
 *    passage, id `<pmid>#<n>` (n from 1);
 *  - JSONL records `{id, text}`, each record one passage as given;
 *  - plain text, one passage per line, id = line number from 1;
 *  - a folder of .txt documents (`{name, text}[]`, so browser File lists and Node reads both fit),
 *    cut at blank lines into paragraphs (long ones into windows of words), ids `<file>#<n>`.
 * Bad records are reported with their line and skipped; a corpus with no passage is an error, and so
 * is one over MAX_CORPUS_BYTES.
 */
import { assertUtf8Text, stripBom } from './text';

export interface Passage {
  id: string;
  text: string;
}

export interface CorpusRejection {
  line: number;
  reason: string;
  /** The file, for folder imports. */
  file?: string;
}

export interface ParsedCorpus {
  passages: Passage[];
  rejected: CorpusRejection[];
}

/** Path of the built-in corpus under public/data/ (see src/data/builtin.ts for how paths are fetched). */
export const PUBMEDQA_PATH = 'biomed/pubmedqa_ori_pqal.json';

/**
 * The largest corpus (bytes of text, all files together) the workbench indexes, in the CLI and the
 * panel alike. The BM25 index, the passages and their text all stay in memory (in a browser tab's
 * worker too), so a bigger corpus is refused up front with what to do instead of running the tab out
 * of memory halfway through a run.
 */
export const MAX_CORPUS_BYTES = 32 * 1024 * 1024;

/** Refuses a corpus of `bytes` bytes over MAX_CORPUS_BYTES, naming `what` and what to do. */
export function checkCorpusSize(bytes: number, what: string): void {
  if (bytes <= MAX_CORPUS_BYTES) return;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  throw new Error(
    `${what} is ${mb(bytes)}; a corpus may be at most ${mb(MAX_CORPUS_BYTES)} (its index stays in memory). Keep the documents closest to your domain, or split the corpus and use one part per run.`,
  );
}

/** Passages longer than this many words are cut into windows of this size (folder import). */
export const DEFAULT_MAX_PASSAGE_WORDS = 200;

function noPassages(fileName: string, rejected: CorpusRejection[]): never {
  const why = rejected.slice(0, 3).map((r) => `line ${r.line}: ${r.reason}`).join('; ');
  throw new Error(`${fileName}: the corpus has no text${why ? ` (${why}${rejected.length > 3 ? '; …' : ''})` : ''}. Give passages with some words in them.`);
}

/** PubMedQA `{pmid: {CONTEXTS: [...]}}`: one passage per context. */
export function parsePubmedqaCorpus(text: string, fileName = PUBMEDQA_PATH): ParsedCorpus {
  assertUtf8Text(text, fileName);
  let doc: unknown;
  try {
    doc = JSON.parse(stripBom(text));
  } catch (e) {
    throw new Error(`${fileName}: not valid JSON (${(e as Error).message}).`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${fileName}: expected a PubMedQA object {pmid: {CONTEXTS: [...]}}.`);
  const passages: Passage[] = [];
  const rejected: CorpusRejection[] = [];
  for (const [pmid, item] of Object.entries(doc as Record<string, unknown>)) {
    const contexts = (item as { CONTEXTS?: unknown } | null)?.CONTEXTS;
    if (!Array.isArray(contexts)) {
      rejected.push({ line: lineOfKey(text, pmid), reason: `${pmid}: no CONTEXTS list` });
      continue;
    }
    contexts.forEach((c, i) => {
      if (typeof c === 'string' && c.trim() !== '') passages.push({ id: `${pmid}#${i + 1}`, text: c });
      else rejected.push({ line: lineOfKey(text, pmid), reason: `${pmid}: context ${i + 1} has no text` });
    });
  }
  if (passages.length === 0) noPassages(fileName, rejected);
  return { passages, rejected };
}

function lineOfKey(text: string, key: string): number {
  const at = text.indexOf(JSON.stringify(key));
  return at < 0 ? 1 : text.slice(0, at).split('\n').length;
}

/** JSONL `{id, text}` records, each one passage. Duplicate ids are rejected (ids must name one passage). */
export function parseJsonlCorpus(text: string, fileName: string): ParsedCorpus {
  assertUtf8Text(text, fileName);
  const passages: Passage[] = [];
  const rejected: CorpusRejection[] = [];
  const seen = new Set<string>();
  stripBom(text).split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      rejected.push({ line, reason: `not valid JSON (${(e as Error).message})` });
      return;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return void rejected.push({ line, reason: 'expected a JSON object {id, text}' });
    const r = v as Record<string, unknown>;
    const id = typeof r.id === 'string' ? r.id : typeof r.id === 'number' ? String(r.id) : '';
    if (id === '') return void rejected.push({ line, reason: 'no "id"' });
    if (typeof r.text !== 'string' || r.text.trim() === '') return void rejected.push({ line, reason: `"${id}": no "text"` });
    if (seen.has(id)) return void rejected.push({ line, reason: `duplicate id "${id}"` });
    seen.add(id);
    passages.push({ id, text: r.text });
  });
  if (passages.length === 0) noPassages(fileName, rejected);
  return { passages, rejected };
}

/** Plain text, one passage per non-blank line; id = the line number (from 1). */
export function parseLinesCorpus(text: string, fileName: string): ParsedCorpus {
  assertUtf8Text(text, fileName);
  const passages: Passage[] = [];
  stripBom(text).split(/\r?\n/).forEach((line, i) => {
    if (line.trim() !== '') passages.push({ id: String(i + 1), text: line.trim() });
  });
  if (passages.length === 0) noPassages(fileName, []);
  return { passages, rejected: [] };
}

/**
 * Documents (`.txt` files) cut into passages: paragraphs at blank lines, a paragraph longer than
 * `maxWords` words cut into consecutive windows of `maxWords`. Ids `<file>#<n>`, n from 1 per file.
 */
export function splitDocuments(files: ReadonlyArray<{ name: string; text: string }>, opts: { maxWords?: number } = {}): ParsedCorpus {
  const maxWords = opts.maxWords ?? DEFAULT_MAX_PASSAGE_WORDS;
  if (!Number.isInteger(maxWords) || maxWords < 1) throw new Error(`maxWords must be a positive integer, got ${maxWords}`);
  if (files.length === 0) throw new Error('the folder has no .txt documents.');
  const passages: Passage[] = [];
  const rejected: CorpusRejection[] = [];
  for (const f of files) {
    assertUtf8Text(f.text, f.name);
    let n = 0;
    for (const para of stripBom(f.text).split(/\r?\n\s*\r?\n/)) {
      const ws = para.split(/\s+/).filter((w) => w !== '');
      for (let at = 0; at < ws.length; at += maxWords) passages.push({ id: `${f.name}#${++n}`, text: ws.slice(at, at + maxWords).join(' ') });
    }
    if (n === 0) rejected.push({ line: 1, file: f.name, reason: `${f.name}: no text` });
  }
  if (passages.length === 0) noPassages(files.length === 1 ? files[0].name : 'the folder', rejected);
  return { passages, rejected };
}

/**
 * One corpus file by its content: JSON lines of `{id, text}` (a `.jsonl` name, or JSON objects
 * one per line), a JSON object of PubMedQA items, else plain text, one passage per line.
 */
export function parseCorpus(text: string, fileName: string): ParsedCorpus {
  assertUtf8Text(text, fileName);
  const body = stripBom(text);
  if (body.trim() === '') noPassages(fileName, []);
  if (fileName.toLowerCase().endsWith('.jsonl')) return parseJsonlCorpus(body, fileName);
  if (body.trimStart().startsWith('{')) {
    let whole: unknown;
    try {
      whole = JSON.parse(body);
    } catch {
      return parseJsonlCorpus(body, fileName); // several JSON documents: JSON lines
    }
    const one = whole as Record<string, unknown>;
    return whole && typeof whole === 'object' && !('text' in one) ? parsePubmedqaCorpus(body, fileName) : parseJsonlCorpus(body, fileName);
  }
  return parseLinesCorpus(body, fileName);
}
