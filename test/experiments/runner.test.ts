/**
 * runExperiment in process on stories260K: cancellation keeps the finished cells, `previous` resumes
 * without redoing them, a cell that fails does not stop the others, libraries reach onLibrary, and
 * the ablations / stage-3 paths produce complete cells.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateExperiment } from '../../src/experiments/definition';
import { buildTables } from '../../src/experiments/report';
import { runExperiment } from '../../src/experiments/runner';
import type { ExperimentProgress } from '../../src/experiments/types';
import type { Engine } from '../../src/model/model';
import type { TagLibrary } from '../../src/tags/library';
import { loadStories } from '../helpers/stories';

let engine: Engine;
beforeAll(async () => {
  engine = await loadStories({ slots: 4, maxContext: 256 });
});
afterAll(() => engine?.dispose());

describe('examples', () => {
  it('every example definition is valid', () => {
    for (const f of readdirSync('examples').filter((x) => x.endsWith('.json'))) {
      const r = validateExperiment(JSON.parse(readFileSync(`examples/${f}`, 'utf8')));
      expect(r.ok ? [] : r.errors, f).toEqual([]);
    }
  });
});

describe('runExperiment', () => {
  const def = {
    name: 'runner',
    tasks: [
      'descriptor',
      {
        id: 'broken',
        title: 'Broken',
        data: { builder: 'table', file: 'no/such/file.csv', columns: { input: 'a', output: 'b' } },
        split: { kind: 'random', test: 0.5 },
        template: 'X <Seq> {input} Y <Val> {output}',
        tags: { domain: ['Seq'], function: 'Val' },
        output: { kind: 'regression', field: 'output' },
        metric: 'mse',
      },
    ],
    methods: ['nearest-neighbour', 'linear-probe'],
    hyper: { steps: 2, batch: 2, lr: 0.01 },
    caps: { maxTrain: 8, maxEval: 4, maxChars: 8 },
  };

  it('stops on abort keeping finished cells, then resumes from them', async () => {
    const ac = new AbortController();
    const seen: ExperimentProgress[] = [];
    const first = await runExperiment(engine, def, {
      signal: ac.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.phase === 'train' && p.step === 1) ac.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    expect(first.cells.map((c) => [c.id, c.status])).toEqual([['descriptor/nearest-neighbour/full/s0', 'done']]);
    expect(seen.find((p) => p.phase === 'train')).toMatchObject({ cell: 'descriptor/linear-probe/full/s0', index: 2, total: 4, stage: 'linear-probe', step: 1, steps: 2 });

    const libs: Array<[string, TagLibrary]> = [];
    const phases: string[] = [];
    const second = await runExperiment(engine, def, {
      previous: first,
      onProgress: (p) => phases.push(`${p.cell}:${p.phase}`),
      onLibrary: (id, lib) => {
        libs.push([id, lib]);
      },
    });
    expect(second.status).toBe('complete');
    expect(second.started).toBe(first.started);
    expect(phases).toContain('descriptor/nearest-neighbour/full/s0:skipped');
    expect(second.cells[0]).toEqual(first.cells[0]);
    const lp = second.cells.find((c) => c.id === 'descriptor/linear-probe/full/s0')!;
    expect(lp.status).toBe('done');
    expect(lp.stages[0].log.map((s) => s.step)).toEqual([1, 2]);
    expect(libs.map(([id]) => id)).toEqual(['descriptor/linear-probe/full/s0']);
    expect(libs[0][1].getHead('linear-probe')).toBeDefined();
    // The broken task fails per cell, with the reason, and the table says so.
    const broken = second.cells.filter((c) => c.task === 'broken');
    expect(broken.map((c) => c.status)).toEqual(['failed', 'failed']);
    expect(broken[0].error).toMatch(/no\/such\/file\.csv/);
    expect(buildTables(second).main.rows[0].cells[1].text).toBe('failed');
  }, 240_000);

  it('runs the ablations and a translation stage-3 cell to numbers', async () => {
    const results = await runExperiment(engine, {
      name: 'variants',
      tasks: [
        { id: 'qed', data: { builder: 'qed', files: ['molecules/freesolv.csv'] } },
        { id: 'translation', data: { builder: 'tatoeba', trainPairs: ['fr', 'de'], pivots: [['fr', 'de']] }, caps: { maxTrain: 4, maxEval: 1, maxChars: 24 }, maxNewTokens: 4 },
      ],
      methods: ['tag-llm'],
      ablations: ['no-domain-tags', 'no-function-tag', 'no-head', 'enriched'],
      hyper: { steps: 1, batch: 2, lr: 0.01 },
      tagLength: 1,
      caps: { maxTrain: 4, maxEval: 2, maxChars: 12 },
    });
    const byId = new Map(results.cells.map((c) => [c.id, c]));
    const d = engine.config.dModel;
    for (const v of ['full', 'no-domain-tags', 'no-function-tag', 'no-head', 'enriched']) {
      const c = byId.get(`qed/tag-llm/${v}/p1/s0`)!;
      expect(c.status, `${v}: ${c.error}`).toBe('done');
      expect(Number.isFinite(c.value), v).toBe(true);
    }
    // Parameters: each tag once, plus the head.
    expect(byId.get('qed/tag-llm/full/p1/s0')!.trainableParams).toBe(2 * d + d + 1);
    expect(byId.get('qed/tag-llm/enriched/p1/s0')!.trainableParams).toBe(2 * d + d + 1);
    expect(byId.get('qed/tag-llm/no-domain-tags/p1/s0')!.trainableParams).toBe(d + d + 1);
    expect(byId.get('qed/tag-llm/no-function-tag/p1/s0')!.trainableParams).toBe(d + d + 1);
    expect(byId.get('qed/tag-llm/no-head/p1/s0')!.trainableParams).toBe(2 * d);
    expect(byId.get('qed/tag-llm/no-head/p1/s0')!.unparsable).toBeGreaterThanOrEqual(0);
    expect(byId.get('qed/tag-llm/no-head/p1/s0')!.samples).toHaveLength(2);
    // Translation: stage 1 per language, stage 3 over the pairs, scores per direction.
    const tr = byId.get('translation/tag-llm/full/p1/s0')!;
    expect(tr.status, tr.error).toBe('done');
    expect(tr.stages.map((s) => s.stage)).toEqual(['stage1:<FR>', 'stage1:<EN>', 'stage1:<DE>', 'stage3']);
    expect(tr.translation!.map((s) => `${s.pair}:${s.group}`)).toEqual(['FR→EN:seen', 'EN→FR:seen', 'DE→EN:seen', 'EN→DE:seen', 'FR→DE:unseen-pair', 'DE→FR:unseen-pair']);
    expect(Number.isFinite(tr.metrics.bleu) && Number.isFinite(tr.metrics.chrf_unseen_pair)).toBe(true);
    expect(results.cells.filter((c) => c.task === 'translation' && c.variant !== 'full').every((c) => c.status === 'n/a')).toBe(true);
    const tables = buildTables(results);
    expect(tables.translation).toHaveLength(1);
    expect(tables.ablation!.rows.map((r) => r.cells[0].n)).toEqual([1, 1, 1, 1, 1]);
  }, 300_000);

  it('baselines as the paper defines them: plain PEFT rows, domain in text, a cross-domain task refusing enrichment, paper epochs', async () => {
    const results = await runExperiment(engine, {
      name: 'paper-baselines',
      tasks: [
        { id: 'descriptor', caps: { maxTrain: 4, maxEval: 2, maxChars: 12 }, maxNewTokens: 4 },
        { id: 'binding', caps: { maxTrain: 3, maxEval: 2, maxChars: 10 } },
      ],
      methods: ['tag-llm', 'prompt-tuning', 'lora', 'domain-in-text'],
      ablations: ['enriched'],
      hyper: { steps: 1, batch: 2, lr: 0.01 },
      stage1Hyper: { steps: 1 },
      paperEpochs: true,
      tagLength: 1,
    });
    const byId = new Map(results.cells.map((c) => [c.id, c]));
    const d = engine.config.dModel;
    // Plain prompt tuning: the number as text, generated and parsed; unparsable answers counted.
    const plain = byId.get('descriptor/prompt-tuning/no-head/p1/s0')!;
    expect(plain.status, plain.error).toBe('done');
    expect(plain.unparsable).toBeGreaterThanOrEqual(0);
    expect(plain.unparsable).toBeLessThanOrEqual(plain.evalRows);
    expect(plain.samples!.length).toBe(2);
    expect(plain.trainableParams).toBe(2 * d); // the soft prompt as long as <Protein> + <Descriptor>, no head
    // Paper epochs: descriptor 4 epochs over 4 training rows at batch 2 = 8 steps (stage 1 keeps its steps).
    expect(plain.stages[0].steps).toBe(8);
    // LoRA on q and v; domain in text = LoRA + the domain names as words.
    const lora = byId.get('descriptor/lora/full/s0')!;
    expect(lora.status, lora.error).toBe('done');
    const r = 8;
    const loraParams = engine.config.nLayers * (r * (d + d) + r * (d + engine.config.nKvHeads * engine.config.headDim)) + d + 1;
    expect(lora.trainableParams).toBe(loraParams);
    expect(byId.get('descriptor/domain-in-text/full/p1/s0')!.trainableParams).toBe(loraParams);
    // Plain LoRA rows generate through the adapter: done, or n/a with the engine's reason.
    const plainLora = byId.get('descriptor/lora/no-head/s0')!;
    expect(['done', 'n/a']).toContain(plainLora.status);
    if (plainLora.status === 'n/a') expect(plainLora.error).toMatch(/LoRA adapters/);
    // Binding is cross-domain: stage 3, and the enriched ablation does not apply.
    const ba = byId.get('binding/tag-llm/full/p1/s0')!;
    expect(ba.status, ba.error).toBe('done');
    expect(ba.stages.map((s) => s.stage)).toEqual(['stage1:<Protein>', 'stage1:<SMILES>', 'stage3']);
    const enriched = byId.get('binding/tag-llm/enriched/p1/s0')!;
    expect(enriched.status).toBe('n/a');
    expect(enriched.error).toMatch(/cross-domain.*stage 3.*frozen/);
    expect(byId.get('descriptor/tag-llm/enriched/p1/s0')!.status).toBe('done');
  }, 600_000);
});
