/**
 * Nearest neighbour and direct prompting on tiny data, the task data pipeline (split, maxChars,
 * caps) on in-memory files, and the row arrangement that makes the protocol hold out a task's test rows.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directPrompt, directPromptTexts, nearestNeighbourPredict, nearestNeighbours, parseAnswers, similarity } from '../../src/experiments/baselines';
import { loadTask, type LoadedTask } from '../../src/experiments/data';
import { parseExperiment, validateExperiment } from '../../src/experiments/definition';
import { buildPrompt, parseClass, parseFirstNumber, removeSegments, templateOf, templateSource } from '../../src/experiments/generation';
import { arrangeRows, categoryOf, hashOf, planCells, scoreGenerated } from '../../src/experiments/runner';
import { BUILTIN_TASKS, builtinTask, validateTaskDefinition } from '../../src/experiments/tasks';
import { methodTemplate, parseLoraTargets } from '../../src/train/protocol';
import { stepsForEpochs } from '../../src/train/trainer';
import type { TaskDefinition } from '../../src/experiments/types';
import type { Engine } from '../../src/model/model';
import { parseTemplate } from '../../src/tags/template';
import { loadRdkit } from '../../src/tasks/rdkit';
import { epochOrder } from '../../src/train/shuffle';
import { loadStories } from '../helpers/stories';

const regressionTask = (over: Partial<TaskDefinition> = {}): TaskDefinition => {
  const r = validateTaskDefinition({
    id: 'toy',
    title: 'Toy',
    data: { builder: 'table', file: 'toy.csv', columns: { input: 'seq', output: 'y' } },
    split: { kind: 'column', column: 'part', test: ['test'] },
    template: 'Sequence <Seq> {input}. Value <Val> {output}',
    tags: { domain: ['Seq'], function: 'Val' },
    output: { kind: 'regression', field: 'output' },
    metric: 'mse',
    ...over,
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.task;
};

describe('nearest neighbour', () => {
  it('similarity is 1 − normalised edit distance', () => {
    expect(similarity('kitten', 'sitting')).toBeCloseTo(1 - 3 / 7, 12);
    expect(similarity('', '')).toBe(1);
    expect(similarity('abc', 'abc')).toBe(1);
    expect(similarity('abc', '')).toBe(0);
  });

  it('predicts the label of the most similar training string, averaging over fields', () => {
    const train = [
      { p: 'MKVLAAGG', s: 'CCO', output: '1' },
      { p: 'MKVLAAGA', s: 'c1ccccc1', output: '2' },
      { p: 'WWWWYYYY', s: 'CCO', output: '3' },
    ];
    expect(nearestNeighbours(train, [{ p: 'MKVLAAGG', s: 'CCN' }], { fields: ['p'] })).toEqual([0]); // exact match wins
    // Over both fields row 1 is closer (same protein family, ring vs ring).
    expect(nearestNeighbours(train, [{ p: 'MKVLAAGT', s: 'c1ccccc1C' }], { fields: ['p', 's'] })).toEqual([1]);
    // Ties go to the first row.
    expect(nearestNeighbours(train, [{ p: 'MKVLAAGX' }], { fields: ['p'] })).toEqual([0]);
  });

  it('keeps to rows with the same key fields when there are any (translation direction)', () => {
    const train = [
      { srcLang: 'FR', tgtLang: 'EN', source: 'Bonjour.', target: 'Hello.' },
      { srcLang: 'EN', tgtLang: 'FR', source: 'Hello.', target: 'Bonjour.' },
      { srcLang: 'DE', tgtLang: 'EN', source: 'Hallo.', target: 'Hello there.' },
    ];
    const task = builtinTask('translation')!;
    const q = [
      { srcLang: 'EN', tgtLang: 'FR', source: 'Bonjour.', target: '?' }, // same text as row 0, but the EN→FR row is the candidate
      { srcLang: 'IT', tgtLang: 'EN', source: 'Ciao.', target: '?' }, // no IT→EN: rows into EN
      { srcLang: 'ES', tgtLang: 'PT', source: 'Hello!', target: '?' }, // nothing: all rows
    ];
    expect(nearestNeighbourPredict(task, train, q)).toEqual(['Bonjour.', 'Hello there.', 'Bonjour.']);
  });

  it('scores a whole task with the task metric', () => {
    const task = regressionTask();
    const lt: LoadedTask = {
      task,
      train: [
        { input: 'AAAA', output: '1' },
        { input: 'CCCC', output: '3' },
      ],
      test: [
        { input: 'AAAC', output: '1.5' },
        { input: 'CCCA', output: '2' },
      ],
      trainGroups: ['toy', 'toy'],
      testGroups: ['toy', 'toy'],
      unlabeled: [],
      report: { available: { train: 2, test: 2 }, overLength: 0, notes: [] },
    };
    const preds = nearestNeighbourPredict(task, lt.train, lt.test);
    expect(preds).toEqual(['1', '3']);
    const s = scoreGenerated(lt, preds);
    expect(s.metrics.mse).toBeCloseTo((0.25 + 1) / 2, 12);
    expect(s.metrics.mae).toBeCloseTo(0.75, 12);
    expect(s.unparsable).toBe(0);
  });
});

describe('answers from generated text', () => {
  it('reads the first number, or counts the answer unparsable and predicts the training mean', () => {
    expect(parseFirstNumber(' 0.532 and 7')).toBe(0.532);
    expect(parseFirstNumber('score: -1.5e-2!')).toBe(-0.015);
    expect(parseFirstNumber('about .75')).toBe(0.75);
    expect(parseFirstNumber('once upon a time')).toBeNull();
    const task = regressionTask();
    const train = [{ output: '1' }, { output: '2' }, { output: '6' }];
    expect(parseAnswers(task, ['5', 'no idea', 'x=-2'], train)).toEqual({ preds: [5, 3, -2], unparsable: 1 });
  });

  it('reads classes by the first class name mentioned', () => {
    expect(parseClass('I think yes, or maybe no', ['maybe', 'no', 'yes'])).toBe('yes');
    expect(parseClass('nothing', ['a1', 'b2'])).toBeNull();
    const task = regressionTask({ output: { kind: 'classification', field: 'output' }, metric: 'accuracy' });
    const r = parseAnswers(task, ['it is B', 'hmm'], [{ output: 'A' }, { output: 'B' }, { output: 'B' }]);
    expect(r).toEqual({ preds: [1, 1], unparsable: 1, classes: ['A', 'B'] });
  });
});

describe('templates of variants', () => {
  it('removes tags without leaving double spaces, and writes templates back', () => {
    const t = parseTemplate('# # Input: The SMILES is <SMILES> {input}.\n# # Output: QED <QED> {output}');
    const plain = templateOf(removeSegments(t.segments, (s) => s.kind === 'tag'));
    expect(plain.source).toBe('# # Input: The SMILES is {input}.\n# # Output: QED {output}');
    expect(plain.tags).toEqual([]);
    expect(parseTemplate(templateSource(t.segments))).toEqual(t);
    const odd = parseTemplate('a \\< b \\{x\\} \\\\ <{lang}> {input}');
    expect(parseTemplate(templateSource(odd.segments)).segments).toEqual(odd.segments);
  });
});

describe('task data', () => {
  const files: Record<string, string> = {
    'toy.csv': ['seq,y,part', 'AAAAAAAAAAAA,1,train', 'CC,2,train', 'GG,3,train', 'TT,4,train', 'AC,5,test', 'CA,6,test', 'GTGTGTGTGTGT,7,test'].join('\n'),
  };
  const ctx = { fetchText: async (p: string) => files[p] ?? Promise.reject(new Error(`no ${p}`)), rdkit: () => loadRdkit() };

  it('splits by column, cuts or drops over-long fields, and caps with a seeded sample', async () => {
    const drop = await loadTask(regressionTask(), { maxChars: 4 }, ctx);
    expect(drop.train.map((r) => r.input)).toEqual(['CC', 'GG', 'TT']);
    expect(drop.test.map((r) => r.input)).toEqual(['AC', 'CA']);
    expect(drop.report.overLength).toBe(2);
    const cut = await loadTask(regressionTask({ fields: { input: { overLength: 'truncate' } } }), { maxChars: 4 }, ctx);
    expect(cut.train.map((r) => r.input)).toEqual(['AAAA', 'CC', 'GG', 'TT']);
    expect(cut.test.map((r) => r.output)).toEqual(['5', '6', '7']);
    const capped = await loadTask(regressionTask(), { maxTrain: 2, maxEval: 1 }, ctx);
    expect(capped.train).toHaveLength(2);
    expect(capped.test).toHaveLength(1);
    expect((await loadTask(regressionTask(), { maxTrain: 2, maxEval: 1 }, ctx)).train).toEqual(capped.train); // deterministic
    await expect(loadTask(regressionTask(), { maxChars: 1 }, ctx)).rejects.toThrow(/toy: no training rows; .*7 rows were longer than maxChars = 1/);
  });

  it('labels the descriptor on the residues the model sees, and QED only for the rows kept', async () => {
    const real = { fetchText: (p: string) => readFile(`public/data/${p}`, 'utf8'), rdkit: () => loadRdkit() };
    const d = await loadTask(builtinTask('descriptor')!, { maxTrain: 3, maxEval: 2, maxChars: 5 }, real);
    expect(d.train).toHaveLength(3);
    expect(d.test).toHaveLength(2);
    for (const r of [...d.train, ...d.test]) expect(r.input).toHaveLength(5);
    const qed = builtinTask('qed')!;
    qed.data = { builder: 'qed', files: ['molecules/freesolv.csv'] };
    const q = await loadTask(qed, { maxTrain: 4, maxEval: 2, maxChars: 10 }, real);
    expect(q.train).toHaveLength(4);
    for (const r of [...q.train, ...q.test]) {
      expect(r.input.length).toBeLessThanOrEqual(10);
      expect(Number(r.output)).toBeGreaterThan(0);
      expect(Number(r.output)).toBeLessThan(1);
    }
  });

  it('translation: language pairs, zero-shot pairs held out of training entirely', async () => {
    const real = { fetchText: (p: string) => readFile(`public/data/${p}`, 'utf8'), rdkit: () => loadRdkit() };
    const t = await loadTask(builtinTask('translation')!, { maxTrain: 5, maxEval: 2, maxChars: 40 }, real);
    expect([...new Set(t.trainGroups)]).toEqual(['EN-FR', 'EN-RU', 'EN-DE', 'EN-IT', 'EN-EL']);
    expect(new Set(t.testGroups)).toEqual(new Set(['FR→EN', 'EN→FR', 'RU→EN', 'EN→RU', 'DE→EN', 'EN→DE', 'IT→EN', 'EN→IT', 'EL→EN', 'EN→EL', 'IT→FR', 'FR→IT', 'ES→PT', 'PT→ES']));
    const zeroShot = t.test.filter((_, i) => /IT→FR|FR→IT|ES→PT|PT→ES/.test(t.testGroups[i]));
    const seenText = new Set([...t.train, ...t.unlabeled].flatMap((r) => [r.source, r.target]));
    for (const r of zeroShot) expect(seenText.has(r.source) || seenText.has(r.target)).toBe(false);
    expect(new Set(t.unlabeled.flatMap((r) => [r.srcLang, r.tgtLang]))).toEqual(new Set(['EN', 'ES', 'PT']));
    const pairs = [...new Set(t.trainGroups)].map((g) => g.split('-'));
    expect([categoryOf('FR', 'EN', pairs), categoryOf('IT', 'FR', pairs), categoryOf('ES', 'PT', pairs)]).toEqual(['seen', 'unseen-pair', 'unseen-domain']);
  });
});

describe('experiment plan', () => {
  it('puts test rows exactly where the protocol holds out', () => {
    const train = Array.from({ length: 17 }, (_, i) => ({ id: `t${i}` }));
    const held = Array.from({ length: 5 }, (_, i) => ({ id: `h${i}` }));
    const { rows, evalFraction } = arrangeRows(train, held, 3, 0);
    // The protocol's rule (prepareRun): order = epochOrder(n, seed + 1000 + i, 0); the first max(1, round(n·f)) are held out.
    const order = epochOrder(rows.length, 3 + 1000, 0);
    const nEval = Math.max(1, Math.round(rows.length * evalFraction));
    expect(order.slice(0, nEval).map((k) => rows[k].id)).toEqual(held.map((h) => h.id));
    expect(new Set(order.slice(nEval).map((k) => rows[k].id))).toEqual(new Set(train.map((t) => t.id)));
    const one = arrangeRows(train, [held[0]], 3, 2);
    expect(Math.max(1, Math.round(one.rows.length * one.evalFraction))).toBe(1);
    expect(one.rows[epochOrder(18, 3 + 1000 + 2, 0)[0]]).toBe(held[0]);
  });

  it('plans methods, ablations and the tag-length sweep per task and seed, without duplicates', () => {
    const def = parseExperiment({ name: 'p', tasks: ['qed'], methods: ['tag-llm', 'lora'], seeds: [0, 1], tagLength: 5, ablations: ['no-head'], tagLengths: [1, 5] });
    expect(planCells(def).map((c) => c.id)).toEqual([
      'qed/tag-llm/full/p5/s0',
      'qed/lora/full/s0',
      'qed/lora/no-head/s0',
      'qed/tag-llm/no-head/p5/s0',
      'qed/tag-llm/full/p1/s0',
      'qed/tag-llm/full/p5/s1',
      'qed/lora/full/s1',
      'qed/lora/no-head/s1',
      'qed/tag-llm/no-head/p5/s1',
      'qed/tag-llm/full/p1/s1',
    ]);
    // plainPeft: false drops the no-head rows of the baselines; text tasks never have them.
    expect(planCells(parseExperiment({ name: 'p', tasks: ['qed'], methods: ['lora'], plainPeft: false })).map((c) => c.id)).toEqual(['qed/lora/full/s0']);
    expect(planCells(parseExperiment({ name: 'p', tasks: ['translation'], methods: ['prompt-tuning'] })).map((c) => c.id)).toEqual(['translation/prompt-tuning/full/p10/s0']);
    expect(planCells(parseExperiment({ name: 'p', tasks: ['descriptor'], methods: ['domain-in-text', 'linear-probe'] })).map((c) => c.id)).toEqual([
      'descriptor/domain-in-text/full/p10/s0',
      'descriptor/domain-in-text/no-head/p10/s0',
      'descriptor/linear-probe/full/s0',
    ]);
    expect(hashOf({ a: 1, b: [1, 2] })).toBe(hashOf({ b: [1, 2], a: 1 }));
    expect(hashOf({ a: 1 })).not.toBe(hashOf({ a: 2 }));
  });
});

describe('baselines as the paper defines them', () => {
  it('direct prompting names the target language of a translation and the quantity of a numeric task', () => {
    const tr = directPrompt(builtinTask('translation')!, [{ srcLang: 'EN', tgtLang: 'FR', source: 'Hello.', target: 'Bonjour.' }]);
    expect(tr.template.tags).toEqual([]);
    expect(tr.template.source).toBe('Translate the following {srcLangName} sentence into {tgtLangName}.\n# # Input: {source}\n# # Output: {target}');
    expect(tr.rows[0]).toMatchObject({ srcLangName: 'English', tgtLangName: 'French' });
    // A task without a directTemplate: tags removed, <{field}> written as the language it names.
    const own = { ...builtinTask('translation')!, directTemplate: undefined };
    const d = directPrompt(own, [{ srcLang: 'DE', tgtLang: 'IT', source: 'Hallo.', target: 'Ciao.' }]);
    expect(d.template.source).toBe('# # Input: {srcLangName} {source}\n# # Output: {tgtLangName} {target}');
    expect(d.rows[0]).toMatchObject({ srcLangName: 'German', tgtLangName: 'Italian' });
    for (const id of ['qed', 'descriptor', 'binding', 'synergy']) {
      expect(builtinTask(id)!.directTemplate, id).toMatch(/\(.*(number|QED).*\)/);
    }
  });

  it('domain in text writes the domain names as words and has no function tag; LoRA defaults to q and v', () => {
    const t = parseTemplate(builtinTask('binding')!.template);
    const mt = methodTemplate('domain-in-text', t, 'BA');
    expect(mt.tags).toEqual([]);
    expect(mt.source).toContain('The protein sequence is \\<Protein> {input0}');
    expect(mt.source).toContain('The SMILES of the drug is \\<SMILES> {input1}');
    expect(mt.source).not.toContain('BA');
    expect(mt.source).toContain('The binding affinity is {output}');
    expect(methodTemplate('lora', t, 'BA').tags).toEqual([]);
    expect(methodTemplate('stage2', t, 'BA')).toBe(t);
    expect(parseLoraTargets(undefined)).toEqual(['q', 'v']);
    expect(parseLoraTargets('all-linear')).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
    expect(parseLoraTargets('q,o')).toEqual(['q', 'o']);
    expect(() => parseLoraTargets('q,attn')).toThrow(/all-linear.*q, k, v/);
  });

  it('budgets in epochs: the paper presets per task, and steps from epochs', () => {
    expect(Object.fromEntries(BUILTIN_TASKS.map((t) => [t.id, t.epochs]))).toEqual({ qed: 2, descriptor: 4, binding: 4, synergy: 2, translation: 1 });
    expect(stepsForEpochs(4, 100, 4, 8)).toBe(13); // ceil(400 / 32)
    expect(stepsForEpochs(1, 3, 4, 1)).toBe(1);
    expect(stepsForEpochs(0, 100, 4, 1)).toBe(0);
    const def = parseExperiment({ name: 'e', tasks: ['qed'], methods: ['lora'], paperEpochs: true, hyper: { epochs: 1.5 }, lora: { targets: 'all-linear' }, domainInTextPeft: 'prompt-tuning' });
    expect(def.paperEpochs).toBe(true);
    expect(def.hyper.epochs).toBe(1.5);
    const bad = validateExperiment({ name: 'e', tasks: [{ id: 'mine', extends: 'qed', epochs: undefined }, { id: 'x', extends: 'qed', epochs: -1 }], methods: ['lora'], paperEpochs: true, lora: { targets: ['q', 'w'] }, domainInTextPeft: 'adapter' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.errors).toEqual(
        expect.arrayContaining([expect.stringMatching(/^tasks\[1\]\.epochs: must be a positive number/), expect.stringMatching(/^lora\.targets: .*all-linear/), expect.stringMatching(/^domainInTextPeft: must be one of lora, prompt-tuning, linear-probe/)]),
      );
    }
  });
});

describe('direct prompting on stories260K', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadStories({ slots: 2, maxContext: 128 });
  });
  afterAll(() => engine?.dispose());

  it('generates greedily from a prompt that states the quantity asked, and parses numbers', async () => {
    const task = builtinTask('descriptor')!;
    const rows = [{ input: 'MKVL', output: '0.1' }, { input: 'GGAW', output: '0.2' }, { input: 'CCDE', output: '-0.1' }];
    const d = directPrompt(task, rows);
    const prompt = buildPrompt(d.template, d.rows[0], new Map(), engine.tokenizer, { omit: 'output', spacedFields: ['input'] });
    expect(Array.isArray(prompt)).toBe(true); // no tags: plain ids
    expect(engine.tokenizer.decode((prompt as number[]).slice(1))).toBe(
      '# # Input: The protein sequence is M K V L.\n# # Output: The descriptor value (the mean BLOSUM1 descriptor of its residues, a number) of this protein is',
    );
    const progress: number[] = [];
    const texts = await directPromptTexts(engine, task, rows, { maxNewTokens: 6, onProgress: (done) => progress.push(done) });
    expect(texts).toHaveLength(3);
    expect(progress).toEqual([2, 3]); // two slots
    // The same prompts decoded one by one give the same greedy texts.
    const alone = await engine.generate({ prompts: [prompt], maxTokens: 6, temperature: 0, stopStrings: ['\n'] });
    expect(texts[0]).toBe(alone.outputs[0].text.split('\n')[0].trim());
    const lt: LoadedTask = { task, train: rows, test: rows, trainGroups: [], testGroups: [], unlabeled: [], report: { available: { train: 3, test: 3 }, overLength: 0, notes: [] } };
    const s = scoreGenerated(lt, texts);
    expect(Number.isFinite(s.metrics.mse)).toBe(true);
    expect(s.unparsable).toBe(texts.filter((t) => parseFirstNumber(t) === null).length);
  });
});
