import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../src/model/api';
import type { SelfSpecEvent } from '../../src/selfspec/events';
import type { PromptFields, PubmedqaItem, VariantRunner } from '../../src/selfspec/evaluate';
import { DEFAULT_CONFIG, Pipeline, type PipelineConfig, type PipelineDeps, type PipelineInputs } from '../../src/selfspec/pipeline';
import type { Retriever } from '../../src/selfspec/responses';
import type { Seed } from '../../src/selfspec/seeds';
import { stepsFor, type SpecialiseOptions } from '../../src/selfspec/specialise';
import { MemoryStore, parseJsonl } from '../../src/selfspec/store';
import { createTag, newProvenance } from '../../src/tags/tag';
import { TagLibrary } from '../../src/tags/library';
import { projShape } from '../../src/model/adapters';
import type { LoraAdapter, LoraTarget } from '../../src/tags/head';
import { TrainingCancelled, type TrainState } from '../../src/train/trainer';
import { FAKE_CONFIG } from '../worker/fake-engine';
import { ScriptModel } from './fake-model';

const seeds: Seed[] = [
  { instruction: 'Identify the anatomy entities in the sentence.', input: 'The right eye was examined.', output: 'right eye <Anatomy>', task: 'AnatEM' },
  { instruction: 'Identify the anatomy entities in the sentence.', input: 'Cells were stained.', output: 'cells <Anatomy>', task: 'AnatEM' },
  { instruction: 'Name the chemicals in the text.', input: 'Aspirin was given.', output: 'Aspirin', task: 'BC4CHEMD' },
  { instruction: 'Answer the yes/no question.', input: 'Is the sky blue?', output: 'yes', task: 'yesno' },
];
const passages = [
  { id: 'p1', text: 'aspirin reduces platelet aggregation in patients' },
  { id: 'p2', text: 'gene expression in cells of the retina' },
  { id: 'p3', text: 'chemical entities such as aspirin and insulin' },
];
const retriever: Retriever = {
  size: passages.length,
  search(q, k) {
    const words = new Set(q.toLowerCase().split(/\W+/));
    return passages
      .map((p, i) => ({ ...p, i, score: p.text.split(' ').filter((w) => words.has(w)).length + 0.1 * (3 - i) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map(({ id, text, score }) => ({ id, text, score }));
  },
};
const item = (id: string, label: string): PubmedqaItem => ({ id, question: `Question ${id}?`, contexts: [`Context ${id}.`], label });
const pubmedqa = { test: [item('t1', 'yes'), item('t2', 'no'), item('t3', 'maybe'), item('t4', 'yes')], demos: [item('d1', 'yes'), item('d2', 'no')] };

/** Brainstorm replies: two fresh instructions, one unactionable, one repeated in every reply (duplicates after the first). */
function brainstorm(): (prompt: string, slot: number, req: GenerateRequest) => string {
  let n = 0;
  return (prompt) => {
    if (prompt.includes('List of tasks')) {
      const next = Number(/(\d+)\. Instruction:$/.exec(prompt)![1]);
      const a = n++;
      const b = n++;
      return [
        ` Explain alpha${a} beta${a} gamma${a} delta${a} clearly.`,
        `${next}. Input:\nsome input ${a}`,
        `${next}. Output:\nx\n###`,
        `${next + 1}. Instruction: Summarise the abstract for a patient audience.`,
        `${next + 1}. Input:\n<noinput>`,
        `${next + 1}. Output:\nx\n###`,
        `${next + 2}. Instruction: Draw a diagram of the heart and its chambers.`,
        `${next + 2}. Input:\n<noinput>\n###`,
        `${next + 3}. Instruction: Compare omega${b} sigma${b} kappa${b} lambda${b} today.`,
        `${next + 3}. Input:\nother input ${b}\n###`,
      ].join('\n');
    }
    if (prompt.includes('expert')) return ' A grounded response.\nInstruction: junk';
    if (prompt.includes('### Response:')) return ' Round two answer.\n### Instruction';
    return ' ?';
  };
}

/** Specialisation without a GPU: a step loop with the real checkpoint/resume contract, weights from the step count. */
function fakeSpecialise(log: string[], failAt?: { step: number; times: number }) {
  return async (records: Array<{ output: string }>, library: TagLibrary, o: SpecialiseOptions, h: Parameters<PipelineDeps['specialise']>[3]) => {
    const total = stepsFor(records.length, o.epochs, o.batch, o.accum);
    let step = h.resume?.step ?? 0;
    log.push(`${o.method}:${o.adapterName}:from${step}${o.init ? `:init=${o.init.name}` : ''}`);
    while (step < total) {
      // As the real Trainer does: its own error type, which the pipeline reports as an AbortError.
      if (h.signal?.aborted) throw new TrainingCancelled('Training was cancelled.');
      step++;
      if (failAt && failAt.times > 0 && step === failAt.step) {
        failAt.times--;
        throw new Error('GPU device lost');
      }
      await h.onStep?.({ step, loss: 1 / step, lmLoss: 1 / step, headLoss: NaN, gradNorm: 1, lr: o.lr, tokensPerSec: 100, skipped: false, epoch: step / (records.length / (o.batch * o.accum)), totalSteps: total });
      const st: TrainState = { version: 1, step, cursor: { epoch: 0, index: 0 }, auxCursor: { epoch: 0, index: 0 }, skipped: 0, tensors: { w: Float32Array.of(step) }, log: [] };
      if (h.checkpointEvery && step % h.checkpointEvery === 0) await h.checkpoint?.(st);
    }
    const d = FAKE_CONFIG.dModel;
    const saved = { tags: [] as string[], adapter: null as string | null };
    if (o.method !== 'lora') {
      library.addTag(createTag({ name: o.domainTag, kind: 'domain', p: 2, d, data: new Float32Array(2 * d).fill(step), provenance: newProvenance({ arch: 'llama', name: 'fake', dModel: d, vocabSize: 512 }, '') }));
      saved.tags.push(o.domainTag);
    }
    if (o.method !== 'tag') {
      library.addAdapter({
        id: 'a',
        name: o.adapterName,
        rank: 1,
        alpha: 2,
        targets: ['q'],
        layers: Array.from({ length: FAKE_CONFIG.nLayers }, () => ({ q: { A: new Float32Array(d).fill(0.01), B: new Float32Array(d) } })),
      });
      saved.adapter = o.adapterName;
    }
    return { steps: step, epochs: o.epochs, examples: records.length, dropped: { tooLong: 0, empty: 0 }, trainableParams: 1, finalLoss: 1 / step, saved };
  };
}

/** Evaluation without a GPU: a variant's answer depends on whether it has tags / an adapter. */
function fakeRunner(v: { tags: { domainTag?: string | null }; adapter: string | null }): VariantRunner {
  const answer = v.adapter ? 'yes' : v.tags.domainTag ? 'no' : 'maybe';
  return {
    promptTokens: (p: PromptFields) => p.instruction.length + p.input.length,
    score: async (ps, cands) => ps.map(() => cands.map((c) => (c === answer ? 0 : -1))),
    generate: async (ps) => ps.map(() => `${answer}.`),
  };
}

const config = (over: Partial<PipelineConfig> = {}): PipelineConfig => ({
  ...DEFAULT_CONFIG,
  instructions: 6,
  k: 2,
  methods: ['lora', 'tag'],
  ablationK: [0],
  rounds: 2,
  responseMaxTokens: 40,
  instructionMaxTokens: 400,
  maxBarrenBatches: 3,
  specialise: { ...DEFAULT_CONFIG.specialise, epochs: 2, batch: 2, accum: 1 },
  eval: { ...DEFAULT_CONFIG.eval, n: 3, shots: [0, 1], heldOutSeedTasks: 0.34, rougeN: 5 },
  ...over,
});

function setup(cfg = config(), opts: { store?: MemoryStore; resume?: boolean; signal?: AbortSignal; inputs?: Partial<PipelineInputs>; failAt?: { step: number; times: number } } = {}) {
  const model = new ScriptModel(brainstorm());
  const events: SelfSpecEvent[] = [];
  const trainLog: string[] = [];
  const store = opts.store ?? new MemoryStore();
  const deps: PipelineDeps = { model, slots: 4, maxContext: 4096, specialise: fakeSpecialise(trainLog, opts.failAt), runner: fakeRunner };
  const pipeline = new Pipeline(deps, cfg, { seeds, retriever, pubmedqa, ...opts.inputs }, { store, resume: opts.resume, signal: opts.signal, onEvent: (e) => events.push(e) });
  return { pipeline, model, events, store, trainLog };
}

const read = <T>(s: MemoryStore, name: string) => parseJsonl<T>(s.files.get(name) ?? null);

describe('self-specialization pipeline (fake engine)', () => {
  it('runs seeds → instructions → responses → specialise → evaluate → round 2, writing every file', async () => {
    const { pipeline, events, store, model, trainLog } = setup();
    const { table } = await pipeline.run();
    const names = [...store.files.keys()].sort();
    for (const f of ['config.json', 'seeds.json', 'round1/instructions.jsonl', 'round1/rejected.jsonl', 'round1/responses.jsonl', 'round1/responses-k0.jsonl', 'round1/lora/library.json', 'round1/tag/library.json', 'round1/lora-k0/library.json', 'round2/instructions.jsonl', 'round2/responses.jsonl', 'round2/lora/library.json', 'eval.json', 'eval.md', 'eval-cells.jsonl']) {
      expect(names).toContain(f);
    }
    // Held-out seed tasks never reach the brainstorm prompts.
    const split = JSON.parse(store.files.get('seeds.json')!);
    expect(split.heldOut.length).toBeGreaterThan(0);
    const held = split.heldOut[0].instruction;
    expect(model.requests.flatMap((r) => r.prompts).some((p) => ScriptModel.textOf(p).includes(held))).toBe(false);

    const ins = read<{ index: number; instruction: string }>(store, 'round1/instructions.jsonl');
    expect(ins.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const rej = read<{ reason: string; duplicateOf?: string }>(store, 'round1/rejected.jsonl');
    expect(rej.some((r) => r.reason.startsWith('unactionable'))).toBe(true);
    expect(rej.find((r) => r.reason.startsWith('duplicate'))?.duplicateOf).toBe('Summarise the abstract for a patient audience.');
    expect(events.filter((e) => e.type === 'instruction' && e.accepted && e.round === 1)).toHaveLength(6);

    const res = read<{ passages: Array<{ id: string; weight: number }>; posterior?: number[][]; output: string; decoding: string }>(store, 'round1/responses.jsonl');
    expect(res).toHaveLength(6);
    expect(res[0].output).toBe('A grounded response.');
    expect(res[0].decoding).toBe('mixture');
    expect(res[0].passages).toHaveLength(2);
    expect(res[0].passages[0].weight + res[0].passages[1].weight).toBeCloseTo(1, 12);
    expect(res[0].posterior![0][0]).toBeCloseTo(res[0].passages[0].weight, 4);
    expect(read<{ k: number }>(store, 'round1/responses-k0.jsonl').every((r) => r.k === 0)).toBe(true);

    // Round 2: fresh instructions, contrastive responses from the round-1 LoRA model against the base.
    const r2 = read<{ instruction: string }>(store, 'round2/instructions.jsonl');
    expect(r2.some((x) => ins.some((y) => y.instruction === x.instruction))).toBe(false);
    // With retrieval (k = 2) AND contrastive: per item an expert group (the 2 passage prompts with the
    // round-1 adapter) and an amateur group (the same 2 prompts on the base), width 2k = 4 slots.
    const res2 = read<{ decoding: string; output: string; k: number; passages: unknown[]; posterior?: number[][] }>(store, 'round2/responses.jsonl');
    expect(res2).toHaveLength(6);
    expect(res2.every((r) => r.decoding === 'contrastive' && r.output === 'A grounded response.' && r.k === 2 && r.passages.length === 2)).toBe(true);
    expect(res2[0].posterior![0]).toHaveLength(2);
    const creqs = model.requests.filter((r) => r.contrastive);
    expect(creqs).toHaveLength(6);
    for (const creq of creqs) {
      expect(creq.prompts).toHaveLength(4);
      expect(creq.mixture!.group).toEqual([0, 0, 1, 1]);
      expect(creq.contrastive).toMatchObject({ expert: [0], amateur: [1], alpha: 0.1 });
      expect(creq.adapters).toEqual(['selfspec-round1-lora', 'selfspec-round1-lora', null, null]);
      expect(creq.mixture!.weights.slice(0, 2)).toEqual(creq.mixture!.weights.slice(2));
      const texts = creq.prompts.map((p) => ScriptModel.textOf(p));
      // The same k passage prompts for both roles, one per passage.
      expect(texts.slice(0, 2)).toEqual(texts.slice(2));
      expect(texts[0]).not.toEqual(texts[1]);
      expect(texts.every((t) => t.includes('Background document:'))).toBe(true);
    }
    expect(trainLog).toEqual(['lora:selfspec-round1-lora:from0', 'tag:selfspec-round1-tag:from0', 'lora:selfspec-round1-lora-k0:from0', 'lora:selfspec-round2-lora:from0', 'tag:selfspec-round2-tag:from0']);

    // The table: base, the round-1 variants, the k = 0 ablation, round 2.
    expect(table.rows.map((r) => r.label)).toEqual(['base', 'LoRA (round 1, k = 2)', 'tag (round 1, k = 2)', 'LoRA (round 1, k = 0)', 'LoRA (round 2, k = 2)', 'tag (round 2, k = 2)']);
    expect(table.columns).toEqual(['0-shot likelihood', '1-shot likelihood', '0-shot generation', '1-shot generation']);
    // base answers "maybe", LoRA "yes", tag "no"; test labels of the 3 picked items decide the accuracy.
    const lora = table.rows[1].cells['0-shot likelihood'];
    expect(lora.confusion.map((row) => row[0]).reduce((a, b) => a + b, 0)).toBe(3);
    expect(table.rows[0].rougeL!.n).toBeGreaterThan(0);
    expect(store.files.get('eval.md')).toContain('| LoRA (round 2, k = 2) |');
    expect(JSON.parse(store.files.get('eval.json')!).rows).toHaveLength(6);

    // Events: stages in order for round 1, progress with throughput, train steps.
    const stages = events.filter((e) => e.type === 'stage' && e.status === 'start' && e.round === 1).map((e) => (e as { stage: string }).stage);
    expect(stages).toEqual(['instructions', 'responses', 'specialise', 'specialise', 'responses', 'specialise', 'evaluate']);
    const prog = events.find((e) => e.type === 'progress' && e.stage === 'responses' && e.done === e.total);
    expect(prog).toMatchObject({ etaSeconds: 0 });
    expect(events.some((e) => e.type === 'train-step')).toBe(true);
    expect(events.some((e) => e.type === 'response-token' && e.round === 1)).toBe(true);
    // Round-1 mixture tokens stream their k shares live: the same as the stored posterior (the k = 0
    // ablation's tokens for the same item follow, without shares).
    const live0 = events.filter((e) => e.type === 'response-token' && e.round === 1 && e.index === 0).map((e) => (e as { posterior: number[] | null }).posterior);
    const n0 = res[0].posterior!.length;
    expect(live0.slice(0, n0)).toEqual(res[0].posterior);
    expect(live0[0]).toHaveLength(2);
    expect(live0.slice(n0).every((p) => p === null)).toBe(true);
  });

  it('round 2 of the tag method: the domain tag goes before the instruction of the expert passage prompts only', async () => {
    const { pipeline, model, store } = setup(config({ methods: ['tag'], ablationK: [], eval: { ...config().eval, n: 0, rougeN: 0 } }));
    await pipeline.run();
    const creqs = model.requests.filter((r) => r.contrastive);
    expect(creqs.length).toBeGreaterThan(0);
    for (const creq of creqs) {
      expect(creq.mixture!.group).toEqual([0, 0, 1, 1]);
      expect(creq.adapters).toBeUndefined();
      const [e0, , a0] = creq.prompts;
      // Expert: a tagged prompt whose 2 tag rows sit right after "Instruction:" (the training template's place).
      expect(typeof e0 === 'object' && !Array.isArray(e0)).toBe(true);
      const tagged = e0 as { ids: number[]; inject: number[] };
      const at = tagged.inject.findIndex((x) => x >= 0);
      expect(tagged.inject.filter((x) => x >= 0)).toEqual([0, 1]);
      const before = ScriptModel.textOf(tagged.ids.slice(0, at));
      expect(before.endsWith('Instruction:')).toBe(true);
      expect(before).toContain('Background document:');
      // Amateur: the same text without the tag (the base model).
      expect(Array.isArray(a0)).toBe(true);
      expect(ScriptModel.textOf(a0)).toBe(ScriptModel.textOf(e0));
    }
    expect(read<{ decoding: string; k: number }>(store, 'round2/responses.jsonl').every((r) => r.decoding === 'contrastive' && r.k === 2)).toBe(true);
  });

  it('round 2 with k = 0 stays a plain contrastive pair on the Alpaca prompt; too few slots are refused before round 1', async () => {
    const { pipeline, model, store } = setup(config({ k: 0, methods: ['lora'], ablationK: [], eval: { ...config().eval, n: 0, rougeN: 0 } }));
    await pipeline.run();
    const creq = model.requests.find((r) => r.contrastive)!;
    expect(creq.mixture).toBeUndefined();
    expect(creq.contrastive).toMatchObject({ expert: [0, 2], amateur: [1, 3] });
    expect(creq.adapters).toEqual(['selfspec-round1-lora', null, 'selfspec-round1-lora', null]);
    expect(read<{ decoding: string; output: string; k: number }>(store, 'round2/responses.jsonl').every((r) => r.decoding === 'contrastive' && r.output === 'Round two answer.' && r.k === 0)).toBe(true);
    const few = setup(config({ k: 3 }));
    (few.pipeline as unknown as { deps: PipelineDeps }).deps.slots = 4;
    await expect(few.pipeline.run()).rejects.toThrow(/Round 2 decodes each response with 6 slots/);
    expect(few.model.requests).toHaveLength(0);
    // Round 1's mixture (an ablation k included) is refused up front too, not after the instructions were generated.
    const wide = setup(config({ k: 2, rounds: 1, ablationK: [3] }));
    (wide.pipeline as unknown as { deps: PipelineDeps }).deps.slots = 2;
    await expect(wide.pipeline.run()).rejects.toThrow(/Round 1 decodes each response as a mixture of 3 passage prompts.*model has 2; load it with more slots or lower k/);
    expect(wide.model.requests).toHaveLength(0);
  });

  it('starts every LoRA specialisation from a library adapter, evaluates it as the start row and uses it as round 2\'s amateur', async () => {
    const lora = DEFAULT_CONFIG.specialise.lora;
    const imported = adapterFor(lora.rank, lora.alpha, [...lora.targets]);
    const library = new TagLibrary();
    library.addAdapter({ id: 'peft-1', name: 'imported', ...imported });
    const cfg = config({ methods: ['lora', 'tag'], ablationK: [], initAdapter: 'imported', eval: { ...config().eval, rougeN: 0 } });
    const { pipeline, model, store, trainLog } = setup(cfg, { inputs: { library } });
    const { table } = await pipeline.run();
    // LoRA trains from the adapter; the tag method (no LoRA) from the base.
    expect(trainLog).toEqual(['lora:selfspec-round1-lora:from0:init=imported', 'tag:selfspec-round1-tag:from0', 'lora:selfspec-round2-lora:from0:init=imported', 'tag:selfspec-round2-tag:from0']);
    expect(table.rows.map((r) => r.label)).toEqual(['base', 'start (imported)', 'LoRA (round 1, k = 2)', 'tag (round 1, k = 2)', 'LoRA (round 2, k = 2)', 'tag (round 2, k = 2)']);
    // fakeRunner answers "yes" with an adapter: the start row is evaluated with the imported adapter on.
    expect(table.rows[1].cells['0-shot likelihood'].confusion).toEqual(table.rows[2].cells['0-shot likelihood'].confusion);
    expect(model.resident.has('imported')).toBe(true);
    const creq = model.requests.find((r) => r.contrastive)!;
    expect(creq.adapters).toEqual(['selfspec-round1-lora', 'selfspec-round1-lora', 'imported', 'imported']);
    expect(JSON.parse(store.files.get('config.json')!).initAdapter).toBe('imported');
  });

  it('refuses a start adapter that is missing, does not fit the run, or has no LoRA to start', async () => {
    const lora = DEFAULT_CONFIG.specialise.lora;
    const library = new TagLibrary();
    library.addAdapter({ id: 'p', name: 'small', ...adapterFor(4, lora.alpha, ['q', 'v']) });
    library.addAdapter({ id: 'w', name: 'wrong', ...adapterFor(lora.rank, lora.alpha, [...lora.targets], 3) });
    const run = (initAdapter: string, over: Partial<PipelineConfig> = {}, lib: TagLibrary | null = library) => {
      const s = setup(config({ initAdapter, ...over }), { inputs: { library: lib } });
      return { s, p: s.pipeline.run() };
    };
    let r = run('nope');
    await expect(r.p).rejects.toThrow(/start adapter "nope" is not in the library; it has "small", "wrong"/);
    expect(r.s.model.requests).toHaveLength(0);
    expect(r.s.store.files.size).toBe(0);
    r = run('small');
    await expect(r.p).rejects.toThrow(/"small" has rank 4, alpha 16 on q,v; this run trains LoRA rank 8.*--lora-rank 4 --lora-alpha 16 --lora-targets q,v/);
    r = run('wrong');
    await expect(r.p).rejects.toThrow(/Adapter "wrong": it has 3 layers but the model has 5/);
    r = run('small', { methods: ['tag'] });
    await expect(r.p).rejects.toThrow(/tag method trains no LoRA/);
    r = run('small', {}, null);
    await expect(r.p).rejects.toThrow(/no library was given/);
  });

  it('a cancelled run resumes where it stopped and ends with the same files as an uninterrupted one', async () => {
    const cfg = config({ rounds: 1, ablationK: [] });
    const full = setup(cfg);
    await full.pipeline.run();

    const ac = new AbortController();
    const first = setup(cfg, { signal: ac.signal });
    let done = 0;
    first.model.afterGenerate = (req) => {
      if (req.mixture && ++done === 2) ac.abort();
    };
    await expect(first.pipeline.run()).rejects.toMatchObject({ name: 'AbortError' });
    const partial = read(first.store, 'round1/responses.jsonl');
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(6);
    expect(first.store.files.has('eval.json')).toBe(false);

    const second = setup(cfg, { store: first.store, resume: true });
    await second.pipeline.run();
    // No new instruction generation; only the missing responses were generated.
    expect(second.model.requests.some((r) => ScriptModel.textOf(r.prompts[0]).includes('List of tasks'))).toBe(false);
    expect(second.events.some((e) => e.type === 'stage' && e.stage === 'instructions' && e.status === 'skipped')).toBe(true);
    for (const f of ['round1/instructions.jsonl', 'round1/rejected.jsonl', 'round1/responses.jsonl', 'eval-cells.jsonl']) {
      expect(first.store.files.get(f)).toBe(full.store.files.get(f));
    }
  });

  it('an error mid-run loses nothing: resume reuses the responses and finishes', async () => {
    const cfg = config({ rounds: 1, ablationK: [], methods: ['lora'] });
    const failAt = { step: 2, times: 1 };
    const first = setup(cfg, { failAt });
    await expect(first.pipeline.run()).rejects.toThrow(/device lost/);
    expect(read(first.store, 'round1/responses.jsonl')).toHaveLength(6);
    const second = setup(cfg, { store: first.store, resume: true, failAt });
    await second.pipeline.run();
    expect(second.model.requests).toHaveLength(0); // nothing regenerated; evaluation ran through the runner
    expect(first.store.files.has('round1/lora/library.json')).toBe(true);
    expect(first.store.files.has('round1/lora/checkpoint.json')).toBe(false);
    // A second resume of a finished run does nothing but rewrite the table.
    const third = setup(cfg, { store: first.store, resume: true });
    await third.pipeline.run();
    expect(third.events.filter((e) => e.type === 'stage' && e.status === 'start').map((e) => (e as { stage: string }).stage)).toEqual(['seeds']);
  });

  it('cancelling during training rejects with an AbortError and keeps the steps taken', async () => {
    const cfg = config({ rounds: 1, ablationK: [], methods: ['lora'], specialise: { ...config().specialise, epochs: 8, batch: 2, accum: 1 } });
    const ac = new AbortController();
    const first = setup(cfg, { signal: ac.signal });
    first.events.push = function (this: SelfSpecEvent[], ...e: SelfSpecEvent[]) {
      if (e.some((x) => x.type === 'train-step' && x.step === 3)) ac.abort();
      return Array.prototype.push.apply(this, e);
    };
    await expect(first.pipeline.run()).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('training resumes from its checkpoint', async () => {
    const cfg = config({ rounds: 1, ablationK: [], methods: ['lora'], instructions: 6, specialise: { ...config().specialise, epochs: 8, batch: 2, accum: 1 } });
    // 24 steps; checkpoints at 10 and 20; fail at 15 → resume from 10.
    const failAt = { step: 15, times: 1 };
    const first = setup(cfg, { failAt });
    await expect(first.pipeline.run()).rejects.toThrow(/device lost/);
    expect(first.store.files.has('round1/lora/checkpoint.json')).toBe(true);
    const second = setup(cfg, { store: first.store, resume: true });
    await second.pipeline.run();
    expect(second.trainLog).toEqual(['lora:selfspec-round1-lora:from10']);
    const steps = read<{ step: number }>(first.store, 'round1/lora/train-log.jsonl').map((s) => s.step);
    expect(steps.slice(-3)).toEqual([22, 23, 24]);
  });

  it('bad input gives a clear message before anything is generated', async () => {
    await expect(setup(config(), { inputs: { seeds: [] } }).pipeline.run()).rejects.toThrow(/no seeds/);
    await expect(setup(config({ k: 5 })).pipeline.run()).rejects.toThrow(/corpus has only 3.*--k 3/);
    await expect(setup(config(), { inputs: { retriever: null } }).pipeline.run()).rejects.toThrow(/need a corpus/);
    await expect(setup(config({ eval: { ...config().eval, shots: [0, 5] } })).pipeline.run()).rejects.toThrow(/5-shot needs/);

    const { pipeline, store } = setup(config({ rounds: 1, ablationK: [] }));
    await pipeline.run();
    await expect(setup(config({ rounds: 1, ablationK: [] }), { store }).pipeline.run()).rejects.toThrow(/--resume/);
    await expect(setup(config({ rounds: 1, ablationK: [], k: 1 }), { store, resume: true }).pipeline.run()).rejects.toThrow(/other settings \(k\)/);
    await expect(setup(config({ rounds: 1, ablationK: [], instructions: 7 }), { store, resume: true }).pipeline.run()).rejects.toThrow(/other settings \(instructions\)/);
    // More rounds may be added to a finished run.
    await setup(config({ rounds: 2, ablationK: [] }), { store, resume: true }).pipeline.run();
    expect(store.files.has('round2/lora/library.json')).toBe(true);
  });

  it('a model that writes no usable instruction stops with the reasons, keeping its rejections', async () => {
    const { pipeline, model, store } = (() => {
      const s = setup(config());
      return s;
    })();
    (model as unknown as { reply: (p: string) => string }).reply = () => ' the cat sat. Once upon a time';
    await expect(pipeline.run()).rejects.toThrow(/3 prompt batches in a row gave no new instruction \(rejections: malformed ×\d+\)/);
    expect(read(store, 'round1/rejected.jsonl').length).toBeGreaterThan(0);
    expect(JSON.parse(store.files.get('round1/instructions.progress.json')!).batches).toBe(3);
  });

  it('drops seeds from a brainstorm prompt that would not fit the context, and says so when one seed is too long', async () => {
    const s = setup(config({ rounds: 1, ablationK: [], methods: ['lora'] }));
    // Three seeds make a prompt of ~1,280 characters (= tokens here), one seed ~1,090.
    (s.pipeline as unknown as { deps: PipelineDeps }).deps.maxContext = 1200 + 400;
    await s.pipeline.run();
    const prompts = s.model.requests.filter((r) => ScriptModel.textOf(r.prompts[0]).includes('List of tasks')).flatMap((r) => r.prompts.map((p) => ScriptModel.textOf(p)));
    expect(Math.max(...prompts.map((p) => p.length))).toBeLessThanOrEqual(1200);
    expect(prompts.some((p) => !p.includes('3. Output:'))).toBe(true);
    expect(prompts.every((p) => p.includes('1. Output:'))).toBe(true);
    const t = setup(config({ rounds: 1 }));
    (t.pipeline as unknown as { deps: PipelineDeps }).deps.maxContext = 500;
    await expect(t.pipeline.run()).rejects.toThrow(/single seed takes \d+ tokens.*leaves 100/);
  });

  it('takes a given instruction set instead of generating one', async () => {
    const given = [
      { instruction: 'Explain insulin resistance.', input: '' },
      { instruction: 'Name the chemicals.', input: 'Aspirin and insulin.' },
    ];
    const { pipeline, store, model } = setup(config({ rounds: 1, ablationK: [], instructions: 2 }), { inputs: { instructions: given } });
    await pipeline.run();
    expect(read(store, 'round1/instructions.jsonl')).toEqual(given.map((g, index) => ({ index, ...g })));
    expect(model.requests.some((r) => ScriptModel.textOf(r.prompts[0]).includes('List of tasks'))).toBe(false);
  });
});

/** A LoRA adapter shaped for the fake model (A = 0.01, B = 0). */
function adapterFor(rank: number, alpha: number, targets: LoraTarget[], nLayers = FAKE_CONFIG.nLayers): Omit<LoraAdapter, 'id' | 'name'> {
  return {
    rank,
    alpha,
    targets,
    layers: Array.from({ length: nLayers }, () =>
      Object.fromEntries(
        targets.map((t) => {
          const [out, inp] = projShape(FAKE_CONFIG, t);
          return [t, { A: new Float32Array(rank * inp).fill(0.01), B: new Float32Array(out * rank) }];
        }),
      ),
    ),
  };
}
