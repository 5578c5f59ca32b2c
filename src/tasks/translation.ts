/**
 * Tatoeba sentence pairs (LASER's `tatoeba.XXX-eng.{XXX,eng}`, line-aligned) → examples for
 * Tag-LLM's translation task, in both directions, plus the pairs the paper uses for zero-shot
 * evaluation that no file holds directly (IT↔FR, ES↔PT): they are derived by pivoting through
 * English sentences that occur, identically, in both languages' files.
 */
import { splitDataset, type SplitFractions } from '../data/split';
import type { BuildReport, BuiltDataset, SkippedRow, SplitName, TextFile } from './types';

/** Tatoeba's ISO 639-3 codes → the two-letter codes used for language tags (<FR>…). */
export const TATOEBA_LANGUAGES: Readonly<Record<string, string>> = {
  eng: 'en',
  fra: 'fr',
  deu: 'de',
  rus: 'ru',
  ita: 'it',
  ell: 'el',
  spa: 'es',
  por: 'pt',
};

export interface TranslationExample {
  srcLang: string;
  tgtLang: string;
  source: string;
  target: string;
  split: SplitName;
  /** True for pairs derived through an English pivot (never in a file). */
  pivot: boolean;
}

export interface TranslationOptions {
  /** Which directions of the X–English pairs to emit; default 'both'. */
  directions?: 'both' | 'to-en' | 'from-en';
  /** Split of the English sentences (shared by every language, so no English sentence is in two splits); default 80% train, 20% test. */
  fractions?: SplitFractions;
  /** Default 0. */
  seed?: number;
  /** Language pairs (two-letter codes) to derive through English; default IT–FR and ES–PT. Pivot pairs are all 'test' (zero-shot evaluation). */
  pivots?: ReadonlyArray<readonly [string, string]>;
}

export interface TranslationReport extends BuildReport {
  /** Sentence pairs found per language pair (undirected, "en-fr", "it-fr"…), before directions are expanded. */
  pairCounts: Record<string, number>;
}

const FILE_NAME = /(?:^|[\\/])tatoeba\.([a-z]{3})-([a-z]{3})\.([a-z]{3})$/;

interface Aligned {
  lang: string; // two-letter code of the non-English side
  pairs: Array<{ english: string; other: string }>;
}

export function buildTranslation(files: readonly TextFile[], opts: TranslationOptions = {}): BuiltDataset<TranslationExample> & { report: TranslationReport } {
  const errors: string[] = [];
  const skipped: SkippedRow[] = [];
  const pairCounts: Record<string, number> = {};
  let total = 0;

  // Group the files into X–English pairs.
  const groups = new Map<string, { x?: TextFile; eng?: TextFile; code: string }>();
  for (const f of files) {
    const m = FILE_NAME.exec(f.name);
    if (!m || (m[1] !== 'eng' && m[2] !== 'eng') || m[1] === m[2] || (m[3] !== m[1] && m[3] !== m[2])) {
      errors.push(`${f.name}: not a tatoeba.XXX-eng.{XXX,eng} file`);
      continue;
    }
    const code = m[1] === 'eng' ? m[2] : m[1];
    const g = groups.get(code) ?? { code };
    const side = m[3] === 'eng' ? 'eng' : 'x';
    if (g[side]) errors.push(`${f.name}: a second file for the same side; ignored`);
    else g[side] = f;
    groups.set(code, g);
  }

  const aligned: Aligned[] = [];
  for (const g of groups.values()) {
    const lang = TATOEBA_LANGUAGES[g.code] ?? g.code;
    if (!g.x || !g.eng) {
      errors.push(`tatoeba.${g.code}-eng: missing the ${g.x ? 'English' : g.code} file`);
      continue;
    }
    const xl = textLines(g.x.text);
    const el = textLines(g.eng.text);
    if (xl.length !== el.length) errors.push(`tatoeba.${g.code}-eng: ${xl.length} ${g.code} lines but ${el.length} English lines`);
    const pairs: Aligned['pairs'] = [];
    for (let i = 0; i < Math.max(xl.length, el.length); i++) {
      total++;
      const where = `tatoeba.${g.code}-eng line ${i + 1}`;
      if (i >= xl.length || i >= el.length) {
        skipped.push({ line: i + 1, reason: `${where}: no aligned ${i >= xl.length ? g.code : 'English'} line` });
        continue;
      }
      const [english, other] = [el[i].trim(), xl[i].trim()];
      if (!english || !other) {
        skipped.push({ line: i + 1, reason: `${where}: empty ${!other ? g.code : 'English'} sentence` });
        continue;
      }
      pairs.push({ english, other });
    }
    pairCounts[`en-${lang}`] = pairs.length;
    aligned.push({ lang, pairs });
  }

  // One split for every distinct English sentence, shared across languages.
  const englishOrder = [...new Set(aligned.flatMap((a) => a.pairs.map((p) => p.english)))];
  const parts = splitDataset(englishOrder, { seed: opts.seed ?? 0, fractions: opts.fractions ?? { train: 0.8, validation: 0, test: 0.2 } });
  const splitOf = new Map<string, SplitName>();
  for (const name of ['train', 'validation', 'test'] as const) for (const e of parts[name]) splitOf.set(e, name);

  const examples: TranslationExample[] = [];
  const directions = opts.directions ?? 'both';
  for (const { lang, pairs } of aligned) {
    for (const { english, other } of pairs) {
      const split = splitOf.get(english)!;
      if (directions !== 'from-en') examples.push({ srcLang: lang, tgtLang: 'en', source: other, target: english, split, pivot: false });
      if (directions !== 'to-en') examples.push({ srcLang: 'en', tgtLang: lang, source: english, target: other, split, pivot: false });
    }
  }

  const notes: string[] = [];
  for (const [a, b] of opts.pivots ?? [['it', 'fr'], ['es', 'pt']]) {
    const A = aligned.find((x) => x.lang === a);
    const B = aligned.find((x) => x.lang === b);
    if (!A || !B) {
      errors.push(`pivot ${a}–${b}: no ${!A ? a : b}–English data`);
      continue;
    }
    const bByEnglish = new Map<string, string[]>();
    for (const p of B.pairs) bByEnglish.set(p.english, [...(bByEnglish.get(p.english) ?? []), p.other]);
    let found = 0;
    for (const p of A.pairs) {
      for (const other of bByEnglish.get(p.english) ?? []) {
        found++;
        examples.push({ srcLang: a, tgtLang: b, source: p.other, target: other, split: 'test', pivot: true });
        examples.push({ srcLang: b, tgtLang: a, source: other, target: p.other, split: 'test', pivot: true });
      }
    }
    pairCounts[`${a}-${b}`] = found;
    notes.push(`${a}–${b}: ${found} sentence pair${found === 1 ? '' : 's'} through identical English sentences (both directions, split 'test').`);
  }

  return { examples, report: { total, kept: total - skipped.length, skipped, errors, notes, pairCounts } };
}

/** Lines without terminators; the empty string after a final newline is not a line. */
function textLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
