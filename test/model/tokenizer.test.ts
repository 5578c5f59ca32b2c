import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufMetadata } from '../../src/model/gguf';
import { NodeFileSource } from '../../src/model/source-node';
import { buildTokenizer, createDetokenizer, fromPretrained, loadTransformers, setTokenizerBackend, type HfTokenizer } from '../../src/model/tokenizer';
import { ggufTokenizerJson, llama2cTokenizerJson, parseLlama2cTokenizer, spmMerges, SUPPORTED_GGUF_PRE_TOKENIZERS } from '../../src/model/tokenizer-convert';
import { ModelFormatError } from '../../src/model/types';
import { fixturePath, publicPath } from '../helpers/fixtures';

const TOK_DIR = fixturePath('tokenizers/');
const STORIES = publicPath('models/stories260K/');

/** llama.cpp's test vectors: inputs each followed by "\n__ggml_vocab_test__\n"; outputs one line of ids each. */
function readVectors(base: string): { text: string; ids: number[] }[] {
  const inputs = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  expect(inputs.pop()).toBe(''); // the file ends with a separator
  const lines = readFileSync(`${base}.out`, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  expect(lines.length).toBe(inputs.length);
  return inputs.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/\s+/).map(Number) }));
}

async function ggufTokenizer(file: string): Promise<HfTokenizer> {
  return buildTokenizer({ kind: 'gguf', metadata: await readGgufMetadata(new NodeFileSource(TOK_DIR + file)) });
}

/** Everything a detokenizer returns for `ids`, one string per push, plus the flush. */
function stream(tok: HfTokenizer, ids: number[], prefixIds?: number[]): string[] {
  const d = createDetokenizer(tok, { prefixIds });
  const parts = ids.map((id) => d.push(id));
  parts.push(d.flush());
  return parts;
}

/** A byte-level BPE GGUF vocabulary: the 256 byte characters, a few merges, two control tokens. */
function tinyByteLevelMetadata(pre: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const chars: string[] = [];
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(printable ? String.fromCharCode(b) : '');
  }
  let n = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === '') chars[b] = String.fromCharCode(256 + n++);
  const merges = ['Ġ w', 'o r', 'l d', 'Ġw or', 'Ġwor ld', 'H e', 'l l', 'He ll', 'Hell o', '1 2'];
  const tokens = ['<|bos|>', '<|eos|>', ...chars, ...merges.map((m) => m.replace(' ', ''))];
  return {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': pre,
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': tokens.map((_, i) => (i < 2 ? 3 : 1)),
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.bos_token_id': 0,
    'tokenizer.ggml.eos_token_id': 1,
    ...extra,
  };
}

describe('transformers.js import', () => {
  it('loads in Node and exposes PreTrainedTokenizer and AutoTokenizer', async () => {
    const m = await loadTransformers();
    expect(typeof m.PreTrainedTokenizer).toBe('function');
    expect(typeof m.AutoTokenizer.from_pretrained).toBe('function');
  });
});

describe('GGUF SentencePiece (llama) tokenizer', () => {
  let tok: HfTokenizer;
  beforeAll(async () => {
    tok = await ggufTokenizer('ggml-vocab-llama-spm.gguf');
  });

  it("matches every llama.cpp test vector exactly", () => {
    const vectors = readVectors(TOK_DIR + 'ggml-vocab-llama-spm.gguf');
    expect(vectors.length).toBe(46);
    for (const { text, ids } of vectors) expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it('decodes every test vector back to its text', () => {
    for (const { text, ids } of readVectors(TOK_DIR + 'ggml-vocab-llama-spm.gguf')) {
      expect(tok.decode(ids), JSON.stringify(text)).toBe(text);
    }
  });

  it('knows its vocabulary and special tokens', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.hf).not.toBeNull(); // transformers.js's PreTrainedTokenizer runs it
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.idToToken(15043)).toBe('▁Hello');
    expect(tok.idToToken(13)).toBe('<0x0A>');
    expect(tok.idToToken(1)).toBe('<s>');
    expect(tok.idToToken(99999)).toBe('[99999]');
    expect(tok.encode('Hello world', { bos: true })).toEqual([1, 15043, 3186]);
    expect(tok.encode('', { bos: true })).toEqual([1]);
    expect(tok.encode('')).toEqual([]);
  });

  it('handles special tokens in text and in decoding', () => {
    // Special tokens written in the text are parsed (Hugging Face semantics); the text after them gets its own "▁".
    expect(tok.encode('<s>Hello</s>')).toEqual([1, 15043, 2]);
    expect(tok.decode([1, 15043, 3186, 2])).toBe('<s> Hello world</s>');
    expect(tok.decode([1, 15043, 3186, 2], { skipSpecial: true })).toBe('Hello world');
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(15043)).toBe(false);
    // Ids past the vocabulary (padded embedding rows) decode to nothing.
    expect(tok.decode([15043, 32005])).toBe('Hello');
  });

  it('exposes an exportable tokenizer.json', () => {
    const json = JSON.parse(JSON.stringify(tok.json)) as { model: { type: string; byte_fallback: boolean; merges: unknown[] } };
    expect(json.model.type).toBe('BPE');
    expect(json.model.byte_fallback).toBe(true);
    expect(json.model.merges.length).toBeGreaterThan(30000);
  });

  it('streams byte-fallback characters and leading spaces correctly', () => {
    const text = 'Hello 🦙.cpp  world\n\tçà 你好 ✅ ok';
    const ids = tok.encode(text);
    const parts = stream(tok, ids);
    expect(parts.join('')).toBe(text);
    expect(parts.join('')).toBe(tok.decode(ids));
    // The llama emoji is four byte tokens: nothing comes out until the last one.
    const llama = tok.encode('🦙');
    expect(llama).toEqual([29871, 243, 162, 169, 156]);
    expect(stream(tok, llama)).toEqual(['', '', '', '', '🦙', '']);
    // A lone unfinished byte sequence is held back until flush.
    expect(stream(tok, [15043, 243, 162])).toEqual(['Hello', '', '', '\uFFFD']);
  });

  it('keeps the first space of a continuation when given the prompt', () => {
    const prompt = tok.encode('Once upon a', { bos: true });
    const cont = tok.encode(' time there', { bos: false }).slice(1); // drop the lone "▁" of the leading space
    expect(tok.decode([...prompt, ...cont], { skipSpecial: true })).toBe('Once upon a time there');
    expect(stream(tok, cont, prompt).join('')).toBe(' time there');
    // Without context the stream reads like decode(ids): the dummy-prefix space goes.
    expect(stream(tok, cont).join('')).toBe('time there');
    // After BOS alone (an empty prompt) the first word has no space, as in llama2.c, when specials are skipped.
    expect(tok.idToToken(9038)).toBe('▁Once');
    expect(createDetokenizer(tok, { prefixIds: [1], skipSpecial: true }).push(9038)).toBe('Once');
    // Context made only of skipped special tokens reaches back to the text before them.
    const hi = tok.encode('Hi');
    const d = createDetokenizer(tok, { prefixIds: [...hi, 2, 2, 2, 2, 2, 2, 2, 2], skipSpecial: true });
    expect(tok.idToToken(727)).toBe('▁there');
    expect(d.push(727)).toBe(' there');
  });

  it('streams exactly what decode gives for every test vector, token by token', () => {
    for (const { text, ids } of readVectors(TOK_DIR + 'ggml-vocab-llama-spm.gguf')) {
      expect(stream(tok, ids).join(''), JSON.stringify(text)).toBe(text);
      // Split anywhere: the second half streams as the continuation of the first.
      let cut = ids.length >> 1;
      while (cut < ids.length && tok.decode(ids.slice(0, cut)).endsWith('\uFFFD')) cut++; // not inside a character
      const whole = tok.decode(ids);
      const head = tok.decode(ids.slice(0, cut));
      expect(head + stream(tok, ids.slice(cut), ids.slice(0, cut)).join(''), JSON.stringify(text)).toBe(whole);
    }
  });
});

describe('GGUF byte-level BPE (gpt2) tokenizer', () => {
  let tok: HfTokenizer;
  beforeAll(async () => {
    tok = await ggufTokenizer('ggml-vocab-starcoder.gguf');
  });

  it('matches every llama.cpp starcoder test vector exactly', () => {
    const vectors = readVectors(TOK_DIR + 'ggml-vocab-starcoder.gguf');
    expect(vectors.length).toBe(46);
    for (const { text, ids } of vectors) expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it('decodes every test vector back to its text', () => {
    for (const { text, ids } of readVectors(TOK_DIR + 'ggml-vocab-starcoder.gguf')) {
      expect(tok.decode(ids), JSON.stringify(text)).toBe(text);
    }
  });

  it('has no BOS (starcoder adds none) and <|endoftext|> as EOS', () => {
    expect(tok.vocabSize).toBe(49152);
    expect(tok.bosId).toBeNull();
    expect(tok.eosId).toBe(0);
    expect(tok.encode('hi', { bos: true })).toEqual(tok.encode('hi'));
    expect(tok.encode('<fim_prefix>x')[0]).toBe(1);
    expect(tok.decode([1, ...tok.encode('x')], { skipSpecial: true })).toBe('x');
  });

  it('streams multi-byte characters split over byte-level tokens', () => {
    const text = 'ied 4 ½ months 🚀 (emoji) 🦙🦙 Führer';
    const ids = tok.encode(text);
    const parts = stream(tok, ids);
    expect(parts.join('')).toBe(text);
    expect(parts.some((p) => p.includes('\uFFFD'))).toBe(false);
    for (const v of readVectors(TOK_DIR + 'ggml-vocab-starcoder.gguf')) {
      expect(stream(tok, v.ids).join(''), JSON.stringify(v.text)).toBe(v.text);
    }
  });

  it.each(SUPPORTED_GGUF_PRE_TOKENIZERS)('pre-tokenizer "%s" builds, merges and round-trips', async (pre) => {
    const t = await buildTokenizer({ kind: 'gguf', metadata: tinyByteLevelMetadata(pre) });
    const text = "Hello world, it's 12345!\n\n  \tÜber ½ 你好 🚀 ";
    const ids = t.encode(text);
    expect(t.decode(ids)).toBe(text);
    expect(ids).toContain(t.encode('Hello')[0]); // the merges apply
    expect(t.idToToken(t.encode('Hello')[0])).toBe('Hello');
  });

  it('follows add_bos_token', async () => {
    const withBos = await buildTokenizer({ kind: 'gguf', metadata: tinyByteLevelMetadata('llama-bpe') });
    expect(withBos.bosId).toBe(0);
    expect(withBos.encode('Hello', { bos: true })[0]).toBe(0);
    const noBos = await buildTokenizer(
      { kind: 'gguf', metadata: tinyByteLevelMetadata('qwen2', { 'tokenizer.ggml.add_bos_token': false }) },
      { bosId: 0, eosId: 1 },
    );
    expect(noBos.bosId).toBeNull();
    const forced = await buildTokenizer({ kind: 'gguf', metadata: tinyByteLevelMetadata('qwen2') }, { addBos: true });
    expect(forced.bosId).toBe(0);
  });
});

describe('llama2.c tokenizer.bin (stories260K)', () => {
  let tok: HfTokenizer;
  const golden = JSON.parse(readFileSync(STORIES + 'golden_greedy.json', 'utf8')) as {
    prompt: string;
    prompt_ids: number[];
    greedy_ids_after_bos: number[];
    text: string;
  };
  beforeAll(async () => {
    tok = await buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync(STORIES + 'tok512.bin')), vocabSize: 512 });
  });

  it('encodes the prompt with BOS like llama2.c', () => {
    expect(tok.encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    expect(golden.prompt_ids).toEqual([1, 403, 407, 261, 378]);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.vocabSize).toBe(512);
  });

  it('decodes the golden greedy ids to the golden text, at once and streamed', () => {
    expect(tok.decode(golden.greedy_ids_after_bos)).toBe(golden.text);
    expect(stream(tok, golden.greedy_ids_after_bos).join('')).toBe(golden.text);
    expect(tok.encode(golden.text)).toEqual(golden.greedy_ids_after_bos);
  });

  it('round-trips text that needs byte fallback', () => {
    for (const s of ['Lily said: "Wow!" 🎈', 'a\nb\n\n  c', 'Ünïcödé ½', ' leading and trailing ']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('uses "▁" pieces and named special tokens', () => {
    expect(tok.idToToken(1)).toBe('<s>');
    expect(tok.idToToken(2)).toBe('</s>');
    expect(tok.idToToken(13)).toBe('<0x0A>');
    expect(tok.idToToken(403).startsWith('▁')).toBe(true);
  });

  it('rejects truncated or foreign files with a ModelFormatError', () => {
    const data = new Uint8Array(readFileSync(STORIES + 'tok512.bin'));
    expect(() => parseLlama2cTokenizer(data, 600)).toThrow(ModelFormatError);
    expect(() => parseLlama2cTokenizer(data.subarray(0, 100), 512)).toThrow(/ends after/);
    expect(() => parseLlama2cTokenizer(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0]), 512)).toThrow(ModelFormatError);
    const c = llama2cTokenizerJson(data, 512);
    expect(c.tokens.length).toBe(512);
  });
});

describe('Hugging Face tokenizer.json', () => {
  const smollm = TOK_DIR + 'smollm-135m.tokenizer.json';

  it('loads SmolLM-135M and round-trips text', async () => {
    const json = JSON.parse(readFileSync(smollm, 'utf8')) as unknown;
    const tok = await buildTokenizer({ kind: 'hf-json', json });
    expect(tok.vocabSize).toBe(49152);
    expect(tok.bosId).toBeNull();
    expect(tok.eosId).toBe(0); // <|endoftext|>, guessed: no tokenizer_config given
    for (const s of ['Hello world!', 'def f(x):\n    return x**2  # 12345', 'Ünïcödé ½ 你好 🚀🚀', ' spaces  everywhere ', '']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.encode('12345')).toHaveLength(5); // individual digits
    const chat = tok.encode('<|im_start|>user\nHi<|im_end|>');
    expect(chat[0]).toBe(1);
    expect(chat.at(-1)).toBe(2);
    expect(tok.decode(chat)).toBe('<|im_start|>user\nHi<|im_end|>');
    expect(tok.decode(chat, { skipSpecial: true })).toBe('user\nHi');
  });

  it('takes BOS/EOS from tokenizer_config and accepts JSON text', async () => {
    const text = readFileSync(smollm, 'utf8');
    const tok = await buildTokenizer(
      { kind: 'hf-json', json: text, config: { bos_token: { content: '<|im_start|>' }, eos_token: { __type: 'AddedToken', content: '<|im_end|>' }, add_bos_token: true } },
    );
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.encode('Hi', { bos: true })[0]).toBe(1);
    const overridden = await buildTokenizer({ kind: 'hf-json', json: text }, { bosId: 0, eosId: 2, addBos: true });
    expect(overridden.bosId).toBe(0);
    expect(overridden.eosId).toBe(2);
  });

  it('converted tokenizers load again from their exported JSON', async () => {
    const gguf = await readGgufMetadata(new NodeFileSource(TOK_DIR + 'ggml-vocab-llama-spm.gguf'));
    const c = ggufTokenizerJson(gguf);
    const again = await buildTokenizer({ kind: 'hf-json', json: JSON.parse(JSON.stringify(c.json)), config: c.config });
    expect(again.encode(' Hello, world!')).toEqual([29871, 15043, 29892, 3186, 29991]);
    expect(again.bosId).toBe(1);
    expect(again.eosId).toBe(2);
  });
});

describe('errors', () => {
  it('names an unsupported GGUF tokenizer type', async () => {
    const metadata = { 'tokenizer.ggml.model': 't5', 'tokenizer.ggml.tokens': ['a'] };
    await expect(buildTokenizer({ kind: 'gguf', metadata })).rejects.toThrow(ModelFormatError);
    await expect(buildTokenizer({ kind: 'gguf', metadata })).rejects.toThrow(/"t5" is not supported/);
    await expect(buildTokenizer({ kind: 'gguf', metadata: {} })).rejects.toThrow(/no tokenizer/);
  });

  it('names an unsupported byte-level pre-tokenizer', async () => {
    await expect(buildTokenizer({ kind: 'gguf', metadata: tinyByteLevelMetadata('deepseek-llm') })).rejects.toThrow(
      /pre-tokenizer "deepseek-llm" is not supported/,
    );
  });

  it('rejects malformed metadata and tokenizer.json', async () => {
    const bad = { 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['<unk>', 'a'], 'tokenizer.ggml.scores': [0] };
    await expect(buildTokenizer({ kind: 'gguf', metadata: bad })).rejects.toThrow(ModelFormatError);
    const json = { model: { type: 'MysteryModel', vocab: 5 } };
    await expect(buildTokenizer({ kind: 'hf-json', json })).rejects.toThrow(/"MysteryModel" is not supported/);
    await expect(buildTokenizer({ kind: 'hf-json', json: '{not json' })).rejects.toThrow(/does not parse/);
    await expect(buildTokenizer({ kind: 'none' })).rejects.toThrow(ModelFormatError);
  });
});

describe('SentencePiece merges from scores', () => {
  it('ranks merges by the merged piece score and keeps every split', () => {
    const tokens = ['a', 'b', 'c', 'ab', 'bc', 'abc'];
    const scores = [0, 0, 0, -2, -1, -3];
    expect(spmMerges(tokens, scores, () => true)).toEqual([
      ['b', 'c'],
      ['a', 'b'],
      ['a', 'bc'],
      ['ab', 'c'],
    ]);
  });

  it('decodes ids whose piece duplicates another', async () => {
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const tokens = ['<unk>', '<s>', '</s>', ...bytes, '▁', 'a', '▁a', '▁a'];
    const metadata = {
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': tokens.map((_, i) => -i),
      'tokenizer.ggml.token_type': tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : t.startsWith('<0x') ? 6 : 1)),
    };
    const tok = await buildTokenizer({ kind: 'gguf', metadata });
    expect(tok.encode('a a')).toEqual([262, 262]); // the last of repeated pieces, as llama.cpp
    expect(tok.decode([261, 261])).toBe('a a');
    expect(tok.decode([262, 261])).toBe('a a');
    expect(tok.idToToken(262)).toBe('▁a');
    expect(tok.vocabSize).toBe(263);
  });
});

describe('fromPretrained', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  beforeAll(async () => {
    const json = readFileSync(TOK_DIR + 'smollm-135m.tokenizer.json');
    const config = JSON.stringify({ tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_bos_token: false });
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const url = req.url ?? '';
      const body = url.endsWith('/tokenizer.json') ? json : url.endsWith('/tokenizer_config.json') ? config : null;
      if (!body || !url.startsWith('/test-org/tiny-tok/resolve/main/')) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { env } = await loadTransformers();
    env.useFSCache = false; // keep test downloads out of node_modules
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('loads a hub repo id through AutoTokenizer from a custom host', async () => {
    const tok = await fromPretrained('test-org/tiny-tok', { remoteHost: base });
    expect(tok.vocabSize).toBe(49152);
    expect(tok.eosId).toBe(0);
    expect(tok.bosId).toBeNull(); // add_bos_token false
    expect(tok.decode(tok.encode('Hello world!'))).toBe('Hello world!');
    expect(requests.some((r) => r.includes('/test-org/tiny-tok/resolve/main/tokenizer.json'))).toBe(true);
    const { env } = await loadTransformers();
    expect(env.remoteHost).toBe('https://huggingface.co/'); // restored
  });

  it('loads from a folder URL and from a tokenizer.json URL', async () => {
    const folder = await fromPretrained(`${base}test-org/tiny-tok/resolve/main`);
    expect(folder.eosId).toBe(0);
    const file = await fromPretrained(`${base}test-org/tiny-tok/resolve/main/tokenizer.json`);
    expect(file.encode('Hello')).toEqual(folder.encode('Hello'));
    await expect(fromPretrained(`${base}nowhere/`)).rejects.toThrow(/404/);
  });
});

describe('the light backend (@huggingface/tokenizers alone)', () => {
  beforeAll(() => setTokenizerBackend('tokenizers'));
  afterAll(() => setTokenizerBackend('transformers'));

  it.each(['ggml-vocab-llama-spm.gguf', 'ggml-vocab-starcoder.gguf'])('gives the same ids for every %s vector', async (file) => {
    const tok = await ggufTokenizer(file);
    expect(tok.hf).toBeNull();
    for (const { text, ids } of readVectors(TOK_DIR + file)) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text);
    }
    expect(tok.isSpecial(file.includes('llama') ? 1 : 0)).toBe(true);
  });

  it('runs llama2.c and tokenizer.json sources', async () => {
    const l2c = await buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync(STORIES + 'tok512.bin')), vocabSize: 512 });
    expect(l2c.encode('Once upon a time', { bos: true })).toEqual([1, 403, 407, 261, 378]);
    const sm = await buildTokenizer({ kind: 'hf-json', json: readFileSync(TOK_DIR + 'smollm-135m.tokenizer.json', 'utf8') });
    expect(sm.decode(sm.encode('<|im_start|>Hi 🚀'), { skipSpecial: true })).toBe('Hi 🚀');
  });
});

it('the tokenizer fixtures are present', () => {
  for (const f of ['ggml-vocab-llama-spm.gguf', 'ggml-vocab-starcoder.gguf', 'smollm-135m.tokenizer.json']) expect(existsSync(TOK_DIR + f)).toBe(true);
});
