import { describe, expect, it } from 'vitest';
import type { SelfSpecEvent } from '../selfspec/events';
import type { EvalTable } from '../selfspec/evaluate';
import { checkSettings, DEFAULT_SETTINGS, emptyView, exportableFiles, MAX_INSTRUCTIONS, reduceEvent, tableCsv } from './selfspec';

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
