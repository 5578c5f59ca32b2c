/**
 * LoRA training that starts from an existing adapter (here one that went through PEFT export and
 * import, as a user's would): the first step's loss is the adapter's loss, checked against the CPU
 * reference forward with the adapter applied, not a fresh adapter's (B = 0: the base model's loss);
 * the held-out evaluation before training applies it too. An adapter of another model is refused.
 */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel, type Engine } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import type { LoraAdapter } from '../../src/tags/head';
import { TagLibrary } from '../../src/tags/library';
import { exportPeft, importPeft } from '../../src/tags/peft';
import { renderExample } from '../../src/tags/template';
import { runProtocol, type RunSpec } from '../../src/train/protocol';
import { publicPath } from '../helpers/fixtures';
import { randomAdapter } from '../helpers/lora';
import { refForward, refModel, refNll, type RefModel } from '../reference/forward';
import { refLora } from '../reference/greedy';

const MODEL = publicPath('models/stories260K/stories260K.bin');
const TOKENIZER = publicPath('models/stories260K/tok512.bin');

let engine: Engine | null = null;
let ref: RefModel | null = null;
async function stories(): Promise<{ e: Engine; ref: RefModel }> {
  engine ??= await loadModel(await acquireNodeGpu(), new NodeFileSource(MODEL), { tokenizer: new NodeFileSource(TOKENIZER), slots: 1, maxContext: 64 });
  ref ??= await refModel(engine.desc, new NodeFileSource(MODEL));
  return { e: engine, ref };
}

// Every row the same: whatever the shuffle, the first batch (and the held-out row) is this example.
const ROW = { input: 'Once upon a time', output: 'there was a little girl named Lily' };
const TEMPLATE = '{input} {output}';

function spec(library: TagLibrary, extra: Partial<RunSpec> = {}): RunSpec {
  return {
    method: 'lora',
    tasks: [{ name: 'story', template: TEMPLATE, rows: Array.from({ length: 6 }, () => ({ ...ROW })), output: { kind: 'text' } }],
    library,
    lora: { rank: 4, alpha: 8, dropout: 0, targets: ['q', 'v'] },
    hyper: { steps: 1, batch: 1, accum: 1, lr: 1e-3, seed: 0 },
    ...extra,
  };
}

/** Mean NLL of the output's tokens (and EOS) under the reference forward, with `lora` applied. */
function refLoss(e: Engine, m: RefModel, lora?: ReturnType<typeof refLora>): number {
  const r = renderExample(TEMPLATE, ROW, { tokenizer: e.tokenizer, tags: new Map(), eos: e.tokenizer.eosId !== null });
  const targets = r.ids.map((_, t) => (t + 1 < r.ids.length && r.field[t + 1] === 'output' ? r.ids[t + 1]! : null));
  const n = targets.filter((y) => y !== null).length;
  expect(n).toBeGreaterThan(3);
  return refNll(refForward(m, { ids: r.ids, lora }).logits, m.cfg.vocabSize, targets) / n;
}

describe('LoRA training from an existing adapter', () => {
  it("starts from the adapter's weights: first-step loss and the evaluation before training are the adapter's", async () => {
    const { e, ref } = await stories();
    const made: LoraAdapter = { id: 'lora-made', name: 'made', ...randomAdapter(e.config, 11, ['q', 'v'], 4, 8, 0.3) } as LoraAdapter;
    const files = exportPeft(made, e.config);
    const { adapter: imported } = await importPeft(files, e.config, { name: 'imported' });

    const base = refLoss(e, ref);
    const withAdapter = refLoss(e, ref, refLora(imported));
    // The adapter must change the loss clearly, or the comparison below proves nothing.
    expect(Math.abs(withAdapter - base)).toBeGreaterThan(0.05);

    const lib = new TagLibrary();
    lib.addAdapter(imported);
    const cont = await runProtocol(e, spec(lib, { continueAdapter: 'imported', name: 'imported-continued' }));
    const fresh = await runProtocol(e, spec(new TagLibrary()));

    expect(cont.log[0]!.loss).toBeCloseTo(withAdapter, 3);
    expect(fresh.log[0]!.loss).toBeCloseTo(base, 3);
    // Evaluation (the Train panel's held-out metrics) applies the imported adapter as well.
    expect(cont.evalBefore.nll!).toBeCloseTo(withAdapter, 3);
    expect(fresh.evalBefore.nll!).toBeCloseTo(base, 3);

    // Saved under the new name, with the adapter's shape; the original stays as it was.
    const saved = lib.getAdapter('imported-continued')!;
    expect(saved).toMatchObject({ rank: 4, alpha: 8, targets: ['q', 'v'] });
    expect(saved.layers[2]!.q!.B).not.toEqual(imported.layers[2]!.q!.B);
    expect(lib.getAdapter('imported')!.layers[2]!.q!.B).toEqual(imported.layers[2]!.q!.B);
  });

  it('refuses an adapter made for another model, saying so', async () => {
    const { e } = await stories();
    const other = { ...e.config, dModel: e.config.dModel * 2, nHeads: e.config.nHeads * 2 };
    const lib = new TagLibrary();
    lib.addAdapter({ id: 'lora-other', name: 'other', ...randomAdapter(other, 3, ['q', 'v'], 4, 8) } as LoraAdapter);
    await expect(runProtocol(e, spec(lib, { continueAdapter: 'other' }))).rejects.toThrow(/Adapter "other" does not fit the loaded model \(layer 0 q\); it was made for another model/);
    await expect(runProtocol(e, spec(lib, { continueAdapter: 'nope' }))).rejects.toThrow(/no adapter "nope"/);
  });
});
