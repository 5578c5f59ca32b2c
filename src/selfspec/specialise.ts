/**
 * Specialisation on the generated data (METHODS.md §2.4, issue 8 item 8): the Alpaca template, loss
 * on the response tokens only (and the EOS after them), trained by epochs through src/train's
 * Trainer on the frozen quantized base:
 *   lora  LoRA r 8, α 16 on every linear layer, lr 3e-4, 3 epochs, effective batch 32 (= QLoRA);
 *   tag   a domain tag before the instruction (+ optionally a function tag before the response);
 *   both  the two trained together.
 * The result goes into a TagLibrary (written by the pipeline as a tag-library JSON). Training state
 * is checkpointed through a caller-supplied sink, so a stopped run continues at the same step with
 * the same data order and optimizer moments.
 */
import type { AdapterWeights } from '../model/api';
import { checkAdapter } from '../model/adapters';
import type { ModelConfig } from '../model/types';
import type { Engine } from '../model/model';
import { base64ToF32, f32ToBase64 } from '../tags/f32-base64';
import type { LoraTarget } from '../tags/head';
import type { TagLibrary } from '../tags/library';
import { createTag, embeddingFingerprint, embeddingTable, initTagRows, newProvenance, type Tag } from '../tags/tag';
import { renderExample } from '../tags/template';
import { ALL_PROJS, type Proj } from '../train/graph';
import { alignedRows, Trainer, TrainingCancelled, type Example, type InjectedRange, type StepLog, type TrainState } from '../train/trainer';
import { alpacaTemplateFor, type AlpacaTags } from './alpaca';

export type SpecMethod = 'lora' | 'tag' | 'both';
export const SPEC_METHODS: readonly SpecMethod[] = ['lora', 'tag', 'both'];

export interface AlpacaRecord {
  instruction: string;
  input: string;
  output: string;
}

export interface SpecialiseOptions {
  method: SpecMethod;
  epochs: number;
  /** Examples per micro-batch; effective batch = batch × accum (paper: 32). */
  batch: number;
  accum: number;
  lr: number;
  seed: number;
  lora: { rank: number; alpha: number; dropout: number; targets: readonly Proj[] };
  domainTag: string;
  /** Also train a function tag before the response (null = domain tag only). */
  functionTag: string | null;
  tagLength: number;
  /** Name of the adapter in the library. */
  adapterName: string;
  recompute?: boolean;
  /**
   * LoRA to start from (e.g. an imported PEFT adapter) instead of LoRA's usual A random / B zero; used
   * by the methods that train LoRA. Its rank and targets must be the run's (initLora refuses others).
   */
  init?: { name: string; weights: AdapterWeights } | null;
}

/**
 * The Trainer's initial LoRA tensors from an existing adapter, after checking that it fits the run:
 * same rank and targets (the trained adapter has the run's shape), and shapes of this model.
 */
export function initLora(init: { name: string; weights: AdapterWeights }, lora: SpecialiseOptions['lora'], cfg: ModelConfig): Map<string, Float32Array> {
  const w = init.weights;
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  // α too: with another α/r scale the start would not be the adapter's model.
  if (w.rank !== lora.rank || w.alpha !== lora.alpha || !same(w.targets, lora.targets)) {
    throw new Error(
      `Adapter "${init.name}" has rank ${w.rank}, alpha ${w.alpha} on ${w.targets.join(',')}; this run trains LoRA rank ${lora.rank}, alpha ${lora.alpha} on ${lora.targets.join(',')}. Set the LoRA rank, alpha and targets to the adapter's (CLI: --lora-rank ${w.rank} --lora-alpha ${w.alpha} --lora-targets ${w.targets.join(',')}) or start without it.`,
    );
  }
  checkAdapter(init.name, w, cfg);
  return new Map(w.layers.flatMap((layer, l) => w.targets.flatMap((p) => [[`lora.${l}.${p}.A`, layer[p].A] as const, [`lora.${l}.${p}.B`, layer[p].B] as const])));
}

export const DEFAULT_SPECIALISE: Omit<SpecialiseOptions, 'method'> = {
  epochs: 3,
  batch: 4,
  accum: 8,
  lr: 3e-4,
  seed: 0,
  lora: { rank: 8, alpha: 16, dropout: 0.05, targets: ALL_PROJS },
  domainTag: 'BioMed',
  functionTag: null,
  tagLength: 10,
  adapterName: 'selfspec',
};

/** The tags a method's template uses. */
export function tagsOf(method: SpecMethod | 'base', o: Pick<SpecialiseOptions, 'domainTag' | 'functionTag'>): AlpacaTags {
  return method === 'tag' || method === 'both' ? { domainTag: o.domainTag, functionTag: o.functionTag } : {};
}

/** Optimizer steps for `epochs` passes over `n` examples at the effective batch. */
export function stepsFor(n: number, epochs: number, batch: number, accum: number): number {
  return Math.max(1, Math.ceil((epochs * n) / (batch * accum)));
}

/**
 * Alpaca examples: loss where the NEXT token belongs to the response (or is the EOS after it).
 * Examples longer than `maxLen` tokens, and responses that are empty, are dropped and counted.
 */
export function alpacaExamples(
  records: AlpacaRecord[],
  ctx: { tokenizer: Engine['tokenizer']; tags: Map<string, Tag>; offsets: Map<string, number>; alpaca: AlpacaTags; maxLen: number },
): { examples: Example[]; dropped: { tooLong: number; empty: number } } {
  const examples: Example[] = [];
  const dropped = { tooLong: 0, empty: 0 };
  for (const r of records) {
    if (!r.output.trim()) {
      dropped.empty++;
      continue;
    }
    const rd = renderExample(alpacaTemplateFor(r, ctx.alpaca), { instruction: r.instruction, input: r.input, output: r.output }, {
      tokenizer: ctx.tokenizer,
      tags: ctx.tags,
      eos: ctx.tokenizer.eosId !== null,
    });
    if (rd.ids.length > ctx.maxLen) {
      dropped.tooLong++;
      continue;
    }
    const n = rd.ids.length;
    const inject = new Array<number>(n).fill(-1);
    for (const a of rd.tagAt) inject[a.pos] = ctx.offsets.get(a.tag)! + a.row;
    const targets: Array<number | null> = new Array(n).fill(null);
    for (let t = 0; t + 1 < n; t++) if (rd.field[t + 1] === 'output' && inject[t + 1] < 0) targets[t] = rd.ids[t + 1];
    examples.push({ ids: rd.ids, inject, start: rd.start, targets, headPos: null, group: 'selfspec' });
  }
  return { examples, dropped };
}

export interface SpecialiseHooks {
  signal?: AbortSignal;
  onStep?: (s: StepLog & { epoch: number; totalSteps: number }) => void | Promise<void>;
  /** A saved state to continue from (resume). */
  resume?: TrainState | null;
  /** Called every `checkpointEvery` steps and at the end with the full state. */
  checkpoint?: (s: TrainState) => Promise<void>;
  checkpointEvery?: number;
}

export interface SpecialiseResult {
  steps: number;
  epochs: number;
  examples: number;
  dropped: { tooLong: number; empty: number };
  trainableParams: number;
  finalLoss: number;
  saved: { tags: string[]; adapter: string | null };
}

export async function specialise(engine: Engine, records: AlpacaRecord[], library: TagLibrary, o: SpecialiseOptions, hooks: SpecialiseHooks = {}): Promise<SpecialiseResult> {
  const cfg = engine.config;
  const d = cfg.dModel;
  // Checked first: a misfit start adapter is refused before anything is uploaded or trained.
  const loraInit = o.init && o.method !== 'tag' ? initLora(o.init, o.lora, cfg) : undefined;
  const useTags = o.method !== 'lora';
  const table = useTags ? await embeddingTable(engine) : null;
  const fingerprint = table ? await embeddingFingerprint(table, cfg.vocabSize, d) : '';
  const model = { arch: cfg.arch, name: engine.name, dModel: d, vocabSize: cfg.vocabSize };
  const newTags: Tag[] = [];
  if (useTags) {
    newTags.push(createTag({ name: o.domainTag, kind: 'domain', p: o.tagLength, d, data: initTagRows(table!, cfg.vocabSize, d, o.tagLength), provenance: newProvenance(model, fingerprint) }));
    if (o.functionTag) {
      newTags.push(createTag({ name: o.functionTag, kind: 'function', p: o.tagLength, d, data: initTagRows(table!, cfg.vocabSize, d, o.tagLength), provenance: newProvenance(model, fingerprint) }));
    }
  }
  const offsets = new Map<string, number>();
  let rows = 0;
  for (const t of newTags) {
    offsets.set(t.name, rows);
    rows += alignedRows(t.p, d);
  }
  const injected = new Float32Array(Math.max(1, rows) * d);
  for (const t of newTags) injected.set(t.data, offsets.get(t.name)! * d);
  const trainable: InjectedRange[] = newTags.map((t) => ({ name: t.name, row0: offsets.get(t.name)!, rows: t.p }));

  const { examples, dropped } = alpacaExamples(records, {
    tokenizer: engine.tokenizer,
    tags: new Map(newTags.map((t) => [t.name, t])),
    offsets,
    alpaca: tagsOf(o.method, o),
    maxLen: cfg.maxSeqLen,
  });
  if (examples.length === 0) {
    throw new Error(`No training example is left (${dropped.empty} empty responses, ${dropped.tooLong} longer than the model's ${cfg.maxSeqLen}-token context). Generate more or shorter responses.`);
  }
  const steps = stepsFor(examples.length, o.epochs, o.batch, o.accum);
  const trainer = await Trainer.create({
    engine,
    train: examples,
    heldOut: [],
    hyper: { steps, batch: o.batch, accum: o.accum, lr: o.lr, seed: o.seed, weightDecay: 0, warmupFraction: 0.03, schedule: 'cosine', maxGradNorm: 1 },
    injected,
    trainable,
    lora: o.method === 'tag' ? undefined : { rank: o.lora.rank, alpha: o.lora.alpha, dropout: o.lora.dropout, targets: o.lora.targets, init: loraInit },
    recompute: o.recompute,
  });
  try {
    if (hooks.resume) trainer.restore(hooks.resume);
    const perEpoch = examples.length / (o.batch * o.accum);
    const every = hooks.checkpointEvery ?? 0;
    try {
      await trainer.run({
        signal: hooks.signal,
        onStep: async (s) => {
          await hooks.onStep?.({ ...s, epoch: s.step / perEpoch, totalSteps: steps });
          if (hooks.checkpoint && every > 0 && s.step % every === 0 && s.step < steps) await hooks.checkpoint(await trainer.state());
        },
      });
    } catch (e) {
      // Cancelled between steps: keep every step taken so far, so a resume loses none.
      if (e instanceof TrainingCancelled && hooks.checkpoint && trainer.step > (hooks.resume?.step ?? 0)) await hooks.checkpoint(await trainer.state());
      throw e;
    }
    const st = await trainer.state();
    await hooks.checkpoint?.(st);
    const finalLoss = trainer.log.length ? trainer.log[trainer.log.length - 1].loss : NaN;
    const metrics: Record<string, number> = Number.isFinite(finalLoss) ? { loss: finalLoss } : {};
    const savedTags: string[] = [];
    for (const t of newTags) {
      const prov = newProvenance(model, fingerprint, { stage: 'expert', steps: trainer.step, dataset: 'self-specialization', metrics });
      library.addTag(createTag({ name: t.name, kind: t.kind, p: t.p, d, data: Float32Array.from(st.tensors[`tag.${t.name}`]), provenance: prov }), { replace: true });
      savedTags.push(t.name);
    }
    let adapter: string | null = null;
    const lo = trainer.graph.opts.lora;
    if (lo) {
      adapter = o.adapterName;
      library.addAdapter(
        {
          id: `lora-${Date.now().toString(36)}`,
          name: adapter,
          rank: lo.rank,
          alpha: lo.alpha,
          targets: [...lo.targets] as LoraTarget[],
          layers: trainer.graph.lora.map((layer, l) =>
            Object.fromEntries(Object.keys(layer).map((p) => [p, { A: Float32Array.from(st.tensors[`lora.${l}.${p}.A`]), B: Float32Array.from(st.tensors[`lora.${l}.${p}.B`]) }])),
          ),
        },
        { replace: true },
      );
    }
    return {
      steps: trainer.step,
      epochs: trainer.step / perEpoch,
      examples: examples.length,
      dropped,
      trainableParams: trainer.params().reduce((s, x) => s + x.n, 0),
      finalLoss,
      saved: { tags: savedTags, adapter },
    };
  } finally {
    trainer.dispose();
  }
}

/** TrainState ⇄ JSON (tensors as base64 f32, bit-exact). */
export function stateToJson(s: TrainState): unknown {
  return { ...s, tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, v]) => [k, { n: v.length, b64: f32ToBase64(v) }])) };
}

export function stateFromJson(j: unknown): TrainState {
  const o = j as TrainState & { tensors: Record<string, { n: number; b64: string }> };
  if (!o || o.version !== 1 || typeof o.step !== 'number' || !o.tensors) throw new Error('not a training checkpoint');
  return { ...o, tensors: Object.fromEntries(Object.entries(o.tensors).map(([k, v]) => [k, base64ToF32(v.b64, v.n)])) };
}
