/**
 * Tokenizers for every model source, all run by transformers.js (`PreTrainedTokenizer` over a
 * tokenizer.json object): Hugging Face tokenizer.json as is, GGUF and llama2.c vocabularies through
 * the converters in ./tokenizer-convert. Plus a streaming detokenizer for generation.
 *
 * `@huggingface/transformers` is imported lazily (dynamic import) the first time a tokenizer is built,
 * so the browser bundle keeps it (and the ONNX Runtime it carries) in a separate chunk. In Node its
 * root module loads onnxruntime-node's native binding on import; should that fail (a platform
 * without the prebuilt binary), tokenizers fall back to `@huggingface/tokenizers`, the pure-JS core
 * that PreTrainedTokenizer wraps (same results; only `fromPretrained` with a hub repo id needs
 * transformers itself).
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Tokenizer } from './tokenizer-api';
import { ModelFormatError, type TokenizerSource } from './types';
import { ggufTokenizerJson, llama2cTokenizerJson } from './tokenizer-convert';

export type { Tokenizer } from './tokenizer-api';

export interface BuildTokenizerOptions {
  /**
   * BOS id to prepend on `encode(text, { bos: true })`; undefined = the tokenizer's own. Ignored
   * (BOS is null) when the tokenizer says the model takes no BOS (add_bos_token false), unless `addBos` is true.
   */
  bosId?: number | null;
  eosId?: number | null;
  /** Force whether the model takes a BOS (default: what the tokenizer files say). */
  addBos?: boolean;
}

type TransformersModule = typeof import('@huggingface/transformers');
let transformersModule: Promise<TransformersModule> | null = null;

/** The transformers.js module, imported once on first use. */
export function loadTransformers(): Promise<TransformersModule> {
  transformersModule ??= import('@huggingface/transformers').catch((e: unknown) => {
    transformersModule = null;
    throw e;
  });
  return transformersModule;
}

/** What HfTokenizer needs of a Hugging Face tokenizer: PreTrainedTokenizer's methods of the same names. */
export interface HfCore {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
  decode(ids: number[], opts: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  get_vocab(): Map<string, number>;
  readonly all_special_ids: number[];
}

/** Which library runs tokenizers: transformers.js (default, falling back to the core if it fails to import) or the core alone. */
export type TokenizerBackend = 'transformers' | 'tokenizers';
let backendChoice: TokenizerBackend = 'transformers';
let warnedFallback = false;

/** Chooses the library that runs tokenizers built from now on. */
export function setTokenizerBackend(b: TokenizerBackend): void {
  backendChoice = b;
}

interface Made {
  core: HfCore;
  /** transformers.js's object, when it made this tokenizer (chat templates and the like). */
  pretrained: PreTrainedTokenizer | null;
  /** The core's id → piece table, which decoding reads. */
  modelVocab: unknown;
}

async function makeCore(json: object, config: object): Promise<Made> {
  if (backendChoice === 'transformers') {
    let mod: TransformersModule | null = null;
    try {
      mod = await loadTransformers();
    } catch (e) {
      if (!warnedFallback) {
        warnedFallback = true;
        console.warn(`@huggingface/transformers failed to load (${(e as Error).message}); tokenizers run on @huggingface/tokenizers.`);
      }
    }
    if (mod) {
      const pt = new mod.PreTrainedTokenizer(json, config);
      const internal = (pt as unknown as { _tokenizer?: { model?: { vocab?: unknown } } })._tokenizer;
      return { core: pt as unknown as HfCore, pretrained: pt, modelVocab: internal?.model?.vocab };
    }
  }
  const { Tokenizer: Core } = await import('@huggingface/tokenizers');
  const t = new Core(json, config);
  const special = [...t.get_added_tokens_decoder().values()].filter((a) => a.special).map((a) => a.id);
  return {
    core: {
      encode: (text, o) => t.encode(text, o).ids,
      decode: (ids, o) => t.decode(ids, o),
      get_vocab: () => t.get_vocab(),
      all_special_ids: special,
    },
    pretrained: null,
    modelVocab: (t.model as { vocab?: unknown } | null)?.vocab,
  };
}

/** A Tokenizer backed by a Hugging Face tokenizer (transformers.js PreTrainedTokenizer). */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** transformers.js's tokenizer object (null when running on @huggingface/tokenizers alone). */
  readonly hf: PreTrainedTokenizer | null;
  private readonly core: HfCore;
  private readonly pieces: string[];
  private readonly special: Set<number>;
  private readonly validIds: (id: number) => boolean;
  /** Texts of the special tokens, longest first (split off data text so they stay text). */
  private readonly specialTexts: string[];
  private newlineIds: number[] | null = null;

  constructor(
    made: Made,
    readonly json: unknown,
    readonly config: Record<string, unknown>,
    readonly bosId: number | null,
    readonly eosId: number | null,
    pieces?: readonly string[],
  ) {
    this.core = made.core;
    this.hf = made.pretrained;
    this.special = new Set(made.core.all_special_ids);
    const table: string[] = [];
    for (const [t, id] of made.core.get_vocab()) if (Number.isInteger(id) && id >= 0) table[id] = t;
    // Pieces that share their text with another id are missing from the vocab map: restore them
    // (here and in the core's id → piece table, which decoding reads).
    if (pieces) {
      const internal = made.modelVocab;
      pieces.forEach((p, id) => {
        if (table[id] === undefined) {
          table[id] = p;
          if (Array.isArray(internal) && internal[id] === undefined) internal[id] = p;
        }
      });
    }
    this.pieces = table;
    this.vocabSize = table.length;
    this.validIds = (id) => Number.isInteger(id) && id >= 0 && id < table.length && table[id] !== undefined;
    const specials = new Set<string>();
    for (const id of this.special) if (table[id]) specials.add(table[id]);
    for (const id of [bosId, eosId]) if (id !== null && table[id]) specials.add(table[id]);
    // One-character specials cannot be cut inside; no real vocabulary has them.
    this.specialTexts = [...specials].filter((t) => t.length > 1).sort((a, b) => b.length - a.length);
  }

  encode(text: string, opts: { bos?: boolean; special?: boolean } = {}): number[] {
    const ids = text === '' ? [] : opts.special === false ? this.encodePlain(text) : this.core.encode(text, { add_special_tokens: false });
    return opts.bos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  /**
   * Encodes text in which special-token strings are plain characters. The libraries offer no switch
   * for this, so the text is cut right after the first character of each occurrence ("<" | "/s>")
   * and the pieces after a cut are encoded as continuations (see continuation()).
   */
  private encodePlain(text: string): number[] {
    const cuts: number[] = [];
    for (let from = 0; from < text.length; ) {
      let at = -1;
      let len = 0;
      for (const s of this.specialTexts) {
        const i = text.indexOf(s, from);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          len = s.length;
        }
      }
      if (at < 0) break;
      cuts.push(at + 1);
      from = at + len;
    }
    const enc = (t: string) => this.core.encode(t, { add_special_tokens: false });
    if (cuts.length === 0) return enc(text);
    const out = enc(text.slice(0, cuts[0]));
    // A loop, not push(...ids): a long data text has more ids than a call can take as arguments.
    cuts.forEach((c, i) => {
      for (const id of this.continuation(text.slice(c, cuts[i + 1] ?? text.length))) out.push(id);
    });
    return out;
  }

  /**
   * Ids of text as it is tokenized mid-sentence: SentencePiece would prepend "▁" to a piece encoded
   * alone, so "\n" + text is encoded and the ids of "\n" dropped (a newline never merges onward).
   */
  private continuation(text: string): number[] {
    if (text === '') return [];
    const enc = (t: string) => this.core.encode(t, { add_special_tokens: false });
    this.newlineIds ??= enc('\n');
    const probe = this.newlineIds;
    const ids = enc('\n' + text);
    if (ids.length > probe.length && probe.every((id, i) => ids[i] === id)) return ids.slice(probe.length);
    return enc(text);
  }

  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    // Ids beyond the vocabulary (the embedding table may be padded past it) decode to nothing.
    const known = ids.filter(this.validIds);
    if (known.length === 0) return '';
    return this.core.decode(known, { skip_special_tokens: opts.skipSpecial ?? false, clean_up_tokenization_spaces: false });
  }

  idToToken(id: number): string {
    return this.validIds(id) ? this.pieces[id] : `[${id}]`;
  }

  /** Whether `id` is a special (control) token. */
  isSpecial(id: number): boolean {
    return this.special.has(id);
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw new ModelFormatError(`${what} does not parse as JSON (${(e as Error).message}).`);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(`${what} should be a JSON object.`);
  return v as Record<string, unknown>;
}

/** The content of a token entry in tokenizer_config.json: a string or an AddedToken object. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

const TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** tokenizer_config with its special tokens as plain strings (transformers.js rejects AddedToken objects lacking "__type"). */
function normalizeConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out = { ...config };
  for (const k of TOKEN_KEYS) {
    if (out[k] !== null && typeof out[k] === 'object') out[k] = tokenContent(out[k]);
  }
  if (Array.isArray(out.additional_special_tokens)) out.additional_special_tokens = out.additional_special_tokens.map((t) => tokenContent(t) ?? t);
  return out;
}

/** Ids of the special tokens a TemplateProcessing post-processor puts before the sequence. */
function templateBosIds(json: Record<string, unknown>, vocab: Map<string, number>): number[] {
  const pp = json.post_processor as { type?: string; single?: unknown[]; processors?: unknown[] } | null | undefined;
  const procs = pp?.type === 'Sequence' ? (pp.processors ?? []) : [pp];
  for (const p of procs as { type?: string; single?: unknown[] }[]) {
    if (p?.type !== 'TemplateProcessing' || !Array.isArray(p.single)) continue;
    const ids: number[] = [];
    for (const piece of p.single as { SpecialToken?: { id: string }; Sequence?: unknown }[]) {
      if (piece.Sequence) break;
      const id = piece.SpecialToken ? vocab.get(piece.SpecialToken.id) : undefined;
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }
  return [];
}

/** tokenizer.json model types transformers.js implements. */
export const SUPPORTED_HF_MODELS: readonly string[] = ['BPE', 'WordPiece', 'Unigram'];

const GUESSED_EOS = ['</s>', '<|endoftext|>', '<|end_of_text|>', '<|eot_id|>', '<|im_end|>', '<eos>'];

async function fromHfJson(
  jsonIn: unknown,
  configIn: unknown,
  opts: BuildTokenizerOptions,
  pieces?: readonly string[],
  defaults?: { bosId: number | null; eosId: number | null; addBos: boolean },
): Promise<HfTokenizer> {
  const json = asObject(jsonIn, 'tokenizer.json');
  const config = configIn === undefined || configIn === null ? {} : normalizeConfig(asObject(configIn, 'tokenizer_config.json'));
  if (!json.model || typeof json.model !== 'object') throw new ModelFormatError('tokenizer.json has no "model".');
  const modelType = (json.model as { type?: unknown }).type;
  if (modelType !== undefined && !SUPPORTED_HF_MODELS.includes(modelType as string)) {
    throw new ModelFormatError(
      `tokenizer.json: model type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_HF_MODELS.join(', ')}).`,
    );
  }
  // transformers.js wants every top-level key present.
  const full = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
  let made: Made;
  try {
    made = await makeCore(full, config);
  } catch (e) {
    const type = (json.model as { type?: unknown }).type;
    throw new ModelFormatError(`tokenizer.json (model type ${JSON.stringify(type ?? null)}) is not supported: ${(e as Error).message}`);
  }
  const vocab = made.core.get_vocab();
  const idOf = (t: string | null): number | null => (t === null ? null : (vocab.get(t) ?? null));

  let bosId: number | null;
  let eosId: number | null;
  let addBos: boolean;
  if (defaults) {
    ({ bosId, eosId, addBos } = defaults);
  } else {
    const templ = templateBosIds(json, vocab);
    bosId = idOf(tokenContent(config.bos_token)) ?? templ[0] ?? null;
    eosId = idOf(tokenContent(config.eos_token));
    if (eosId === null && !('eos_token' in config)) eosId = GUESSED_EOS.map((t) => idOf(t)).find((id) => id !== null) ?? null;
    addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : bosId !== null && templ.includes(bosId);
  }
  if (opts.bosId !== undefined) bosId = opts.bosId;
  if (opts.eosId !== undefined) eosId = opts.eosId;
  if (opts.addBos !== undefined) addBos = opts.addBos;
  return new HfTokenizer(made, full, config, addBos ? bosId : null, eosId, pieces);
}

/** Builds the tokenizer of a model from what its files carry. */
export async function buildTokenizer(src: TokenizerSource, opts: BuildTokenizerOptions = {}): Promise<HfTokenizer> {
  switch (src.kind) {
    case 'hf-json':
      return fromHfJson(src.json, src.config, opts);
    case 'gguf': {
      const c = ggufTokenizerJson(src.metadata, 'GGUF');
      return fromHfJson(c.json, c.config, opts, c.tokens, c);
    }
    case 'llama2c': {
      const c = llama2cTokenizerJson(src.data, src.vocabSize);
      return fromHfJson(c.json, c.config, opts, c.tokens, c);
    }
    case 'none':
      throw new ModelFormatError('This model has no tokenizer; give its tokenizer file (tokenizer.json or tokenizer.bin).');
    default:
      throw new ModelFormatError(`Unknown tokenizer source ${JSON.stringify((src as { kind?: unknown }).kind)}.`);
  }
}

export interface FromPretrainedOptions extends BuildTokenizerOptions {
  /** Hub host for repo ids (default https://huggingface.co/; any server with the same /{repo}/resolve/{revision}/ layout). */
  remoteHost?: string;
  revision?: string;
  signal?: AbortSignal;
}

async function fetchJson(url: string, optional: boolean, signal?: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal });
  if (!res.ok) {
    if (optional && res.status === 404) return undefined;
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return res.json();
}

/**
 * A tokenizer from the Hugging Face hub (repo id such as "HuggingFaceTB/SmolLM-135M", through
 * transformers.js's AutoTokenizer) or from a URL: a folder holding tokenizer.json (and optionally
 * tokenizer_config.json), or the tokenizer.json file itself.
 */
export async function fromPretrained(repoOrUrl: string, opts: FromPretrainedOptions = {}): Promise<HfTokenizer> {
  if (/^(https?|blob):/i.test(repoOrUrl)) {
    const isFile = repoOrUrl.startsWith('blob:') || /\.json(\?.*)?$/i.test(repoOrUrl);
    const base = isFile ? repoOrUrl.replace(/[^/]*$/, '') : repoOrUrl.endsWith('/') ? repoOrUrl : `${repoOrUrl}/`;
    const jsonUrl = isFile ? repoOrUrl : `${base}tokenizer.json`;
    const [json, config] = await Promise.all([
      fetchJson(jsonUrl, false, opts.signal),
      repoOrUrl.startsWith('blob:') ? undefined : fetchJson(`${base}tokenizer_config.json`, true, opts.signal).catch(() => undefined),
    ]);
    return fromHfJson(json, config, opts);
  }
  const { AutoTokenizer, env } = await loadTransformers();
  const saved = { remoteHost: env.remoteHost, allowLocalModels: env.allowLocalModels, allowRemoteModels: env.allowRemoteModels };
  try {
    if (opts.remoteHost) env.remoteHost = opts.remoteHost.endsWith('/') ? opts.remoteHost : `${opts.remoteHost}/`;
    // A dev server answers unknown local paths with index.html: never look for hub repos there.
    env.allowLocalModels = false;
    env.allowRemoteModels = true;
    const tok = await AutoTokenizer.from_pretrained(repoOrUrl, { revision: opts.revision ?? 'main' });
    return fromHfJson(tok._tokenizerJSON, tok._tokenizerConfig, opts);
  } finally {
    Object.assign(env, saved);
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming detokenization

export interface Detokenizer {
  /** Adds one generated id; returns the text it completes (may be "" while a UTF-8 character is split over byte tokens). */
  push(id: number): string;
  /** Text still held back (an unfinished byte sequence, as U+FFFD), returned once at the end of a stream. */
  flush(): string;
}

export interface DetokenizerOptions {
  /**
   * Ids already in the sequence before the first push (e.g. the prompt). With them, a first token
   * that starts a word keeps its space; without, the stream reads as `decode(ids)` from the start
   * (SentencePiece's dummy-prefix space dropped).
   */
  prefixIds?: readonly number[];
  skipSpecial?: boolean;
}

/** How many tokens of prefix context the decode window keeps. */
const CONTEXT_TOKENS = 6;

/**
 * Incremental decoding: the concatenation of everything `push` returns equals
 * `decode(prefix + ids).slice(decode(prefix).length)`. It decodes a short window of recent ids and
 * emits the difference, holding back text that ends in an incomplete UTF-8 sequence.
 */
export function createDetokenizer(tok: Tokenizer, opts: DetokenizerOptions = {}): Detokenizer {
  const dec = (ids: readonly number[]): string => tok.decode(ids, { skipSpecial: opts.skipSpecial });
  const prefix = opts.prefixIds ?? [];
  // Enough trailing context that it shows some text (a run of skipped special tokens shows none).
  let start = Math.max(0, prefix.length - CONTEXT_TOKENS);
  while (start > 0 && dec(prefix.slice(start)) === '') start = Math.max(0, start - CONTEXT_TOKENS);
  let ids: number[] = prefix.slice(start);
  // ids[prefixOffset, readOffset) were already emitted and are decoded as context; ids from readOffset are pending.
  let prefixOffset = 0;
  let readOffset = ids.length;
  return {
    push(id: number): string {
      ids.push(id);
      const before = dec(ids.slice(prefixOffset, readOffset));
      const now = dec(ids.slice(prefixOffset));
      if (now.length > before.length && !now.endsWith('\uFFFD')) {
        const text = now.slice(before.length);
        prefixOffset = readOffset;
        readOffset = ids.length;
        if (prefixOffset > 64) {
          ids = ids.slice(prefixOffset);
          readOffset -= prefixOffset;
          prefixOffset = 0;
        }
        return text;
      }
      return '';
    },
    flush(): string {
      if (readOffset === ids.length) return '';
      const before = dec(ids.slice(prefixOffset, readOffset));
      const now = dec(ids.slice(prefixOffset));
      prefixOffset = readOffset = ids.length;
      return now.length > before.length ? now.slice(before.length) : '';
    },
  };
}
