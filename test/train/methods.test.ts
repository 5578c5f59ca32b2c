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
import { exportLibrary, importLibrary } from '../../src/tags/library-format';
import { datasetHash, parseLoraTargets, prepareRun, runProtocol, type TaskData } from '../../src/train/protocol';

let engine: Engine | null = null;
async function stories(): Promise<Engine> {
  engine ??= await loadModel(await acquireNodeGpu(), new NodeFileSource('public/models/stories260K/stories260K.bin'), {
    tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
    slots: 1,
    maxContext: 128, // the two-input binding template runs to 74 tokens
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
      'domain-in-text+pt': { method: 'domain-in-text' as const, peft: 'prompt-tuning' as const },
      'prompt-tuning': { method: 'prompt-tuning' as const },
      'linear-probe': { method: 'linear-probe' as const },
      lora: { method: 'lora' as const },
      'lora-all': { method: 'lora' as const, lora: { targets: parseLoraTargets('all-linear') } },
    })) {
      const lib = await libraryWithSmiles(e);
      const res = await runProtocol(e, { ...spec, tasks: [regression], library: lib, tagLength: 2, hyper });
      expect(res.steps, name).toBe(2);
      expect(Number.isFinite(res.evalAfter.mse!), name).toBe(true);
      counts[name] = res.trainableParams;
      if (name === 'lora') expect(lib.getAdapter('lora')?.targets).toEqual(['q', 'v']);
      if (name === 'domain-in-text') expect(lib.getAdapter('domain-in-text')?.targets).toEqual(['q', 'v']);
      if (name === 'frozen') expect(lib.getTag('Len')?.kind).toBe('function');
      // Domain in text is a PEFT method: no function tag is created or trained.
      if (name.startsWith('domain-in-text')) expect(lib.getTag('Len')).toBeUndefined();
    }
    const head = d + 1;
    expect(counts.frozen).toBe(2 * d + head); // <Len> + head
    expect(counts.enriched).toBe(3 * d + 2 * d + head); // <SMILES> enriched too
    expect(counts['prompt-tuning']).toBe((3 + 2) * d + head); // same total length as the tags
    expect(counts['domain-in-text+pt']).toBe((3 + 2) * d + head);
    expect(counts['linear-probe']).toBe(head);
    // LoRA r = 8 on q and v (PEFT's default) of 5 layers: d = 64, kv width 32.
    const r = 8;
    expect(counts.lora).toBe(5 * (r * (d + d) + r * (d + 32)) + head);
    expect(counts['domain-in-text']).toBe(counts.lora);
    // all-linear: q,k,v,o,gate,up,down (ff 172).
    const perLayer = r * (d + d) + r * (d + 32) * 2 + r * (d + d) + r * (d + 172) * 2 + r * (172 + d);
    expect(counts['lora-all']).toBe(5 * perLayer + head);
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

  it('plain PEFT (no head) trains the number as text under the LM loss', async () => {
    const e = await stories();
    const lib = new TagLibrary();
    const res = await runProtocol(e, { method: 'prompt-tuning', head: false, tasks: [regression], library: lib, tagLength: 2, hyper });
    expect(res.saved.head).toBeNull();
    expect(Number.isFinite(res.evalAfter.nll!)).toBe(true);
    expect(res.evalAfter.mse).toBeUndefined();
    await expect(prepareRun(e, { method: 'linear-probe', head: false, tasks: [regression], library: lib, hyper })).rejects.toThrow(/A linear probe is a head/);
  });

  it('stage rules: enriched domain tags are refused in stage 3 and on a task across several domains', async () => {
    const e = await stories();
    const lib = await libraryWithSmiles(e);
    const d = e.config.dModel;
    lib.addTag(createTag({ name: 'Protein', kind: 'domain', p: 2, d, data: initTagRows(await embeddingTable(e), e.config.vocabSize, d, 2), provenance: newProvenance({ arch: 'llama', name: e.name, dModel: d, vocabSize: 512 }, '') }));
    await expect(prepareRun(e, { method: 'stage3', enrich: true, tasks: [regression], library: lib, tagLength: 2, hyper })).rejects.toThrow(/stage 3 \(cross-domain\) keeps the domain tags frozen/);
    const ba: TaskData = { ...regression, name: 'ba', template: 'P <Protein> {input} D <SMILES> {input} <BA> {output}' };
    await expect(prepareRun(e, { method: 'stage2', enrich: true, tasks: [ba], library: lib, tagLength: 2, hyper })).rejects.toThrow(/<Protein> and <SMILES>.*cross-domain \(stage 3\) task/);
    // Frozen, the same task trains in stage 3.
    const run = await prepareRun(e, { method: 'stage3', tasks: [ba], library: lib, tagLength: 2, hyper });
    expect(run.trainer.setup.trainable.map((t) => t.name)).toEqual(['BA']);
    run.dispose();
  });

  it('a template that leaves no token carrying loss is refused, naming the fix', async () => {
    const e = await stories();
    const rows = smiles.map((s) => ({ text: s, output: 'x' }));
    await expect(prepareRun(e, { method: 'lora', tasks: [{ name: 'plain', template: '{text}', rows, output: { kind: 'text' } }], library: new TagLibrary(), hyper })).rejects.toThrow(
      /no token of the template "\{text\}" carries the loss: the output field \{output\} is not in it.*Add \{output\}/,
    );
    // Evaluation only (no steps) is allowed.
    const run = await prepareRun(e, { method: 'lora', tasks: [{ name: 'plain', template: '{text}', rows, output: { kind: 'text' } }], library: new TagLibrary(), hyper: { steps: 0 } });
    run.dispose();
  });

  it('epochs set the number of steps; the tags record how they were trained', async () => {
    const e = await stories();
    const lib = await libraryWithSmiles(e);
    // 20 rows, 2 held out: 18 training rows, batch 2 × accum 3 → 3 steps per epoch.
    const run = await prepareRun(e, { method: 'stage2', tasks: [{ ...regression, fieldMapping: { input: 'smiles' } }], library: lib, tagLength: 2, evalFraction: 0.1, hyper: { epochs: 2, batch: 2, accum: 3, lr: 0.01, seed: 4 } });
    expect(run.trainer.hyper.steps).toBe(6);
    await run.run();
    expect(run.trainer.step).toBe(6);
    await run.save(await run.evaluate());
    run.dispose();
    const tr = lib.getTag('Len')!.provenance.training!;
    expect(tr).toMatchObject({ method: 'stage2', templates: [regression.template], fieldMapping: { input: 'smiles' }, seed: 4, tagLength: 2, enrich: false });
    expect(tr.hyper).toMatchObject({ epochs: 2, steps: 6, batch: 2, accum: 3, lr: 0.01 });
    expect(tr.datasets).toEqual([{ name: 'len', rows: 20, hash: datasetHash(regression.rows) }]);
    expect(tr.model.name).toBe('stories260K.bin');
    expect(tr.model.weightsFingerprint).toBe(lib.getTag('Len')!.provenance.embeddingFingerprint);
    expect(tr.model.weightsFingerprint).not.toBe('');
    expect(datasetHash(regression.rows)).not.toBe(datasetHash(regression.rows.slice(1)));
    // Through the library file and back.
    const back = importLibrary(JSON.parse(JSON.stringify(exportLibrary(lib))), { dModel: e.config.dModel, fingerprint: tr.model.weightsFingerprint }, { acceptFingerprintMismatch: true });
    expect(back.status).toBe('ok');
    if (back.status === 'ok') expect(back.tags.find((t) => t.name === 'Len')!.provenance.training).toEqual(tr);
    // The head and a LoRA adapter carry the record of the run that made them.
    expect(lib.getHead('Len')!.training).toEqual(tr);
    const lora = await prepareRun(e, { method: 'lora', tasks: [{ ...regression, fieldMapping: { input: 'smiles' } }], library: lib, head: false, lora: { rank: 4 }, hyper: { steps: 1, batch: 2, seed: 9 } });
    await lora.run();
    const saved = await lora.save({ loss: NaN });
    lora.dispose();
    expect(lib.getAdapter(saved.adapter!)!.training).toMatchObject({ method: 'lora', seed: 9, fieldMapping: { input: 'smiles' }, hyper: { steps: 1 }, datasets: tr.datasets, model: tr.model });
  });

  it('trains on 500,000 rows: data handling has no spread of data-sized arrays', async () => {
    const e = await stories();
    // Short synthetic rows: the point is the row count, not the text.
    const rows = Array.from({ length: 500_000 }, (_, i) => ({ input: `C${i % 97}N${i % 13}`, output: String((i % 101) / 100) }));
    const lib = await libraryWithSmiles(e);
    const run = await prepareRun(e, { method: 'stage2', tasks: [{ name: 'big', template: 'Mol <SMILES> {input} <Big> {output}', rows, output: { kind: 'regression' } }], library: lib, tagLength: 1, evalFraction: 0.0001, hyper: { steps: 3, batch: 2, lr: 0.01 } });
    expect(run.trainer.setup.train.length).toBe(499_950);
    expect(run.heldOutCount).toBe(50);
    await run.run();
    expect(run.trainer.log.map((l) => l.skipped)).toEqual([false, false, false]);
    expect(Number.isFinite((await run.evaluate(8)).mse!)).toBe(true);
    run.dispose();
  }, 600_000);

  it('a template naming an unknown domain tag is refused with a clear message', async () => {
    const e = await stories();
    await expect(prepareRun(e, { method: 'stage2', tasks: [{ ...regression, template: '<Protein> {input} <Len> {output}' }], library: new TagLibrary(), hyper })).rejects.toThrow(
      /domain tag <Protein> is not in the library\. Train it with stage 1 first/,
    );
  });
});
