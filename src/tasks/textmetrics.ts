/**
 * Corpus-level BLEU and chrF / chrF++ as sacreBLEU 2.x computes them, so scores from the workbench
 * can be compared with published ones. Definitions, defaults and deviations: docs/metrics.md.
 *
 * Both metrics sum sufficient statistics over all segments first and score the sums once
 * (corpus level); neither is an average of sentence scores.
 */

// ---------------------------------------------------------------------------------------------
// Python string semantics: sacreBLEU relies on str.split(), str.rstrip() and code-point slicing.

// The characters Python's str.split()/strip() treat as whitespace (JS's \s differs: it lacks
// \x1c-\x1f and \x85 and adds \ufeff).
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');
const PY_WS_TRAIL = new RegExp(`[${PY_WS}]+$`);

/** Python's `s.split()`: split on whitespace runs, no empty strings. */
function pySplit(s: string): string[] {
  return s.split(PY_WS_RUN).filter((w) => w !== '');
}

// ---------------------------------------------------------------------------------------------
// The 13a tokenizer (mteval-v13a.pl, sacreBLEU's default for BLEU).

const TOKENIZE_13A: Array<[RegExp, string]> = [
  // Split off ASCII punctuation and symbols except ' - . , (which the next rules handle).
  [/([{-~\[-` -&(-+:-@\/])/g, ' $1 '],
  // Period and comma are split unless preceded by a digit…
  [/([^0-9])([.,])/g, '$1 $2 '],
  // …or followed by one (so 3.5 and 1,000 stay whole).
  [/([.,])([^0-9])/g, ' $1 $2'],
  // A dash after a digit.
  [/([0-9])(-)/g, '$1 $2 '],
];

/** sacreBLEU's `13a` tokenizer: returns the tokens joined by single spaces. */
export function tokenize13a(line: string): string {
  let s = line
    .replaceAll('<skipped>', '')
    .replaceAll('-\n', '')
    .replaceAll('\n', ' ')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>');
  s = ` ${s} `;
  for (const [re, repl] of TOKENIZE_13A) s = s.replace(re, repl);
  return pySplit(s).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** One reference per hypothesis (string[]), or several reference streams (string[][], each parallel to the hypotheses). */
export type References = readonly string[] | ReadonlyArray<readonly (string | null | undefined)[]>;

/** The references of each hypothesis, empty/missing ones dropped (sacreBLEU allows a varying count). */
function referencesPerSegment(hypotheses: readonly string[], references: References): string[][] {
  const streams: ReadonlyArray<readonly (string | null | undefined)[]> =
    references.length === 0 || !Array.isArray(references[0]) ? [references as readonly string[]] : (references as ReadonlyArray<readonly string[]>);
  for (const s of streams) {
    if (s.length !== hypotheses.length) {
      throw new Error(`Reference stream has ${s.length} segments but there are ${hypotheses.length} hypotheses.`);
    }
  }
  return hypotheses.map((_, i) => streams.map((s) => s[i]).filter((r): r is string => typeof r === 'string' && r !== ''));
}

function countNgrams(units: readonly string[], n: number, out = new Map<string, number>()): Map<string, number> {
  // U+0001 cannot occur in a unit (tokens and code points), so joined keys never collide.
  for (let i = 0; i + n <= units.length; i++) {
    const key = units.slice(i, i + n).join('\u0001');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// BLEU

export type BleuSmoothing = 'none' | 'exp' | 'floor' | 'add-k';

export interface BleuOptions {
  /** Default 'none'. sacreBLEU's own default is 'exp'; see docs/metrics.md. */
  smooth?: BleuSmoothing;
  /** For 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  /** Default 4. */
  maxNgramOrder?: number;
  /** Default false (case-sensitive). */
  lowercase?: boolean;
  /** '13a' (default), 'none' (split on whitespace only), or any function returning space-separated tokens (e.g. SentencePiece for spBLEU). */
  tokenize?: '13a' | 'none' | ((line: string) => string);
  /** Average only over the n-gram orders the hypotheses have (sentence-level use). Default false. */
  effectiveOrder?: boolean;
}

export interface BleuScore {
  /** 0–100. */
  score: number;
  /** Matched n-grams per order (1-based order n at index n−1). */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** Modified n-gram precisions ×100, after smoothing. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  sysLen: number;
  refLen: number;
}

const SMOOTH_DEFAULT_VALUE: Record<BleuSmoothing, number> = { none: 0, exp: 0, floor: 0.1, 'add-k': 1 };

/** Corpus BLEU (Papineni et al. 2002) as sacreBLEU: clipped n-gram counts and lengths summed over segments. */
export function corpusBleu(hypotheses: readonly string[], references: References, opts: BleuOptions = {}): BleuScore {
  const maxOrder = opts.maxNgramOrder ?? 4;
  const tok = opts.tokenize ?? '13a';
  const tokenizer = tok === '13a' ? tokenize13a : tok === 'none' ? (s: string) => s : tok;
  const prep = (s: string) => pySplit(tokenizer((opts.lowercase ? s.toLowerCase() : s).replace(PY_WS_TRAIL, '')));

  const refsPer = referencesPerSegment(hypotheses, references);
  const counts = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hyp, i) => {
    if (refsPer[i].length === 0) throw new Error(`Hypothesis ${i + 1} has no non-empty reference.`);
    const hypTokens = prep(hyp);
    // Reference n-gram counts: the maximum over references; length: the closest to the
    // hypothesis length, the shorter one on a tie.
    const refMax = new Map<string, number>();
    let closestLen = -1;
    let closestDiff = -1;
    for (const ref of refsPer[i]) {
      const refTokens = prep(ref);
      const diff = Math.abs(hypTokens.length - refTokens.length);
      if (closestDiff < 0 || diff < closestDiff || (diff === closestDiff && refTokens.length < closestLen)) {
        closestDiff = diff;
        closestLen = refTokens.length;
      }
      for (let n = 1; n <= maxOrder; n++) {
        for (const [g, c] of countNgrams(refTokens, n)) refMax.set(g, Math.max(refMax.get(g) ?? 0, c));
      }
    }
    sysLen += hypTokens.length;
    refLen += closestLen;
    for (let n = 1; n <= maxOrder; n++) {
      for (const [g, c] of countNgrams(hypTokens, n)) {
        totals[n - 1] += c;
        counts[n - 1] += Math.min(c, refMax.get(g) ?? 0);
      }
    }
  });
  return bleuFromStatistics(counts, totals, sysLen, refLen, opts);
}

/** BLEU from summed statistics (sacreBLEU's compute_bleu). */
export function bleuFromStatistics(
  counts: readonly number[],
  totals: readonly number[],
  sysLen: number,
  refLen: number,
  opts: Pick<BleuOptions, 'smooth' | 'smoothValue' | 'effectiveOrder'> = {},
): BleuScore {
  const method = opts.smooth ?? 'none';
  const smoothValue = opts.smoothValue ?? SMOOTH_DEFAULT_VALUE[method];
  const order = counts.length;
  const correct = [...counts];
  const total = [...totals];
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(order).fill(0);
  const result = (score: number): BleuScore => ({ score, counts: correct, totals: total, precisions, bp, sysLen, refLen });

  // No match at any order: 0, whatever the smoothing (sacreBLEU issue #141).
  if (!correct.some((c) => c > 0)) return result(0);

  let mteval = 1;
  let effOrder = order;
  for (let n = 1; n <= order; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] += smoothValue;
      total[n - 1] += smoothValue;
    }
    if (total[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        mteval *= 2;
        precisions[n - 1] = 100 / (mteval * total[n - 1]);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * smoothValue) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  // sacreBLEU's my_log: log(0) is taken as −9999999999, which drives the score to 0.
  const logSum = precisions.slice(0, effOrder).reduce((s, p) => s + (p === 0 ? -9999999999 : Math.log(p)), 0);
  return result(bp * Math.exp(logSum / effOrder));
}

// ---------------------------------------------------------------------------------------------
// chrF / chrF++

export interface ChrfOptions {
  /** Character n-gram order, default 6. */
  charOrder?: number;
  /** Word n-gram order: 0 = chrF (default), 2 = chrF++. */
  wordOrder?: number;
  /** Recall weight, default 2. */
  beta?: number;
  /** Default false. */
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams; default false (whitespace is removed first). */
  whitespace?: boolean;
  /** chrF++.py-style ε smoothing instead of sacreBLEU's effective-order averaging; default false. */
  epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** 0–100. */
  score: number;
  /** Summed [hypothesis, reference, matched] n-gram counts per order: char orders 1…charOrder, then word orders. */
  statistics: Array<[number, number, number]>;
}

// Python's string.punctuation, which chrF++ strips from word edges.
const PUNCT = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** chrF++'s word split: whitespace tokens with one leading or trailing punctuation mark split off. */
function chrfWords(sent: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sent)) {
    const cps = Array.from(w);
    if (cps.length === 1) out.push(w);
    else if (PUNCT.has(cps[cps.length - 1])) out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]);
    else if (PUNCT.has(cps[0])) out.push(cps[0], cps.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

/** Per-order n-gram counters of one segment: characters (code points) then words. */
function chrfNgrams(sent: string, o: Required<ChrfOptions>): Array<Map<string, number>> {
  const chars = Array.from(o.whitespace ? sent : pySplit(sent).join(''));
  const grams: Array<Map<string, number>> = [];
  for (let n = 1; n <= o.charOrder; n++) grams.push(countNgrams(chars, n));
  if (o.wordOrder > 0) {
    const words = chrfWords(sent);
    for (let n = 1; n <= o.wordOrder; n++) grams.push(countNgrams(words, n));
  }
  return grams;
}

function matchStatistics(hyp: Map<string, number>, ref: Map<string, number>): [number, number, number] {
  let hypCount = 0;
  let match = 0;
  let refCount = 0;
  for (const [g, c] of hyp) {
    hypCount += c;
    const r = ref.get(g);
    if (r !== undefined) match += Math.min(c, r);
  }
  for (const c of ref.values()) refCount += c;
  // An order the reference has no n-grams of does not count the hypothesis's either.
  return [ref.size > 0 ? hypCount : 0, refCount, match];
}

/** F-beta over per-order statistics (sacreBLEU's CHRF._compute_f_score), 0–100. */
export function chrfFromStatistics(statistics: ReadonlyArray<readonly [number, number, number]>, opts: Pick<ChrfOptions, 'beta' | 'epsSmoothing'> = {}): number {
  const eps = 1e-16;
  const factor = (opts.beta ?? 2) ** 2;
  let epsScore = 0;
  let avgPrec = 0;
  let avgRec = 0;
  let effective = 0;
  for (const [nHyp, nRef, nMatch] of statistics) {
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    epsScore += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effective++;
    }
  }
  if (opts.epsSmoothing) return (100 * epsScore) / statistics.length;
  if (effective === 0) return 0;
  avgPrec /= effective;
  avgRec /= effective;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * (1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec);
}

/** Corpus chrF (Popović 2015), or chrF++ (Popović 2017) with `wordOrder: 2`, as sacreBLEU computes them. */
export function corpusChrf(hypotheses: readonly string[], references: References, opts: ChrfOptions = {}): ChrfScore {
  const o: Required<ChrfOptions> = {
    charOrder: opts.charOrder ?? 6,
    wordOrder: opts.wordOrder ?? 0,
    beta: opts.beta ?? 2,
    lowercase: opts.lowercase ?? false,
    whitespace: opts.whitespace ?? false,
    epsSmoothing: opts.epsSmoothing ?? false,
  };
  const prep = (s: string) => (o.lowercase ? s.toLowerCase() : s);
  const refsPer = referencesPerSegment(hypotheses, references);
  const sums: Array<[number, number, number]> = Array.from({ length: o.charOrder + o.wordOrder }, () => [0, 0, 0]);
  hypotheses.forEach((hyp, i) => {
    if (refsPer[i].length === 0) throw new Error(`Hypothesis ${i + 1} has no non-empty reference.`);
    const hypGrams = chrfNgrams(prep(hyp), o);
    // With several references, each segment uses the one with the best sentence-level score.
    let best: Array<[number, number, number]> = [];
    let bestF = -1;
    for (const ref of refsPer[i]) {
      const refGrams = chrfNgrams(prep(ref), o);
      const stats = hypGrams.map((h, k) => matchStatistics(h, refGrams[k]));
      const f = chrfFromStatistics(stats, o);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    best.forEach((s, k) => {
      sums[k][0] += s[0];
      sums[k][1] += s[1];
      sums[k][2] += s[2];
    });
  });
  return { score: chrfFromStatistics(sums, o), statistics: sums };
}
