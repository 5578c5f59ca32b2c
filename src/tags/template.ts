/**
 * Prompt templates (METHODS.md §1): text with <Name> tag references and {field} slots, e.g.
 *   # # Input: The SMILES of the molecule is <SMILES> {input}.\n# # Output: The quantitative estimate of druglikeness is <QED> {output}
 *
 * Syntax
 *   <Name>     a tag from the library (letters, digits, _ or -, starting with a letter or _)
 *   <{field}>  a tag whose name is the example's value of `field` (one template for all language
 *              pairs: `<{srcLang}> {source} … <{tgtLang}> <Translate> {target}`)
 *   {field}    the example's value of `field` (letters, digits, _, starting with a letter or _)
 *   \n \t      newline, tab (so a template fits on one command line);  \\ \< \{ \}  the literal character
 *   A "<" not followed by a name or "{" is plain text ("a < b"); "{" and "}" must always be balanced.
 *
 * Rendering (renderExample) turns a template and one example into token ids and the bookkeeping a
 * forward pass needs. Whitespace rules, chosen so that training and inference see the same tokens:
 *   1. Spaces right before a {field} are tokenized with the field's value: " CCO" gives the
 *      word-initial tokens running text would, and a prompt cut before {output} does not end in a
 *      lone space token (generation then starts with a word-initial token, as the model expects).
 *   2. Spaces right before a <Tag> are dropped: they could only become a lone space token, and a
 *      tag is not text. Spaces after a tag stay: they mark the start of the next word.
 *   3. Each text piece and field value is tokenized separately, as a continuation of running text
 *      (no BOS, no SentencePiece dummy space; see segment-encode.ts), so piece boundaries are the
 *      same in training and at inference. The first piece of a sequence that starts with text is
 *      tokenized as the start of a text (with the dummy space where the tokenizer adds one).
 */
import type { Tokenizer } from '../model/tokenizer-api';
import { encodeContinuation } from './segment-encode';
import type { Tag } from './tag';

export { injectIndex, packInjected, type PackedTags } from './inject';

export type TemplateSegment =
  | { kind: 'text'; text: string }
  | { kind: 'tag'; name: string }
  | { kind: 'tagFromField'; field: string }
  | { kind: 'field'; name: string };

export interface Template {
  source: string;
  segments: TemplateSegment[];
  /** Tag names written literally, in order of first use. */
  tags: string[];
  /** Fields the template reads (slots and <{field}> tags), in order of first use. */
  fields: string[];
}

/** A malformed template; `line` and `column` (1-based) point at the problem. */
export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`Template, line ${line}, column ${column}: ${message}`);
  }
}

const NAME_START = /[A-Za-z_]/;
const TAG_CHAR = /[A-Za-z0-9_-]/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', '<': '<', '{': '{', '}': '}' };

export function parseTemplate(source: string): Template {
  const segments: TemplateSegment[] = [];
  let text = '';
  const flush = () => {
    if (text) segments.push({ kind: 'text', text });
    text = '';
  };
  const fail = (at: number, msg: string): never => {
    const before = source.slice(0, at);
    const line = before.split('\n').length;
    throw new TemplateError(msg, line, at - before.lastIndexOf('\n'));
  };
  /** Reads "{name}" starting at the "{" at `at`; returns the name and the index after "}". */
  const readField = (at: number): [string, number] => {
    let j = at + 1;
    while (j < source.length && source[j] !== '}' && source[j] !== '{' && source[j] !== '\n') j++;
    if (source[j] !== '}') fail(at, 'this "{" is never closed; write \\{ for a literal brace.');
    const name = source.slice(at + 1, j);
    if (name === '') fail(at, 'empty field "{}": write a field name such as {input}, or \\{\\} for literal braces.');
    if (!FIELD.test(name)) fail(at, `"{${name}}" is not a valid field name: use letters, digits and _, starting with a letter or _.`);
    return [name, j + 1];
  };

  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\' && i + 1 < source.length && ESCAPES[source[i + 1]] !== undefined) {
      text += ESCAPES[source[i + 1]];
      i += 2;
    } else if (c === '{') {
      const [name, next] = readField(i);
      flush();
      segments.push({ kind: 'field', name });
      i = next;
    } else if (c === '}') {
      fail(i, 'this "}" closes nothing; write \\} for a literal brace.');
    } else if (c === '<' && source[i + 1] === '{') {
      const [field, next] = readField(i + 1);
      if (source[next] !== '>') fail(i, `"<{${field}}" must be followed by ">" (a tag named by the field's value).`);
      flush();
      segments.push({ kind: 'tagFromField', field });
      i = next + 1;
    } else if (c === '<' && i + 1 < source.length && NAME_START.test(source[i + 1])) {
      let j = i + 1;
      while (j < source.length && TAG_CHAR.test(source[j])) j++;
      if (source[j] !== '>') {
        const shown = source.slice(i, Math.min(source.length, j + 1));
        fail(i, `"${shown}…" is not a tag reference: tag names are letters, digits, _ or -, closed by ">"; write \\< for a literal <.`);
      }
      flush();
      segments.push({ kind: 'tag', name: source.slice(i + 1, j) });
      i = j + 1;
    } else {
      text += c;
      i++;
    }
  }
  flush();
  const tags = [...new Set(segments.flatMap((s) => (s.kind === 'tag' ? [s.name] : [])))];
  const fields = [
    ...new Set(segments.flatMap((s) => (s.kind === 'field' ? [s.name] : s.kind === 'tagFromField' ? [s.field] : []))),
  ];
  return { source, segments, tags, fields };
}

export interface RenderContext {
  tokenizer: Tokenizer;
  /** The tag library, by name. */
  tags: Map<string, Tag>;
  /** Prepend BOS (default: whenever the tokenizer has one). */
  bos?: boolean;
  /** Append EOS after the last piece (default false); not added when rendering stops at an omitted field. */
  eos?: boolean;
  /** Write the values of `spacedFields` with a space between residues (proteins: one token per residue). */
  spaceResidues?: boolean;
  /** Fields spaced by spaceResidues (default ['input']). */
  spacedFields?: string[];
  /** Rendering stops right before the first of these fields (e.g. ['output'] at inference). */
  omitFields?: string[];
  /** Isolation mask: a domain tag followed directly by a field, and that field's tokens, attend only from the tag on. */
  isolate?: boolean;
}

export interface RenderedExample {
  ids: number[]; // [T] token ids; placeholder 0 at tag positions
  /** One entry per tag row: its position, the tag's name, and which of its p rows it is. */
  tagAt: Array<{ pos: number; tag: string; row: number }>;
  /** [T] the field each token came from; null for template text, tags, BOS (and EOS after a non-field). */
  field: Array<string | null>;
  /** [T] first position each token may attend to (ForwardInput.start): 0, or a domain tag's first position under isolation. */
  start: number[];
  /** Position of the last row of the last function tag: the head reads the final hidden state there. */
  functionTagLastPos: number | null;
}

type Piece =
  | { kind: 'text'; text: string; field: string | null }
  | { kind: 'tag'; tag: Tag };

export function renderExample(template: Template | string, example: Record<string, string>, ctx: RenderContext): RenderedExample {
  const t = typeof template === 'string' ? parseTemplate(template) : template;
  const { pieces, complete } = layout(t, example, ctx);
  const tok = ctx.tokenizer;
  const out: RenderedExample = { ids: [], tagAt: [], field: [], start: [], functionTagLastPos: null };
  const push = (id: number, field: string | null, start: number) => {
    out.ids.push(id);
    out.field.push(field);
    out.start.push(start);
  };
  const bos = ctx.bos ?? tok.bosId !== null;
  if (bos) {
    if (tok.bosId === null) throw new Error('bos was asked for, but this tokenizer has no BOS token.');
    push(tok.bosId, null, 0);
  }

  let isolateFrom = -1; // first position of the domain tag whose span is being rendered, or −1
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k];
    if (piece.kind === 'tag') {
      const tag = piece.tag;
      const first = out.ids.length;
      // A domain tag's span is the tag plus the field piece right after it.
      const next = pieces[k + 1];
      isolateFrom = ctx.isolate && tag.kind === 'domain' ? first : -1;
      const start = isolateFrom >= 0 ? isolateFrom : 0;
      for (let r = 0; r < tag.p; r++) {
        out.tagAt.push({ pos: out.ids.length, tag: tag.name, row: r });
        push(0, null, start);
      }
      if (tag.kind === 'function') out.functionTagLastPos = out.ids.length - 1;
      if (!(next?.kind === 'text' && next.field !== null)) isolateFrom = -1;
      continue;
    }
    // The very first piece of a text-first sequence starts a text; all others continue one.
    // Field values are data: special-token strings in them ("</s>") stay text.
    const special = piece.field === null;
    const ids = out.ids.length === (bos ? 1 : 0) ? tok.encode(piece.text, { bos: false, special }) : encodeContinuation(tok, piece.text, special);
    const start = isolateFrom >= 0 ? isolateFrom : 0;
    for (const id of ids) push(id, piece.field, start);
    isolateFrom = -1;
  }

  if (ctx.eos && complete) {
    if (tok.eosId === null) throw new Error('eos was asked for, but this tokenizer has no EOS token.');
    const last = pieces[pieces.length - 1];
    push(tok.eosId, last?.kind === 'text' ? last.field : null, 0);
  }
  return out;
}

/**
 * The template resolved against one example: tags looked up, field values filled in, whitespace
 * rules applied, cut before the first omitted field. `complete` = nothing was cut.
 */
function layout(t: Template, example: Record<string, string>, ctx: RenderContext): { pieces: Piece[]; complete: boolean } {
  const omit = new Set(ctx.omitFields ?? []);
  const spaced = new Set(ctx.spaceResidues ? (ctx.spacedFields ?? ['input']) : []);
  const raw = (field: string): string => {
    const v: unknown = example[field];
    if (v === undefined || v === null) {
      const have = Object.keys(example);
      throw new Error(`The example has no value for field {${field}} (it has: ${have.length ? have.map((f) => `{${f}}`).join(', ') : 'no fields'}).`);
    }
    return String(v);
  };
  const lookup = (name: string, via?: string): Tag => {
    const tag = ctx.tags.get(name);
    if (!tag) {
      const known = [...ctx.tags.keys()].map((n) => `<${n}>`).join(', ') || 'none';
      const how = via ? ` (the value of {${via}})` : '';
      throw new Error(`Template uses <${name}>${how}, which is not in the tag library (known: ${known}).`);
    }
    return tag;
  };

  const pieces: Piece[] = [];
  const segs = t.segments;
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k];
    const needs = s.kind === 'field' ? s.name : s.kind === 'tagFromField' ? s.field : null;
    if (needs !== null && omit.has(needs)) return { pieces, complete: false };
    if (s.kind === 'tag') pieces.push({ kind: 'tag', tag: lookup(s.name) });
    else if (s.kind === 'tagFromField') pieces.push({ kind: 'tag', tag: lookup(raw(s.field), s.field) });
    else if (s.kind === 'field') {
      const v = spaced.has(s.name) ? spaceOut(raw(s.name)) : raw(s.name);
      // Rule 1: the spaces before a field travel with its value (and vanish with an empty value).
      const prev = segs[k - 1];
      const lead = prev?.kind === 'text' ? / *$/.exec(prev.text)![0] : '';
      if (v !== '') pieces.push({ kind: 'text', text: lead + v, field: s.name });
    } else {
      let text = s.text;
      const next = segs[k + 1];
      if (next?.kind === 'field') text = text.replace(/ +$/, ''); // rule 1: moved into the field
      else if (next?.kind === 'tag' || next?.kind === 'tagFromField') text = text.replace(/ +$/, ''); // rule 2
      if (text !== '') pieces.push({ kind: 'text', text, field: null });
    }
  }
  return { pieces, complete: true };
}

/** "MKV" → "M K V": one residue per token. Whitespace already in the value is ignored. */
function spaceOut(v: string): string {
  return [...v.replace(/\s+/g, '')].join(' ');
}
