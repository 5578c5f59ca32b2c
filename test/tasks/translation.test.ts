import { describe, expect, it } from 'vitest';
import { buildTranslation } from '../../src/tasks/translation';
import type { TextFile } from '../../src/tasks/types';
import { listData, readData } from '../helpers/fixtures';

const realFiles: TextFile[] = listData('translation').map((name) => ({ name, text: readData(`translation/${name}`) }));

describe('Tatoeba on the real files', () => {
  const { examples, report } = buildTranslation(realFiles);

  it('pairs 1,000 sentences for each of 7 languages with English, both directions', () => {
    expect(report.errors).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.total).toBe(7000);
    for (const l of ['fr', 'de', 'ru', 'it', 'el', 'es', 'pt']) {
      expect(report.pairCounts[`en-${l}`]).toBe(1000);
      expect(examples.filter((e) => e.srcLang === l && e.tgtLang === 'en')).toHaveLength(1000);
      expect(examples.filter((e) => e.srcLang === 'en' && e.tgtLang === l)).toHaveLength(1000);
    }
  });

  it('reads line-aligned pairs', () => {
    expect(examples).toContainEqual({
      srcLang: 'fr',
      tgtLang: 'en',
      source: 'Au commencement, Dieu créa le ciel et la terre.',
      target: 'In the beginning God created the heaven and the earth.',
      split: expect.any(String),
      pivot: false,
    });
  });

  it('derives IT↔FR and ES↔PT through identical English sentences, as test data', () => {
    expect(report.pairCounts['it-fr']).toBe(17);
    expect(report.pairCounts['es-pt']).toBe(43);
    const pivots = examples.filter((e) => e.pivot);
    expect(pivots).toHaveLength(2 * (17 + 43));
    expect(pivots.every((e) => e.split === 'test')).toBe(true);
    // "Are we mad squirrels?" is in both the Italian and the French file.
    expect(pivots).toContainEqual({ srcLang: 'it', tgtLang: 'fr', source: 'Siamo delle scoiattoli pazzi?', target: 'Est-ce que nous sommes des écureuils fous ?', split: 'test', pivot: true });
    expect(pivots).toContainEqual({ srcLang: 'pt', tgtLang: 'es', source: 'Estou morrendo de fome.', target: 'Me estoy muriendo de hambre.', split: 'test', pivot: true });
    expect(report.notes).toContain("it–fr: 17 sentence pairs through identical English sentences (both directions, split 'test').");
  });

  it('splits by English sentence, the same way in every language and direction', () => {
    const splitOfEnglish = new Map<string, string>();
    for (const e of examples.filter((x) => !x.pivot)) {
      const english = e.srcLang === 'en' ? e.source : e.target;
      const prev = splitOfEnglish.get(english);
      if (prev) expect(e.split).toBe(prev);
      splitOfEnglish.set(english, e.split);
    }
    // 6,558 distinct English sentences, 20% of them (rounded) in test.
    expect(splitOfEnglish.size).toBe(6558);
    expect([...splitOfEnglish.values()].filter((s) => s === 'test')).toHaveLength(Math.round(6558 * 0.2));
    // Same seed, same split.
    expect(buildTranslation(realFiles).examples).toEqual(examples);
  });

  it('can emit one direction only', () => {
    const { examples: toEn } = buildTranslation(realFiles, { directions: 'to-en', pivots: [] });
    expect(toEn).toHaveLength(7000);
    expect(toEn.every((e) => e.tgtLang === 'en')).toBe(true);
  });
});

describe('Tatoeba on malformed input', () => {
  it('skips misaligned and empty lines and reports bad files', () => {
    const files: TextFile[] = [
      { name: 'data/tatoeba.ita-eng.ita', text: 'Ciao.\n\nGrazie.\nExtra.\n' },
      { name: 'data/tatoeba.ita-eng.eng', text: 'Hello.\r\nGood.\r\nThanks.\r\n' },
      { name: 'tatoeba.fra-eng.fra', text: 'Merci.\n' },
      { name: 'tatoeba.fra-eng.eng', text: 'Thanks.\n   \n' },
      { name: 'tatoeba.deu-eng.deu', text: 'Danke.\n' },
      { name: 'notes.txt', text: 'hi' },
    ];
    const { examples, report } = buildTranslation(files, { directions: 'to-en' });
    expect(report.errors).toEqual([
      'notes.txt: not a tatoeba.XXX-eng.{XXX,eng} file',
      'tatoeba.ita-eng: 4 ita lines but 3 English lines',
      'tatoeba.fra-eng: 1 fra lines but 2 English lines',
      'tatoeba.deu-eng: missing the English file',
      'pivot es–pt: no es–English data',
    ]);
    expect(report.skipped).toEqual([
      { line: 2, reason: 'tatoeba.ita-eng line 2: empty ita sentence' },
      { line: 4, reason: 'tatoeba.ita-eng line 4: no aligned English line' },
      { line: 2, reason: 'tatoeba.fra-eng line 2: no aligned fra line' },
    ]);
    expect(report.total).toBe(6);
    expect(report.kept).toBe(3);
    expect(report.pairCounts).toEqual({ 'en-it': 2, 'en-fr': 1, 'it-fr': 1 });
    expect(examples.filter((e) => !e.pivot).map((e) => [e.srcLang, e.source, e.target])).toEqual([
      ['it', 'Ciao.', 'Hello.'],
      ['it', 'Grazie.', 'Thanks.'],
      ['fr', 'Merci.', 'Thanks.'],
    ]);
    expect(examples.filter((e) => e.pivot).map((e) => [e.srcLang, e.source, e.target])).toEqual([
      ['it', 'Grazie.', 'Merci.'],
      ['fr', 'Merci.', 'Grazie.'],
    ]);
  });
});
