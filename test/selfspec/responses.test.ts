import { describe, expect, it } from 'vitest';
import { fillResponseTemplate, fitPassage, generateResponses, RESPONSE_TEMPLATE, retrievalWeights, type ResponseRecord, type Retriever } from '../../src/selfspec/responses';
import { fakeTokenizer } from '../worker/fake-engine';
import { ScriptModel } from './fake-model';

/** A retriever over fixed passages: score = number of query words the passage contains. */
function wordRetriever(passages: Array<{ id: string; text: string }>): Retriever {
  return {
    size: passages.length,
    search(q, k) {
      const words = new Set(q.toLowerCase().split(/\W+/).filter(Boolean));
      return passages
        .map((p, i) => ({ ...p, i, score: p.text.toLowerCase().split(/\W+/).filter((w) => words.has(w)).length }))
        .filter((p) => p.score > 0)
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, k)
        .map(({ id, text, score }) => ({ id, text, score }));
    },
  };
}

const passages = [
  { id: 'a', text: 'aspirin inhibits platelets' },
  { id: 'b', text: 'aspirin and platelets and bleeding risk' },
  { id: 'c', text: 'insulin lowers glucose' },
];
const items = [
  { index: 0, instruction: 'How does aspirin affect platelets and bleeding?', input: '' },
  { index: 1, instruction: 'What does insulin do to glucose?', input: 'in diabetes' },
  { index: 2, instruction: 'Does aspirin raise bleeding risk?', input: '' },
];

describe('retrieval weights', () => {
  it('are the softmax of the scores over the temperature', () => {
    const w = retrievalWeights([2, 1, 0]);
    const e = [Math.exp(2), Math.exp(1), 1];
    const s = e[0] + e[1] + e[2];
    e.forEach((x, i) => expect(w[i]).toBeCloseTo(x / s, 12));
    const hot = retrievalWeights([2, 1, 0], 2);
    expect(hot[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(0.5) + 1), 12);
    expect(retrievalWeights([5])).toEqual([1]);
    expect(retrievalWeights([])).toEqual([]);
    expect(() => retrievalWeights([1], 0)).toThrow(/temperature/);
  });
});

describe('response prompt', () => {
  it('drops the passage paragraph without retrieval and the Input line without input', () => {
    const t = fillResponseTemplate(RESPONSE_TEMPLATE, { domain: 'biomedicine', instruction: 'Do X.', input: '', passage: null });
    expect(t).toContain('You are a biomedicine expert');
    expect(t).not.toContain('Background');
    expect(t).not.toContain('Input:');
    expect(t).not.toMatch(/\n\n\n/);
    const w = fillResponseTemplate(RESPONSE_TEMPLATE, { domain: 'biomedicine', instruction: 'Do X.', input: 'some text', passage: 'P1' });
    expect(w).toContain('Background document: P1');
    expect(w).toContain('Input: some text');
    expect(w.endsWith('Response:')).toBe(true);
  });

  it('cuts a long passage at words so the prompt fits the budget', () => {
    const render = (p: string) => `Q: ${p}\nA:`;
    const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const cut = fitPassage(fakeTokenizer, render, long, 100);
    expect(fakeTokenizer.encode(render(cut), { bos: true }).length).toBeLessThanOrEqual(100);
    expect(cut.endsWith(' …')).toBe(true);
    expect(long.startsWith(cut.slice(0, -2))).toBe(true);
    expect(fitPassage(fakeTokenizer, render, 'short', 100)).toBe('short');
    expect(() => fitPassage(fakeTokenizer, render, long, 3)).toThrow(/context/);
  });
});

describe('generateResponses', () => {
  it('decodes each instruction as one mixture group over its k passages, as many groups per batch as slots allow', async () => {
    const model = new ScriptModel((p) => (p.includes('insulin') ? ' Insulin lowers blood glucose.' : ' It inhibits platelets.'));
    const recs: ResponseRecord[] = [];
    const tokens: Array<[number, string]> = [];
    const live: Array<Array<number[] | null>> = [];
    await generateResponses(model, items, {
      round: 1,
      k: 2,
      retriever: wordRetriever(passages),
      slots: 5,
      promptOf: (item, p) => ({ prompt: fillResponseTemplate(RESPONSE_TEMPLATE, { domain: 'biomedicine', instruction: item.instruction, input: item.input, passage: p }) }),
      maxTokens: 64,
      temperature: 1,
      topP: 0.9,
      seed: 3,
      onToken: (item, _id, text, post) => {
        tokens.push([item.index, text]);
        (live[item.index] ??= []).push(post);
      },
      onResponse: (r) => void recs.push(r),
    });
    // Up to 2 slots per group, 5 slots → 2 groups per batch → 2 batches; item 1 has one hit only.
    expect(model.requests.map((r) => r.prompts.length)).toEqual([3, 2]);
    const r0 = model.requests[0];
    expect(r0.mixture!.group).toEqual([0, 0, 1]);
    expect(r0.prompts[0]).toContain('Background document: aspirin and platelets and bleeding risk'); // best passage first
    expect(r0.prompts[1]).toContain('Background document: aspirin inhibits platelets');
    // Item 0: passage b has 5 query words (and ×2), a has 2 → weights softmax([5, 2]).
    const w = retrievalWeights([5, 2]);
    expect(r0.mixture!.weights.slice(0, 2)).toEqual(w);
    expect(recs.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(recs[0]).toMatchObject({ output: 'It inhibits platelets.', decoding: 'mixture', k: 2, passages: [{ id: "b", score: 5 }, { id: "a", score: 2 }] });
    expect(recs[0].posterior).toHaveLength(recs[0].tokens);
    expect(recs[0].posterior![0][0]).toBeCloseTo(w[0], 4);
    expect(recs[0].posterior![0][1]).toBeCloseTo(w[1], 4);
    // Item 1 matches only passage c: a group of one decodes plainly, weight 1.
    expect(recs[1]).toMatchObject({ decoding: 'plain', k: 1, passages: [{ id: 'c', weight: 1 }] });
    expect(recs[1].posterior).toBeUndefined();
    // Streaming reports each response once (member 0), not once per passage.
    expect(tokens.filter(([i]) => i === 0).map(([, t]) => t).join('')).toBe(' It inhibits platelets.');
    // The live shares while streaming are the record's posterior, token for token; a group of one has none.
    expect(live[0]).toEqual(recs[0].posterior);
    expect(live[1].every((p) => p === null)).toBe(true);
    expect(live[1]).toHaveLength(recs[1].tokens);
  });

  it('k = 0 sends one plain prompt per instruction and no mixture', async () => {
    const model = new ScriptModel(() => ' ok');
    const recs: ResponseRecord[] = [];
    await generateResponses(model, items, { round: 1, k: 0, retriever: null, slots: 8, promptOf: (it) => ({ prompt: it.instruction }), maxTokens: 8, temperature: 0, topP: 1, seed: 0, onResponse: (r) => void recs.push(r) });
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0].mixture).toBeUndefined();
    expect(recs.every((r) => r.k === 0 && r.passages.length === 0 && r.decoding === 'plain')).toBe(true);
  });

  it('contrastive decoding pairs the expert (with its adapter) and the amateur', async () => {
    const model = new ScriptModel(() => ' expert answer');
    model.setAdapter('spec', { rank: 1, alpha: 1, targets: [], layers: [] });
    const recs: ResponseRecord[] = [];
    await generateResponses(model, items.slice(0, 2), {
      round: 2,
      k: 0,
      retriever: null,
      slots: 4,
      promptOf: (it) => ({ prompt: `E ${it.instruction}`, adapter: 'spec' }),
      contrastive: { amateurOf: (it) => ({ prompt: `A ${it.instruction}` }), alpha: 0.2 },
      maxTokens: 32,
      temperature: 0,
      topP: 1,
      seed: 0,
      onResponse: (r) => void recs.push(r),
    });
    const req = model.requests[0];
    expect(req.contrastive).toEqual({ expert: [0, 2], amateur: [1, 3], alpha: 0.2 });
    expect(req.adapters).toEqual(['spec', null, 'spec', null]);
    expect(recs.map((r) => r.decoding)).toEqual(['contrastive', 'contrastive']);
    expect(recs[0].output).toBe('expert answer');
  });

  it('contrastive with retrieval: an expert mixture group and an amateur group over the same k passages (width 2k)', async () => {
    const model = new ScriptModel((p) => (p.startsWith('E ') ? ' expert answer' : ' amateur'));
    model.setAdapter('spec', { rank: 1, alpha: 1, targets: [], layers: [] });
    const recs: ResponseRecord[] = [];
    const live: Array<number[] | null> = [];
    await generateResponses(model, items, {
      round: 2,
      k: 2,
      retriever: wordRetriever(passages),
      slots: 8,
      promptOf: (it, p) => ({ prompt: `E ${it.index} ${p}`, adapter: 'spec' }),
      contrastive: { amateurOf: (it, p) => ({ prompt: `A ${it.index} ${p}` }), alpha: 0.3 },
      maxTokens: 32,
      temperature: 0,
      topP: 1,
      seed: 0,
      onToken: (it, _id, _t, post) => it.index === 0 && live.push(post),
      onResponse: (r) => void recs.push(r),
    });
    // 8 slots / (2 × 2) = 2 items per request: item 0 (2 passages) and item 1 (1 hit: groups of one).
    const [req] = model.requests;
    expect(req.prompts.map((p) => ScriptModel.textOf(p))).toEqual([
      'E 0 aspirin and platelets and bleeding risk',
      'E 0 aspirin inhibits platelets',
      'A 0 aspirin and platelets and bleeding risk',
      'A 0 aspirin inhibits platelets',
      'E 1 insulin lowers glucose',
      'A 1 insulin lowers glucose',
    ]);
    expect(req.mixture!.group).toEqual([0, 0, 1, 1, 2, 3]);
    const w = retrievalWeights([5, 2]);
    expect(req.mixture!.weights).toEqual([...w, ...w, 1, 1]);
    expect(req.contrastive).toEqual({ expert: [0, 2], amateur: [1, 3], alpha: 0.3 });
    expect(req.adapters).toEqual(['spec', 'spec', null, null, 'spec', null]);
    expect(recs.map((r) => [r.decoding, r.k, r.output])).toEqual([
      ['contrastive', 2, 'expert answer'],
      ['contrastive', 1, 'expert answer'],
      ['contrastive', 2, 'expert answer'],
    ]);
    // The expert group's shares are the record's posterior and stream once per token (not per member).
    expect(recs[0].posterior![0][0]).toBeCloseTo(w[0], 4);
    expect(live).toEqual(recs[0].posterior);
    expect(recs[1].posterior).toBeUndefined();
    // k × 2 more than the slots: refused with what to do.
    await expect(generateResponses(model, items, { round: 2, k: 3, retriever: wordRetriever(passages), slots: 4, promptOf: () => ({ prompt: 'x' }), contrastive: { amateurOf: () => ({ prompt: 'y' }) }, maxTokens: 4, temperature: 0, topP: 1, seed: 0, onResponse: () => {} })).rejects.toThrow(/needs 6 slots \(k = 3, expert and amateur\).*more slots or lower k/);
  });

  it('refuses k larger than the corpus or the slots, with what to do', async () => {
    const model = new ScriptModel(() => '');
    const base = { round: 1, slots: 4, promptOf: () => ({ prompt: 'x' }), maxTokens: 4, temperature: 0, topP: 1, seed: 0, onResponse: () => {} };
    await expect(generateResponses(model, items, { ...base, k: 5, retriever: wordRetriever(passages) })).rejects.toThrow(/corpus has only 3.*--k 3/);
    await expect(generateResponses(model, items, { ...base, k: 2, retriever: null })).rejects.toThrow(/no corpus/);
    await expect(generateResponses(model, items, { ...base, k: 3, retriever: wordRetriever([...passages, ...passages]), slots: 2 })).rejects.toThrow(/more slots or lower k/);
    expect(model.requests).toHaveLength(0);
  });

  it('skips answered items but keeps the batches (and seeds) of an uninterrupted run', async () => {
    const model = new ScriptModel(() => ' r');
    const recs: ResponseRecord[] = [];
    await generateResponses(model, items, { round: 1, k: 0, retriever: null, slots: 2, promptOf: (it) => ({ prompt: it.instruction }), maxTokens: 4, temperature: 1, topP: 1, seed: 9, skip: (it) => it.index < 2, onResponse: (r) => void recs.push(r) });
    expect(recs.map((r) => r.index)).toEqual([2]);
    expect(model.requests).toHaveLength(1);
    const full = new ScriptModel(() => ' r');
    await generateResponses(full, items, { round: 1, k: 0, retriever: null, slots: 2, promptOf: (it) => ({ prompt: it.instruction }), maxTokens: 4, temperature: 1, topP: 1, seed: 9, onResponse: () => {} });
    expect(model.requests[0].seed).toBe(full.requests[1].seed);
  });
});
