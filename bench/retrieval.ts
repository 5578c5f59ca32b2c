/**
 * Retrieval benchmark (issue 8 item 5): BM25 indexing of the 1,000 PubMedQA abstracts (target < 1 s)
 * and of the built-in corpus (one passage per context), median query time over the 1,000 PubMedQA
 * questions (target < 5 ms), and indexing 100,000 synthetic passages (time and memory). CPU only.
 * Prints one JSON object; nothing is asserted.
 *   npm run bench:retrieval -- [--synthetic N]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { words } from '../src/selfspec/analyzer';
import { Bm25Index } from '../src/selfspec/bm25';
import { parsePubmedqaCorpus, type Passage } from '../src/selfspec/corpus';

// A callable gc (without --expose-gc on the command line) so heap growth is measured, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values: args } = parseArgs({ options: { synthetic: { type: 'string', default: '100000' } } });

const text = readFileSync(new URL('../public/data/biomed/pubmedqa_ori_pqal.json', import.meta.url), 'utf8');
const items = JSON.parse(text) as Record<string, { QUESTION: string; CONTEXTS: string[] }>;
const abstracts: Passage[] = Object.entries(items).map(([pmid, it]) => ({ id: pmid, text: it.CONTEXTS.join(' ') }));
const contexts = parsePubmedqaCorpus(text).passages;
const questions = Object.values(items).map((it) => it.QUESTION);

function timeBuild(passages: Passage[], reps: number) {
  const ms: number[] = [];
  let index = Bm25Index.build(passages);
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    index = Bm25Index.build(passages);
    ms.push(performance.now() - t);
  }
  return { index, ms: median(ms) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function queryTimes(index: Bm25Index, qs: string[], k: number) {
  for (const q of qs.slice(0, 50)) index.search(q, k); // warm-up (JIT, stem cache)
  const ms = qs.map((q) => {
    const t = performance.now();
    index.search(q, k);
    return performance.now() - t;
  });
  const s = [...ms].sort((a, b) => a - b);
  return { queries: qs.length, k, median_ms: median(ms), p95_ms: s[Math.floor(0.95 * (s.length - 1))] };
}

const abs = timeBuild(abstracts, 5);
const ctx = timeBuild(contexts, 5);

// Synthetic passages: 80 words each, drawn Zipf-like from the PubMedQA vocabulary, so posting
// lists have a realistic long tail.
const vocab = [...new Set(abstracts.flatMap((a) => words(a.text)))];
let seed = 1;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const zipf = () => vocab[Math.min(vocab.length - 1, Math.floor(Math.exp(rand() * Math.log(vocab.length + 1))) - 1)];
const nSynth = Number(args.synthetic);
const synthetic: Passage[] = Array.from({ length: nSynth }, (_, i) => ({ id: `s${i}`, text: Array.from({ length: 80 }, zipf).join(' ') }));
const textBytes = synthetic.reduce((s, p) => s + p.text.length * 2, 0);
gc();
const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const heapBefore = used();
const t0 = performance.now();
const big = Bm25Index.build(synthetic);
const bigMs = performance.now() - t0;
gc();
const heapAfter = used();

console.log(
  JSON.stringify(
    {
      bench: 'retrieval',
      pubmedqa_abstracts: { passages: abstracts.length, vocabulary: abs.index.vocabularySize, index_ms: abs.ms, target_ms: 1000, index_bytes: abs.index.indexBytes, query: queryTimes(abs.index, questions, 5), query_target_median_ms: 5 },
      pubmedqa_contexts: { passages: contexts.length, vocabulary: ctx.index.vocabularySize, index_ms: ctx.ms, index_bytes: ctx.index.indexBytes, query: queryTimes(ctx.index, questions, 5) },
      synthetic: {
        passages: nSynth,
        words_per_passage: 80,
        vocabulary: big.vocabularySize,
        index_ms: bigMs,
        index_typed_array_bytes: big.indexBytes,
        memory_growth_bytes: heapAfter - heapBefore, // JS heap + ArrayBuffers after gc: the index arrays, vocabulary and stem cache
        passage_text_bytes_utf16: textBytes,
        query: queryTimes(big, questions.slice(0, 200), 5),
      },
    },
    null,
    2,
  ),
);
