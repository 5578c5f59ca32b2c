import { describe, expect, it } from 'vitest';
import { notADataset, parseDataset, sniffDelimiter } from '../../src/data/parse';

/** Bytes as the browser's File.text() decodes them (UTF-8, invalid bytes → U+FFFD). */
const decode = (bytes: number[] | Uint8Array) => new TextDecoder().decode(new Uint8Array(bytes));

describe('notADataset', () => {
  it('refuses empty and whitespace-only files', () => {
    expect(notADataset('', 'a.csv')).toMatch(/a\.csv is empty/);
    expect(notADataset(' \n\r\n\t', 'a.csv')).toMatch(/is empty/);
    expect(notADataset('\ufeff', 'a.csv')).toMatch(/is empty/);
  });

  it('refuses a PNG renamed .csv, a ZIP, a gzip, a GGUF and NUL-containing data', () => {
    const png = decode([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    expect(notADataset(png, 'x.csv')).toMatch(/a PNG image/);
    expect(notADataset(decode([0x50, 0x4b, 3, 4, 20, 0]), 'x.csv')).toMatch(/ZIP/);
    expect(notADataset(decode([0x1f, 0x8b, 8, 0]), 'x.csv')).toMatch(/gzip/);
    expect(notADataset('GGUF\u0003\u0000\u0000\u0000', 'x.csv')).toMatch(/GGUF/);
    expect(notADataset('a,b\n1,\u00002\n', 'x.csv')).toMatch(/NUL/);
  });

  it('refuses random bytes but accepts text in any script', () => {
    const bytes = new Uint8Array(4096);
    let s = 1;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    bytes[0] = 0x41; // no known signature
    expect(notADataset(decode(bytes), 'r.csv')).toMatch(/binary/);
    expect(notADataset('smiles,label\nCCO,1\nc1ccccc1,0\n')).toBeNull();
    expect(notADataset('text\nКошка сидит на окне\n猫が窓に座っている\n¿Dónde está?\n')).toBeNull();
  });
});

describe('delimiter sniffing', () => {
  it('reads ;- and |-separated files as tables', () => {
    expect(sniffDelimiter('smiles;logS\nCCO;0.5\nCCC;-1.2\n')).toBe(';');
    expect(sniffDelimiter('seq|score\nMKV|0.1\nMLL|0.2\n')).toBe('|');
    expect(sniffDelimiter('a,b\n1,2\n')).toBe(',');
    // Decimal commas inside a ;-separated file: ; gives a consistent table, , does not.
    const eu = 'name;value;note\nx;1,5;ok\ny;2,25;fine, really\n';
    expect(sniffDelimiter(eu)).toBe(';');
    const d = parseDataset(eu, { name: 'eu.csv' });
    expect(d.columns).toEqual(['name', 'value', 'note']);
    expect(d.rows[1]).toEqual({ name: 'y', value: '2,25', note: 'fine, really' });
    const p = parseDataset('seq|score\nMKV|0.1\n', {});
    expect(p).toMatchObject({ format: 'csv', columns: ['seq', 'score'], rows: [{ seq: 'MKV', score: '0.1' }] });
  });

  it('keeps commas when a value merely contains ; or |', () => {
    const d = parseDataset('smiles,label\nC(C)O;x,1\nCC|C,0\n', { name: 'm.csv' });
    expect(d.columns).toEqual(['smiles', 'label']);
    expect(d.rows).toHaveLength(2);
  });
});
