import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExperimentDefinitionError, parseExperiment, validateExperiment } from '../../src/experiments/definition';
import { BUILTIN_TASKS, validateTaskDefinition } from '../../src/experiments/tasks';

const quick = JSON.parse(readFileSync('examples/quick-experiment.json', 'utf8'));

const errorsOf = (json: unknown): string[] => {
  const r = validateExperiment(json);
  if (r.ok) throw new Error('expected problems, got a valid definition');
  return r.errors;
};

describe('experiment definitions', () => {
  it('accepts the quick example and fills in defaults', () => {
    const r = validateExperiment(quick);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const d = r.definition;
    expect(d.tasks.map((t) => t.id)).toEqual(['descriptor', 'qed']);
    // A built-in referenced by id keeps everything; one with changes keeps what it does not override.
    expect(d.tasks[0]).toEqual(BUILTIN_TASKS.find((t) => t.id === 'descriptor'));
    expect(d.tasks[1].data).toEqual({ builder: 'qed', files: ['molecules/freesolv.csv'] });
    expect(d.tasks[1].template).toBe(BUILTIN_TASKS.find((t) => t.id === 'qed')!.template);
    expect(d.methods).toEqual(['tag-llm', 'linear-probe']);
    expect(d.seeds).toEqual([0]);
    expect(d.ablations).toEqual([]);
    expect(d.tagLengths).toEqual([]);
    expect(d.tagLength).toBe(2);
    // A normalised definition validates to itself (results files store it).
    const again = validateExperiment(JSON.parse(JSON.stringify(d)));
    expect(again.ok && JSON.parse(JSON.stringify(again.definition))).toEqual(JSON.parse(JSON.stringify(d)));
  });

  it('every built-in task is valid on its own', () => {
    for (const t of BUILTIN_TASKS) expect(validateTaskDefinition(t), t.id).toEqual({ ok: true, task: expect.objectContaining({ id: t.id }) });
  });

  it('accepts a user task over a CSV file with a column split', () => {
    const r = validateTaskDefinition({
      id: 'esol',
      title: 'ESOL solubility',
      data: { builder: 'table', file: 'molecules/delaney.csv', columns: { input: 'smiles', output: 'logp' } },
      split: { kind: 'random', seed: 3, test: 0.2 },
      template: 'Molecule <SMILES> {input}. Solubility <Sol> {output}',
      tags: { domain: ['SMILES'], function: 'Sol' },
      output: { kind: 'regression', field: 'output' },
      metric: 'mae',
    });
    expect(r.ok).toBe(true);
  });

  it('reports every problem with the path of the offending field', () => {
    const errors = errorsOf({
      name: 'bad',
      colour: 'blue',
      tasks: [
        'qed',
        'nope',
        { id: 'qed2', extends: 'qed', split: { kind: 'random', test: 1.5 } },
        { id: 'mine', data: { builder: 'table', file: 'x.csv', columns: { input: 'a', output: 'b' } } },
        {
          id: 'fn-misplaced',
          title: 'x',
          data: { builder: 'table', file: 'x.csv', columns: { input: 'a', output: 'b' } },
          split: { kind: 'predefined' },
          template: '<QED> Molecule <SMILES> {input}: {output}',
          tags: { domain: ['SMILES'], function: 'QED' },
          output: { kind: 'regression', field: 'output' },
          metric: 'bleu',
        },
        { id: 'broken-template', extends: 'qed', template: 'The SMILES is <SMILES> {input. <QED> {output}' },
      ],
      methods: ['tag-llm', 'magic'],
      seeds: [0, -1],
      hyper: { steps: 2.5, lr: 'fast', sped: 3 },
      caps: { maxTrain: 0 },
      ablations: ['no-brain'],
    });
    const has = (re: RegExp) => expect(errors.some((e) => re.test(e)), `${re} in\n${errors.join('\n')}`).toBe(true);
    has(/^unknown key "colour"/);
    has(/^tasks\[1\]: unknown task "nope"/);
    has(/^tasks\[2\]\.split\.test: must be a fraction in \[0, 1\)/);
    has(/^tasks\[3\]\.template: is required/);
    has(/^tasks\[3\]\.metric: is required/);
    has(/^tasks\[4\]\.split: the table data has no predefined split/);
    has(/^tasks\[4\]\.metric: bleu does not fit a regression output/);
    has(/^tasks\[4\]\.tags\.function: <QED> must be the last tag before \{output\}/);
    has(/^tasks\[5\]\.template: Template, line 1, column \d+: this "\{" is never closed/);
    has(/^methods\[1\]: unknown method "magic"/);
    has(/^seeds: must be a non-empty list of integers/);
    has(/^hyper\.steps: must be a non-negative integer/);
    has(/^hyper\.lr: must be a positive number/);
    has(/^hyper: unknown key "sped"/);
    has(/^caps\.maxTrain: must be a positive integer/);
    has(/^ablations: must be a list of/);
  });

  it('checks templates against the tags and the fields the data gives', () => {
    const errors = errorsOf({
      name: 'x',
      tasks: [
        { id: 'qed', template: '# # Input: <SMILES> {smiles}.\n# # Output: <QED> {output}' },
        { id: 'descriptor', tags: { domain: ['Protein', 'DNA'], function: 'Descriptor' } },
        { id: 'binding', template: '<Protein> {input0} <SMILES> {input1} <Foo> <BA> {output}' },
        { id: 'synergy', template: 'Drugs {name1} {name2}: {output} <DC>', tags: { domain: [], function: 'DC' } },
      ],
      methods: ['nearest-neighbour'],
      tagLengths: [5],
    });
    expect(errors).toContain('tasks[0].template: uses {smiles}, but the qed data gives only {input}, {output}');
    expect(errors.filter((e) => e.startsWith('tasks[0]'))).toHaveLength(1); // inherited rules for {input} are dropped with it
    expect(errors).toContain('tasks[1].tags.domain: <DNA> is not in the template');
    expect(errors).toContain('tasks[2].tags: the template uses <Foo>, which is neither listed in "domain" nor the function tag');
    expect(errors).toContain('tasks[3].tags.function: <DC> must be the last tag before {output}');
    expect(errors).toContain('methods: ablations and tagLengths are variants of Tag-LLM: add "tag-llm" to the methods');
  });

  it('an output that is not the last field is refused', () => {
    const errors = errorsOf({ name: 'x', tasks: [{ id: 'qed', template: '<SMILES> {input} <QED> {output} and {input}' }], methods: ['lora'] });
    expect(errors).toEqual(['tasks[0].template: {output} must be the last field (generation and heads read what comes before it)']);
  });

  it('rejects what is not a definition at all, and parseExperiment throws with the list', () => {
    expect(validateExperiment([1, 2])).toEqual({ ok: false, errors: ['An experiment definition must be a JSON object, got [1,2]'] });
    expect(errorsOf({})).toEqual(expect.arrayContaining(['name: is required: a short name for the experiment', expect.stringMatching(/^tasks: must be a non-empty list/), expect.stringMatching(/^methods: must be/)]));
    expect(() => parseExperiment({ name: 'x', tasks: ['qed'], methods: ['lora'], seeds: [] })).toThrow(ExperimentDefinitionError);
    expect(() => parseExperiment({ name: 'x', tasks: ['qed'], methods: ['lora'], seeds: [] })).toThrow(/1 problem:\n {2}- seeds: must be a non-empty list/);
  });
});
