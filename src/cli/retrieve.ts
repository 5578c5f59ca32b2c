/**
 * `cli retrieve --corpus <file|folder> --query "..." [--k 5] [--stem porter|none] [--k1 X --b Y] [--json]`:
 * BM25 over a corpus file (PubMedQA JSON, JSONL {id, text}, plain text one passage per line) or a
 * folder of .txt documents. --json prints `[{"id","score","text"}]` best first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StemMode } from '../selfspec/analyzer';
import { Bm25Index } from '../selfspec/bm25';
import { checkCorpusSize, parseCorpus, splitDocuments, type ParsedCorpus } from '../selfspec/corpus';
import { decodeUtf8 } from '../selfspec/text';
import { validateOptions } from './options';

export const RETRIEVE_USAGE = `  cli retrieve --corpus <file|folder of .txt> --query "..." [--k 5] [--stem porter|none] [--k1 0.9] [--b 0.4] [--json]`;

/** A corpus from disk: a folder of .txt documents, or one corpus file. */
export function readCorpus(path: string): ParsedCorpus {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(`--corpus ${path}: no such file or folder`);
  }
  if (st.isDirectory()) {
    const names = readdirSync(path)
      .filter((f) => f.toLowerCase().endsWith('.txt'))
      .sort();
    if (names.length === 0) throw new Error(`--corpus ${path}: the folder has no .txt documents`);
    // Sizes first: an oversized corpus is refused before anything is read.
    checkCorpusSize(names.reduce((a, f) => a + statSync(join(path, f)).size, 0), `--corpus ${path} (${names.length} .txt files)`);
    return splitDocuments(names.map((f) => ({ name: f, text: decodeUtf8(readFileSync(join(path, f)), f) })));
  }
  checkCorpusSize(st.size, `--corpus ${path}`);
  return parseCorpus(decodeUtf8(readFileSync(path), basename(path)), basename(path));
}

export async function retrieveCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      corpus: { type: 'string' },
      query: { type: 'string' },
      k: { type: 'string', default: '5' },
      stem: { type: 'string', default: 'porter' },
      k1: { type: 'string', default: '0.9' },
      b: { type: 'string', default: '0.4' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  validateOptions('retrieve', v);
  const k = Number(v.k);
  const corpus = readCorpus(v.corpus!);
  for (const r of corpus.rejected.slice(0, 20)) process.stderr.write(`skipped ${r.file ?? basename(v.corpus!)} line ${r.line}: ${r.reason}\n`);
  if (corpus.rejected.length > 20) process.stderr.write(`… ${corpus.rejected.length - 20} more skipped\n`);
  const index = Bm25Index.build(corpus.passages, { stem: v.stem as StemMode, k1: Number(v.k1), b: Number(v.b) });
  const { hits, note } = index.query(v.query!, k);
  if (note) process.stderr.write(`note: ${note}\n`);
  if (v.json) {
    console.log(JSON.stringify(hits.map((h) => ({ id: h.id, score: h.score, text: h.text }))));
  } else {
    for (const h of hits) console.log(`${h.score.toFixed(4)}\t${h.id}\t${h.text.length > 160 ? `${h.text.slice(0, 157)}…` : h.text}`);
  }
  return 0;
}
