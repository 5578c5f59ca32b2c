import { describe, expect, it } from 'vitest';
import {
  buildInstructionPrompt,
  checkInstruction,
  DEFAULT_INSTRUCTION_TEMPLATE,
  extractInstructions,
  filterInstructions,
  parseInstructions,
  sampleSeeds,
  UNACTIONABLE_WORDS,
} from '../../src/selfspec/instructions';
import { DedupPool } from '../../src/selfspec/rouge';
import type { Seed } from '../../src/selfspec/seeds';

const seeds: Seed[] = [
  { instruction: 'Identify the diseases mentioned in the text.', input: 'Patients with asthma and diabetes were enrolled.', output: 'asthma, diabetes' },
  { instruction: 'What is the normal range of fasting glucose?', input: '', output: '70–99 mg/dL' },
  { instruction: 'Classify the sentiment of the clinical note.', input: 'The patient is doing much better.', output: 'positive' },
];

describe('instruction prompt', () => {
  it('numbers the seeds, fills the domain, and ends with the next Instruction:', () => {
    const p = buildInstructionPrompt(DEFAULT_INSTRUCTION_TEMPLATE, seeds, 'biomedicine');
    expect(p).toContain('diverse task instructions about biomedicine');
    expect(p).toContain('1. Instruction: Identify the diseases mentioned in the text.\n1. Input:\nPatients with asthma and diabetes were enrolled.\n1. Output:\nasthma, diabetes\n###');
    expect(p).toContain('2. Input:\n<noinput>\n');
    expect(p.endsWith('###\n4. Instruction:')).toBe(true);
    expect(p).not.toMatch(/\{(domain|examples|next)\}/);
  });

  it('an edited template works; one without {examples} is refused', () => {
    expect(buildInstructionPrompt('Tasks on {domain}:\n{examples}\n{next}. Instruction:', seeds.slice(0, 1), 'cardiology')).toBe(
      'Tasks on cardiology:\n1. Instruction: Identify the diseases mentioned in the text.\n1. Input:\nPatients with asthma and diabetes were enrolled.\n1. Output:\nasthma, diabetes\n###\n2. Instruction:',
    );
    expect(() => buildInstructionPrompt('no placeholder', seeds, 'x')).toThrow(/needs an \{examples\} placeholder/);
  });
});

describe('sampleSeeds', () => {
  it('draws n distinct seeds, deterministic for a given rng, all when fewer', () => {
    const xs = Array.from({ length: 10 }, (_, i) => i);
    const rng = (seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const a = sampleSeeds(xs, 3, rng(5));
    expect(a).toHaveLength(3);
    expect(new Set(a).size).toBe(3);
    expect(sampleSeeds(xs, 3, rng(5))).toEqual(a);
    expect(sampleSeeds([1, 2], 3, rng(1)).sort()).toEqual([1, 2]);
    // Every seed gets drawn over many draws (no index is unreachable).
    const seen = new Set<number>();
    const r = rng(9);
    for (let i = 0; i < 200; i++) for (const x of sampleSeeds(xs, 3, r)) seen.add(x);
    expect(seen.size).toBe(10);
    expect(() => sampleSeeds([], 3, Math.random)).toThrow(/no seeds/);
  });
});

describe('parseInstructions', () => {
  it('reads well-formed entries, drops <noinput> and the Output', () => {
    const cont = ' Summarize the abstract in two sentences.\n4. Input:\nAspirin reduced events by 20% in 1,000 patients.\n4. Output:\nAspirin helps.\n###\n5. Instruction: What causes type 1 diabetes?\n5. Input:\n<noinput>\n5. Output:\nAutoimmunity.\n###\n6. Instruction:';
    const r = parseInstructions(cont, 4);
    expect(r.accepted).toEqual([
      { number: 4, instruction: 'Summarize the abstract in two sentences.', input: 'Aspirin reduced events by 20% in 1,000 patients.' },
      { number: 5, instruction: 'What causes type 1 diabetes?', input: '' },
    ]);
    expect(r.rejected).toEqual([]); // the dangling "6. Instruction:" has no text: not an entry
  });

  it('input on the same line, missing numbers, CRLF', () => {
    const r = parseInstructions(' List the symptoms of gout.\r\n4. Input: A 50-year-old man with a swollen toe.\r\nInstruction: Explain what insulin does.\r\nInput: no input\r\n', 4);
    expect(r.accepted).toEqual([
      { number: 4, instruction: 'List the symptoms of gout.', input: 'A 50-year-old man with a swollen toe.' },
      { number: 5, instruction: 'Explain what insulin does.', input: '' },
    ]);
  });

  it('junk never throws; malformed and truncated entries are reported', () => {
    for (const junk of ['', '\u0000\u0001', 'Once upon a time there was a dog.', '4. Input:\n5. Output:', '###\n###', '1. Instruction: 2. Instruction: Input:'.repeat(50), undefined as unknown as string]) {
      expect(() => parseInstructions(junk, 4)).not.toThrow();
    }
    expect(parseInstructions(' Once upon a time there was a dog.', 4).rejected).toEqual([
      { code: 'malformed', detail: 'no "Input:" field', instruction: 'Once upon a time there was a dog.', input: '' },
    ]);
    expect(parseInstructions(' \n4. Input:\nsomething', 4).rejected[0]).toMatchObject({ code: 'malformed', detail: 'empty instruction' });
    const t = parseInstructions(' Describe the role of the liver.\n4. Input:\nNone\n###\n5. Instruction: Explain how statins wo', 4, { truncated: true });
    expect(t.accepted.map((a) => a.number)).toEqual([4]);
    expect(t.rejected).toEqual([{ code: 'truncated', detail: 'cut off by the token limit', instruction: 'Explain how statins wo', input: '' }]);
  });
});

describe('instruction filters', () => {
  const item = (instruction: string, input = '') => ({ number: 1, instruction, input });

  it('length bounds', () => {
    expect(checkInstruction(item('Explain insulin.'), null)).toMatchObject({ code: 'too-short', detail: '2 words, fewer than 4' });
    expect(checkInstruction(item(Array(151).fill('word').join(' ')), null)).toMatchObject({ code: 'too-long', detail: '151 words, more than 150' });
    expect(checkInstruction(item('Explain what insulin does.', Array(401).fill('x').join(' ')), null)).toMatchObject({ code: 'too-long' });
    expect(checkInstruction(item('Explain insulin.'), null, { minWords: 2 })).toBeNull();
  });

  it('every word a text model cannot act on, as a whole word only', () => {
    for (const w of UNACTIONABLE_WORDS) {
      expect(checkInstruction(item(`Please look at this ${w} carefully now.`), null)).toMatchObject({ code: 'unactionable', detail: `mentions "${w}", which a text model cannot act on` });
    }
    expect(checkInstruction(item('Go  to the clinic and ask.'), null)?.code).toBe('unactionable');
    expect(checkInstruction(item('Summarize the imaging findings briefly.'), null)).toBeNull(); // "imaging" ≠ "image"
    expect(checkInstruction(item('Write a program that sorts genes.'), null)?.code).toBe('unactionable');
  });

  it('malformed shapes', () => {
    expect(checkInstruction(item('- Explain what insulin does.'), null)).toMatchObject({ code: 'malformed', detail: 'starts with punctuation' });
    expect(checkInstruction(item('Éxplain what insulin does.'), null)).toMatchObject({ code: 'malformed', detail: 'starts with a non-ASCII character' });
  });

  it('near-duplicates name the instruction they repeat; accepted ones join the pool', () => {
    const pool = new DedupPool();
    pool.add('Explain the mechanism of action of aspirin.');
    const r = filterInstructions(
      [item('Explain the mechanism of action of metformin.'), item('List three side effects of statins.'), item('List three side effects of statins in adults.')],
      pool,
    );
    expect(r.accepted.map((a) => a.instruction)).toEqual(['List three side effects of statins.']);
    expect(r.rejected[0]).toMatchObject({ code: 'duplicate', duplicateOf: { index: 0, text: 'Explain the mechanism of action of aspirin.' } });
    expect(r.rejected[0].duplicateOf!.score).toBeCloseTo(6 / 7, 12);
    expect(r.rejected[0].detail).toBe('ROUGE-L 0.86 with "Explain the mechanism of action of aspirin."');
    expect(r.rejected[1].duplicateOf?.text).toBe('List three side effects of statins.');
    expect(pool.size).toBe(2);
  });

  it('extractInstructions: parse + filter, all reasons together', () => {
    const pool = new DedupPool();
    const r = extractInstructions(' Draw a diagram of the heart.\n4. Input:\n<noinput>\n###\n5. Instruction: What is the function of hemoglobin?\n5. Input:\n<noinput>\n###\n6. Instruction: bad', 4, pool);
    expect(r.accepted).toEqual([{ number: 5, instruction: 'What is the function of hemoglobin?', input: '' }]);
    expect(r.rejected.map((x) => x.code).sort()).toEqual(['malformed', 'unactionable']);
  });
});
