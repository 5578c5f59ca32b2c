import { describe, expect, it } from 'vitest';
import { analyze, createAnalyzer, LUCENE_STOP_WORDS, words } from '../../src/selfspec/analyzer';

describe('analyzer', () => {
  it('has exactly Lucene\'s 33 English stop words', () => {
    expect(LUCENE_STOP_WORDS.size).toBe(33);
    for (const w of ['a', 'the', 'with', 'such', 'their', 'will']) expect(LUCENE_STOP_WORDS.has(w)).toBe(true);
    for (const w of ['he', 'she', 'we', 'from', 'have']) expect(LUCENE_STOP_WORDS.has(w)).toBe(false);
  });

  it('NFKC, lower case, splits on every non letter/digit (Unicode-aware)', () => {
    // ﬁ (U+FB01) → "fi", full-width Ｃ４ → "c4", superscript ² → "2"; é, ß and Greek letters are letters.
    expect(words('The ﬁeld: Ｃ４-cells, x² Δψm café STRASSE straße (p<0.05)')).toEqual(['the', 'field', 'c4', 'cells', 'x2', 'δψm', 'café', 'strasse', 'straße', 'p', '0', '05']);
    expect(words('  ...  ')).toEqual([]);
  });

  it('drops stop words before Porter stemming', () => {
    expect(analyze("The Running dogs aren't in the ﬁeld; these studies are studying cells.")).toEqual(['run', 'dog', 'aren', 't', 'field', 'studi', 'studi', 'cell']);
    // "this" is a stop word and goes; stemming first would have made it "thi" and kept it.
    expect(analyze('this is it')).toEqual([]);
  });

  it('stem none keeps the words', () => {
    expect(analyze('The Running dogs', 'none')).toEqual(['running', 'dogs']);
    expect(createAnalyzer('none')('Cells and CELLS')).toEqual(['cells', 'cells']);
  });

  it('refuses an unknown stem mode', () => {
    expect(() => createAnalyzer('snowball' as never)).toThrow(/stem must be "porter" or "none"/);
  });

  it('a cached analyzer gives the same result twice', () => {
    const a = createAnalyzer('porter');
    expect(a('relational generalization')).toEqual(['relat', 'gener']);
    expect(a('relational generalization')).toEqual(['relat', 'gener']);
  });
});
