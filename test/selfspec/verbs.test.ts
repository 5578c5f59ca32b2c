import { describe, expect, it } from 'vitest';
import { rootVerbNoun, verbNounCounts } from '../../src/selfspec/verbs';

describe('rootVerbNoun', () => {
  it.each([
    ['Identify the diseases mentioned in the text.', 'identify', 'disease'],
    ['Summarize the abstract in two sentences.', 'summarize', 'abstract'],
    ['Classify the sentiment of the clinical note.', 'classify', 'sentiment'],
    ['Write a short poem about the heart.', 'write', 'poem'],
    ['Given a drug name, list its side effects.', 'list', 'effect'],
    ['Please extract all gene names from the passage.', 'extract', 'name'],
    ['Can you describe the symptoms of asthma?', 'describe', 'symptom'],
    ['What causes type 1 diabetes?', 'cause', 'diabetes'],
    ['Translate the sentence into French.', 'translate', 'sentence'],
    ['Write three questions.', 'write', 'question'],
  ])('%s → %s %s', (text, verb, noun) => {
    expect(rootVerbNoun(text)).toEqual({ verb, noun });
  });

  it('a verb without a direct object has noun null; no verb, empty or junk → null', () => {
    expect(rootVerbNoun('Explain how insulin lowers blood glucose.')).toEqual({ verb: 'explain', noun: null });
    expect(rootVerbNoun('Once upon a time.')).toBeNull();
    expect(rootVerbNoun('')).toBeNull();
    expect(rootVerbNoun('### 12 ???')).toBeNull();
  });
});

describe('verbNounCounts', () => {
  it('nests noun counts under verb counts, most frequent first, with the rest summed', () => {
    const s = verbNounCounts(
      [
        'List the symptoms of asthma.',
        'List the symptoms of gout.',
        'List the causes of anemia.',
        'Explain how insulin works.',
        'Summarize the abstract in two sentences.',
        'Once upon a time.',
        { verb: 'summarize', noun: 'abstract' },
        null,
      ],
      { maxVerbs: 2, maxNouns: 1 },
    );
    expect(s).toEqual({
      total: 8,
      noVerb: 2,
      verbs: [
        { verb: 'list', count: 3, nouns: [{ noun: 'symptom', count: 2 }] },
        { verb: 'summarize', count: 2, nouns: [{ noun: 'abstract', count: 2 }] },
      ],
      otherVerbs: 1,
    });
  });

  it('empty input gives an empty summary', () => {
    expect(verbNounCounts([])).toEqual({ total: 0, noVerb: 0, verbs: [], otherVerbs: 0 });
  });
});
