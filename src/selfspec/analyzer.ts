/**
 * Text analysis for BM25 (issue 8 item 5), the same chain on passages and queries: Unicode NFKC,
 * lower case, split on anything that is not a letter or digit, drop Lucene's 33 English stop words,
 * Porter stemming (the `stemmer` package, Porter 1980) unless turned off. Stop words are dropped
 * before stemming, as Lucene's EnglishAnalyzer does, so "is" goes but "this" → never "thi".
 */
import { stemmer } from 'stemmer';

export type StemMode = 'porter' | 'none';

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words). */
export const LUCENE_STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not',
  'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will',
  'with',
]);

const NON_WORD = /[^\p{L}\p{N}]+/u;

/** Words of a text before stop words and stemming: NFKC, lower case, split on non letter/digit. */
export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().split(NON_WORD).filter((w) => w !== '');
}

export type Analyzer = (text: string) => string[];

/**
 * An analyzer with its own stem cache: a corpus repeats its words, and stemming each occurrence
 * anew would dominate indexing time.
 */
export function createAnalyzer(stem: StemMode = 'porter'): Analyzer {
  if (stem !== 'porter' && stem !== 'none') throw new Error(`stem must be "porter" or "none", got "${String(stem)}"`);
  const cache = new Map<string, string>();
  return (text) => {
    const out: string[] = [];
    for (const w of words(text)) {
      if (LUCENE_STOP_WORDS.has(w)) continue;
      if (stem === 'none') {
        out.push(w);
        continue;
      }
      let s = cache.get(w);
      if (s === undefined) {
        s = stemmer(w);
        cache.set(w, s);
      }
      out.push(s);
    }
    return out;
  };
}

/** Analysed terms of one text (a fresh analyzer: use createAnalyzer for many texts). */
export function analyze(text: string, stem: StemMode = 'porter'): string[] {
  return createAnalyzer(stem)(text);
}
