import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alpacaTemplate } from '../../src/selfspec/alpaca';
import { alpacaExamples, stateFromJson, stateToJson, stepsFor, tagsOf } from '../../src/selfspec/specialise';
import { DirectoryStore } from '../../src/selfspec/store-node';
import { jsonl, MemoryStore, parseJsonl } from '../../src/selfspec/store';
import { createTag, newProvenance } from '../../src/tags/tag';
import { fakeTokenizer } from '../worker/fake-engine';

describe('Alpaca examples', () => {
  const d = 4;
  const tag = createTag({ name: 'BioMed', kind: 'domain', p: 2, d, data: new Float32Array(2 * d), provenance: newProvenance({ arch: 'llama', name: 'x', dModel: d, vocabSize: 512 }, '') });
  const recs = [
    { instruction: 'Name it.', input: 'Aspirin.', output: 'A drug' },
    { instruction: 'Say hi.', input: '', output: 'hi' },
    { instruction: 'Empty.', input: '', output: '  ' },
  ];

  it('put the loss on the response tokens and the EOS only', () => {
    const { examples, dropped } = alpacaExamples(recs, { tokenizer: fakeTokenizer, tags: new Map(), offsets: new Map(), alpaca: {}, maxLen: 10_000 });
    expect(dropped).toEqual({ tooLong: 0, empty: 1 });
    expect(examples).toHaveLength(2);
    const [a, b] = examples;
    // One char per token: the targets spell the response then EOS.
    const targets = a.targets.filter((t): t is number => t !== null);
    expect(fakeTokenizer.decode(targets.slice(0, -1))).toBe('A drug');
    expect(targets[targets.length - 1]).toBe(fakeTokenizer.eosId);
    expect(fakeTokenizer.decode(a.ids)).toContain('### Input:\nAspirin.');
    expect(fakeTokenizer.decode(b.ids)).not.toContain('### Input:');
    // Position t predicts t+1: the first target sits right before the response's first token.
    const first = a.targets.findIndex((t) => t !== null);
    expect(fakeTokenizer.decode(a.ids.slice(0, first + 1)).endsWith('### Response:\n')).toBe(true);
  });

  it('tag variants inject the domain tag before the instruction and never train on its rows', () => {
    const { examples } = alpacaExamples(recs.slice(0, 1), { tokenizer: fakeTokenizer, tags: new Map([['BioMed', tag]]), offsets: new Map([['BioMed', 4]]), alpaca: { domainTag: 'BioMed' }, maxLen: 10_000 });
    const ex = examples[0];
    const rows = ex.inject.map((r, i) => [r, i]).filter(([r]) => r >= 0);
    expect(rows.map(([r]) => r)).toEqual([4, 5]);
    expect(fakeTokenizer.decode(ex.ids.slice(0, rows[0][1])).endsWith('### Instruction:\n')).toBe(true);
    expect(rows.every(([, i]) => ex.targets[i - 1] === null)).toBe(true);
  });

  it('drop examples longer than the context', () => {
    const ctx = { tokenizer: fakeTokenizer, tags: new Map(), offsets: new Map(), alpaca: {} };
    const lens = alpacaExamples(recs.slice(0, 2), { ...ctx, maxLen: 10_000 }).examples.map((e) => e.ids.length);
    expect(lens[0]).toBeGreaterThan(lens[1]);
    const { examples, dropped } = alpacaExamples(recs.slice(0, 2), { ...ctx, maxLen: lens[1] });
    expect(dropped.tooLong).toBe(1);
    expect(examples).toHaveLength(1);
  });

  it('templates, steps per epoch and which tags a method trains', () => {
    expect(alpacaTemplate(true, { domainTag: 'BioMed', functionTag: 'Expert' })).toContain('### Instruction:\n<BioMed> {instruction}');
    expect(alpacaTemplate(false, { functionTag: 'Expert' })).toMatch(/### Response:\n<Expert> \{output\}$/);
    expect(stepsFor(100, 3, 4, 8)).toBe(10); // ceil(300 / 32)
    expect(stepsFor(5, 1, 4, 8)).toBe(1);
    expect(tagsOf('lora', { domainTag: 'B', functionTag: 'F' })).toEqual({});
    expect(tagsOf('both', { domainTag: 'B', functionTag: null })).toEqual({ domainTag: 'B', functionTag: null });
  });

  it('training state round-trips through JSON bit for bit', () => {
    const s = { version: 1 as const, step: 3, cursor: { epoch: 1, index: 2 }, auxCursor: { epoch: 0, index: 0 }, skipped: 0, tensors: { a: Float32Array.of(1.5, -0, 3.4e38, 1e-30) }, log: [] };
    const back = stateFromJson(JSON.parse(JSON.stringify(stateToJson(s))));
    expect(back.step).toBe(3);
    expect(new Uint32Array(back.tensors.a.buffer)).toEqual(new Uint32Array(s.tensors.a.buffer));
    expect(() => stateFromJson({ nope: 1 })).toThrow(/not a training checkpoint/);
  });
});

describe('run stores', () => {
  it('JSONL drops a torn last line but not a broken middle one', () => {
    expect(parseJsonl('{"a":1}\n{"a":2}\n{"a":')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseJsonl('{"a":1}\n{"a":\n{"a":3}\n')).toThrow(/line 2/);
    expect(parseJsonl(null)).toEqual([]);
  });

  it('memory and directory stores behave alike', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfspec-'));
    try {
      for (const s of [new MemoryStore(), new DirectoryStore(dir)]) {
        expect(await s.read('x/a.jsonl')).toBeNull();
        await s.append('x/a.jsonl', jsonl([{ i: 1 }]));
        await s.append('x/a.jsonl', jsonl([{ i: 2 }]));
        await s.write('b.json', '{}');
        expect(parseJsonl(await s.read('x/a.jsonl'))).toEqual([{ i: 1 }, { i: 2 }]);
        expect((await s.list()).sort()).toEqual(['b.json', 'x/a.jsonl']);
        await s.remove('b.json');
        expect(await s.read('b.json')).toBeNull();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
