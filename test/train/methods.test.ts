/**
 * Every method of the protocol runs end to end on stories260K (two optimizer steps each) with the
 * trainable-parameter count the method implies, and stage 3 mixes datasets in its batches.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { TagLibrary } from '../../src/tags/library';
import { createTag, initTagRows, newProvenance } from '../../src/tags/tag';
import { embeddingTable } from '../../src/tags/embedding';
import { prepareRun, runProtocol, type TaskData } from '../../src/train/protocol';

let engine: Engine | null = null;
async function stories(): Promise<Engine> {
  engine ??= await loadModel(await acquireNodeGpu(), new NodeFileSource('public/models/stories260K/stories260K.bin'), {
    tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
    slots: 1,
    maxContext: 64,
  });
  return engine;
}

const smiles = readFileSync('test/fixtures/smiles-60.txt', 'utf8').trim().split('\n').slice(0, 20);
const regression: TaskData = {
  name: 'len',
  template: 'Mol <SMILES> {input} Len <Len> {output}',
  rows: smiles.map((s) => ({ input: s, output: String(s.length / 10) })),
  output: { kind: 'regression' },
};

async function libraryWithSmiles(e: Engine): Promise<TagLibrary> {
  const lib = new TagLibrary();
  const d = e.config.dModel;
  const data = initTagRows(await embeddingTable(e), e.config.vocabSize, d, 3);
  lib.addTag(createTag({ name: 'SMILES', kind: 'domain', p: 3, d, data, provenance: newProvenance({ arch: 'llama', name: e.name, dModel: d, vocabSize: 512 }, '') }));
  return lib;
}

const hyper = { steps: 2, batch: 2, lr: 0.01 };

describe('methods', () => {
  it('stage 2 (frozen and enriched), domain-in-text, prompt tuning, linear probe and LoRA', async () => {
    const e = await stories();
    const d = e.config.dModel;
    const counts: Record<string, number> = {};
    for (const [name, spec] of Object.entries({
      frozen: { method: 'stage2' as const },
      enriched: { method: 'stage2' as const, enrich: true },
      'domain-in-text': { method: 'domain-in-text' as const },
      'prompt-tuning': { method: 'prompt-tuning' as const },
      'linear-probe': { method: 'linear-probe' as const },
      lora: { method: 'lora' as const },
    })) {
      const lib = await libraryWithSmiles(e);
      const res = await runProtocol(e, { ...spec, tasks: [regression], library: lib, tagLength: 2, hyper });
      expect(res.steps, name).toBe(2);
      expect(Number.isFinite(res.evalAfter.mse!), name).toBe(true);
      counts[name] = res.trainableParams;
      if (name === 'lora') expect(lib.getAdapter('lora')).toBeDefined();
      if (name === 'frozen' || name === 'domain-in-text') expect(lib.getTag('Len')?.kind).toBe('function');
    }
    const head = d + 1;
    expect(counts.frozen).toBe(2 * d + head); // <Len> + head
    expect(counts.enriched).toBe(3 * d + 2 * d + head); // <SMILES> enriched too
    expect(counts['domain-in-text']).toBe(2 * d + head);
    expect(counts['prompt-tuning']).toBe((3 + 2) * d + head); // same total length as the tags
    expect(counts['linear-probe']).toBe(head);
    // r = 8 on q,k,v,o,gate,up,down of 5 layers: d = 64, kv width 32, ff 172.
    const r = 8;
    const perLayer = r * (d + d) + r * (d + 32) * 2 + r * (d + d) + r * (d + 172) * 2 + r * (172 + d);
    expect(counts.lora).toBe(5 * perLayer + head);
  });

  it('stage 3 trains one function tag over several datasets in mixed batches', async () => {
    const e = await stories();
    const lib = await libraryWithSmiles(e);
    const second: TaskData = { ...regression, name: 'count-C', rows: smiles.map((s) => ({ input: s, output: String((s.match(/C/g) ?? []).length) })) };
    const run = await prepareRun(e, { method: 'stage3', tasks: [regression, second], library: lib, tagLength: 2, hyper: { ...hyper, batch: 8 } });
    const groups = new Set(run.trainer.setup.train.map((x) => x.group));
    expect(groups).toEqual(new Set(['len', 'count-C']));
    await run.run();
    expect(run.trainer.step).toBe(2);
    // Domain tags stay frozen in stage 3: only <Len> trains (+ the head).
    expect(run.trainableParams).toBe(2 * e.config.dModel + e.config.dModel + 1);
    run.dispose();
  });

  it('a template naming an unknown domain tag is refused with a clear message', async () => {
    const e = await stories();
    await expect(prepareRun(e, { method: 'stage2', tasks: [{ ...regression, template: '<Protein> {input} <Len> {output}' }], library: new TagLibrary(), hyper })).rejects.toThrow(
      /domain tag <Protein> is not in the library\. Train it with stage 1 first/,
    );
  });
});
