/**
 * Converters that turn the tokenizers stored inside model files into Hugging Face tokenizer.json
 * objects (plus a tokenizer_config object), so one implementation (transformers.js) runs them all:
 *
 * - GGUF `tokenizer.ggml.model == "llama"` and llama2.c `tokenizer.bin`: SentencePiece BPE. The HF
 *   equivalent is a BPE model with byte_fallback whose merges are derived from the vocabulary and
 *   scores: every split of a piece into two vocabulary pieces is a merge, ranked by the score of the
 *   merged piece (higher first), which is the order SentencePiece's BPE applies them in. A normalizer
 *   prepends "▁" and turns spaces into "▁"; the decoder undoes it.
 * - GGUF `tokenizer.ggml.model == "gpt2"`: byte-level BPE with llama.cpp's pre-tokenizer regexes
 *   (chosen by `tokenizer.ggml.pre`).
 *
 * The semantics follow llama.cpp (the reference for GGUF files): no Unicode normalization for
 * byte-level models, user-defined tokens always matched in text, BOS added per add_bos_token.
 */
import { ModelFormatError } from './types';

/** A tokenizer.json object (the subset of fields this project writes and reads). */
export interface HfTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string | null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
  post_processor: unknown;
  decoder: unknown;
}

export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A converted tokenizer: tokenizer.json, tokenizer_config, and what the engine needs to know. */
export interface ConvertedTokenizer {
  json: HfTokenizerJson;
  config: Record<string, unknown>;
  /** The full id → piece table (duplicates kept, unlike the vocab object). */
  tokens: string[];
  bosId: number | null;
  eosId: number | null;
  /** Whether the model expects BOS at the start of a prompt. */
  addBos: boolean;
}

/** llama.cpp / GGUF token types. */
export const TokenType = {
  Undefined: 0,
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;

const SPIECE_SPACE = '\u2581';
const BYTE_TOKEN_RE = /^<0x[0-9A-Fa-f]{2}>$/;

function addedToken(id: number, content: string, special: boolean): HfAddedToken {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/**
 * A vocab object without a prototype, so pieces such as "__proto__" or "constructor" are plain keys.
 * The last id wins when pieces repeat, as in llama.cpp (text → id) and in a JSON object with repeated keys.
 */
function vocabObject(tokens: readonly string[]): Record<string, number> {
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((t, i) => {
    vocab[t] = i;
  });
  return vocab;
}

function bosPostProcessor(bos: string | null, bosId: number | null): unknown {
  if (bos === null || bosId === null) return null;
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

function validId(id: unknown, n: number): number | null {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < n ? id : null;
}

// ---------------------------------------------------------------------------------------------
// SentencePiece BPE (GGUF "llama", llama2.c)

export interface SpmSpec {
  /** Pieces with "▁" for spaces; byte pieces as <0xNN>. */
  tokens: readonly string[];
  scores: ArrayLike<number>;
  /** llama.cpp token types; when absent every piece is normal except <0xNN> pieces (bytes). */
  types?: ArrayLike<number>;
  unkId: number | null;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean;
  /** Prepend "▁" to the text (SentencePiece's add_dummy_prefix). */
  addSpacePrefix: boolean;
  name: string;
  chatTemplate?: string;
}

/**
 * Merges from vocabulary + scores: every split of a mergeable piece into two pieces of the vocabulary,
 * ranked by the merged piece's score (higher first), then its id, then the split position.
 */
export function spmMerges(tokens: readonly string[], scores: ArrayLike<number>, mergeable: (id: number) => boolean): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (mergeable(i)) ids.set(t, i); // last wins, as in the vocab
  });
  const found: { left: string; right: string; id: number; score: number; split: number }[] = [];
  tokens.forEach((t, id) => {
    if (!mergeable(id) || ids.get(t) !== id) return;
    const cps = Array.from(t);
    if (cps.length < 2) return;
    let left = '';
    for (let k = 1; k < cps.length; k++) {
      left += cps[k - 1];
      const right = t.slice(left.length);
      if (ids.has(left) && ids.has(right)) found.push({ left, right, id, score: scores[id] ?? 0, split: k });
    }
  });
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.split - b.split);
  return found.map((m) => [m.left, m.right]);
}

export function spmTokenizerJson(spec: SpmSpec): ConvertedTokenizer {
  const { tokens, scores } = spec;
  const n = tokens.length;
  if (scores.length !== n) {
    throw new ModelFormatError(`${spec.name}: the tokenizer has ${n} tokens but ${scores.length} scores.`);
  }
  const typeOf = (i: number): number => {
    const t = spec.types?.[i];
    if (t !== undefined && t !== TokenType.Undefined) return t;
    if (BYTE_TOKEN_RE.test(tokens[i])) return TokenType.Byte;
    if (i === spec.unkId) return TokenType.Unknown;
    if (i === spec.bosId || i === spec.eosId) return TokenType.Control;
    return TokenType.Normal;
  };
  // SentencePiece matches normal, user-defined and unused pieces against text; never control,
  // unknown or byte pieces (bytes only come from byte fallback).
  const mergeable = (i: number): boolean => {
    const t = typeOf(i);
    return t === TokenType.Normal || t === TokenType.UserDefined || t === TokenType.Unused;
  };
  const added: HfAddedToken[] = [];
  tokens.forEach((t, i) => {
    const ty = typeOf(i);
    if (ty === TokenType.Control || ty === TokenType.Unknown) added.push(addedToken(i, t, true));
    else if (ty === TokenType.UserDefined) added.push(addedToken(i, t, false));
  });
  const unk = spec.unkId !== null ? tokens[spec.unkId] : null;
  const bos = spec.bosId !== null ? tokens[spec.bosId] : null;
  const eos = spec.eosId !== null ? tokens[spec.eosId] : null;
  const normalizers: unknown[] = [];
  if (spec.addSpacePrefix) normalizers.push({ type: 'Prepend', prepend: SPIECE_SPACE });
  normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: SPIECE_SPACE });
  const decoders: unknown[] = [
    { type: 'Replace', pattern: { String: SPIECE_SPACE }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (spec.addSpacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  const json: HfTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabObject(tokens),
      merges: spmMerges(tokens, scores, mergeable),
    },
    post_processor: spec.addBos ? bosPostProcessor(bos, spec.bosId) : null,
    decoder: { type: 'Sequence', decoders },
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'LlamaTokenizer',
    bos_token: bos,
    eos_token: eos,
    unk_token: unk,
    add_bos_token: spec.addBos,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    legacy: false,
  };
  if (spec.chatTemplate) config.chat_template = spec.chatTemplate;
  return { json, config, tokens: [...tokens], bosId: spec.bosId, eosId: spec.eosId, addBos: spec.addBos };
}

// ---------------------------------------------------------------------------------------------
// llama2.c tokenizer.bin

/**
 * llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length, bytes.
 * Pieces use real spaces; ids 0, 1, 2 are <unk>, <s>, </s> (stored as "<unk>", "\n<s>\n", "\n</s>\n")
 * and 3..258 the byte pieces <0x00>..<0xFF>.
 */
export function parseLlama2cTokenizer(data: Uint8Array, vocabSize: number, name = 'tokenizer.bin'): { tokens: string[]; scores: Float32Array } {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) {
    throw new ModelFormatError(`${name}: invalid vocabulary size ${vocabSize}.`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder('utf-8');
  if (data.length < 4) throw new ModelFormatError(`${name}: too short to be a llama2.c tokenizer (${data.length} bytes).`);
  const maxLen = view.getInt32(0, true);
  if (maxLen <= 0 || maxLen > 1 << 16) throw new ModelFormatError(`${name}: not a llama2.c tokenizer (max_token_length ${maxLen}).`);
  const tokens: string[] = [];
  const scores = new Float32Array(vocabSize);
  let o = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (o + 8 > data.length) {
      throw new ModelFormatError(`${name}: ends after ${i} tokens but the model has a vocabulary of ${vocabSize}.`);
    }
    scores[i] = view.getFloat32(o, true);
    const len = view.getInt32(o + 4, true);
    o += 8;
    if (len < 0 || len > maxLen || o + len > data.length) {
      throw new ModelFormatError(`${name}: token ${i} has an invalid length ${len} at byte ${o - 4}.`);
    }
    tokens.push(dec.decode(data.subarray(o, o + len)));
    o += len;
  }
  return { tokens, scores };
}

export function llama2cTokenizerJson(data: Uint8Array, vocabSize: number, name = 'tokenizer.bin'): ConvertedTokenizer {
  const { tokens: raw, scores } = parseLlama2cTokenizer(data, vocabSize, name);
  const special: Record<number, string> = { 0: '<unk>', 1: '<s>', 2: '</s>' };
  const types = new Uint8Array(raw.length);
  const tokens = raw.map((t, i) => {
    if (i in special) {
      types[i] = i === 0 ? TokenType.Unknown : TokenType.Control;
      return special[i];
    }
    if (BYTE_TOKEN_RE.test(t)) {
      types[i] = TokenType.Byte;
      return t;
    }
    types[i] = TokenType.Normal;
    return t.replaceAll(' ', SPIECE_SPACE);
  });
  return spmTokenizerJson({
    tokens,
    scores,
    types,
    unkId: 0,
    bosId: raw.length > 1 ? 1 : null,
    eosId: raw.length > 2 ? 2 : null,
    addBos: true,
    addSpacePrefix: true,
    name,
  });
}

// ---------------------------------------------------------------------------------------------
// GGUF

/** llama.cpp's pre-tokenizer regexes, applied in turn (each splits the pieces of the previous one). */
const GPT2_RE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3_RE =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_RE =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreTokenizerSpec {
  regexes: string[];
  ignoreMerges: boolean;
  /** llama.cpp's default add_bos for this pre-tokenizer when the file does not say. */
  addBos: boolean;
}

const PRE_TOKENIZERS = new Map<string, PreTokenizerSpec>();
function definePre(names: string[], spec: PreTokenizerSpec): void {
  for (const n of names) PRE_TOKENIZERS.set(n, spec);
}
definePre(['default'], {
  regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_RE, '\\p{N}+', '[0-9][0-9][0-9]'],
  ignoreMerges: false,
  addBos: false,
});
definePre(
  ['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'jina-es', 'jina-de', 'jina-v2-es', 'jina-v2-de', 'jina-v1-en', 'jina-v2-code', 'roberta-bpe', 'gigachat', 'exaone4', 'trillion'],
  { regexes: [GPT2_RE], ignoreMerges: false, addBos: false },
);
definePre(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'lfm2'], { regexes: [LLAMA3_RE], ignoreMerges: true, addBos: true });
definePre(['dbrx', 'smaug-bpe'], { regexes: [LLAMA3_RE], ignoreMerges: false, addBos: false });
definePre(['qwen2', 'deepseek-r1-qwen', 'stablelm2', 'megrez'], { regexes: [QWEN2_RE], ignoreMerges: false, addBos: false });
definePre(['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b'], {
  regexes: ['\\p{N}', GPT2_RE],
  ignoreMerges: false,
  addBos: false,
});
definePre(['falcon'], { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2_RE, '[0-9][0-9][0-9]'], ignoreMerges: false, addBos: false });

export const SUPPORTED_GGUF_PRE_TOKENIZERS: readonly string[] = [...PRE_TOKENIZERS.keys()];

function strArray(md: Record<string, unknown>, key: string, name: string): string[] {
  const v = md[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ModelFormatError(`${name}: metadata "${key}" should be an array of strings.`);
  }
  return v as string[];
}

function numArray(md: Record<string, unknown>, key: string, name: string, n: number): ArrayLike<number> | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  const ok = (Array.isArray(v) && v.every((x) => typeof x === 'number')) || ArrayBuffer.isView(v);
  if (!ok || (v as ArrayLike<number>).length !== n) {
    throw new ModelFormatError(`${name}: metadata "${key}" should be an array of ${n} numbers.`);
  }
  return v as ArrayLike<number>;
}

function optNum(md: Record<string, unknown>, key: string): number | undefined {
  const v = md[key];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

function optBool(md: Record<string, unknown>, key: string): boolean | undefined {
  const v = md[key];
  return typeof v === 'boolean' ? v : undefined;
}

/** tokenizer.json (and config) from GGUF metadata; throws ModelFormatError for unsupported tokenizers. */
export function ggufTokenizerJson(md: Record<string, unknown>, name = 'GGUF'): ConvertedTokenizer {
  const model = md['tokenizer.ggml.model'];
  if (typeof model !== 'string') {
    throw new ModelFormatError(`${name} has no tokenizer (metadata "tokenizer.ggml.model" is missing).`);
  }
  if (model !== 'llama' && model !== 'gpt2') {
    throw new ModelFormatError(
      `${name}: tokenizer type "${model}" is not supported (supported: "llama" SentencePiece BPE, "gpt2" byte-level BPE).`,
    );
  }
  // llama.cpp names empty pieces so that each id keeps a distinct text.
  const tokens = strArray(md, 'tokenizer.ggml.tokens', name).map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
  const n = tokens.length;
  const types = numArray(md, 'tokenizer.ggml.token_type', name, n);
  const chatTemplate = typeof md['tokenizer.chat_template'] === 'string' ? (md['tokenizer.chat_template'] as string) : undefined;
  let unkId = validId(optNum(md, 'tokenizer.ggml.unknown_token_id'), n);
  let bosId = validId(optNum(md, 'tokenizer.ggml.bos_token_id'), n);
  let eosId = validId(optNum(md, 'tokenizer.ggml.eos_token_id'), n);

  if (model === 'llama') {
    const scores = numArray(md, 'tokenizer.ggml.scores', name, n);
    if (!scores) throw new ModelFormatError(`${name}: a SentencePiece tokenizer needs "tokenizer.ggml.scores".`);
    // llama.cpp's defaults for SentencePiece vocabularies.
    if (md['tokenizer.ggml.unknown_token_id'] === undefined) unkId = validId(0, n);
    if (md['tokenizer.ggml.bos_token_id'] === undefined) bosId = validId(1, n);
    if (md['tokenizer.ggml.eos_token_id'] === undefined) eosId = validId(2, n);
    return spmTokenizerJson({
      tokens,
      scores,
      types,
      unkId,
      bosId,
      eosId,
      addBos: optBool(md, 'tokenizer.ggml.add_bos_token') ?? true,
      addSpacePrefix: optBool(md, 'tokenizer.ggml.add_space_prefix') ?? true,
      name,
      chatTemplate,
    });
  }

  // gpt2: byte-level BPE.
  const pre = typeof md['tokenizer.ggml.pre'] === 'string' ? (md['tokenizer.ggml.pre'] as string) : 'default';
  const preSpec = PRE_TOKENIZERS.get(pre);
  if (!preSpec) {
    throw new ModelFormatError(
      `${name}: byte-level BPE pre-tokenizer "${pre}" is not supported (supported: ${SUPPORTED_GGUF_PRE_TOKENIZERS.join(', ')}).`,
    );
  }
  const mergesRaw = strArray(md, 'tokenizer.ggml.merges', name);
  const merges: [string, string][] = mergesRaw.map((m, i) => {
    const sp = m.indexOf(' ', 1);
    if (sp < 0) throw new ModelFormatError(`${name}: merge ${i} ("${m}") is not two pieces separated by a space.`);
    return [m.slice(0, sp), m.slice(sp + 1)];
  });
  const added: HfAddedToken[] = [];
  if (types) {
    tokens.forEach((t, i) => {
      if (types[i] === TokenType.Control || types[i] === TokenType.Unknown) added.push(addedToken(i, t, true));
      else if (types[i] === TokenType.UserDefined) added.push(addedToken(i, t, false));
    });
  }
  const addBos = optBool(md, 'tokenizer.ggml.add_bos_token') ?? preSpec.addBos;
  const bos = bosId !== null ? tokens[bosId] : null;
  const eos = eosId !== null ? tokens[eosId] : null;
  const json: HfTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...preSpec.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null, // every byte has a piece
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: preSpec.ignoreMerges,
      vocab: vocabObject(tokens),
      merges,
    },
    post_processor: addBos ? bosPostProcessor(bos, bosId) : null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos,
    eos_token: eos,
    add_bos_token: addBos,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
  if (chatTemplate) config.chat_template = chatTemplate;
  return { json, config, tokens: [...tokens], bosId, eosId, addBos };
}
