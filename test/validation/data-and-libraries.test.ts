/**
 * Issue 10 regressions for data, tag libraries and tokenization of data text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDataset } from '../../src/data/parse';
import { buildTokenizer } from '../../src/model/tokenizer';
import { base64ToF32, f32ToBase64 } from '../../src/tags/f32-base64';
import { exportLibrary, importLibrary, TagLibrary } from '../../src/tags/library';
import { createTag, newProvenance } from '../../src/tags/tag';
import { renderExample } from '../../src/tags/template';
import { numericLabel } from '../../src/train/labels';

const MODEL = { arch: 'llama', name: 'tiny', dModel: 4, vocabSize: 512 };

describe('large float arrays', () => {
  it('a tensor of 1.1M floats survives base64 both ways (once "Maximum call stack size exceeded")', () => {
    const a = Float32Array.from({ length: 1_100_000 }, (_, i) => Math.sin(i) * 1e-3);
    const back = base64ToF32(f32ToBase64(a), a.length);
    expect(back.length).toBe(a.length);
    expect(Buffer.compare(Buffer.from(back.buffer), Buffer.from(a.buffer))).toBe(0);
  });

  it('malformed base64 of any length is refused, never thrown past', () => {
    expect(() => base64ToF32('A'.repeat(4_000_001) + '$', 1_000_000)).toThrow(/not valid base64/);
    expect(() => base64ToF32('AAAA', -1)).toThrow(/declared count -1/);
    expect(() => base64ToF32('AAA=', 1)).toThrow(/holds 2 bytes/);
  });

  it('a library with a tag of 1M floats exports and imports (the app reads what it wrote)', () => {
    const lib = new TagLibrary();
    const d = 4096;
    const p = 256; // 1,048,576 floats
    const data = Float32Array.from({ length: p * d }, () => 0.01);
    lib.addTag(createTag({ name: 'Big', kind: 'domain', p, d, data, provenance: newProvenance({ ...MODEL, dModel: d }, 'fp') }));
    const text = JSON.stringify(exportLibrary(lib));
    const r = importLibrary(text, { dModel: d, fingerprint: 'fp' });
    expect(r.status).toBe('ok');
    if (r.status === 'ok') expect(r.tags[0].data.length).toBe(p * d);
  });

  it('a library file that starts with a byte-order mark is accepted', () => {
    const lib = new TagLibrary();
    lib.addTag(createTag({ name: 'T', kind: 'domain', p: 1, d: 4, data: new Float32Array([1, 2, 3, 4]), provenance: newProvenance(MODEL, 'fp') }));
    const r = importLibrary('\ufeff' + JSON.stringify(exportLibrary(lib)), { dModel: 4, fingerprint: 'fp' });
    expect(r.status).toBe('ok');
  });
});

describe('datasets', () => {
  it('a JSONL "__proto__" column is an ordinary column of strings', () => {
    const ds = parseDataset('{"__proto__": "x", "input": "CCO"}\n{"input": "CC", "__proto__": {"a": 1}}\n', { format: 'jsonl' });
    expect(ds.columns).toEqual(['__proto__', 'input']);
    expect(ds.rows.map((r) => Object.getOwnPropertyDescriptor(r, '__proto__')?.value)).toEqual(['x', '{"a":1}']);
    for (const r of ds.rows) for (const v of Object.values(r)) expect(typeof v).toBe('string');
    expect(Object.getPrototypeOf(ds.rows[0])).toBe(Object.prototype);
  });

  it('labels "", "abc", "NaN", "Infinity" and blanks are not numbers', () => {
    for (const v of ['', '  ', 'abc', 'NaN', 'Infinity', '-Infinity', '1e999', undefined]) expect(numericLabel(v), String(v)).toBeNull();
    expect(numericLabel(' 1.5 ')).toBe(1.5);
    expect(numericLabel('-2e-3')).toBe(-0.002);
  });
});

describe('data text is not parsed for special tokens', () => {
  it('a literal "</s>" in a field value stays text; in the template it is still EOS', async () => {
    const tok = await buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync('public/models/stories260K/tok512.bin')), vocabSize: 512 });
    expect(tok.eosId).toBe(2);
    expect(tok.encode('the end</s>', { special: true })).toContain(2);
    const plain = tok.encode('the end</s> ok', { special: false });
    expect(plain).not.toContain(2);
    expect(tok.decode(plain)).toBe('the end</s> ok');
    const r = renderExample('Story: {input}', { input: 'a</s>b</s>' }, { tokenizer: tok, tags: new Map() });
    expect(r.ids.slice(1)).not.toContain(2);
    expect(tok.decode(r.ids.slice(1))).toBe('Story: a</s>b</s>');
  });

  it('a long data text with special-token strings encodes (no argument spread of its ids)', async () => {
    const tok = await buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync('public/models/stories260K/tok512.bin')), vocabSize: 512 });
    const text = 'The cat sat. '.repeat(12_000) + '</s>' + 'The dog ran. '.repeat(12_000);
    const ids = tok.encode(text, { special: false });
    expect(ids.length).toBeGreaterThan(130_000);
    expect(ids).not.toContain(2);
  }, 120_000);
});
