/**
 * Fuzz categories: each builds a valid input once, then mutates it per case (seeded) and runs it
 * through the real entry point (loader, importer, parser, option schema). Cases are generated with
 * fast-check (fc.sample with a fixed seed), so a campaign is reproducible from its seed.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { CliUsageError, validateOptions } from '../../src/cli/options';
import { parseDataset } from '../../src/data/parse';
import type { Gpu } from '../../src/gpu/device';
import { describeModel } from '../../src/model/describe';
import { readGgufHeader } from '../../src/model/gguf';
import { loadModel } from '../../src/model/model';
import { dequantize } from '../../src/model/quant';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { BytesSource } from '../../src/model/sources';
import { buildTokenizer, type HfTokenizer } from '../../src/model/tokenizer';
import { GgmlType, type ModelDescription } from '../../src/model/types';
import { Rng } from '../../src/model/sampling';
import { createHead, type LoraAdapter } from '../../src/tags/head';
import { exportLibrary, importLibrary, TagLibrary } from '../../src/tags/library';
import { createTag, newProvenance } from '../../src/tags/tag';
import { checkCheckpointFile, checkpointOf } from '../../src/train/checkpoint';
import { checkRunSpec, type RunSpec } from '../../src/train/protocol';
import { checkHyper, DEFAULT_HYPER, type TrainState } from '../../src/train/trainer';
import { validateRequest } from '../../src/worker/schema';
import type { Engine } from '../../src/model/model';
import type { Judge } from './harness';

export interface Category {
  name: string;
  /** Needs the GPU (kept to a few cases in CI). */
  gpu?: boolean;
  timeoutMs: number;
  judge: Judge;
  /** One case from its seed. */
  run(seed: number, ctx: { gpu?: Gpu }): unknown | Promise<unknown>;
}

/** Small seeded PRNG for the mutations themselves (mulberry32). */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

const INTERESTING_U32 = [0, 1, 2, 3, 7, 31, 32, 33, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Byte-level mutations of a file: flips, interesting words, truncation, garbage in the middle. */
function mutateBytes(base: Uint8Array, seed: number, focusEnd: number): Uint8Array {
  const r = prng(seed);
  let out = base.slice();
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const kind = r.int(5);
    const at = r.int(Math.max(1, Math.min(focusEnd, out.length)));
    if (kind === 0) out[at] ^= 1 << r.int(8);
    else if (kind === 1 && at + 4 <= out.length) new DataView(out.buffer).setUint32(at & ~3, r.pick(INTERESTING_U32), true);
    else if (kind === 2 && at + 8 <= out.length) new DataView(out.buffer).setBigUint64(at & ~7, BigInt(r.pick(INTERESTING_U32)) * BigInt(r.pick([1, 2, 65536, 4294967296])), true);
    else if (kind === 3) out = out.slice(0, r.int(out.length + 1));
    else out[at] = r.int(256);
  }
  return out;
}

/** A description must be self-consistent: tensors inside the file, counts plausible. */
function describeOracle(size: number) {
  return (d: unknown): string | null => {
    const desc = d as ModelDescription;
    const c = desc.config;
    for (const k of ['dModel', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'dFF', 'vocabSize'] as const) {
      if (!Number.isSafeInteger(c[k]) || c[k] <= 0 || c[k] > 0x7fffffff) return `config.${k} = ${c[k]}`;
    }
    for (const t of desc.tensors.values()) {
      if (!(t.offset >= 0 && t.bytes > 0 && t.offset + t.bytes <= size)) return `tensor ${t.name} at ${t.offset}+${t.bytes} outside a file of ${size}`;
    }
    if (desc.bosId !== null && desc.bosId >= c.vocabSize) return `bos ${desc.bosId} ≥ vocab ${c.vocabSize}`;
    return null;
  };
}

// ---- model files -------------------------------------------------------------------------------

const GGUF_BASES = [GgmlType.F32, GgmlType.Q8_0, GgmlType.Q4_K].map((type) => randomGguf({ arch: 'llama', type, nLayers: 2, dModel: 256, nHeads: 4, dFF: 256, vocabSize: 256 }));
const ggufHeaderEnd = new Map<Uint8Array, number>();
async function headerEnd(b: Uint8Array): Promise<number> {
  if (!ggufHeaderEnd.has(b)) ggufHeaderEnd.set(b, (await readGgufHeader(new BytesSource(b))).dataOffset);
  return ggufHeaderEnd.get(b)!;
}

const gguf: Category = {
  name: 'gguf file',
  timeoutMs: 5000,
  judge: { names: /fuzz\.gguf/ },
  async run(seed) {
    const base = GGUF_BASES[seed % GGUF_BASES.length]!;
    const bytes = mutateBytes(base, seed, await headerEnd(base));
    const d = await describeModel(new BytesSource(bytes, 'fuzz.gguf'));
    const bad = describeOracle(bytes.length)(d);
    if (bad) return { garbage: bad };
    return d;
  },
};

let stories: Uint8Array | null = null;
const llama2c: Category = {
  name: 'llama2.c file',
  timeoutMs: 5000,
  judge: { names: /fuzz\.bin/ },
  async run(seed) {
    stories ??= new Uint8Array(readFileSync('public/models/stories260K/stories260K.bin'));
    const bytes = mutateBytes(stories, seed, 28);
    return describeModel(new BytesSource(bytes, 'fuzz.bin'));
  },
};

const ST = randomSafetensors({ arch: 'llama', nLayers: 2, dModel: 64, nHeads: 4, dFF: 128, vocabSize: 256 });
const safetensors: Category = {
  name: 'safetensors file + config.json',
  timeoutMs: 5000,
  judge: { names: /fuzz\.safetensors|config\.json/ },
  async run(seed) {
    const r = prng(seed);
    const len = Number(new DataView(ST.bytes.buffer).getBigUint64(0, true));
    const config: Record<string, unknown> = { ...ST.config };
    let bytes = ST.bytes;
    if (r.next() < 0.5) bytes = mutateBytes(ST.bytes, seed, 8 + len);
    else {
      const key = r.pick(Object.keys(config));
      config[key] = r.pick<unknown>([0, -1, 1.5, 2 ** 31, 2 ** 53, 1e308, null, 'x', [], {}, true, 3, 4096]);
    }
    const d = await describeModel(new BytesSource(bytes, 'fuzz.safetensors'), { configJson: config });
    const bad = describeOracle(bytes.length)(d);
    return bad ? { garbage: bad } : d;
  },
};

/** Loads mutated tiny models on the GPU: a model that loads must hold only finite weights. */
const TOK_MODEL = randomGguf({ arch: 'llama', type: GgmlType.Q8_0, nLayers: 1, dModel: 64, nHeads: 4, dFF: 128, includeTokenizer: true, contextLength: 64 });
const modelLoad: Category = {
  name: 'model load (GPU)',
  gpu: true,
  timeoutMs: 60_000,
  judge: { names: /fuzz\.gguf/ },
  async run(seed, ctx) {
    const r = prng(seed);
    const start = await headerEnd(TOK_MODEL);
    const bytes = TOK_MODEL.slice();
    const dv = new DataView(bytes.buffer);
    const tensors = (await readGgufHeader(new BytesSource(TOK_MODEL))).tensors;
    // Poison: a block scale of a Q8_0 matrix, an f32 norm value, or a random data byte.
    for (let i = 0, n = 1 + r.int(2); i < n; i++) {
      const t = r.pick(tensors);
      const kind = r.int(3);
      if (kind === 0 && t.rawType === GgmlType.Q8_0) dv.setUint16(t.offset + 34 * r.int(t.bytes / 34), r.pick([0x7c00, 0xfc00, 0x7e00]), true);
      else if (kind === 1 && t.rawType === GgmlType.F32) dv.setUint32(t.offset + 4 * r.int(t.bytes / 4), r.pick([0x7f800000, 0xff800000, 0x7fc00000]), true);
      else bytes[start + r.int(bytes.length - start)] = r.int(256);
    }
    const model = await loadModel(ctx.gpu!, new BytesSource(bytes, 'fuzz.gguf'), { slots: 1, maxContext: 32 });
    try {
      // Oracle: every weight the engine uses, dequantized on the CPU, is finite.
      for (const t of model.desc.tensors.values()) {
        const count = t.shape.reduce((a, b) => a * b, 1);
        const f = dequantize(t.type, bytes.subarray(t.offset, t.offset + t.bytes), count);
        for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i])) return { garbage: `loaded with ${f[i]} in ${t.name}[${i}]` };
      }
      return { loaded: true };
    } finally {
      model.dispose();
    }
  },
};

// ---- libraries and checkpoints -----------------------------------------------------------------

const MODEL = { arch: 'llama', name: 'fuzz', dModel: 8, vocabSize: 64 };
function baseLibrary(): TagLibrary {
  const lib = new TagLibrary();
  const rng = new Rng(5);
  const prov = newProvenance(MODEL, 'fp', { stage: 'stage2', steps: 3, dataset: 'd', metrics: { mse: 0.5 } });
  lib.addTag(createTag({ name: 'Dom', kind: 'domain', p: 2, d: 8, data: Float32Array.from({ length: 16 }, () => rng.next() - 0.5), provenance: prov }));
  lib.addTag(createTag({ name: 'Fn', kind: 'function', p: 1, d: 8, data: Float32Array.from({ length: 8 }, () => rng.next()), provenance: prov }));
  lib.setHead(createHead('regression', 1, 8, rng, [1, 2, 3], 'Fn'));
  const adapter: LoraAdapter = { id: 'a1', name: 'lora', rank: 2, alpha: 4, targets: ['q'], layers: [{ q: { A: new Float32Array(16), B: new Float32Array(16) } } as LoraAdapter['layers'][number]] };
  lib.addAdapter(adapter);
  return lib;
}
const LIB_JSON = JSON.stringify(exportLibrary(baseLibrary()));

const WEIRD: unknown[] = [0, -1, 1.5, 1e12, 2 ** 31, -0, null, '', 'x', 'AAAA', '////', [], {}, true, [1, 2], { a: 1 }, 'NaN', 1e308, '\u0000'];

/** Sets a random path of a JSON tree to a weird value (or deletes it). */
function mutateJson(root: unknown, seed: number): unknown {
  const r = prng(seed);
  const tree = structuredClone(root);
  for (let m = 0, n = 1 + r.int(3); m < n; m++) {
    let node = tree as Record<string, unknown>;
    for (let depth = 0; depth < 8; depth++) {
      const keys = node && typeof node === 'object' ? Object.keys(node) : [];
      if (keys.length === 0) break;
      const k = r.pick(keys);
      const child = node[k];
      if (child && typeof child === 'object' && r.next() < 0.7) {
        node = child as Record<string, unknown>;
        continue;
      }
      if (r.next() < 0.15) delete node[k];
      else node[k] = typeof child === 'string' && child.length > 8 && r.next() < 0.4 ? child.slice(0, r.int(child.length)) : r.pick(WEIRD);
      break;
    }
  }
  return tree;
}

const library: Category = {
  name: 'tag library file',
  timeoutMs: 5000,
  judge: { names: /tags|heads|adapters|format|version|JSON|library|Nothing was imported/ },
  run(seed) {
    const r = prng(seed);
    const text = r.next() < 0.15 ? LIB_JSON.slice(0, r.int(LIB_JSON.length)) : (r.next() < 0.1 ? '\ufeff' : '') + JSON.stringify(mutateJson(JSON.parse(LIB_JSON), seed));
    const res = importLibrary(text, { dModel: 8, fingerprint: 'fp' });
    if (res.status === 'refused') throw new Error(res.error);
    if (res.status === 'needs-confirmation') return res;
    for (const t of res.tags) {
      if (t.data.length !== t.p * t.d || !t.data.every(Number.isFinite)) return { garbage: `tag ${t.name} data ${t.data.length} for ${t.p}×${t.d}` };
    }
    for (const h of res.heads) if (h.W.length !== h.k * h.d || h.d !== 8) return { garbage: `head ${h.name} W ${h.W.length}` };
    return res;
  },
};

const CKPT = (() => {
  const lib = baseLibrary();
  const spec: RunSpec = {
    method: 'stage2',
    tasks: [{ name: 'd', template: '<Dom> {input} <Fn> {output}', rows: [{ input: 'a', output: '1' }, { input: 'b', output: '2' }], output: { kind: 'regression', field: 'output' } }],
    library: lib,
    tagLength: 1,
    hyper: { steps: 4, batch: 1, lr: 1e-2 },
  };
  const state: TrainState = {
    version: 1,
    step: 2,
    cursor: { epoch: 0, index: 1 },
    auxCursor: { epoch: 0, index: 0 },
    skipped: 0,
    tensors: { 'tag.Fn': new Float32Array(8).fill(0.1), 'tag.Fn.m': new Float32Array(8), 'tag.Fn.v': new Float32Array(8) },
    log: [],
  };
  const engine = { name: 'fuzz', config: { arch: 'llama', dModel: 8, vocabSize: 64 } } as unknown as Engine;
  return JSON.stringify(checkpointOf(engine, spec, exportLibrary(lib), state));
})();

const checkpoint: Category = {
  name: 'checkpoint file',
  timeoutMs: 5000,
  judge: { names: /Checkpoint|checkpoint|Hyperparameter|Run spec/ },
  run(seed) {
    const { file, tensors } = checkCheckpointFile(mutateJson(JSON.parse(CKPT), seed));
    for (const [k, v] of Object.entries(tensors)) if (v.length !== file.state.tensors[k]!.n) return { garbage: `tensor ${k} decoded to ${v.length}` };
    if (!(file.state.step >= 0 && file.state.skipped <= file.state.step)) return { garbage: 'bad step counters' };
    return file;
  },
};

// ---- data, text, arguments, requests -----------------------------------------------------------

const datasetText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.array(fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'toString', 'input', 'output', ''), fc.string({ maxLength: 6 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { maxLength: 8 }).map((rows) => rows.map((r) => JSON.stringify(r)).join('\n')),
  fc.array(fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('"', '""', 'a,b', '\r', 'NaN', '')), { maxLength: 5 }), { maxLength: 8 }).map((rows) => rows.map((r) => r.join(',')).join('\n')),
  fc.array(fc.oneof(fc.constantFrom('>', '>seq1 desc', 'ACDEFG', ''), fc.string({ maxLength: 10 })), { maxLength: 10 }).map((l) => l.join('\n')),
);

const dataset: Category = {
  name: 'dataset text',
  timeoutMs: 5000,
  judge: { names: /(?!)/ }, // parseDataset never throws: any throw is unclear
  run(seed) {
    const [text] = fc.sample(datasetText, { seed, numRuns: 1 });
    const name = prng(seed).pick(['x.csv', 'x.tsv', 'x.jsonl', 'x.fasta', 'x.txt', 'x']);
    const ds = parseDataset(text!, { name });
    if (ds.rows.length !== ds.report.kept || ds.lines.length !== ds.rows.length) return { garbage: `kept ${ds.report.kept} vs rows ${ds.rows.length}` };
    for (const r of ds.rows) {
      for (const c of ds.columns) {
        if (!Object.hasOwn(r, c) || typeof r[c] !== 'string') return { garbage: `column ${JSON.stringify(c)} is ${typeof r[c]}` };
      }
    }
    return ds;
  },
};

let tok: Promise<HfTokenizer> | null = null;
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(fc.oneof(fc.constantFrom('</s>', '<s>', '<unk>', '</s', 's>', '\u0000', '\ud800', '\n', ' ', '▁'), fc.string({ maxLength: 5 })), { maxLength: 12 }).map((xs) => xs.join('')),
);
const tokenizerText: Category = {
  name: 'tokenizer data text',
  timeoutMs: 5000,
  judge: { names: /(?!)/ },
  async run(seed) {
    tok ??= buildTokenizer({ kind: 'llama2c', data: new Uint8Array(readFileSync('public/models/stories260K/tok512.bin')), vocabSize: 512 });
    const t = await tok;
    const [text] = fc.sample(hostile, { seed, numRuns: 1 });
    const ids = t.encode(text!, { special: false });
    if (ids.some((id) => id === t.eosId || id === t.bosId)) return { garbage: `data text ${JSON.stringify(text)} became BOS/EOS` };
    if (ids.some((id) => !Number.isInteger(id) || id < 0 || id >= t.vocabSize)) return { garbage: 'id outside the vocabulary' };
    return ids;
  },
};

const VALUES = ['0', '-1', '', '1.5', 'abc', 'NaN', 'Infinity', '1e39', '1e6', '4097', '100000', ' 3 ', '0x10', '2', '64', '0.5', '1e-4', 'q,zz', 'q,v', 'package.json', 'no/such', 'input=toString', 'a=b'];
const OPTS = ['model', 'tokenizer', 'config', 'max-tokens', 'temperature', 'top-p', 'top-k', 'seed', 'context', 'stage', 'method', 'template', 'data', 'map', 'task', 'tags-in', 'out', 'steps', 'lr', 'batch', 'accum', 'eval-fraction', 'eval-every', 'tag-length', 'weight-decay', 'max-grad-norm', 'lora-rank', 'lora-alpha', 'lora-targets', 'checkpoint-every', 'resume', 'text', 'text-file', 'prompt'];
const COUNTS: Record<string, number> = { 'max-tokens': 1 << 20, steps: 1e7, batch: 4096, accum: 4096, 'tag-length': 4096, 'lora-rank': 4096, 'checkpoint-every': 1e7, context: 1 << 24 };

const cliArgs: Category = {
  name: 'CLI arguments',
  timeoutMs: 5000,
  judge: { names: /--[a-z]|needs/ },
  run(seed) {
    const r = prng(seed);
    const cmd = r.pick(['train', 'eval', 'generate', 'tokenize']);
    // A valid command line of that kind, then 0–3 options set to values from the list above.
    const valid: Record<string, Record<string, unknown>> = {
      train: { stage: '2', template: '<F> {input} {output}', data: ['test/fixtures/smiles-60.txt'], batch: '2', lr: '1e-3', steps: '3' },
      eval: { 'tags-in': 'package.json', data: ['test/fixtures/smiles-60.txt'], template: '<F> {input}' },
      generate: { prompt: 'Once', 'max-tokens': '4', temperature: '0.5', 'top-p': '0.9' },
      tokenize: { text: 'hello' },
    };
    const values: Record<string, unknown> = { model: 'public/models/stories260K/stories260K.bin', ...valid[cmd] };
    for (let i = 0, n = r.int(4); i < n; i++) {
      const k = r.pick(OPTS);
      values[k] = k === 'data' || k === 'map' ? [r.pick(VALUES)] : r.pick(VALUES);
    }
    try {
      validateOptions(cmd, values);
    } catch (e) {
      if (e instanceof CliUsageError) throw e;
      throw e;
    }
    // Oracle: what passed must be usable as the commands read it.
    for (const [k, max] of Object.entries(COUNTS)) {
      if (values[k] === undefined) continue;
      const x = Number(values[k]);
      if (!Number.isInteger(x) || x < (k === 'context' ? 16 : 1) || x > max) return { garbage: `--${k} ${JSON.stringify(values[k])} accepted` };
    }
    if (values.lr !== undefined && !(Number(values.lr) > 0 && Number(values.lr) <= 1)) return { garbage: `--lr ${values.lr} accepted` };
    for (const k of ['temperature', 'top-p', 'eval-fraction', 'weight-decay', 'max-grad-norm', 'lora-alpha']) {
      if (values[k] !== undefined && (String(values[k]).trim() === '' || !Number.isFinite(Number(values[k])))) return { garbage: `--${k} ${JSON.stringify(values[k])} accepted` };
    }
    return values;
  },
};

const REQ_VALUES: unknown[] = [0, -1, 1.5, NaN, Infinity, -Infinity, 1e9, 2 ** 31, '', 'x', null, [], {}, true, 1, 4, 1e-3];
const workerRequests: Category = {
  name: 'worker requests',
  timeoutMs: 5000,
  judge: { names: /^\w+: / },
  run(seed) {
    const r = prng(seed);
    const type = r.pick(['trainStart', 'generate', 'loadModel', 'inspectTag', 'matrixCell', 'compose']);
    const base: Record<string, unknown> = {
      trainStart: { runId: 'r', checkpointEvery: 0, evalEvery: 0, evalLimit: 4, spec: { method: 'stage2', tasks: [{ name: 'd', template: '<F> {input} {output}', rows: [{ input: 'a', output: '1' }], output: { kind: 'regression' } }], tagLength: 4, hyper: { steps: 2, batch: 2, lr: 0.01 } } },
      generate: { prompts: ['x'], maxTokens: 4, temperature: 0.5, topP: 0.9, topK: 4, seed: 1 },
      loadModel: { source: { kind: 'url', url: 'http://x/m.gguf' }, maxContext: 64, slots: 1 },
      inspectTag: { name: 'T', neighbours: 5, sample: 100 },
      matrixCell: { domain: 'D', fn: 'F', template: '<D> {input} <F> {output}', datasetName: 'd', rows: [{ input: 'a', output: '1' }], limit: 4 },
      compose: { variants: ['<F> x'], mode: 'generate', maxTokens: 4 },
    };
    const params = structuredClone(base[type]) as Record<string, unknown>;
    // Replace 1–2 leaves by weird values.
    for (let i = 0, n = 1 + r.int(2); i < n; i++) {
      let node = params;
      for (;;) {
        const k = r.pick(Object.keys(node));
        const child = node[k];
        if (child && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length && r.next() < 0.6) {
          node = child as Record<string, unknown>;
          continue;
        }
        node[k] = r.pick(REQ_VALUES);
        break;
      }
    }
    validateRequest(type, params);
    if (type === 'trainStart') {
      const spec = (params as { spec: RunSpec }).spec;
      try {
        checkHyper({ ...DEFAULT_HYPER, ...(spec.hyper ?? {}) });
        checkRunSpec({ ...spec, library: new TagLibrary() });
      } catch (e) {
        return { garbage: `accepted but the trainer refuses: ${(e as Error).message}` };
      }
    }
    return params;
  },
};

export const CATEGORIES: Category[] = [gguf, llama2c, safetensors, library, checkpoint, dataset, tokenizerText, cliArgs, workerRequests, modelLoad];
