import { describe, expect, it } from 'vitest';
import { createTag, newProvenance } from '../tags/tag';
import { TagLibrary } from '../tags/library';
import { exportLibrary, type LibraryFile } from '../tags/library-format';
import type { EngineClient } from './client';
import type { LibrarySummary, TrainEvent, TrainStartParams } from './protocol';
import { fakeClient, type FakeEngineOptions } from '../../test/worker/fake-engine';

async function setup(opts: FakeEngineOptions = {}) {
  const f = fakeClient(opts);
  const notes: LibrarySummary[] = [];
  const files: Array<LibraryFile | null> = [];
  f.client.onNotify((m) => {
    notes.push(m.summary);
    files.push(m.file);
  });
  await f.client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.bin' } });
  return { ...f, notes, files };
}

const STAGE1: TrainStartParams = {
  runId: 'run-1',
  checkpointEvery: 2,
  evalEvery: 0,
  evalLimit: 8,
  spec: {
    method: 'stage1',
    tasks: [{ name: 'tiny', template: '<Story> {text}', rows: Array.from({ length: 10 }, (_, i) => ({ text: `row ${i}` })), output: { kind: 'text' } }],
    tagLength: 2,
    hyper: { steps: 5, lr: 0.03, batch: 2 },
  },
};

function collect(events: TrainEvent[]) {
  return {
    steps: events.filter((e) => e.kind === 'step').map((e) => (e as Extract<TrainEvent, { kind: 'step' }>).log.step),
    phases: events.filter((e) => e.kind === 'phase').map((e) => (e as Extract<TrainEvent, { kind: 'phase' }>).phase),
    checkpoints: events.filter((e) => e.kind === 'checkpoint') as Array<Extract<TrainEvent, { kind: 'checkpoint' }>>,
    evals: events.filter((e) => e.kind === 'eval') as Array<Extract<TrainEvent, { kind: 'eval' }>>,
  };
}

async function train(client: EngineClient, params: TrainStartParams = STAGE1) {
  const events: TrainEvent[] = [];
  const res = await client.request('trainStart', params, { onEvent: (e) => events.push(e) });
  return { res, events, ...collect(events) };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('datasets over the worker protocol', () => {
  it('parses an upload and reports skipped rows without failing', async () => {
    const { client } = await setup();
    const text = 'input,output\nCCO,0.5\nbad,row,extra\nCCN,0.7\n"unclosed,1\nc1ccccc1,0.2\n';
    const ds = await client.request('datasetImport', { text, name: 'tiny.csv' });
    expect(ds.format).toBe('csv');
    expect(ds.columns).toEqual(['input', 'output']);
    expect(ds.rows.map((r) => r.input)).toEqual(['CCO', 'CCN', 'c1ccccc1']);
    expect(ds.report.skipped.map((s) => s.line)).toEqual([3, 5]);
    expect(ds.report.skipped[0]!.reason).toMatch(/expected 2/);
  });

  it('loads a built-in dataset', async () => {
    const { client } = await setup();
    const ds = await client.request('datasetBuiltin', { id: 'tiny', baseUrl: 'http://x/data/' });
    expect(ds.rows).toHaveLength(3);
    expect(ds.report.skipped).toHaveLength(1);
    await expect(client.request('datasetBuiltin', { id: 'nope', baseUrl: 'http://x/data/' })).rejects.toThrow(/Unknown built-in/);
  });
});

describe('training over the worker protocol', () => {
  it('streams steps, evaluations and checkpoints, then saves the tag to the library', async () => {
    const { client, notes, runs } = await setup();
    const { res, steps, phases, checkpoints, evals, events } = await train(client);
    expect(events[0]).toEqual({ kind: 'phase', phase: 'preparing' });
    expect(events[1]).toMatchObject({ kind: 'prepared', runId: 'run-1', totalSteps: 5, step: 0, log: [] });
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    expect(phases).toEqual(['preparing', 'evaluating', 'running', 'evaluating', 'saving']);
    expect(checkpoints.map((c) => c.step)).toEqual([2, 4]);
    expect(checkpoints[0]!.file).toMatchObject({ format: 'tag-workbench/checkpoint', spec: { method: 'stage1' } });
    expect(evals.map((e) => e.step)).toEqual([0, 5]);
    expect(res).toMatchObject({ runId: 'run-1', outcome: 'finished', steps: 5, saved: { tags: ['Story'] } });
    expect(runs[0]!.disposed).toBe(true);
    // The trainer never ran its own evaluations (the worker schedules them).
    expect(runs[0]!.spec.hyper?.evalEvery).toBe(0);
    await tick(5);
    expect(notes.at(-1)!.tags.map((t) => t.name)).toEqual(['Story']);
    const list = await client.request('libraryList', {});
    expect(list.tags[0]).toMatchObject({ name: 'Story', kind: 'domain', p: 2, d: 64, provenance: { stage: 'stage1', steps: 5 } });
  });

  it('streams decoded samples after every N-th step (RunSpec.sample), none when off', async () => {
    const { client } = await setup();
    const on = await train(client, { ...STAGE1, spec: { ...STAGE1.spec, hyper: { steps: 5 }, sample: { every: 2, tokens: 8, prompt: '<Story> Once' } } });
    const samples = on.events.filter((e) => e.kind === 'sample');
    expect(samples).toEqual([
      { kind: 'sample', step: 2, text: '<Story> ' },
      { kind: 'sample', step: 4, text: '<Story> ' },
    ]);
    // A sample follows its step's event, and step logs do not carry the ids.
    const i = on.events.findIndex((e) => e.kind === 'sample');
    expect(on.events[i - 1]).toMatchObject({ kind: 'step', log: { step: 2 } });
    expect(on.events.some((e) => e.kind === 'step' && 'sample' in e.log)).toBe(false);
    const off = await train(client, { ...STAGE1, spec: { ...STAGE1.spec, sample: { every: 0 } } });
    expect(off.events.some((e) => e.kind === 'sample')).toBe(false);
    await expect(client.request('trainStart', { ...STAGE1, spec: { ...STAGE1.spec, sample: { every: -1 } } })).rejects.toThrow(/sample/);
  });

  it('pauses after the current step with a checkpoint, resumes and finishes', async () => {
    const { client } = await setup({ stepDelayMs: 5 });
    const events: TrainEvent[] = [];
    let paused = false;
    const p = client.request('trainStart', { ...STAGE1, checkpointEvery: 0, spec: { ...STAGE1.spec, hyper: { steps: 6 } } }, {
      onEvent: (e) => {
        events.push(e);
        if (e.kind === 'step' && e.log.step === 2 && !paused) {
          paused = true;
          void client.request('trainControl', { action: 'pause' });
        }
        if (e.kind === 'phase' && e.phase === 'paused') {
          setTimeout(() => void client.request('trainControl', { action: 'resume' }), 20);
        }
      },
    });
    const res = await p;
    const c = collect(events);
    expect(res.steps).toBe(6);
    expect(c.steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.phases).toContain('paused');
    // Pausing wrote a checkpoint at the step it stopped after.
    expect(c.checkpoints).toHaveLength(1);
    expect(c.checkpoints[0]!.step).toBeGreaterThanOrEqual(2);
    expect(await client.request('trainControl', { action: 'pause' })).toEqual({ ok: false, phase: null });
  });

  it('finish now stops early and still saves', async () => {
    const { client } = await setup({ stepDelayMs: 2 });
    const p = client.request('trainStart', { ...STAGE1, spec: { ...STAGE1.spec, hyper: { steps: 500 } } }, {
      onEvent: (e) => {
        if (e.kind === 'step' && e.log.step === 3) void client.request('trainControl', { action: 'finish' });
      },
    });
    const res = await p;
    expect(res.outcome).toBe('stopped');
    expect(res.steps).toBeLessThan(500);
    expect(res.saved.tags).toEqual(['Story']);
  });

  it('cancel aborts without saving and frees the run', async () => {
    const { client, runs } = await setup({ stepDelayMs: 2 });
    const call = client.start('trainStart', { ...STAGE1, spec: { ...STAGE1.spec, hyper: { steps: 500 } } }, {
      onEvent: (e) => {
        if (e.kind === 'step' && e.log.step === 2) call.cancel();
      },
    });
    await expect(call.result).rejects.toMatchObject({ name: 'AbortError' });
    expect(runs[0]!.disposed).toBe(true);
    expect(runs[0]!.saved).toBe(false);
    expect((await client.request('libraryList', {})).tags).toEqual([]);
    // A new run may start afterwards.
    await expect(train(client)).resolves.toBeTruthy();
  });

  it('refuses a second concurrent run and model changes while training', async () => {
    const { client } = await setup({ stepDelayMs: 5 });
    const first = client.start('trainStart', { ...STAGE1, spec: { ...STAGE1.spec, hyper: { steps: 50 } } });
    await tick(10);
    await expect(client.request('trainStart', STAGE1)).rejects.toThrow(/already in progress/);
    await expect(client.request('unloadModel', {})).rejects.toThrow(/training run is in progress/);
    first.cancel();
    await expect(first.result).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('resumes from a checkpoint file and continues the same run', async () => {
    const { client } = await setup();
    const first = await train(client, { ...STAGE1, spec: { ...STAGE1.spec, hyper: { steps: 4 } }, checkpointEvery: 1 });
    const cp = first.checkpoints.find((c) => c.step === 2)!.file;
    // Survives structured cloning and JSON (IndexedDB / download).
    const file = JSON.parse(JSON.stringify(cp));
    const events: TrainEvent[] = [];
    const res = await client.request('trainResume', { file, runId: 'run-1', checkpointEvery: 0, evalEvery: 0, evalLimit: 4 }, { onEvent: (e) => events.push(e) });
    const prepared = events.find((e) => e.kind === 'prepared') as Extract<TrainEvent, { kind: 'prepared' }>;
    expect(prepared.step).toBe(2);
    expect(prepared.log.map((l) => l.step)).toEqual([1, 2]);
    expect(collect(events).steps).toEqual([3, 4]);
    expect(res.steps).toBe(4);
    await expect(client.request('trainResume', { file: { format: 'x' } as never, runId: 'r', checkpointEvery: 0, evalEvery: 0, evalLimit: 4 })).rejects.toThrow(
      /Not a Tag Workbench checkpoint/,
    );
  });

  it('reports evaluations every N steps', async () => {
    const { client } = await setup();
    const { evals } = await train(client, { ...STAGE1, evalEvery: 2, spec: { ...STAGE1.spec, hyper: { steps: 5 } } });
    expect(evals.map((e) => e.step)).toEqual([0, 2, 4, 5]);
    expect(evals[1]!.metrics.perplexity).toBeGreaterThan(1);
  });
});

describe('library over the worker protocol', () => {
  it('renames, exports, deletes and imports back the same bytes', async () => {
    const { client, notes } = await setup();
    await train(client);
    await client.request('libraryRename', { kind: 'tag', from: 'Story', to: 'Tale' });
    const exp = await client.request('libraryExport', { selection: { tags: ['Tale'] } });
    expect(exp.tags).toBe(1);
    const before = JSON.parse(exp.json) as LibraryFile;
    await client.request('libraryDelete', { kind: 'tag', name: 'Tale' });
    expect((await client.request('libraryList', {})).tags).toEqual([]);
    // The fake run's tags carry a fingerprint the fake model does not have: confirmation first.
    const ask = await client.request('libraryImport', { text: exp.json });
    expect(ask.status).toBe('needs-confirmation');
    const ok = await client.request('libraryImport', { text: exp.json, confirm: true });
    expect(ok).toMatchObject({ status: 'ok', added: { tags: ['Tale'] } });
    const again = JSON.parse((await client.request('libraryExport', {})).json) as LibraryFile;
    expect(again.tags[0]!.data).toBe(before.tags[0]!.data);
    expect(again.tags[0]!.name).toBe('Tale');
    await tick(5);
    expect(notes.at(-1)!.tags.map((t) => t.name)).toEqual(['Tale']);
    // Importing it once more adds nothing: it is already there.
    const dup = await client.request('libraryImport', { text: exp.json, confirm: true });
    expect(dup).toMatchObject({ status: 'ok', added: { tags: [] }, alreadyPresent: ['Tale'] });
    expect((await client.request('libraryList', {})).tags.map((t) => t.name)).toEqual(['Tale']);
    // Still the same tag after a rename in the library: matched by id.
    await client.request('libraryRename', { kind: 'tag', from: 'Tale', to: 'Story' });
    const renamed = await client.request('libraryImport', { text: exp.json, confirm: true });
    expect(renamed).toMatchObject({ status: 'ok', added: { tags: [] }, alreadyPresent: ['Story'] });
  });

  it('asks before importing a tag that clashes with the library, then keeps both or replaces', async () => {
    const { client } = await setup();
    await train(client);
    const exp = JSON.parse((await client.request('libraryExport', {})).json) as LibraryFile;
    const changed = structuredClone(exp);
    const raw = Buffer.from(changed.tags[0]!.data, 'base64');
    const rows = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    rows[0] += 1;
    changed.tags[0]!.data = Buffer.from(rows.buffer).toString('base64');
    const text = JSON.stringify(changed);
    const ask = await client.request('libraryImport', { text, confirm: true });
    expect(ask).toEqual({ status: 'conflicts', conflicts: [{ name: 'Story', sameId: true, existing: 'Story' }] });
    expect((await client.request('libraryList', {})).tags).toHaveLength(1);
    const both = await client.request('libraryImport', { text, confirm: true, onConflict: 'rename' });
    expect(both).toMatchObject({ status: 'ok', added: { tags: ['Story_2'] } });
    await client.request('libraryDelete', { kind: 'tag', name: 'Story_2' });
    const replaced = await client.request('libraryImport', { text, confirm: true, onConflict: 'replace' });
    expect(replaced).toMatchObject({ status: 'ok', added: { tags: ['Story'] } });
    const now = JSON.parse((await client.request('libraryExport', {})).json) as LibraryFile;
    expect(now.tags.map((t) => [t.name, t.id, t.data])).toEqual([['Story', exp.tags[0]!.id, changed.tags[0]!.data]]);
  });

  it('refuses files for another d_model and malformed files', async () => {
    const { client } = await setup();
    await train(client);
    const wide = createTag({ name: 'Wide', kind: 'domain', p: 1, d: 128, data: new Float32Array(128), provenance: newProvenance({ arch: 'x', name: 'big', dModel: 128, vocabSize: 9 }, 'f') });
    const file = exportLibrary(new TagLibrary({ tags: [wide] }));
    const r = await client.request('libraryImport', { text: JSON.stringify(file) });
    expect(r.status).toBe('refused');
    expect(r.status === 'refused' && r.error).toMatch(/d_model 64/);
    expect((await client.request('libraryImport', { text: 'not json' })).status).toBe('refused');
  });

  it('restores a saved library (tags of several widths) and notifies with a file to persist', async () => {
    const { client, files } = await setup();
    await train(client);
    await tick(5);
    const saved = files.at(-1)!;
    expect(saved.tags).toHaveLength(1);
    const wide = createTag({ name: 'Wide', kind: 'domain', p: 1, d: 4, data: new Float32Array(4), provenance: newProvenance({ arch: 'x', name: 'y', dModel: 4, vocabSize: 9 }, 'f') });
    const other = JSON.parse(JSON.stringify(saved)) as LibraryFile;
    other.tags.push(exportLibrary(new TagLibrary({ tags: [wide] })).tags[0]!);
    const sum = await client.request('libraryRestore', { file: other });
    expect(sum.tags.map((t) => `${t.name}:${t.d}`).sort()).toEqual(['Story:64', 'Wide:4']);
    expect((await client.request('libraryRestore', { file: null })).tags).toEqual([]);
  });

  it('requires a model to import', async () => {
    const { client } = fakeClient();
    const r = await client.request('libraryImport', { text: '{}' });
    expect(r).toMatchObject({ status: 'refused' });
  });
});

describe('composer, matrix and inspector over the worker protocol', () => {
  async function withTags() {
    const s = await setup();
    await train(s.client);
    await train(s.client, {
      ...STAGE1,
      runId: 'run-2',
      spec: {
        method: 'stage2',
        tasks: [
          {
            name: 'reg',
            template: '<Story> {input} <Size> {output}',
            rows: Array.from({ length: 8 }, (_, i) => ({ input: `s${i}`, output: String(i / 2) })),
            output: { kind: 'regression' },
          },
        ],
        tagLength: 2,
        hyper: { steps: 2 },
      },
    });
    return s;
  }

  it('generates side by side with and without tags', async () => {
    const { client, calls } = await withTags();
    const toks: Array<[number, string]> = [];
    const res = await client.request(
      'compose',
      { variants: ['<Story> Once', 'Once'], mode: 'generate', maxTokens: 4, temperature: 0 },
      { onEvent: (t) => toks.push([t.seq, t.text]) },
    );
    expect(res.mode).toBe('generate');
    if (res.mode !== 'generate') return;
    expect(res.outputs).toHaveLength(2);
    expect(res.prompts[0]).toMatchObject({ tagRows: 2 });
    expect(res.prompts[1]).toMatchObject({ tagRows: 0 });
    expect(toks.filter(([s]) => s === 1)).toHaveLength(4);
    const req = calls.models[0]!.requests[0]!;
    expect(typeof req.prompts[0]).toBe('object');
    expect((req.prompts[0] as { inject: number[] }).inject.filter((r) => r >= 0)).toHaveLength(2);
  });

  it('predicts with the head of a function tag', async () => {
    const { client } = await withTags();
    const res = await client.request('compose', { variants: ['<Story> s1 <Size>'], mode: 'head' });
    expect(res.mode).toBe('head');
    if (res.mode !== 'head') return;
    expect(res.predictions[0]).toMatchObject({ head: 'Size', kind: 'regression' });
    expect(Number.isFinite(res.predictions[0]!.value)).toBe(true);
    await expect(client.request('compose', { variants: ['<Story> s1'], mode: 'head' })).rejects.toThrow(/function tag that has a head/);
    await expect(client.request('compose', { variants: ['<Nope> x'], mode: 'generate' })).rejects.toThrow(/not in the tag library/);
  });

  it('evaluates composition-matrix cells with the head, and by LM loss without one', async () => {
    const { client } = await withTags();
    const rows = Array.from({ length: 6 }, (_, i) => ({ input: `m${i}`, output: String(i) }));
    const cell = await client.request('matrixCell', { domain: 'Story', fn: 'Size', template: '<Story> {input} <Size> {output}', datasetName: 'd', rows: [...rows, { input: 'x', output: 'n/a' }], limit: 10 });
    expect(cell).toMatchObject({ mode: 'head', metric: 'mse', n: 6, skipped: 1 });
    expect(Number.isFinite(cell.value)).toBe(true);
    // Per-row predictions for predicted-vs-true: row indices into the request, labels as written.
    expect(cell.predictions!.map((p) => [p.row, p.label])).toEqual(rows.map((r, i) => [i, r.output]));
    expect(cell.predictions!.every((p) => typeof p.prediction === 'number' && Number.isFinite(p.prediction))).toBe(true);
    // Batch prediction: no labels needed, one prediction per input, the same as in the cell.
    const batch = await client.request('matrixCell', { domain: 'Size', fn: 'Size', template: '<Story> {input} <Size> {output}', datasetName: 'pasted', rows: rows.map((r) => ({ input: r.input, output: '' })), limit: 6, predictOnly: true });
    expect(batch.predictions!.map((p) => p.prediction)).toEqual(cell.predictions!.map((p) => p.prediction));
    expect(batch.metric).toBe('predictions');
    // A function tag without a head: evaluated by next-token loss on the output text.
    await client.request('libraryDelete', { kind: 'head', name: 'Size' });
    const lm = await client.request('matrixCell', { domain: 'Story', fn: 'Size', template: '<Story> {input} <Size> {output}', datasetName: 'd', rows, limit: 3 });
    expect(lm).toMatchObject({ mode: 'lm', metric: 'perplexity' });
    await expect(client.request('matrixCell', { domain: 'Nope', fn: 'Size', template: '', datasetName: 'd', rows, limit: 3 })).rejects.toThrow(/no tag <Nope>/);
  });

  it('marks function tags with the domain tags they were trained with', async () => {
    const { client } = await withTags();
    const list = await client.request('libraryList', {});
    const size = list.tags.find((t) => t.name === 'Size')!;
    expect(size.kind).toBe('function');
    expect(size.provenance.notes).toMatch(/trained with: <Story>/);
    expect(size.head).toMatchObject({ kind: 'regression', k: 1 });
  });

  it('inspects a tag: norms, nearest tokens, PCA', async () => {
    const { client } = await withTags();
    const r = await client.request('inspectTag', { name: 'Story', neighbours: 3, sample: 50 });
    expect(r.rowNorms).toHaveLength(2);
    expect(r.nearest).toHaveLength(2);
    expect(r.nearest[0]).toHaveLength(3);
    expect(r.nearest[0]![0]!.cos).toBeGreaterThanOrEqual(r.nearest[0]![1]!.cos);
    expect(r.pca.points).toHaveLength(52);
    expect(r.pca.points.filter((p) => p.tag)).toHaveLength(2);
    expect(r.vocabNorm.max).toBeGreaterThanOrEqual(r.vocabNorm.mean);
  });
  it('puts several tags in one PCA', async () => {
    const { client } = await withTags();
    const one = await client.request('inspectTag', { name: 'Story', sample: 50 });
    const both = await client.request('inspectTag', { name: 'Story', sample: 50, with: ['Size', 'Story'] });
    const names = (r: typeof one) => r.pca.points.filter((p) => p.tag).map((p) => p.tagName);
    const list = await client.request('libraryList', {});
    const p = (n: string) => list.tags.find((t) => t.name === n)!.p;
    expect(names(one)).toEqual(Array(p('Story')).fill('Story'));
    expect(names(both)).toEqual([...Array(p('Story')).fill('Story'), ...Array(p('Size')).fill('Size')]);
    await expect(client.request('inspectTag', { name: 'Story', with: ['Nope'] })).rejects.toThrow(/Nope/);
  });


  it('returns an attention map with token labels', async () => {
    const { client } = await withTags();
    const r = await client.request('attention', { template: '<Story> Once' });
    expect(r.tokens.slice(0, 3).map((t) => t.tag)).toEqual([null, 'Story', 'Story']); // BOS, 2 tag rows
    expect(r.layers).toHaveLength(5);
    expect(r.layers[0]!.length).toBe(r.T * r.T);
  });

  it('reports the model fingerprint', async () => {
    const { client } = await setup();
    const f = await client.request('modelFingerprint', {});
    expect(f.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(f.dModel).toBe(64);
  });
});
