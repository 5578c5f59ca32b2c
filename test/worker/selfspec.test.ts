/**
 * The worker's self-specialization requests on a scripted model and fake training (no GPU): a run
 * streams its events and stores its files; Pause stops it and Resume finishes it with the same
 * files a run without a pause makes; the page's view of the live events equals the view rebuilt
 * from the stored files (what a reload shows); a bad seed file is refused with its reason and
 * leaves no run behind.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SelfSpecEvent } from '../../src/selfspec/events';
import type { VariantRunner } from '../../src/selfspec/evaluate';
import type { PipelineDeps } from '../../src/selfspec/pipeline';
import { stepsFor } from '../../src/selfspec/specialise';
import { parseJsonl } from '../../src/selfspec/store';
import { reduceEvent, emptyView, viewFromFiles, DEFAULT_SETTINGS } from '../../src/state/selfspec';
import { createTag, newProvenance } from '../../src/tags/tag';
import { TagLibrary } from '../../src/tags/library';
import { DEFAULT_CONFIG } from '../../src/selfspec/pipeline';
import { projShape } from '../../src/model/adapters';
import { MAX_CORPUS_BYTES } from '../../src/selfspec/corpus';
import type { RequestMessage, SelfSpecSettings } from '../../src/worker/protocol';
import { createSelfSpecHandler } from '../../src/worker/selfspec';
import { createMemorySelfSpecDb } from '../../src/worker/selfspec-store';
import { ScriptModel } from '../selfspec/fake-model';
import { FAKE_CONFIG } from './fake-engine';

const here = dirname(fileURLToPath(import.meta.url));
const BOX = readFileSync(join(here, '../selfspec/fixtures/box-3tasks.json'), 'utf8');
const q = (id: string, label: string) => [id, { QUESTION: `Question ${id}?`, CONTEXTS: [`aspirin context ${id}`], final_decision: label }];
const PQAL = JSON.stringify(Object.fromEntries([q('t1', 'yes'), q('t2', 'no'), q('d1', 'yes'), q('d2', 'maybe')]));
const TRUTH = JSON.stringify({ t1: 'yes', t2: 'no' });
const DATA: Record<string, string> = {
  'biomed/BoX_instructions.json': BOX,
  'biomed/pubmedqa_ori_pqal.json': PQAL,
  'biomed/pubmedqa_test_ground_truth.json': TRUTH,
};

/** Brainstorm replies with two fresh instructions, an unactionable one and a repeated one. */
function reply() {
  let n = 0;
  return (prompt: string) => {
    if (prompt.includes('List of tasks')) {
      const next = Number(/(\d+)\. Instruction:$/.exec(prompt)![1]);
      const a = n++;
      return [
        ` Explain alpha${a} beta${a} gamma${a} delta${a} aspirin clearly.`,
        `${next}. Input:\nsome input ${a}`,
        `${next}. Output:\nx\n###`,
        `${next + 1}. Instruction: Summarise the abstract for a patient audience.`,
        `${next + 1}. Input:\n<noinput>\n###`,
        `${next + 2}. Instruction: Draw a diagram of the heart and its chambers.`,
        `${next + 2}. Input:\n<noinput>\n###`,
      ].join('\n');
    }
    if (prompt.includes('expert')) return ' A grounded response.\nInstruction: junk';
    if (prompt.includes('### Response:')) return ' Round two answer.\n### Instruction';
    return ' ?';
  };
}

const runner = (): VariantRunner => ({
  promptTokens: (p) => p.instruction.length + p.input.length,
  score: async (ps, cands) => ps.map(() => cands.map((c) => (c === 'yes' ? 0 : -1))),
  generate: async (ps) => ps.map(() => 'yes.'),
});

const parts = (): Omit<PipelineDeps, 'model'> => ({
  slots: 4,
  maxContext: 4096,
  runner,
  async specialise(records, library, o, h) {
    const total = stepsFor(records.length, o.epochs, o.batch, o.accum);
    let step = h.resume?.step ?? 0;
    while (step < total) {
      if (h.signal?.aborted) throw Object.assign(new Error('Cancelled.'), { name: 'AbortError' });
      step++;
      await h.onStep?.({ step, loss: 1 / step, lmLoss: 1 / step, headLoss: NaN, gradNorm: 1, lr: o.lr, tokensPerSec: 100, skipped: false, epoch: step, totalSteps: total });
    }
    const d = FAKE_CONFIG.dModel;
    library.addTag(createTag({ name: o.domainTag, kind: 'domain', p: 2, d, data: new Float32Array(2 * d).fill(step), provenance: newProvenance({ arch: 'llama', name: 'fake', dModel: d, vocabSize: 512 }, '') }));
    return { steps: step, epochs: o.epochs, examples: records.length, dropped: { tooLong: 0, empty: 0 }, trainableParams: 1, finalLoss: 1 / step, saved: { tags: [o.domainTag], adapter: null } };
  },
});

const SETTINGS: SelfSpecSettings = {
  ...DEFAULT_SETTINGS,
  name: 'tiny',
  instructions: 4,
  k: 2,
  methods: ['tag'],
  epochs: 1,
  batch: 2,
  accum: 1,
  rounds: 2,
  evalN: 2,
  shots: [0],
  scorings: ['likelihood'],
  rougeN: 2,
  instructionTokens: 400,
  responseTokens: 40,
};

function setup(o: { library?: TagLibrary; inits?: Array<string | null> } = {}) {
  const model = new ScriptModel(reply());
  const db = Promise.resolve(createMemorySelfSpecDb());
  const engineParts = (): Omit<PipelineDeps, 'model'> => {
    const p = parts();
    return { ...p, specialise: (r, l, so, hk) => (o.inits?.push(so.init?.name ?? null), p.specialise(r, l, so, hk)) };
  };
  const h = createSelfSpecHandler({
    model: () => model,
    db,
    busyWith: () => null,
    library: () => o.library ?? null,
    fetchText: () => async (path) => {
      if (path === 'biomed/corpus.txt') return 'aspirin reduces platelet aggregation\ngene expression in cells of the retina\nchemical entities such as aspirin';
      if (!(path in DATA)) throw new Error(`no ${path}`);
      return DATA[path];
    },
    engineParts,
  });
  let id = 1;
  const call = (type: string, params: unknown, events: SelfSpecEvent[] = []) => h.handle({ id: id++, type, params } as RequestMessage, new AbortController().signal, (e) => events.push(e));
  return { h, model, db, call };
}

const corpusFile = () => ({ kind: 'file' as const, name: 'corpus.txt', bytes: new TextEncoder().encode('aspirin reduces platelet aggregation\ngene expression in cells of the retina\nchemical entities such as aspirin').buffer as ArrayBuffer });

describe('worker selfspec requests', () => {
  it('runs, streams events, stores files; the live view equals the view rebuilt from the files', async () => {
    const { call } = setup();
    const events: SelfSpecEvent[] = [];
    const res = await call('selfspecStart', { runId: 'r1', settings: SETTINGS, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' }, events);
    expect(res).toEqual({ runId: 'r1', outcome: 'done' });
    const types = new Set(events.map((e) => e.type));
    for (const t of ['stage', 'progress', 'instruction', 'response-start', 'response-token', 'response-done', 'train-step', 'train-done', 'eval-cell']) expect(types.has(t as SelfSpecEvent['type'])).toBe(true);
    expect(events.some((e) => e.type === 'stage' && e.stage === 'corpus' && e.status === 'done' && /3 passages/.test(e.detail ?? ''))).toBe(true);

    const runs = (await call('selfspecRuns', {})) as Array<{ id: string; status: string; seeds: unknown; corpus: unknown }>;
    expect(runs.map((r) => [r.id, r.status])).toEqual([['r1', 'done']]);
    expect(runs[0].corpus).toEqual({ kind: 'stored', name: 'corpus.txt' });
    const { files } = (await call('selfspecFiles', { runId: 'r1' })) as { files: Record<string, string> };
    expect(parseJsonl(files['round1/instructions.jsonl'])).toHaveLength(4);
    expect(parseJsonl(files['round2/instructions.jsonl'])).toHaveLength(4);
    expect(parseJsonl(files['round1/responses.jsonl'])).toHaveLength(4);
    expect(JSON.parse(files['eval.json']).rows.map((r: { label: string }) => r.label)).toEqual(['base', 'tag (round 1, k = 2)', 'tag (round 2, k = 2)']);

    const live = events.reduce(reduceEvent, emptyView(2));
    const stored = viewFromFiles(files, 2);
    expect(live.accepted).toBe(8);
    expect(live.rejected).toBeGreaterThan(0);
    expect(stored.accepted).toBe(live.accepted);
    expect(stored.rejected).toBe(live.rejected);
    expect(stored.reasons).toEqual(live.reasons);
    expect(live.instructions.some((i) => i.duplicateOf !== null)).toBe(true);
    expect(stored.responsesDone).toBe(live.responsesDone);
    expect(live.responsesDone).toBe(8);
    expect(stored.train.map((t) => [t.key, t.points.length, t.library])).toEqual(live.train.map((t) => [t.key, t.points.length, t.library]));
    expect(stored.cells.map((c) => `${c.row}|${c.column}`).sort()).toEqual(live.cells.map((c) => `${c.row}|${c.column}`).sort());
    for (const s of ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate'] as const) expect(live.steps[s].status, s).toMatch(/done|skipped/);
    expect(live.steps.iterate.status).toBe('done');
    for (const st of ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate', 'iterate'] as const) expect(stored.steps[st].status, `stored ${st}`).toBe('done');
    // Live responses carry their passages' text and the mixture posterior per token.
    const r = live.responses.find((x) => x.round === 1 && x.passages.length === 2)!;
    expect(r.passages).toHaveLength(2);
    expect(r.passages[0].text.length).toBeGreaterThan(0);
    expect(r.posterior).toHaveLength(r.tokens.length);
    expect(r.posterior![0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  });

  it('pauses after the current step and resumes to the same files as an uninterrupted run', async () => {
    const a = setup();
    await a.call('selfspecStart', { runId: 'r', settings: SETTINGS, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' });
    const whole = ((await a.call('selfspecFiles', { runId: 'r' })) as { files: Record<string, string> }).files;

    const b = setup();
    let n = 0;
    b.model.afterGenerate = () => {
      if (++n === 2) void b.call('selfspecControl', { action: 'pause' });
    };
    const first = await b.call('selfspecStart', { runId: 'r', settings: SETTINGS, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' });
    expect(first).toEqual({ runId: 'r', outcome: 'paused' });
    expect(((await b.call('selfspecRuns', {})) as Array<{ status: string }>)[0].status).toBe('paused');
    const partial = ((await b.call('selfspecFiles', { runId: 'r' })) as { files: Record<string, string> }).files;
    expect(partial['eval.json']).toBeUndefined();
    b.model.afterGenerate = undefined;
    const events: SelfSpecEvent[] = [];
    expect(await b.call('selfspecResume', { runId: 'r', dataBaseUrl: 'x/' }, events)).toEqual({ runId: 'r', outcome: 'done' });
    expect(events.some((e) => e.type === 'stage' && e.status === 'skipped')).toBe(true);
    const resumed = ((await b.call('selfspecFiles', { runId: 'r' })) as { files: Record<string, string> }).files;
    for (const name of ['round1/instructions.jsonl', 'round1/responses.jsonl', 'round2/instructions.jsonl', 'eval.md']) expect(resumed[name], name).toBe(whole[name]);
  });

  it('takes a given round-1 instruction set and lists it from the files', async () => {
    const { call } = setup();
    const given = { kind: 'file', name: 'given.jsonl', bytes: new TextEncoder().encode('{"instruction": "List the drugs.", "input": "aspirin"}\n{"instruction": "Name the organ.", "input": ""}\n').buffer };
    const events: SelfSpecEvent[] = [];
    const res = await call('selfspecStart', { runId: 'g', settings: { ...SETTINGS, instructions: 2, rounds: 1, freshInstructions: false }, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), instructions: given, dataBaseUrl: 'x/' }, events);
    expect(res).toEqual({ runId: 'g', outcome: 'done' });
    expect(events.find((e) => e.type === 'stage' && e.stage === 'instructions')).toMatchObject({ status: 'skipped', detail: '2 instructions given' });
    const { files } = (await call('selfspecFiles', { runId: 'g', names: ['round1/instructions.jsonl'] })) as { files: Record<string, string> };
    expect(viewFromFiles(files, 1).acceptedTexts).toEqual(['List the drugs.', 'Name the organ.']);
    const bad = { kind: 'file', name: 'bad.jsonl', bytes: new TextEncoder().encode('{"text": "no instruction"}\n').buffer };
    await expect(call('selfspecStart', { runId: 'b', settings: SETTINGS, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), instructions: bad, dataBaseUrl: 'x/' })).rejects.toThrow(/bad\.jsonl: no line has an "instruction"/);
  });

  it('takes a corpus folder of .txt documents as passages <file>#<n>, and refuses an oversized corpus keeping the runs made', async () => {
    const { call } = setup();
    const enc = (t: string) => new TextEncoder().encode(t).buffer as ArrayBuffer;
    const folder = {
      kind: 'folder' as const,
      name: 'docs',
      files: [
        { name: 'b.txt', bytes: enc('aspirin reduces platelet aggregation\n\ngene expression in cells of the retina') },
        { name: 'a.txt', bytes: enc('chemical entities such as aspirin') },
        { name: 'notes.md', bytes: enc('# ignored') },
      ],
    };
    const events: SelfSpecEvent[] = [];
    const small = { ...SETTINGS, rounds: 1, evalN: 0, rougeN: 0 };
    expect(await call('selfspecStart', { runId: 'f', settings: small, seeds: { kind: 'builtin', id: 'box' }, corpus: folder, dataBaseUrl: 'x/' }, events)).toEqual({ runId: 'f', outcome: 'done' });
    expect(events.find((e) => e.type === 'stage' && e.stage === 'corpus' && e.status === 'done')).toMatchObject({ detail: expect.stringMatching(/^3 passages from docs\.jsonl/) });
    const ids = new Set(events.flatMap((e) => (e.type === 'response-start' ? e.passages.map((p) => p.id) : [])));
    expect([...ids].every((id) => ['a.txt#1', 'b.txt#1', 'b.txt#2'].includes(id))).toBe(true);
    expect(ids.size).toBeGreaterThan(0);
    const runs = (await call('selfspecRuns', {})) as Array<{ corpus: unknown }>;
    expect(runs[0].corpus).toEqual({ kind: 'stored', name: 'docs.jsonl' });
    // Resume re-reads the stored passages (same ids).
    expect(await call('selfspecResume', { runId: 'f', dataBaseUrl: 'x/' })).toEqual({ runId: 'f', outcome: 'done' });

    const big = { kind: 'file' as const, name: 'big.txt', bytes: new ArrayBuffer(MAX_CORPUS_BYTES + 1) };
    await expect(call('selfspecStart', { runId: 'big', settings: small, seeds: { kind: 'builtin', id: 'box' }, corpus: big, dataBaseUrl: 'x/' })).rejects.toThrow(/big\.txt is 32\.0 MB; a corpus may be at most 32\.0 MB .*split the corpus/);
    const bigFolder = { kind: 'folder' as const, name: 'many', files: [{ name: 'x.txt', bytes: new ArrayBuffer(MAX_CORPUS_BYTES) }, { name: 'y.txt', bytes: new ArrayBuffer(10) }] };
    await expect(call('selfspecStart', { runId: 'big', settings: small, seeds: { kind: 'builtin', id: 'box' }, corpus: bigFolder, dataBaseUrl: 'x/' })).rejects.toThrow(/many \(2 \.txt files\) is 32\.0 MB/);
    await expect(call('selfspecStart', { runId: 'big', settings: small, seeds: { kind: 'builtin', id: 'box' }, corpus: { kind: 'folder', name: 'md', files: [{ name: 'a.md', bytes: enc('x') }] }, dataBaseUrl: 'x/' })).rejects.toThrow(/md: the folder has no \.txt documents/);
    // Nothing made is lost: the earlier run is still there, and no refused run was stored.
    expect(((await call('selfspecRuns', {})) as Array<{ id: string }>).map((r) => r.id)).toEqual(['f']);
  });

  it('starts LoRA from a library adapter copied into the run; resume uses the copy even after the library lost it', async () => {
    const { rank, alpha, targets } = DEFAULT_CONFIG.specialise.lora;
    const library = new TagLibrary();
    library.addAdapter({
      id: 'imp',
      name: 'imported',
      rank,
      alpha,
      targets: [...targets],
      layers: Array.from({ length: FAKE_CONFIG.nLayers }, () => Object.fromEntries(targets.map((t) => { const [out, inp] = projShape(FAKE_CONFIG, t); return [t, { A: new Float32Array(rank * inp), B: new Float32Array(out * rank) }]; }))),
    });
    const inits: Array<string | null> = [];
    const { call } = setup({ library, inits });
    const settings = { ...SETTINGS, methods: ['lora' as const], rounds: 1, rougeN: 0, initAdapter: 'imported' };
    await expect(call('selfspecStart', { runId: 'x', settings: { ...settings, initAdapter: 'nope' }, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' })).rejects.toThrow(/"nope" is not in the library \(it has "imported"\)/);
    expect(await call('selfspecStart', { runId: 'i', settings, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' })).toEqual({ runId: 'i', outcome: 'done' });
    expect(inits).toEqual(['imported']);
    const { files } = (await call('selfspecFiles', { runId: 'i', names: ['eval.json'] })) as { files: Record<string, string> };
    expect(JSON.parse(files['eval.json']).rows.map((r: { label: string }) => r.label)).toEqual(['base', 'start (imported)', 'LoRA (round 1, k = 2)']);
    library.deleteAdapter('imported');
    expect(await call('selfspecResume', { runId: 'i', dataBaseUrl: 'x/' })).toEqual({ runId: 'i', outcome: 'done' });
  });

  it('refuses an empty seed file with a clear message and stores nothing; deletes runs', async () => {
    const { call } = setup();
    const empty = { kind: 'file', name: 'seeds.jsonl', bytes: new ArrayBuffer(0) };
    await expect(call('selfspecStart', { runId: 'bad', settings: SETTINGS, seeds: empty, corpus: corpusFile(), dataBaseUrl: 'x/' })).rejects.toThrow(/seeds\.jsonl: the seed file is empty/);
    const latin1 = { kind: 'file', name: 'seeds.csv', bytes: Uint8Array.of(0x69, 0x6e, 0xe9, 0x0a).buffer };
    await expect(call('selfspecStart', { runId: 'bad', settings: SETTINGS, seeds: latin1, corpus: corpusFile(), dataBaseUrl: 'x/' })).rejects.toThrow(/not valid UTF-8/);
    await expect(call('selfspecStart', { runId: 'bad', settings: SETTINGS, seeds: { kind: 'builtin', id: 'box' }, corpus: null, dataBaseUrl: 'x/' })).rejects.toThrow(/k = 2 passages need a corpus/);
    expect(await call('selfspecRuns', {})).toEqual([]);
    await call('selfspecStart', { runId: 'ok', settings: { ...SETTINGS, rounds: 1, evalN: 0, rougeN: 0 }, seeds: { kind: 'builtin', id: 'box' }, corpus: corpusFile(), dataBaseUrl: 'x/' });
    expect(await call('selfspecDelete', { runId: 'ok' })).toEqual({ deleted: true });
    expect(await call('selfspecRuns', {})).toEqual([]);
    expect(((await call('selfspecFiles', { runId: 'ok' })) as { files: object }).files).toEqual({});
  });
});
