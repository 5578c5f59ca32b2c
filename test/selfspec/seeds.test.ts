import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SEED_FILES, MAX_SEEDS_PER_TASK, parseSeeds } from '../../src/selfspec/seeds';
import { decodeUtf8 } from '../../src/selfspec/text';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseSeeds: BoX JSON', () => {
  it('turns each example into a seed whose instruction is the task definition', () => {
    const text = fixture('box-3tasks.json');
    const doc = JSON.parse(text) as Record<string, { 'Definition:': string; Examples: Array<{ input: string; output: string }> }>;
    const { seeds, rejected } = parseSeeds(text, 'box.json');
    expect(rejected).toEqual([]);
    const expected = Object.entries(doc).flatMap(([task, t]) =>
      t.Examples.slice(0, MAX_SEEDS_PER_TASK).map((e) => ({ instruction: t['Definition:'].trim(), input: e.input.trim(), output: e.output.trim(), task })),
    );
    expect(seeds).toEqual(expected);
    expect(seeds.length).toBeGreaterThan(3);
  });

  it('keeps at most 5 examples per task, accepts "Definition" as a list, reports bad tasks with their line', () => {
    const ex = (i: number) => ({ input: `in ${i}`, output: `out ${i}` });
    const text = JSON.stringify(
      {
        many: { Definition: ['Do this.', 'Carefully.'], Examples: [1, 2, 3, 4, 5, 6, 7].map(ex) },
        nodef: { Examples: [ex(1)] },
        noout: { 'Definition:': 'Label it.', Examples: [{ input: 'x' }, ex(9)] },
      },
      null,
      2,
    );
    const { seeds, rejected } = parseSeeds(text, 'b.json');
    expect(seeds.filter((s) => s.task === 'many')).toHaveLength(5);
    expect(seeds[0]).toEqual({ instruction: 'Do this. Carefully.', input: 'in 1', output: 'out 1', task: 'many' });
    expect(seeds.filter((s) => s.task === 'noout')).toEqual([{ instruction: 'Label it.', input: 'in 9', output: 'out 9', task: 'noout' }]);
    const nodefLine = text.split('\n').findIndex((l) => l.includes('"nodef"')) + 1;
    const nooutLine = text.split('\n').findIndex((l) => l.includes('"noout"')) + 1;
    expect(rejected).toEqual([
      { line: nodefLine, reason: 'task "nodef": no "Definition" text' },
      { line: nooutLine, reason: 'task "noout", example 1: no "output"' },
    ]);
  });

  it('reads the shipped BoX file: 32 tasks, ≤ 5 seeds each, all with an output', () => {
    const text = readFileSync(new URL(`../../public/data/${BUILTIN_SEED_FILES.box}`, import.meta.url), 'utf8');
    const { seeds, rejected } = parseSeeds(text, 'BoX_instructions.json');
    expect(rejected).toEqual([]);
    const tasks = new Map<string, number>();
    for (const s of seeds) tasks.set(s.task!, (tasks.get(s.task!) ?? 0) + 1);
    expect(tasks.size).toBe(32);
    expect(Math.max(...tasks.values())).toBeLessThanOrEqual(5);
  });
});

describe('parseSeeds: JSONL', () => {
  it('reads the shipped self-instruct file: 175 tasks, one seed per instance, no rejection', () => {
    const text = readFileSync(new URL(`../../public/data/${BUILTIN_SEED_FILES.selfInstruct}`, import.meta.url), 'utf8');
    const { seeds, rejected } = parseSeeds(text, 'self_instruct_seed_tasks.jsonl');
    expect(rejected).toEqual([]);
    const recs = text.trim().split('\n').map((l) => JSON.parse(l) as { instances: unknown[] });
    expect(recs).toHaveLength(175);
    expect(seeds).toHaveLength(recs.reduce((n, r) => n + r.instances.length, 0));
  });

  it('reads self-instruct records, one seed per instance', () => {
    const text = fixture('self-instruct-4.jsonl');
    const recs = text.trim().split('\n').map((l) => JSON.parse(l) as { name: string; instruction: string; instances: Array<{ input: string; output: string }> });
    const { seeds, rejected } = parseSeeds(text, 'seed_tasks.jsonl');
    expect(rejected).toEqual([]);
    expect(seeds).toEqual(recs.flatMap((r) => r.instances.map((x) => ({ instruction: r.instruction.trim(), input: x.input.trim(), output: x.output.trim(), task: r.name }))));
  });

  it('reads flat instruction/input/output lines and skips bad ones with their line', () => {
    const text = [
      '{"instruction": "Summarize.", "input": "Long text.", "output": "Short."}',
      'not json',
      '',
      '{"instruction": "", "output": "x"}',
      '[1,2]',
      '{"instruction": "Name a vitamin.", "output": "C"}',
      '{"instruction": "Q", "instances": []}',
      '{"instruction": "Q"}',
    ].join('\n');
    const { seeds, rejected } = parseSeeds(text, 's.jsonl');
    expect(seeds).toEqual([
      { instruction: 'Summarize.', input: 'Long text.', output: 'Short.' },
      { instruction: 'Name a vitamin.', input: '', output: 'C' },
    ]);
    expect(rejected.map((r) => r.line)).toEqual([2, 4, 5, 7, 8]);
    expect(rejected[0].reason).toMatch(/not valid JSON/);
    expect(rejected[1].reason).toBe('no "instruction" text');
    expect(rejected[3].reason).toBe('"instances" is empty');
    expect(rejected[4].reason).toBe('no "output" (nor "instances")');
  });
});

describe('parseSeeds: CSV / TSV', () => {
  it('reads instruction/input/output columns (any order and case), quoted fields, and skips bad rows', () => {
    const text = 'Output,instruction,input\n"yes, it does",Does aspirin thin blood?,\n,Empty output,x\n"Unclosed,oops,x\nC,Name a vitamin,\n';
    const { seeds, rejected } = parseSeeds(text, 'seeds.csv');
    expect(seeds[0]).toEqual({ instruction: 'Does aspirin thin blood?', input: '', output: 'yes, it does' });
    expect(seeds.at(-1)).toEqual({ instruction: 'Name a vitamin', input: '', output: 'C' });
    expect(rejected[0]).toEqual({ line: 3, reason: 'empty "output"' });
    expect(rejected.some((r) => r.line === 4)).toBe(true);
  });

  it('reads TSV', () => {
    const { seeds } = parseSeeds('instruction\tinput\toutput\nTranslate\thola\thello\n', 's.tsv');
    expect(seeds).toEqual([{ instruction: 'Translate', input: 'hola', output: 'hello' }]);
  });

  it('names the missing columns', () => {
    expect(() => parseSeeds('question,answer\na,b\n', 'q.csv')).toThrow(/needs "instruction" and "output" columns \(found: question, answer\)/);
  });
});

describe('parseSeeds: bad files', () => {
  it('empty file, no usable seed, non-UTF-8: clear errors', () => {
    expect(() => parseSeeds('  \n', 'e.jsonl')).toThrow(/e.jsonl: the seed file is empty/);
    expect(() => parseSeeds('{"instruction": ""}\n', 'x.jsonl')).toThrow(/x.jsonl: no usable seed \(line 1: no "instruction" text\)/);
    expect(() => parseSeeds('{}', 'x.json')).toThrow(/no tasks/);
    expect(() => parseSeeds('instruction,output\ncaf\uFFFD,x\n', 'l1.csv')).toThrow(/l1.csv: not valid UTF-8 text \(undecodable bytes at line 2\)/);
    expect(() => decodeUtf8(new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]), 'latin1.csv')).toThrow(/latin1.csv: not valid UTF-8/);
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), 'bom.txt')).toBe('a');
  });
});
