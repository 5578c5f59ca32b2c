import { describe, expect, it } from 'vitest';
import type { SelfSpecEvent } from '../selfspec/events';
import type { EvalTable } from '../selfspec/evaluate';
import { slotsNeeded } from '../selfspec/slots';
import { fakeClient } from '../../test/worker/fake-engine';
import { createModelStore } from './model';
import { createNoticesStore } from './notices';
import { checkSettings, createSelfSpecStore, DEFAULT_SETTINGS, emptyView, exportableFiles, MAX_INSTRUCTIONS, reduceEvent, slotFit, tableCsv } from './selfspec';

const run = (events: SelfSpecEvent[], rounds = 2) => events.reduce(reduceEvent, emptyView(rounds));

describe('selfspec view reducer', () => {
  it('counts accepted and rejected instructions with reason codes and the duplicate they repeat', () => {
    const v = run([
      { type: 'instruction', round: 1, accepted: true, index: 0, instruction: 'Name the genes.', input: '' },
      { type: 'instruction', round: 1, accepted: false, instruction: 'Name the genes!', input: '', reason: 'duplicate: ROUGE-L 0.91', duplicateOf: 'Name the genes.' },
      { type: 'instruction', round: 1, accepted: false, instruction: 'Draw a graph.', input: '', reason: 'unactionable: mentions "graph"' },
      { type: 'instruction', round: 1, accepted: false, instruction: 'x', input: '', reason: 'duplicate: ROUGE-L 1.00', duplicateOf: 'x' },
    ]);
    expect([v.accepted, v.rejected]).toEqual([1, 3]);
    expect(v.reasons).toEqual({ duplicate: 2, unactionable: 1 });
    expect(v.instructions[1]).toMatchObject({ accepted: false, duplicateOf: 'Name the genes.', reason: 'duplicate: ROUGE-L 0.91' });
    expect(v.acceptedTexts).toEqual(['Name the genes.']);
  });

  it('keeps the newest instructions only, but exact counts', () => {
    const evs: SelfSpecEvent[] = Array.from({ length: MAX_INSTRUCTIONS + 7 }, (_, i) => ({ type: 'instruction', round: 1, accepted: true, index: i, instruction: `i${i}`, input: '' }));
    const v = run(evs);
    expect(v.instructions).toHaveLength(MAX_INSTRUCTIONS);
    expect(v.instructions[0].instruction).toBe('i7');
    expect(v.accepted).toBe(MAX_INSTRUCTIONS + 7);
    expect(v.acceptedTexts).toHaveLength(MAX_INSTRUCTIONS + 7);
  });

  it('streams a response token by token, then takes the posterior and output of the finished record', () => {
    const passages = [
      { id: 'a', score: 3, weight: 0.7, text: 'A' },
      { id: 'b', score: 2, weight: 0.3, text: 'B' },
    ];
    let v = run([
      { type: 'response-start', round: 1, index: 4, instruction: 'Q', input: '', passages },
      { type: 'response-token', round: 1, index: 4, id: 10, text: 'He', posterior: null },
      { type: 'response-token', round: 1, index: 4, id: 11, text: 'llo', posterior: null },
    ]);
    expect(v.responses[0].tokens.map((t) => t.text).join('')).toBe('Hello');
    expect(v.responses[0].done).toBe(false);
    v = reduceEvent(v, {
      type: 'response-done',
      round: 1,
      record: { index: 4, instruction: 'Q', input: '', output: 'Hello', round: 1, decoding: 'mixture', k: 2, passages: passages.map(({ text: _t, ...p }) => p), posterior: [[0.9, 0.1], [0.2, 0.8]], tokens: 2, finish: 'stop' },
    });
    expect(v.responses[0]).toMatchObject({ done: true, output: 'Hello', posterior: [[0.9, 0.1], [0.2, 0.8]], decoding: 'mixture' });
    expect(v.responses[0].passages[0].text).toBe('A'); // the live passages (with text) stay
    expect(v.responsesDone).toBe(1);
  });

  it('takes the live shares of a mixture response token by token, before it finishes', () => {
    const passages = [
      { id: 'a', score: 3, weight: 0.7, text: 'A' },
      { id: 'b', score: 2, weight: 0.3, text: 'B' },
    ];
    let v = run([
      { type: 'response-start', round: 1, index: 2, instruction: 'Q', input: '', passages },
      { type: 'response-token', round: 1, index: 2, id: 10, text: 'He', posterior: [0.9, 0.1] },
    ]);
    expect(v.responses[0]).toMatchObject({ done: false, posterior: [[0.9, 0.1]] });
    v = reduceEvent(v, { type: 'response-token', round: 1, index: 2, id: 11, text: 'llo', posterior: [0.2, 0.8] });
    expect(v.responses[0].posterior).toEqual([[0.9, 0.1], [0.2, 0.8]]);
    expect(v.responses[0].tokens).toHaveLength(2);
    // Another response's tokens leave this one alone.
    v = reduceEvent(v, { type: 'response-start', round: 1, index: 3, instruction: 'R', input: '', passages });
    v = reduceEvent(v, { type: 'response-token', round: 1, index: 3, id: 12, text: 'X', posterior: [0.4, 0.6] });
    expect(v.responses.find((r) => r.index === 2)!.posterior).toEqual([[0.9, 0.1], [0.2, 0.8]]);
    expect(v.responses.find((r) => r.index === 3)!.posterior).toEqual([[0.4, 0.6]]);
    // The record's posterior is the one kept once the response finishes.
    v = reduceEvent(v, {
      type: 'response-done',
      round: 1,
      record: { index: 2, instruction: 'Q', input: '', output: 'Hello', round: 1, decoding: 'mixture', k: 2, passages: passages.map(({ text: _t, ...p }) => p), posterior: [[0.9, 0.1], [0.2, 0.8]], tokens: 2, finish: 'stop' },
    });
    expect(v.responses.find((r) => r.index === 2)).toMatchObject({ done: true, posterior: [[0.9, 0.1], [0.2, 0.8]] });
  });

  it('tracks stage counts and ETA per round; rounds ≥ 2 drive Iterate', () => {
    let v = run([
      { type: 'stage', stage: 'instructions', round: 1, status: 'start' },
      { type: 'progress', stage: 'instructions', round: 1, done: 3, total: 10, perSecond: 1.5, etaSeconds: 4.7, unit: 'instructions' },
    ]);
    expect(v.steps.instructions).toMatchObject({ status: 'running', done: 3, total: 10, perSecond: 1.5, etaSeconds: 4.7 });
    expect(v.steps.iterate.status).toBe('pending');
    v = reduceEvent(v, { type: 'stage', stage: 'instructions', round: 1, status: 'done', detail: '10 accepted' });
    expect(v.steps.instructions).toMatchObject({ status: 'done', done: 3, detail: '10 accepted', etaSeconds: 0 });
    v = reduceEvent(v, { type: 'stage', stage: 'instructions', round: 2, status: 'start' });
    expect(v.steps.instructions).toMatchObject({ status: 'running', round: 2, done: 0 });
    expect(v.steps.iterate.status).toBe('running');
    expect(v.steps.iterate.detail).toMatch(/round 2 of 2: instructions/);
    v = reduceEvent(v, { type: 'stage', stage: 'evaluate', round: 2, status: 'done' });
    expect(v.steps.iterate.status).toBe('done');
  });

  it('collects training curves per round and method', () => {
    const step = (round: number, s: number): SelfSpecEvent => ({ type: 'train-step', round, method: 'lora', step: s, totalSteps: 3, epoch: s / 3, loss: 1 / s, lr: 1e-3, tokensPerSec: 5 });
    const v = run([step(1, 1), step(1, 2), step(1, 2), step(2, 1), { type: 'train-done', round: 1, method: 'lora', steps: 2, finalLoss: 0.5, library: 'round1/lora/library.json' }]);
    expect(v.train.map((t) => [t.key, t.points.map((p) => p.step), t.library])).toEqual([
      ['1/lora', [1, 2], 'round1/lora/library.json'],
      ['2/lora', [1], null],
    ]);
  });
});

describe('selfspec exports and settings', () => {
  it('writes the table as CSV with a row per variant', () => {
    const cell = { classes: ['yes', 'no', 'maybe'], confusion: [], accuracy: 0.5, macroF1: 0.25, perClass: [], n: 4, examples: [] };
    const t: EvalTable = { task: 'pubmedqa', n: 4, shots: [0], scorings: ['likelihood'], columns: ['0-shot likelihood'], rows: [{ label: 'base', round: 0, method: 'base', k: null, cells: { '0-shot likelihood': cell } }, { label: 'LoRA, "r1"', round: 1, method: 'lora', k: 5, cells: {}, rougeL: { rougeL: 0.123, n: 3 } }] };
    expect(tableCsv(t)).toBe(['model,round,method,k,0-shot likelihood accuracy,0-shot likelihood macro-F1,seed ROUGE-L', 'base,0,base,,50.0,25.0,', '"LoRA, ""r1""",1,lora,5,,,12.3', ''].join('\n'));
  });

  it('lists exportable files without checkpoints or progress markers', () => {
    expect(exportableFiles(['round1/lora/checkpoint.json', 'eval.md', 'round1/instructions.jsonl', 'round1/instructions.progress.json', 'round1/lora/library.json'])).toEqual([
      { name: 'eval.md', kind: 'table' },
      { name: 'round1/instructions.jsonl', kind: 'jsonl' },
      { name: 'round1/lora/library.json', kind: 'library' },
    ]);
  });

  it('names every bad setting', () => {
    expect(checkSettings(DEFAULT_SETTINGS, true)).toEqual({});
    const e = checkSettings({ ...DEFAULT_SETTINGS, instructions: 0, k: 2, epochs: 0, methods: [], name: ' ' }, false);
    expect(Object.keys(e).sort()).toEqual(['epochs', 'instructions', 'k', 'methods', 'name']);
  });
});

describe('decoding slots the settings need', () => {
  const withSlots = (slots: number) => ({ shape: { slots, maxContext: 256, maxTokens: 256 } });

  it('round 1 needs k (a mixture group per response, every ablation k too); rounds ≥ 2 need 2k (expert + amateur)', () => {
    expect(slotsNeeded({ k: 5, rounds: 1 }).slots).toBe(5);
    expect(slotsNeeded({ k: 5, rounds: 2 })).toMatchObject({ slots: 10, reason: expect.stringMatching(/round 2.*10 slots.*expert and amateur/) });
    expect(slotsNeeded({ k: 0, rounds: 1 }).slots).toBe(1); // plain decoding; instruction generation fills whatever slots there are
    expect(slotsNeeded({ k: 0, rounds: 3 }).slots).toBe(2); // the Alpaca expert/amateur pair
    expect(slotsNeeded({ k: 1, rounds: 2 }).slots).toBe(2);
    expect(slotsNeeded({ k: 2, rounds: 1, ablationK: [0, 6] })).toMatchObject({ slots: 6, reason: expect.stringMatching(/round 1.*mixture of 6/) });
    expect(slotsNeeded({ k: 2, rounds: 2, ablationK: [6] }).slots).toBe(6);
  });

  it('the default settings do not fit the default 4 slots; the fit offers a reload, a lower k or one round', () => {
    expect([DEFAULT_SETTINGS.k, DEFAULT_SETTINGS.rounds]).toEqual([5, 2]);
    expect(slotFit(DEFAULT_SETTINGS, withSlots(4))).toEqual({ need: 10, have: 4, ok: false, reason: expect.any(String), fittingK: 2, oneRoundFits: false });
    expect(slotFit(DEFAULT_SETTINGS, withSlots(10)).ok).toBe(true);
    expect(slotFit({ k: 5, rounds: 2 }, withSlots(6))).toMatchObject({ ok: false, fittingK: 3, oneRoundFits: true });
    expect(slotFit({ k: 5, rounds: 1 }, withSlots(4))).toMatchObject({ need: 5, ok: false, fittingK: 4, oneRoundFits: false });
    expect(slotFit({ k: 2, rounds: 2 }, withSlots(1))).toMatchObject({ need: 4, ok: false, fittingK: null });
    // No model: nothing to hold the settings against (Start is disabled for that reason instead).
    expect(slotFit(DEFAULT_SETTINGS, null)).toMatchObject({ ok: true, have: null });
  });

  it('Start refuses settings that need more slots; "reload for slots" reloads the same model with them and then it fits', async () => {
    const { client, calls } = fakeClient();
    const notices = createNoticesStore();
    const model = createModelStore({ client, notices });
    const ss = createSelfSpecStore({ client, notices, model, dataBaseUrl: 'http://app/data/' });
    await model.getState().load({ kind: 'url', url: 'http://app/m.bin' }, 'm', { maxContext: 128 });
    expect(slotFit(ss.getState().settings, model.getState().model)).toMatchObject({ ok: false, need: 10, have: 4 });
    await ss.getState().start();
    expect(ss.getState()).toMatchObject({ status: 'idle', runId: null });
    expect(ss.getState().error).toMatch(/has 4 decoding slots but round 2 decodes each response with 10 slots.*reload it with 10 slots/);
    await ss.getState().reloadForSlots();
    expect(calls.load.map((l) => [l.source, l.opts.slots, l.opts.maxContext])).toEqual([
      ['http://app/m.bin', undefined, 128],
      ['http://app/m.bin', 10, 128],
    ]);
    expect(model.getState().model!.shape.slots).toBe(10);
    expect(slotFit(ss.getState().settings, model.getState().model).ok).toBe(true);
    // Fitting settings reload nothing.
    await ss.getState().reloadForSlots();
    expect(calls.load).toHaveLength(2);
  });
});
