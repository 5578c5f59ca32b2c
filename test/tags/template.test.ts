import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTokenizer, type HfTokenizer } from '../../src/model/tokenizer';
import { NO_INJECT } from '../../src/model/transformer';
import { encodeContinuation } from '../../src/tags/segment-encode';
import type { Tag, TagKind } from '../../src/tags/tag';
import { injectIndex, packInjected, parseTemplate, renderExample, TemplateError, type RenderedExample } from '../../src/tags/template';
import { fixturePath } from '../helpers/fixtures';

const TOK = 'public/models/stories260K/tok512.bin';

function tag(name: string, kind: TagKind, p: number, d = 2, fill = 0): Tag {
  const data = new Float32Array(p * d).map((_, i) => fill + i);
  return { id: `id-${name}`, name, kind, p, d, data, provenance: {} as Tag['provenance'] };
}

let tok: HfTokenizer;
let tags: Map<string, Tag>;
beforeAll(async () => {
  tok = await buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync(TOK)), vocabSize: 512 }, { bosId: 1, eosId: 2 });
  tags = new Map(
    [tag('SMILES', 'domain', 2), tag('QED', 'function', 3), tag('Protein', 'domain', 1), tag('EN', 'domain', 1), tag('FR', 'domain', 1), tag('Translate', 'function', 2)].map((t) => [t.name, t]),
  );
});

/** Token pieces with tag rows written <Name>, to compare with hand-written expectations. */
function pieces(r: RenderedExample): string[] {
  const at = new Map(r.tagAt.map((t) => [t.pos, t.tag]));
  return r.ids.map((id, i) => (at.has(i) ? `<${at.get(i)}>` : tok.idToToken(id)));
}

describe('parseTemplate', () => {
  it('splits the QED template of METHODS.md into text, tags and fields', () => {
    const t = parseTemplate('# # Input: The SMILES of the molecule is <SMILES> {input}.\\n# # Output: The quantitative estimate of druglikeness is <QED> {output}');
    expect(t.segments).toEqual([
      { kind: 'text', text: '# # Input: The SMILES of the molecule is ' },
      { kind: 'tag', name: 'SMILES' },
      { kind: 'text', text: ' ' },
      { kind: 'field', name: 'input' },
      { kind: 'text', text: '.\n# # Output: The quantitative estimate of druglikeness is ' },
      { kind: 'tag', name: 'QED' },
      { kind: 'text', text: ' ' },
      { kind: 'field', name: 'output' },
    ]);
    expect(t.tags).toEqual(['SMILES', 'QED']);
    expect(t.fields).toEqual(['input', 'output']);
  });

  it('reads escapes, field-named tags, and a "<" that is not a tag as text', () => {
    const t = parseTemplate('a < b, \\<Protein> \\{x\\} \\\\ \\t<{srcLang}> {source}');
    expect(t.segments).toEqual([
      { kind: 'text', text: 'a < b, <Protein> {x} \\ \t' },
      { kind: 'tagFromField', field: 'srcLang' },
      { kind: 'text', text: ' ' },
      { kind: 'field', name: 'source' },
    ]);
    expect(t.tags).toEqual([]);
    expect(t.fields).toEqual(['srcLang', 'source']);
  });

  it.each([
    ['The value {input', /line 1, column 11: this "\{" is never closed/],
    ['The value input}', /column 16: this "\}" closes nothing/],
    ['Empty {} here', /column 7: empty field "\{\}"/],
    ['Bad {in put}', /"\{in put\}" is not a valid field name/],
    ['Nested {a{b}}', /this "\{" is never closed/],
    ['Line one\nthen <Foo bar>', /line 2, column 6: "<Foo " … is not a tag reference|line 2, column 6: "<Foo …" is not a tag reference/],
    ['Open <Foo', /"<Foo…" is not a tag reference/],
    ['Field tag <{lang} {x}', /"<\{lang\}" must be followed by ">"/],
  ])('rejects %j with a clear message', (src, message) => {
    let err: unknown;
    try {
      parseTemplate(src);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('renderExample (stories260K tokenizer)', () => {
  const QED = 'Once upon a time <SMILES> {input}.\\nThe end <QED> {output}';
  const example = { input: 'CCO', output: '0.5' };

  it('lays out BOS, text, tag rows and fields, with per-token fields', () => {
    const r = renderExample(QED, example, { tokenizer: tok, tags });
    // BOS; "Once upon a time" as the start of a text (its trailing space before the tag is dropped);
    // 2 SMILES rows; " CCO" (the space travels with the field); ".\nThe end" as a continuation
    // (no dummy "▁" before "."); 3 QED rows; " 0.5".
    expect(pieces(r)).toEqual([
      '<s>', '▁Once', '▁upon', '▁a', '▁time',
      '<SMILES>', '<SMILES>',
      '▁', 'C', 'C', 'O',
      '.', '<0x0A>', 'T', 'he', '▁e', 'nd',
      '<QED>', '<QED>', '<QED>',
      '▁', '0', '.', '5',
    ]);
    expect(r.ids.slice(0, 5)).toEqual([1, 403, 407, 261, 378]);
    expect(r.ids.slice(5, 7)).toEqual([0, 0]);
    expect(r.tagAt).toEqual([
      { pos: 5, tag: 'SMILES', row: 0 },
      { pos: 6, tag: 'SMILES', row: 1 },
      { pos: 17, tag: 'QED', row: 0 },
      { pos: 18, tag: 'QED', row: 1 },
      { pos: 19, tag: 'QED', row: 2 },
    ]);
    const F = (name: string, n: number) => Array<string>(n).fill(name);
    expect(r.field).toEqual([...Array(7).fill(null), ...F('input', 4), ...Array(9).fill(null), ...F('output', 4)]);
    expect(r.start).toEqual(Array(24).fill(0));
    expect(r.functionTagLastPos).toBe(19);
    expect(tok.decode(r.ids.filter((_, i) => r.field[i] !== null || !r.tagAt.some((t) => t.pos === i)))).toBe('<s> Once upon a time CCO.\nThe end 0.5');
  });

  it('omitFields stops right before {output}: the inference prompt is a prefix of the training sequence', () => {
    const full = renderExample(QED, example, { tokenizer: tok, tags });
    const cut = renderExample(QED, { input: 'CCO' }, { tokenizer: tok, tags, omitFields: ['output'], eos: true });
    expect(cut.ids).toEqual(full.ids.slice(0, 20));
    expect(cut.field).toEqual(full.field.slice(0, 20));
    expect(cut.functionTagLastPos).toBe(19);
    expect(cut.ids.at(-1)).toBe(0); // ends on the last QED row; no EOS after a cut
  });

  it('isolation: the domain tag and its data span attend from the tag on, the rest normally', () => {
    const r = renderExample(QED, example, { tokenizer: tok, tags, isolate: true });
    const start = Array(24).fill(0);
    for (let i = 5; i <= 10; i++) start[i] = 5; // <SMILES> rows + " CCO"
    expect(r.start).toEqual(start);
    // A function tag is never isolated, nor a domain tag not directly followed by a field.
    const t = renderExample('<SMILES> then {input}', { input: 'C' }, { tokenizer: tok, tags, isolate: true });
    expect(t.start).toEqual([0, 1, 1, 0, 0, 0, 0]);
  });

  it('spaceResidues writes one residue per word; eos takes the field of a final field', () => {
    const r = renderExample('<Protein> {input}', { input: 'MKV' }, { tokenizer: tok, tags, spaceResidues: true, eos: true, isolate: true });
    expect(pieces(r)).toEqual(['<s>', '<Protein>', '▁M', '▁', 'K', '▁', 'V', '</s>']);
    expect(r.field).toEqual([null, null, 'input', 'input', 'input', 'input', 'input', 'input']);
    expect(r.start).toEqual([0, 1, 1, 1, 1, 1, 1, 0]);
    // Without the option the value is written as is.
    expect(pieces(renderExample('<Protein> {input}', { input: 'MKV' }, { tokenizer: tok, tags })).slice(2)).toEqual(['▁M', 'K', 'V']);
  });

  it('<{field}> picks the tag named by the value; spaces before tags are dropped; no BOS on request', () => {
    const tpl = '<{srcLang}> {source}\\n<{tgtLang}> <Translate> {target}';
    const r = renderExample(tpl, { source: 'Lily', target: 'x', srcLang: 'EN', tgtLang: 'FR' }, { tokenizer: tok, tags, bos: false });
    expect(pieces(r)).toEqual(['<EN>', '▁Lily', '<0x0A>', '<FR>', '<Translate>', '<Translate>', '▁', 'x']);
    expect(r.functionTagLastPos).toBe(5);
    expect(r.field).toEqual([null, 'source', null, null, null, null, 'target', 'target']);
  });

  it('an empty field value renders nothing, not even its leading space', () => {
    const r = renderExample('<SMILES> {input}.', { input: '' }, { tokenizer: tok, tags });
    expect(pieces(r)).toEqual(['<s>', '<SMILES>', '<SMILES>', '.']);
  });

  it('names the unknown tag and the missing field', () => {
    expect(() => renderExample('<Foo> {input}', { input: 'x' }, { tokenizer: tok, tags })).toThrow(
      'Template uses <Foo>, which is not in the tag library (known: <SMILES>, <QED>, <Protein>, <EN>, <FR>, <Translate>).',
    );
    expect(() => renderExample('<{lang}> {input}', { input: 'x', lang: 'DE' }, { tokenizer: tok, tags })).toThrow(/<DE> \(the value of \{lang\}\), which is not in the tag library/);
    expect(() => renderExample(QED, { input: 'x' }, { tokenizer: tok, tags })).toThrow('The example has no value for field {output} (it has: {input}).');
  });
});

describe('renderExample with a byte-level BPE tokenizer (SmolLM, no BOS)', () => {
  it('pieces join back into the template text with the whitespace rules applied', async () => {
    const json = JSON.parse(readFileSync(fixturePath('tokenizers/smollm-135m.tokenizer.json'), 'utf8')) as unknown;
    const bpe = await buildTokenizer({ kind: 'hf-json', json });
    const r = renderExample('Once upon a time <SMILES> {input}.\\nThe end <QED> {output}', { input: 'CCO', output: '0.5' }, { tokenizer: bpe, tags });
    expect(r.ids[0]).not.toBe(0); // no BOS: the text starts at position 0
    const textIds = r.ids.filter((_, i) => !r.tagAt.some((t) => t.pos === i));
    expect(bpe.decode(textIds)).toBe('Once upon a time CCO.\nThe end 0.5');
    expect(r.field.filter((f) => f === 'input').length).toBe(bpe.encode(' CCO').length);
    expect(r.functionTagLastPos).toBe(r.tagAt.at(-1)!.pos);
  });
});

describe('encodeContinuation', () => {
  it('drops the dummy-prefix space SentencePiece puts before a text encoded alone', () => {
    expect(tok.encode('.').map((i) => tok.idToToken(i))).toEqual(['▁', '.']);
    expect(encodeContinuation(tok, '.').map((i) => tok.idToToken(i))).toEqual(['.']);
    expect(encodeContinuation(tok, ' Lily').map((i) => tok.idToToken(i))).toEqual(['▁Lily']);
    expect(encodeContinuation(tok, '')).toEqual([]);
  });
});

describe('packInjected / injectIndex', () => {
  it('packs each tag once and points every tag position at its row', () => {
    const smiles = tags.get('SMILES')!;
    const qed = tags.get('QED')!;
    const packed = packInjected([qed, smiles, qed]);
    expect(packed.nRows).toBe(5);
    expect(packed.d).toBe(2);
    expect([...packed.offsets]).toEqual([
      ['QED', 0],
      ['SMILES', 3],
    ]);
    expect([...packed.data]).toEqual([...qed.data, ...smiles.data]);
    const r = renderExample('<SMILES> {input} <QED>', { input: 'C' }, { tokenizer: tok, tags });
    // <s> <SMILES>×2 ▁ C <QED>×3
    const N = NO_INJECT;
    expect([...injectIndex(r, packed.offsets)]).toEqual([N, 3, 4, N, N, 0, 1, 2]);
  });

  it('refuses tags of different widths, two tags of one name, and unpacked tags', () => {
    expect(() => packInjected([tag('A', 'domain', 1, 2), tag('B', 'domain', 1, 3)])).toThrow(/different widths/);
    expect(() => packInjected([tag('A', 'domain', 1), tag('A', 'domain', 1)])).toThrow(/Two different tags are named <A>/);
    const r = renderExample('<SMILES> {input}', { input: 'C' }, { tokenizer: tok, tags });
    expect(() => injectIndex(r, new Map())).toThrow(/<SMILES> is used by the example but was not packed/);
  });
});
