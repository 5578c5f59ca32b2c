import { describe, expect, it } from 'vitest';
import { detectFormat, parseDataset } from '../../src/data/parse';

describe('CSV / TSV', () => {
  it('reads a header and rows, with quoted commas and newlines, BOM and CRLF', () => {
    const d = parseDataset('\uFEFFsmiles,label\r\nCCO,1.5\r\n"C(=O)O, acid","2"\r\n\r\n"multi\nline",3\r\n', { name: 'x.csv' });
    expect(d.format).toBe('csv');
    expect(d.columns).toEqual(['smiles', 'label']);
    expect(d.rows).toEqual([
      { smiles: 'CCO', label: '1.5' },
      { smiles: 'C(=O)O, acid', label: '2' },
      { smiles: 'multi\nline', label: '3' },
    ]);
    expect(d.lines).toEqual([2, 3, 5]);
    expect(d.report).toEqual({ total: 3, kept: 3, skipped: [] });
  });

  it('skips rows with the wrong field count, naming line and reason', () => {
    const d = parseDataset('a,b\n1,2\n3\n4,5,6\n7,8\n', { format: 'csv' });
    expect(d.rows).toEqual([
      { a: '1', b: '2' },
      { a: '7', b: '8' },
    ]);
    expect(d.lines).toEqual([2, 5]);
    expect(d.report.total).toBe(4);
    expect(d.report.kept).toBe(2);
    expect(d.report.skipped).toEqual([
      { line: 3, reason: 'has 1 field, expected 2 (a, b)' },
      { line: 4, reason: 'has 3 fields, expected 2 (a, b)' },
    ]);
  });

  it('a broken or unclosed quote costs one row, not the rest of the file', () => {
    const d = parseDataset('a,b\n1,2\n"bad"x,3\n4,5\n"open,6\n7,8\n', { format: 'csv' });
    expect(d.rows).toEqual([
      { a: '1', b: '2' },
      { a: '4', b: '5' },
      { a: '7', b: '8' },
    ]);
    expect(d.lines).toEqual([2, 4, 6]);
    expect(d.report.skipped.map((s) => s.line)).toEqual([3, 5]);
    expect(d.report.skipped[0].reason).toMatch(/^malformed quotes \(trailing quote on quoted field is malformed\)/);
    expect(d.report.skipped[1].reason).toMatch(/^malformed quotes \(quoted field unterminated\)/);
    expect(d.report.total).toBe(5);
  });

  it('names empty and repeated header cells; reads TSV', () => {
    expect(parseDataset('x,,x\n1,2,3\n', { format: 'csv' }).columns).toEqual(['x', 'column2', 'x_2']);
    const t = parseDataset('seq\tscore\nMKV\t0.1\n', { name: 'a.tsv' });
    expect(t.format).toBe('tsv');
    expect(t.rows).toEqual([{ seq: 'MKV', score: '0.1' }]);
  });

  it('an empty file has no columns and no rows', () => {
    expect(parseDataset('', { format: 'csv' })).toMatchObject({ columns: [], rows: [], report: { total: 0, kept: 0, skipped: [] } });
  });
});

describe('JSONL', () => {
  it('keeps objects, fills missing keys, stringifies values, skips bad lines', () => {
    const text = ['{"input":"CCO","output":1.5}', '', '{"input":"C", "extra": true}', '{bad json', '[1,2]', '42', '{}', '{"input":null,"output":{"a":1}}'].join('\n');
    const d = parseDataset(text, { name: 'd.jsonl' });
    expect(d.format).toBe('jsonl');
    expect(d.columns).toEqual(['input', 'output', 'extra']);
    expect(d.rows).toEqual([
      { input: 'CCO', output: '1.5', extra: '' },
      { input: 'C', output: '', extra: 'true' },
      { input: '', output: '{"a":1}', extra: '' },
    ]);
    expect(d.lines).toEqual([1, 3, 8]);
    expect(d.report.total).toBe(7);
    expect(d.report.skipped.map((s) => [s.line, s.reason.replace(/\(.*\)/, '(…)')])).toEqual([
      [4, 'not valid JSON (…)'],
      [5, 'expected a JSON object, got a list'],
      [6, 'expected a JSON object, got a number'],
      [7, 'empty object {}'],
    ]);
  });
});

describe('FASTA', () => {
  it('joins sequence lines and splits the header into name and description', () => {
    const d = parseDataset('>sp|P1 kinase one\nMKV\nLLA \n;comment\n>P2\nmk*\n', { name: 'p.fasta' });
    expect(d.format).toBe('fasta');
    expect(d.columns).toEqual(['name', 'description', 'sequence']);
    expect(d.rows).toEqual([
      { name: 'sp|P1', description: 'kinase one', sequence: 'MKVLLA' },
      { name: 'P2', description: '', sequence: 'mk*' },
    ]);
    expect(d.lines).toEqual([1, 5]);
  });

  it('skips empty sequences, bad characters, nameless headers and text before the first header', () => {
    const d = parseDataset('MKV\nAAA\n>empty\n>bad\nMK1V\n>\nMKV\n>ok\nAC\n', { format: 'fasta' });
    expect(d.rows).toEqual([{ name: 'ok', description: '', sequence: 'AC' }]);
    expect(d.report).toEqual({
      total: 5,
      kept: 1,
      skipped: [
        { line: 1, reason: 'sequence text before the first ">" header' },
        { line: 3, reason: 'empty: empty sequence' },
        { line: 4, reason: 'bad: invalid character "1" in the sequence (line 5)' },
        { line: 6, reason: 'header ">" has no name' },
      ],
    });
  });
});

describe('lines', () => {
  it('one record per non-blank line, as written', () => {
    const d = parseDataset('Hello, world.\n\n  Indented, line \r\nLast', { format: 'lines' });
    expect(d.rows).toEqual([{ text: 'Hello, world.' }, { text: '  Indented, line ' }, { text: 'Last' }]);
    expect(d.lines).toEqual([1, 3, 4]);
    expect(d.report).toEqual({ total: 3, kept: 3, skipped: [] });
  });
});

describe('detectFormat', () => {
  it('trusts a known extension', () => {
    expect(detectFormat('anything', 'X.CSV')).toBe('csv');
    expect(detectFormat('anything', 'x.ndjson')).toBe('jsonl');
    expect(detectFormat('anything', 'seqs.faa')).toBe('fasta');
    expect(detectFormat('anything', 'a.tab')).toBe('tsv');
  });

  it('sniffs the content otherwise', () => {
    expect(detectFormat('>P1\nMKV\n', 'x.txt')).toBe('fasta');
    expect(detectFormat('{"a": 1}\n{"a": 2}\n')).toBe('jsonl');
    expect(detectFormat('a\tb\n1\t2\n3\t4\n')).toBe('tsv');
    expect(detectFormat('smiles,label\nCCO,1\n"C,C",2\n')).toBe('csv');
    // Prose with commas is not a table: the counts differ from line to line.
    expect(detectFormat('Hello, world.\nNo commas here\nOne, two, three.\n', 'tatoeba.fra-eng.eng')).toBe('lines');
    expect(detectFormat('MKVLLA\nGGHT\n')).toBe('lines');
    expect(detectFormat('Hello, world.')).toBe('lines');
  });
});
