/**
 * Before loading: what a model file is and what it will need on the GPU, from its header alone
 * (a few MB at most, read with HTTP Range requests for a URL), and whether that fits the adapter.
 *
 * WebGPU tells us the adapter's per-buffer limits (maxBufferSize, maxStorageBufferBindingSize) but
 * not how much memory the GPU has: the total is checked against a budget the user sets.
 */
import { fmtBytes } from '../gpu/memory';
import { describeModel } from './describe';
import { ggmlTypeInfo, ggmlTypeLabel } from './ggml-types';
import type { ByteSource } from './source';
import type { ModelConfig, ModelDescription } from './types';
import { estimateMemory, largestTensor, loadShape, type LoadShape } from './weights';

export interface MemoryEstimate {
  weights: number;
  kv: number;
  scratch: number;
  total: number;
}

export interface ModelInspection {
  /** The model's own name (GGUF general.name), else the source's. */
  name: string;
  /** URL or file name that was inspected. */
  source: string;
  format: ModelDescription['format'];
  fileBytes: number;
  config: ModelConfig;
  /** Tensors the engine uses, grouped by stored type (most bytes first). */
  types: Array<{ type: string; tensors: number; bytes: number }>;
  tokenizer: {
    /** embedded: in the model file (GGUF vocabulary); file: given beside it; missing: neither. */
    kind: 'embedded' | 'file' | 'missing';
    detail: string;
  };
  /** The KV-cache and activation sizes the load would allocate (loadModel's defaults unless given). */
  shape: LoadShape;
  estimate: MemoryEstimate;
  /** The tensor with the most bytes: one GPU buffer, so it must fit the per-buffer limits. */
  largestTensor: { name: string; type: string; shape: number[]; bytes: number };
  /** Bytes read from the source to inspect it (the header only). */
  bytesRead: number;
}

export interface InspectOptions {
  /** Name of a tokenizer file given beside the model (it is not read here). */
  tokenizerName?: string;
  maxContext?: number;
  slots?: number;
  maxTokens?: number;
  configJson?: unknown;
  signal?: AbortSignal;
}

/** Counts the bytes a reader takes from a source (the inspection must stay within the header). */
class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const bytes = await this.inner.read(offset, length, signal);
    this.bytesRead += bytes.length;
    return bytes;
  }
}

/** "Q4_K" (the plain name; the number only for types ggml never had). */
function typeName(t: number): string {
  return ggmlTypeInfo(t)?.name ?? ggmlTypeLabel(t);
}

const GGUF_TOKENIZERS: Record<string, string> = {
  llama: 'SentencePiece',
  gpt2: 'byte-level BPE',
};

function tokenizerOf(desc: ModelDescription, tokenizerName: string | undefined): ModelInspection['tokenizer'] {
  if (tokenizerName) return { kind: 'file', detail: tokenizerName };
  const t = desc.tokenizer;
  if (t.kind === 'gguf') {
    const model = t.metadata['tokenizer.ggml.model'];
    const tokens = t.metadata['tokenizer.ggml.tokens'];
    const kind = typeof model === 'string' ? (GGUF_TOKENIZERS[model] ?? model) : 'vocabulary';
    return { kind: 'embedded', detail: `GGUF ${kind}${Array.isArray(tokens) ? `, ${tokens.length.toLocaleString('en-US')} tokens` : ''}` };
  }
  if (t.kind === 'hf-json') return { kind: 'embedded', detail: 'tokenizer.json' };
  if (t.kind === 'llama2c') return { kind: 'embedded', detail: 'llama2.c vocabulary' };
  return {
    kind: 'missing',
    detail:
      desc.format === 'llama2c'
        ? 'none inside: a llama2.c checkpoint needs its tokenizer.bin'
        : 'none inside: give its tokenizer.json (or tokenizer.bin) too',
  };
}

/** Reads the header of `src` and estimates what loading it would take. Never reads tensor data. */
export async function inspectModelSource(src: ByteSource, opts: InspectOptions = {}): Promise<ModelInspection> {
  const counting = new CountingSource(src);
  const desc = await describeModel(counting, { configJson: opts.configJson, signal: opts.signal });
  const fileBytes = await counting.size();
  const shape = loadShape(desc.config, opts);
  const estimate = estimateMemory(desc, shape.maxContext, shape.slots, shape.maxTokens);
  const big = largestTensor(desc);
  const byType = new Map<string, { type: string; tensors: number; bytes: number }>();
  for (const t of desc.tensors.values()) {
    const label = typeName(t.type);
    const e = byType.get(label) ?? { type: label, tensors: 0, bytes: 0 };
    e.tensors++;
    e.bytes += t.bytes;
    byType.set(label, e);
  }
  const generalName = desc.metadata['general.name'];
  return {
    name: typeof generalName === 'string' && generalName ? generalName : desc.config.name || src.name,
    source: src.name,
    format: desc.format,
    fileBytes,
    config: { ...desc.config },
    types: [...byType.values()].sort((a, b) => b.bytes - a.bytes),
    tokenizer: tokenizerOf(desc, opts.tokenizerName),
    shape,
    estimate,
    largestTensor: big
      ? { name: big.name, type: typeName(big.type), shape: [...big.shape], bytes: big.bytes }
      : { name: '', type: '', shape: [], bytes: 0 },
    bytesRead: counting.bytesRead,
  };
}

// ---------------------------------------------------------------------------------------------
// Does it fit?

/** The adapter limits the verdict reads (Gpu.limits / GpuInfo.limits have them). */
export interface FitLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export type FitCheckId = 'binding' | 'buffer' | 'budget' | 'tokenizer';

export interface FitCheck {
  id: FitCheckId;
  ok: boolean;
  /** What was compared, in words (shown for passing checks too). */
  message: string;
}

export interface FitVerdict {
  /** False: loading is refused (one or more checks failed). */
  ok: boolean;
  checks: FitCheck[];
  /** Messages of the failed checks. */
  problems: string[];
  /** Whether the adapter's limits were known (without them only the budget is checked). */
  limitsKnown: boolean;
}

export interface FitOptions {
  /** Memory budget in bytes for the whole estimate; null or ≤ 0 = no budget. */
  budgetBytes?: number | null;
  fmt?: (bytes: number) => string;
}

/**
 * The verdict on loading an inspected model on an adapter: refused when its largest tensor exceeds
 * maxStorageBufferBindingSize or maxBufferSize (each weight is one buffer bound whole), when the
 * estimate exceeds the budget, or when it has no tokenizer.
 */
export function assessFit(ins: ModelInspection, limits: FitLimits | null, opts: FitOptions = {}): FitVerdict {
  const fmt = opts.fmt ?? fmtBytes;
  const checks: FitCheck[] = [];
  const big = ins.largestTensor;
  const what = `its largest tensor "${big.name}" (${big.type}) needs ${fmt(big.bytes)}`;
  if (limits) {
    const binding = limits.maxStorageBufferBindingSize;
    checks.push({
      id: 'binding',
      ok: big.bytes <= binding,
      message:
        big.bytes <= binding
          ? `Largest tensor ${fmt(big.bytes)} ≤ maxStorageBufferBindingSize ${fmt(binding)}.`
          : `Cannot load: ${what}, but this adapter binds at most ${fmt(binding)} per storage buffer (maxStorageBufferBindingSize). Use a smaller or more strongly quantized model.`,
    });
    const buffer = limits.maxBufferSize;
    checks.push({
      id: 'buffer',
      ok: big.bytes <= buffer,
      message:
        big.bytes <= buffer
          ? `Largest tensor ${fmt(big.bytes)} ≤ maxBufferSize ${fmt(buffer)}.`
          : `Cannot load: ${what}, but this adapter allows at most ${fmt(buffer)} per buffer (maxBufferSize).`,
    });
  }
  const budget = opts.budgetBytes ?? null;
  if (budget !== null && budget > 0) {
    const ok = ins.estimate.total <= budget;
    checks.push({
      id: 'budget',
      ok,
      message: ok
        ? `Estimate ${fmt(ins.estimate.total)} ≤ budget ${fmt(budget)}.`
        : `Cannot load: it needs ≈ ${fmt(ins.estimate.total)} of GPU memory, more than the budget of ${fmt(budget)}. ` +
          'Raise the budget if this GPU has more memory, or pick a smaller model.',
    });
  }
  if (ins.tokenizer.kind === 'missing') {
    checks.push({ id: 'tokenizer', ok: false, message: `Cannot load: the model has no tokenizer (${ins.tokenizer.detail}).` });
  }
  const problems = checks.filter((c) => !c.ok).map((c) => c.message);
  return { ok: problems.length === 0, checks, problems, limitsKnown: limits !== null };
}
