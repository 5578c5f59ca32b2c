import type { Gpu } from '../gpu/device';
import { KernelCache } from '../gpu/kernel';
import { fmtBytes, GpuMemory } from '../gpu/memory';
import { GpuOutOfMemoryError } from '../gpu/errors';
import type { AdapterWeights, GenerateRequest, LoadedModel, LoadProgress, OnToken, TaggedPrompt } from './api';
import { checkAdapter } from './adapters';
import { describeModel } from './describe';
import { generate } from './generate';
import type { ByteSource } from './source';
import { buildTokenizer } from './tokenizer';
import type { Tokenizer } from './tokenizer-api';
import { NO_INJECT, Transformer } from './transformer';
import type { ModelDescription, TokenizerSource } from './types';
import { ModelFormatError } from './types';
import { estimateMemory, largestTensor, loadShape, uploadWeights, type ModelWeights } from './weights';

export interface LoadOptions {
  /** A separate tokenizer file: llama2.c tokenizer.bin, or a Hugging Face tokenizer.json. */
  tokenizer?: ByteSource;
  /** config.json of a safetensors checkpoint. */
  configJson?: unknown;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** KV-cache positions per sequence (default: the model's context, capped so the cache stays ≤ 1 GiB). */
  maxContext?: number;
  /** Sequences decodable in parallel (default 4). */
  slots?: number;
  /** Tokens per forward chunk (default 256). */
  maxTokens?: number;
}

/** A loaded model: everything the method layer needs to run forwards of its own, plus generate(). */
export interface Engine extends LoadedModel {
  readonly gpu: Gpu;
  readonly kernels: KernelCache;
  readonly mem: GpuMemory;
  readonly desc: ModelDescription;
  readonly weights: ModelWeights;
  readonly transformer: Transformer;
}

export async function loadModel(gpu: Gpu, source: ByteSource, opts: LoadOptions = {}): Promise<Engine> {
  opts.onProgress?.({ phase: 'parse', loaded: 0, total: 0, message: `Reading ${source.name}` });
  const desc = await describeModel(source, { configJson: opts.configJson });
  const cfg = desc.config;
  const tokSource = opts.tokenizer ? await tokenizerFromFile(opts.tokenizer, desc) : desc.tokenizer;
  if (tokSource.kind === 'none') {
    throw new ModelFormatError(`${source.name} has no tokenizer inside; pass its tokenizer file too (tokenizer.bin or tokenizer.json).`);
  }
  const tokenizer = await buildTokenizer(tokSource, { bosId: desc.bosId, eosId: desc.eosId });
  for (const [what, id] of [['BOS', tokenizer.bosId], ['EOS', tokenizer.eosId]] as const) {
    if (id !== null && !(Number.isInteger(id) && id >= 0 && id < cfg.vocabSize)) {
      throw new ModelFormatError(`${source.name}: the ${what} token id ${id} is outside the vocabulary (0–${cfg.vocabSize - 1}); the tokenizer does not belong to this model.`);
    }
  }

  const { slots, maxTokens, maxContext } = loadShape(cfg, opts);
  const need = estimateMemory(desc, maxContext, slots, maxTokens);
  const biggest = largestTensor(desc)?.bytes ?? 0;
  const perBuffer = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  if (biggest > perBuffer) {
    throw new GpuOutOfMemoryError(
      `${source.name}: its largest tensor needs ${fmtBytes(biggest)}, but this GPU binds at most ${fmtBytes(perBuffer)} per buffer. ` +
        'Use a smaller or more strongly quantized model.',
    );
  }

  const mem = new GpuMemory(gpu);
  try {
    const weights = await uploadWeights(mem, desc, source, opts);
    opts.onProgress?.({ phase: 'compile', loaded: 0, total: 0, message: 'Compiling kernels' });
    const kernels = new KernelCache(gpu);
    const transformer = await Transformer.create(gpu, kernels, mem, cfg, weights, { slots, maxContext, maxTokens });
    opts.onProgress?.({ phase: 'ready', loaded: need.total, total: need.total });
    return makeEngine(gpu, kernels, mem, desc, weights, transformer, tokenizer, source.name);
  } catch (e) {
    mem.destroyAll();
    throw e;
  }
}

function makeEngine(
  gpu: Gpu,
  kernels: KernelCache,
  mem: GpuMemory,
  desc: ModelDescription,
  weights: ModelWeights,
  transformer: Transformer,
  tokenizer: Tokenizer,
  name: string,
): Engine {
  // One forward-using call at a time: they share the KV cache and activation buffers.
  let busy: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = busy.then(fn);
    busy = run.catch(() => undefined);
    return run;
  };
  // Adapter name → slot in transformer.adapters. Changes are queued behind running forwards (they
  // repack GPU buffers those read); `pending` answers adapterNames() at once.
  const slotOf = new Map<string, number>();
  const pending = new Set<string>();
  // A queued adapter change that failed (e.g. out of GPU memory) is reported by the next generate().
  let adapterFailure: Error | null = null;
  /** Every token of a T-token prompt on the named resident adapter (undefined = base), kernels ready; inside exclusive(). */
  const adapterOf = async (adapterName: string | null | undefined, T: number): Promise<Uint32Array | undefined> => {
    if (!adapterName) return undefined;
    if (adapterFailure) {
      const e = adapterFailure;
      adapterFailure = null;
      throw e;
    }
    const slot = slotOf.get(adapterName);
    if (slot === undefined) throw new Error(`Adapter "${adapterName}" is not loaded; call setAdapter first.`);
    await transformer.prepareAdapters();
    return new Uint32Array(T).fill(slot);
  };
  return {
    gpu,
    kernels,
    mem,
    desc,
    weights,
    transformer,
    shape: { slots: transformer.opts.slots, maxContext: transformer.opts.maxContext, maxTokens: transformer.opts.maxTokens },
    tokenizer,
    name,
    config: desc.config,
    memory: () => mem.bytes(),
    generate(req: GenerateRequest, onToken?: OnToken) {
      return exclusive(() => {
        if (adapterFailure) {
          const e = adapterFailure;
          adapterFailure = null;
          throw e;
        }
        return generate(transformer, tokenizer, req, onToken, (n) => slotOf.get(n));
      });
    },
    setAdapter(adapterName: string, w: AdapterWeights) {
      if (!adapterName) throw new Error('An adapter needs a non-empty name.');
      checkAdapter(adapterName, w, desc.config);
      pending.add(adapterName);
      void exclusive(async () => {
        const slot = slotOf.get(adapterName) ?? transformer.adapters.freeSlot();
        transformer.adapters.set(slot, w);
        slotOf.set(adapterName, slot);
        await transformer.prepareAdapters();
      }).catch((e: Error) => {
        pending.delete(adapterName);
        adapterFailure = new Error(`setAdapter("${adapterName}") failed: ${e.message}`);
      });
    },
    removeAdapter(adapterName: string) {
      pending.delete(adapterName);
      void exclusive(async () => {
        const slot = slotOf.get(adapterName);
        if (slot === undefined) return;
        slotOf.delete(adapterName);
        transformer.adapters.set(slot, null);
      }).catch((e: Error) => {
        adapterFailure = new Error(`removeAdapter("${adapterName}") failed: ${e.message}`);
      });
    },
    adapterNames: () => [...pending],
    hiddenAt(prompt: TaggedPrompt | number[], positions: number[], opts: { adapter?: string | null } = {}) {
      return exclusive(async () => {
        const p = asTagged(prompt);
        const adapter = await adapterOf(opts.adapter, p.ids.length);
        const out = new Float32Array(positions.length * desc.config.dModel);
        // The LM-head buffers hold `slots` rows: take the positions in groups of that size.
        for (let i = 0; i < positions.length; i += transformer.opts.slots) {
          const group = positions.slice(i, i + transformer.opts.slots);
          const injected = p.injected.length ? transformer.uploadInjected(p.injected) : undefined;
          try {
            transformer.run({ ...forwardOf(p), injected, adapter, logitRows: Uint32Array.from(group) });
          } finally {
            if (injected) transformer.releaseInjected(injected);
          }
          out.set(await transformer.hidden(group.length), i * desc.config.dModel);
        }
        return out;
      });
    },
    attentionMap(prompt: TaggedPrompt | number[], opts: { adapter?: string | null } = {}) {
      return exclusive(async () => {
        const p = asTagged(prompt);
        const adapter = await adapterOf(opts.adapter, p.ids.length);
        const injected = p.injected.length ? transformer.uploadInjected(p.injected) : undefined;
        try {
          const { slot: _s, pos: _p, ...f } = forwardOf(p);
          void _s;
          void _p;
          return { T: p.ids.length, layers: await transformer.attentionMap({ ...f, injected, adapter }) };
        } finally {
          if (injected) transformer.releaseInjected(injected);
        }
      });
    },
    dispose() {
      transformer.rec.destroy();
      mem.destroyAll();
    },
  };
}

function asTagged(p: TaggedPrompt | number[]): TaggedPrompt {
  return Array.isArray(p) ? { ids: p, inject: p.map(() => -1), injected: new Float32Array(0) } : p;
}

/** One sequence in slot 0 at positions 0..T-1, with its injected rows mapped. */
function forwardOf(p: TaggedPrompt) {
  const T = p.ids.length;
  return {
    ids: Uint32Array.from(p.ids),
    slot: new Uint32Array(T),
    pos: Uint32Array.from({ length: T }, (_, i) => i),
    start: p.start ? Uint32Array.from(p.start) : undefined,
    inject: Uint32Array.from(p.inject, (r) => (r < 0 ? NO_INJECT : r)),
  };
}

/** A tokenizer file given beside the model: llama2.c tokenizer.bin, or tokenizer.json. */
async function tokenizerFromFile(src: ByteSource, desc: ModelDescription): Promise<TokenizerSource> {
  const size = await src.size();
  const bytes = await src.read(0, size);
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  if (head.startsWith('{')) {
    try {
      return { kind: 'hf-json', json: JSON.parse(new TextDecoder().decode(bytes)) };
    } catch (e) {
      throw new ModelFormatError(`${src.name}: looks like JSON but does not parse (${(e as Error).message}).`);
    }
  }
  return { kind: 'llama2c', data: bytes, vocabSize: desc.config.vocabSize };
}
