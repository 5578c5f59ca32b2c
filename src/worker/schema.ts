/**
 * The worker's one validation layer: the params of every request checked against a schema (types,
 * ranges: counts are integers ≥ 1, numbers finite, enums known) before the handler runs, so a bad
 * request is a one-line RequestValidationError naming the field, the value and what is allowed —
 * never a hang, a NaN run or a TypeError from deep inside. Request types without a schema here
 * (added later) pass through; their handlers check what they use.
 */
import { z } from 'zod';
import { METHODS } from '../train/protocol';
import { ALL_PROJS } from '../train/graph';
import type { RequestType } from './protocol';

export class RequestValidationError extends Error {
  override name = 'RequestValidationError';
}

const F32_MAX = 3.4028234663852886e38;
const int = (min: number, max: number) => z.number().int().min(min).max(max);
const count = (max = 1 << 24) => int(1, max);
const name = z.string().min(1, 'must not be empty');
const blob = z.custom<Blob>((v) => (typeof Blob !== 'undefined' ? v instanceof Blob : typeof v === 'object' && v !== null), 'must be a file');
const floats = z.custom<Float32Array>((v) => v instanceof Float32Array, 'must be a Float32Array');
const ids = z.array(int(0, 0x7fffffff));
const row = z.record(z.string(), z.string());

const sampling = {
  temperature: z.number().min(0).max(100).optional(),
  topK: int(0, 1 << 24).optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: int(0, 0xffffffff).optional(),
};

const source = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('url'), url: z.string().min(1, 'must not be empty'), tokenizerUrl: z.string().min(1).optional(), name: z.string().optional() }),
  z.object({ kind: z.literal('file'), file: blob, tokenizerFile: blob.optional() }),
]);

const taggedPrompt = z.object({ ids, inject: z.array(z.number().int().min(-1)), injected: floats, start: z.array(int(0, 0x7fffffff)).optional() });

const hyper = z
  .object({
    steps: int(0, 10_000_000),
    batch: count(4096),
    accum: count(4096),
    lr: z.number().gt(0).max(1),
    weightDecay: z.number().min(0).max(10),
    warmupFraction: z.number().min(0).max(1),
    schedule: z.enum(['cosine', 'constant', 'linear']),
    maxGradNorm: z.number().min(0).max(F32_MAX),
    beta1: z.number().min(0).max(1),
    beta2: z.number().min(0).max(1),
    eps: z.number().gt(0).max(1),
    seed: int(0, 0xffffffff),
    evalEvery: int(0, 10_000_000),
    evalLimit: count(),
    auxWeight: z.number().min(0).max(1e6),
  })
  .partial();

const trainSpec = z.object({
  method: z.enum(METHODS as unknown as [string, ...string[]]),
  tasks: z
    .array(
      z.object({
        name: z.string(),
        template: name,
        rows: z.array(row).min(1, 'must hold at least one row'),
        output: z.object({ kind: z.enum(['text', 'regression', 'classification']), field: z.string().min(1).optional() }),
      }),
    )
    .min(1, 'must hold at least one dataset'),
  tagLength: count(4096).optional(),
  enrich: z.boolean().optional(),
  isolate: z.boolean().optional(),
  spacedFields: z.array(name).optional(),
  hyper: hyper.optional(),
  evalFraction: z.number().min(0).max(0.9).optional(),
  lora: z
    .object({ rank: count(4096), alpha: z.number().gt(0).max(1e6), dropout: z.number().min(0).lt(1), targets: z.array(z.enum(ALL_PROJS as unknown as [string, ...string[]])).min(1) })
    .partial()
    .optional(),
  continueAdapter: z.string().min(1).optional(),
  recompute: z.boolean().optional(),
  name: z.string().optional(),
  sample: z.object({ every: int(0, 10_000_000), tokens: count(4096).optional(), prompt: z.string().optional(), row: row.optional() }).optional(),
});

const trainOptions = { runId: name, checkpointEvery: int(0, 10_000_000), evalEvery: int(0, 10_000_000), evalLimit: count() };

const none = z.object({});

/** Params schema of each request type. */
export const REQUEST_SCHEMAS: Partial<Record<RequestType, z.ZodType>> = {
  gpuInfo: none,
  ping: none,
  loadModel: z.object({ source, maxContext: int(16, 1 << 24).optional(), slots: count(64).optional() }),
  inspectModel: z.object({ source, maxContext: int(16, 1 << 24).optional(), slots: count(64).optional(), maxTokens: count(1 << 16).optional() }),
  unloadModel: none,
  generate: z.object({
    prompts: z.array(z.union([z.string(), ids, taggedPrompt])).min(1, 'must hold at least one prompt').max(256),
    maxTokens: count(1 << 20).optional(),
    stopTokens: ids.optional(),
    stopStrings: z.array(z.string()).optional(),
    adapters: z.array(z.string().nullable()).max(256).optional(),
    ...sampling,
  }),
  cancel: z.object({ target: z.number().int() }),
  modelFingerprint: none,
  datasetImport: z.object({ text: z.string(), name: z.string(), format: z.enum(['csv', 'tsv', 'jsonl', 'fasta', 'lines']).optional() }),
  datasetBuiltin: z.object({ id: name, baseUrl: z.string() }),
  libraryRestore: z.object({ file: z.unknown() }),
  libraryList: none,
  libraryRename: z.object({ kind: z.enum(['tag', 'adapter']), from: name, to: name }),
  libraryDelete: z.object({ kind: z.enum(['tag', 'head', 'adapter']), name: z.string() }),
  libraryExport: z.object({ selection: z.object({ tags: z.array(z.string()), heads: z.array(z.string()), adapters: z.array(z.string()) }).partial().optional() }),
  libraryImport: z.object({ text: z.string(), confirm: z.boolean().optional(), onConflict: z.enum(['rename', 'replace']).optional() }),
  trainStart: z.object({ ...trainOptions, spec: trainSpec }),
  // The checkpoint file itself is checked field by field by train/checkpoint.ts (messages name the path).
  trainResume: z.object({ ...trainOptions, file: z.unknown() }),
  trainControl: z.object({ action: z.enum(['pause', 'resume', 'finish']) }),
  compose: z.object({
    variants: z.array(z.string()).min(1).max(2),
    mode: z.enum(['generate', 'head']),
    maxTokens: count(1 << 20).optional(),
    adapters: z.array(z.string().nullable()).max(2).optional(),
    ...sampling,
  }),
  matrixCell: z.object({
    domain: z.string(),
    fn: z.string(),
    template: z.string(),
    datasetName: z.string(),
    rows: z.array(row),
    outputField: z.string().min(1).optional(),
    limit: count(),
    spacedFields: z.array(name).optional(),
    predictOnly: z.boolean().optional(),
    adapter: z.string().nullable().optional(),
  }),
  inspectTag: z.object({ name, neighbours: count(1000).optional(), sample: count(1 << 20).optional() }),
  attention: z.object({ template: z.string(), adapter: z.string().nullable().optional() }),
  experimentRun: z.object({
    definition: z.unknown(),
    previous: z.unknown().optional(),
    dataBaseUrl: z.string(),
    datasets: z.array(z.object({ name: z.string().min(1), columns: z.array(z.string()), rows: z.array(row) })).optional(),
  }),
};

function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || v === undefined) return String(v);
  if (v instanceof Blob) return 'a file';
  const s = JSON.stringify(v);
  return s === undefined ? typeof v : s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** Throws a RequestValidationError for the first problem of a request's params. */
export function validateRequest(type: string, params: unknown): void {
  const schema = Object.hasOwn(REQUEST_SCHEMAS, type) ? REQUEST_SCHEMAS[type as RequestType] : undefined;
  if (!schema) return;
  const r = schema.safeParse(params ?? {}, { reportInput: true });
  if (r.success) return;
  const issue = r.error.issues[0]!;
  const path = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(params)';
  throw new RequestValidationError(`${type}: ${path} is ${shown(issue.input)}: ${issue.message}`);
}
