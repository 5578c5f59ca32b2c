import { describe, expect, it } from 'vitest';
import {
  columnOf,
  evaluateCell,
  evaluateRouge,
  fittedPrompt,
  makeTable,
  parsePubmedqa,
  PUBMEDQA_CLASSES,
  pubmedqaPrompt,
  tableMarkdown,
  type PromptFields,
  type VariantRunner,
} from '../../src/selfspec/evaluate';
import { classify } from '../../src/selfspec/metrics';
import { rougeL } from '../../src/selfspec/rouge';

const pqal = {
  '1': { QUESTION: 'Does A cause B?', CONTEXTS: ['A was given.', 'B followed in most.'], final_decision: 'yes' },
  '2': { QUESTION: 'Is C safe?', CONTEXTS: ['C had side effects.'], final_decision: 'no' },
  '3': { QUESTION: 'Does D help?', CONTEXTS: ['Mixed results for D.'], final_decision: 'maybe' },
  '4': { QUESTION: 'Demo question one?', CONTEXTS: ['Demo context one.'], final_decision: 'yes' },
  '5': { QUESTION: 'Demo question two?', CONTEXTS: ['Demo context two.'], final_decision: 'no' },
  '6': { QUESTION: 'Bad label?', CONTEXTS: ['x'], final_decision: 'perhaps' },
};
const truth = { '1': 'yes', '2': 'no', '3': 'maybe', '99': 'yes' };

/** Chars as tokens; scores/generations from a table keyed by the question in the prompt. */
function fakeRunner(answers: Record<string, string>): VariantRunner & { calls: PromptFields[][] } {
  const calls: PromptFields[][] = [];
  const answerOf = (p: PromptFields) => Object.entries(answers).find(([q]) => p.input.endsWith(q))?.[1] ?? 'none';
  return {
    calls,
    promptTokens: (p) => p.instruction.length + p.input.length,
    async score(prompts, cands) {
      calls.push(prompts);
      return prompts.map((p) => cands.map((c) => (c === answerOf(p) ? -1 : -5)));
    },
    async generate(prompts) {
      calls.push(prompts);
      return prompts.map((p) => (answerOf(p) === 'none' ? 'I cannot say' : `${answerOf(p)[0].toUpperCase()}${answerOf(p).slice(1)}, because…`));
    },
  };
}

describe('PubMedQA', () => {
  const { test, demos } = parsePubmedqa(JSON.stringify(pqal), JSON.stringify(truth));

  it('splits test questions (by the ground truth) from demonstrations, skipping bad records', () => {
    expect(test.map((t) => [t.id, t.label])).toEqual([
      ['1', 'yes'],
      ['2', 'no'],
      ['3', 'maybe'],
    ]);
    expect(demos.map((d) => d.id)).toEqual(['4', '5']); // '6' has no valid label; '99' is not in pqal
    expect(() => parsePubmedqa(JSON.stringify(pqal), JSON.stringify({ x: 'yes' }))).toThrow(/no test question/);
    expect(() => parsePubmedqa('{', '{}')).toThrow(/not valid JSON/);
  });

  it('writes k answered demonstrations before the question', () => {
    const p = pubmedqaPrompt(test[0], demos);
    expect(p.instruction).toMatch(/yes, no or maybe/);
    expect(p.input).toBe(
      'Example 1:\nAbstract: Demo context one.\nQuestion: Demo question one?\nAnswer: yes\n\nExample 2:\nAbstract: Demo context two.\nQuestion: Demo question two?\nAnswer: no\n\nNow answer:\nAbstract: A was given. B followed in most.\nQuestion: Does A cause B?',
    );
    expect(pubmedqaPrompt(test[0], []).input).toBe('Abstract: A was given. B followed in most.\nQuestion: Does A cause B?');
  });

  it('shortens every abstract to fit the token budget, and says so when nothing fits', () => {
    const count = (p: PromptFields) => p.instruction.length + p.input.length;
    const full = count(pubmedqaPrompt(test[0], demos));
    const fit = fittedPrompt(test[0], demos, full - 10, count);
    expect(count(fit)).toBeLessThanOrEqual(full - 10);
    expect(fit.input).toContain('Question: Does A cause B?');
    expect(fit.input).toContain(' …');
    expect(() => fittedPrompt(test[0], demos, 20, count)).toThrow(/does not fit/);
  });

  it('scores a cell by answer likelihood and by parsing generations', async () => {
    // Right on 1 and 2, wrong on 3 (predicts yes).
    const runner = fakeRunner({ 'Does A cause B?': 'yes', 'Is C safe?': 'no', 'Does D help?': 'yes' });
    const lik = await evaluateCell(runner, { items: test, demos, shots: 1, scoring: 'likelihood', budget: 10_000 });
    expect(lik.accuracy).toBeCloseTo(2 / 3, 12);
    // yes: P 1/2 R 1 → 2/3; no: 1; maybe: 0.
    expect(lik.macroF1).toBeCloseTo((2 / 3 + 1 + 0) / 3, 12);
    expect(lik.confusion).toEqual([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [1, 0, 0, 0],
    ]);
    expect(runner.calls[0][0].input.startsWith('Example 1:')).toBe(true);
    expect(runner.calls[0][0].input).not.toContain('Example 2:');

    const gen = await evaluateCell(fakeRunner({ 'Does A cause B?': 'yes', 'Is C safe?': 'maybe' }), { items: test, demos, shots: 0, scoring: 'generation', budget: 10_000 });
    expect(gen.accuracy).toBeCloseTo(1 / 3, 12);
    expect(gen.unparsed).toBeCloseTo(1 / 3, 12);
    expect(gen.confusion[2][3]).toBe(1); // "I cannot say" → none
    expect(gen.examples[0]).toMatchObject({ id: '1', gold: 'yes', pred: 'yes', text: 'Yes, because…' });
  });

  it('ROUGE-L of generations against held-out seeds, long inputs cut to fit', async () => {
    const runner: VariantRunner = {
      promptTokens: (p) => p.instruction.length + p.input.length,
      score: async () => [],
      generate: async (ps) => ps.map(() => 'the cat sat on the mat'),
    };
    const seeds = [
      { instruction: 'Describe.', input: 'short', output: 'the cat sat on the mat' },
      { instruction: 'Describe.', input: 'word '.repeat(100), output: 'a dog' },
    ];
    const r = await evaluateRouge(runner, seeds, (c, ref) => rougeL(ref, c).fmeasure, { budget: 60, maxTokens: 8 });
    expect(r.n).toBe(2);
    expect(r.rougeL).toBeCloseTo((1 + 0) / 2, 12);
  });

  it('renders the table with one row per variant and confusion matrices', () => {
    const cell = { ...classifyAll(), examples: [] };
    const t = makeTable(
      [
        { label: 'base', round: 0, method: 'base', k: null, cells: { [columnOf(0, 'likelihood')]: cell } },
        { label: 'LoRA (round 1, k = 5)', round: 1, method: 'lora', k: 5, cells: {}, rougeL: { rougeL: 0.25, n: 4 } },
      ],
      [0, 1],
      ['likelihood'],
      3,
    );
    expect(t.columns).toEqual(['0-shot likelihood', '1-shot likelihood']);
    const md = tableMarkdown(t);
    expect(md).toContain('| base | 66.7 / 55.6 | – | – |');
    expect(md).toContain('| LoRA (round 1, k = 5) | – | – | 25.0 |');
    expect(md).toContain('**base, 0-shot likelihood**');
    expect(md).toContain('| maybe | 1 | 0 | 0 | 0 |');
  });
});

function classifyAll() {
  return classify(['yes', 'no', 'maybe'], ['yes', 'no', 'yes'], PUBMEDQA_CLASSES);
}
