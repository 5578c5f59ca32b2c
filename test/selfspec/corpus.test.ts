import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCorpus } from '../../src/cli/retrieve';
import { MAX_CORPUS_BYTES, parseCorpus, parseJsonlCorpus, parseLinesCorpus, parsePubmedqaCorpus, splitDocuments } from '../../src/selfspec/corpus';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('corpus import', () => {
  it('PubMedQA: each context one passage, id <pmid>#<n>', () => {
    const text = fixture('pubmedqa-3.json');
    const doc = JSON.parse(text) as Record<string, { CONTEXTS: string[] }>;
    const { passages, rejected } = parsePubmedqaCorpus(text, 'pubmedqa-3.json');
    expect(rejected).toEqual([]);
    expect(passages).toEqual(Object.entries(doc).flatMap(([pmid, it]) => it.CONTEXTS.map((c, i) => ({ id: `${pmid}#${i + 1}`, text: c }))));
    expect(parseCorpus(text, 'corpus.json').passages).toEqual(passages);
  });

  it('PubMedQA: the shipped file gives a passage per context of the 1,000 items', () => {
    const text = readFileSync(new URL('../../public/data/biomed/pubmedqa_ori_pqal.json', import.meta.url), 'utf8');
    const doc = JSON.parse(text) as Record<string, { CONTEXTS: string[] }>;
    expect(Object.keys(doc)).toHaveLength(1000);
    const { passages } = parsePubmedqaCorpus(text);
    expect(passages.length).toBe(Object.values(doc).reduce((s, x) => s + x.CONTEXTS.length, 0));
    expect(new Set(passages.map((p) => p.id)).size).toBe(passages.length);
  });

  it('JSONL {id, text}: records as given, bad lines reported with their line', () => {
    const text = ['{"id": "a", "text": "Aspirin inhibits COX."}', '', '{"id": 7, "text": "Numeric id."}', 'oops', '{"text": "no id"}', '{"id": "b"}', '{"id": "a", "text": "again"}'].join('\n');
    const { passages, rejected } = parseCorpus(text, 'c.jsonl');
    expect(passages).toEqual([
      { id: 'a', text: 'Aspirin inhibits COX.' },
      { id: '7', text: 'Numeric id.' },
    ]);
    expect(rejected.map((r) => [r.line, r.reason.replace(/ \(.*\)$/, '')])).toEqual([
      [4, 'not valid JSON'],
      [5, 'no "id"'],
      [6, '"b": no "text"'],
      [7, 'duplicate id "a"'],
    ]);
    expect(parseCorpus('{"id": "x", "text": "t"}\n{"id": "y", "text": "u"}\n', 'c.txt').passages.map((p) => p.id)).toEqual(['x', 'y']);
    expect(parseCorpus('{"id": "x", "text": "t"}', 'one.json').passages).toEqual([{ id: 'x', text: 't' }]);
  });

  it('plain text: one passage per line, id = line number from 1, blank lines skipped', () => {
    expect(parseLinesCorpus('first line\r\n\n  third  \n', 'c.txt').passages).toEqual([
      { id: '1', text: 'first line' },
      { id: '3', text: 'third' },
    ]);
  });

  it('folder of .txt: paragraphs at blank lines, long ones cut into windows, ids <file>#<n>', () => {
    const long = Array.from({ length: 5 }, (_, i) => `w${i}`).join(' ');
    const { passages, rejected } = splitDocuments(
      [
        { name: 'a.txt', text: 'Para one\nstill one.\n\n\nPara two.\n' },
        { name: 'b.txt', text: long },
        { name: 'empty.txt', text: '  \n\n' },
      ],
      { maxWords: 2 },
    );
    expect(passages).toEqual([
      { id: 'a.txt#1', text: 'Para one' },
      { id: 'a.txt#2', text: 'still one.' },
      { id: 'a.txt#3', text: 'Para two.' },
      { id: 'b.txt#1', text: 'w0 w1' },
      { id: 'b.txt#2', text: 'w2 w3' },
      { id: 'b.txt#3', text: 'w4' },
    ]);
    expect(rejected).toEqual([{ line: 1, file: 'empty.txt', reason: 'empty.txt: no text' }]);
    expect(splitDocuments([{ name: 'a.txt', text: 'one two three' }]).passages).toEqual([{ id: 'a.txt#1', text: 'one two three' }]);
  });

  it('bad input: empty, no text, non-UTF-8, no documents: clear messages', () => {
    expect(() => parseCorpus('', 'c.txt')).toThrow(/c.txt: the corpus has no text/);
    expect(() => parseCorpus('\n  \n', 'c.txt')).toThrow(/c.txt: the corpus has no text/);
    expect(() => parseCorpus('{"id": "a"}\n', 'c.jsonl')).toThrow(/c.jsonl: the corpus has no text \(line 1: "a": no "text"\)/);
    expect(() => parseCorpus('{"1": {"CONTEXTS": []}}', 'p.json')).toThrow(/p.json: the corpus has no text/);
    expect(() => parseCorpus('caf\uFFFD\n', 'l.txt')).toThrow(/l.txt: not valid UTF-8/);
    expect(() => splitDocuments([])).toThrow(/no .txt documents/);
    expect(() => splitDocuments([{ name: 'x.txt', text: '' }])).toThrow(/x.txt: the corpus has no text/);
    expect(() => parsePubmedqaCorpus('[1]', 'p.json')).toThrow(/expected a PubMedQA object/);
  });
});

describe('corpus size limit (CLI)', () => {
  it('refuses a file or folder over MAX_CORPUS_BYTES from its size alone, saying what to do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corpus-limit-'));
    try {
      // Sparse files: the size is there, the bytes are never written (nor read).
      const big = join(dir, 'big.txt');
      closeSync(openSync(big, 'w'));
      truncateSync(big, 50 * 1024 * 1024);
      expect(() => readCorpus(big)).toThrow(/^--corpus .*big\.txt is 50\.0 MB; a corpus may be at most 32\.0 MB \(its index stays in memory\)\. Keep the documents closest to your domain, or split the corpus/);
      const folder = join(dir, 'docs');
      mkdirSync(folder);
      writeFileSync(join(folder, 'a.txt'), 'alpha beta\n\ngamma');
      expect(readCorpus(folder).passages.map((p) => p.id)).toEqual(['a.txt#1', 'a.txt#2']);
      const b = join(folder, 'b.txt');
      closeSync(openSync(b, 'w'));
      truncateSync(b, MAX_CORPUS_BYTES);
      expect(() => readCorpus(folder)).toThrow(/docs \(2 \.txt files\) is 32\.0 MB/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
