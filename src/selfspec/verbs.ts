/**
 * Root verb and direct-object noun of an instruction (self-instruct's diversity analysis, the
 * paper's Fig. 7), with the `compromise` POS tagger. compromise has no dependency parse, so the
 * "root" is the imperative verb when there is one (what instructions mostly are), else the first
 * verb that is not an auxiliary or modal; the object is the head (last noun) of the first noun
 * phrase right after it. Heuristic by nature: tests pin clear sentences only.
 */
import nlp from 'compromise';

export interface VerbNoun {
  /** Infinitive, lower case ("summarize"). */
  verb: string;
  /** Singular head noun of the direct object, lower case, or null ("Explain how …"). */
  noun: string | null;
}

interface Term {
  text: string;
  normal: string;
  tags: string[];
}

const AUX = new Set(['be', 'is', 'are', 'was', 'were', 'am', 'been', 'being', 'do', 'does', 'did', 'have', 'has', 'had', 'can', 'could', 'would', 'should', 'will', 'shall', 'may', 'might', 'must', 'please', 'let']);
const SKIP_BEFORE_OBJECT = ['Determiner', 'Possessive', 'Pronoun', 'Adverb'];

const has = (t: Term, tag: string) => t.tags.includes(tag);

function infinitive(word: string): string {
  const doc = nlp(word);
  doc.tag('Verb'); // tags in place: the word alone is read as the verb it was in the sentence
  const inf = doc.verbs().toInfinitive().text().toLowerCase().trim();
  return inf || word;
}

function singular(t: Term): string {
  if (has(t, 'Uncountable') || !(has(t, 'Plural') || has(t, 'Verb'))) return t.normal;
  const doc = nlp(t.normal);
  doc.tag('Plural'); // alone, "effects" would be read as a verb
  return doc.nouns().toSingular().text().toLowerCase().trim() || t.normal;
}

/** The root verb and its object noun, or null when the sentence has no usable verb. */
export function rootVerbNoun(instruction: string): VerbNoun | null {
  if (typeof instruction !== 'string' || instruction.trim() === '') return null;
  const sentence = nlp(instruction).json()[0] as { terms: Term[] } | undefined;
  const terms = sentence?.terms ?? [];
  const isVerb = (t: Term) => has(t, 'Verb') && !AUX.has(t.normal) && !has(t, 'Auxiliary') && !has(t, 'Modal') && !has(t, 'Copula');
  let at = terms.findIndex((t) => isVerb(t) && has(t, 'Imperative'));
  if (at < 0) at = terms.findIndex(isVerb);
  if (at < 0) return null;
  const verb = infinitive(terms[at].normal);
  // Object: skip determiners and the like, then the run of nouns / adjectives / numbers; its last noun is the head.
  let i = at + 1;
  while (i < terms.length && SKIP_BEFORE_OBJECT.some((tag) => has(terms[i], tag)) && !has(terms[i], 'Noun')) i++;
  while (i < terms.length && has(terms[i], 'Possessive')) i++;
  let head: Term | null = null;
  let lastAdj: Term | null = null;
  for (; i < terms.length; i++) {
    const t = terms[i];
    if (has(t, 'Noun') && !has(t, 'Pronoun')) head = t;
    else if (has(t, 'Adjective') || has(t, 'Value') || (has(t, 'Determiner') && !head)) lastAdj = has(t, 'Adjective') ? t : lastAdj;
    // A plural noun the tagger took for a verb ("gene names from"): right after a noun, ends in s.
    else if (head && has(t, 'Verb') && /s$/.test(t.normal) && !has(t, 'PastTense') && (i + 1 === terms.length || has(terms[i + 1], 'Preposition'))) head = { ...t, tags: [...t.tags, 'Plural'] };
    else break;
    if (/[,;:.?!]\s*$/.test(t.text ?? '')) break;
  }
  const obj = head ?? lastAdj;
  return { verb, noun: obj ? singular(obj) : null };
}

export interface NounCount {
  noun: string;
  count: number;
}

export interface VerbCount {
  verb: string;
  /** Instructions with this root verb (with or without an object). */
  count: number;
  /** Objects, most frequent first (ties alphabetical), at most maxNouns. */
  nouns: NounCount[];
}

export interface VerbNounSummary {
  /** Instructions counted. */
  total: number;
  /** Instructions without a recognisable verb. */
  noVerb: number;
  /** Top verbs, most frequent first (ties alphabetical): the inner ring; nouns form the outer ring. */
  verbs: VerbCount[];
  /** Instructions whose verb is not among the top verbs. */
  otherVerbs: number;
}

/** Nested verb → noun counts for a two-ring sunburst (self-instruct shows the top 20 verbs × 4 nouns). */
export function verbNounCounts(instructions: Iterable<string | VerbNoun | null>, opts: { maxVerbs?: number; maxNouns?: number } = {}): VerbNounSummary {
  const maxVerbs = opts.maxVerbs ?? 20;
  const maxNouns = opts.maxNouns ?? 4;
  const byVerb = new Map<string, { count: number; nouns: Map<string, number> }>();
  let total = 0;
  let noVerb = 0;
  for (const x of instructions) {
    total++;
    const vn = typeof x === 'string' ? rootVerbNoun(x) : x;
    if (!vn) {
      noVerb++;
      continue;
    }
    let e = byVerb.get(vn.verb);
    if (!e) byVerb.set(vn.verb, (e = { count: 0, nouns: new Map() }));
    e.count++;
    if (vn.noun) e.nouns.set(vn.noun, (e.nouns.get(vn.noun) ?? 0) + 1);
  }
  const byCount = <T extends { count: number }>(key: (x: T) => string) => (a: T, b: T) => b.count - a.count || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  const all = [...byVerb].map(([verb, e]) => ({
    verb,
    count: e.count,
    nouns: [...e.nouns].map(([noun, count]) => ({ noun, count })).sort(byCount<NounCount>((n) => n.noun)).slice(0, maxNouns),
  }));
  all.sort(byCount<VerbCount>((v) => v.verb));
  const verbs = all.slice(0, maxVerbs);
  return { total, noVerb, verbs, otherVerbs: all.slice(maxVerbs).reduce((s, v) => s + v.count, 0) };
}
