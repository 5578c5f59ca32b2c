/**
 * The self-specialization requests of the engine worker: one run at a time of src/selfspec's
 * pipeline on the loaded model, its files in IndexedDB (selfspec-store.ts) so a reload resumes it,
 * its typed events streamed to the page as they come. Pause and Cancel both stop the pipeline
 * after its current step (AbortSignal) and keep every file; they differ only in the status the run
 * is left with. Resume re-reads the run's inputs and continues where its files stop.
 */
import { fetchFromUrl } from '../data/builtin';
import type { LoadedModel } from '../model/api';
import type { Engine } from '../model/model';
import { Bm25Index } from '../selfspec/bm25';
import { checkCorpusSize, parseCorpus, parsePubmedqaCorpus, splitDocuments, type ParsedCorpus } from '../selfspec/corpus';
import { TagLibrary } from '../tags/library';
import type { Proj } from '../train/graph';
import { exportLibrary, importLibrary } from '../tags/library-format';
import type { OnEvent } from '../selfspec/events';
import { parsePubmedqa } from '../selfspec/evaluate';
import { DEFAULT_CONFIG, Pipeline, type PipelineConfig, type PipelineDeps, type PipelineInputs } from '../selfspec/pipeline';
import { EngineRunner } from '../selfspec/runner';
import { parseSeeds } from '../selfspec/seeds';
import { parseJsonl } from '../selfspec/store';
import { specialise } from '../selfspec/specialise';
import { assertUtf8Text, decodeUtf8 } from '../selfspec/text';
import type { RequestMessage, SelfSpecReply, SelfSpecSettings, SelfSpecSource } from './protocol';
import type { SelfSpecRunMeta, SelfSpecRunsDb } from './selfspec-store';

/** Built-in inputs (paths under public/data; licences in public/data/SOURCES.md). */
export const SELFSPEC_BUILTINS = {
  seeds: {
    box: { path: 'biomed/BoX_instructions.json', label: 'BoX biomedical seeds (32 tasks)' },
    'self-instruct': { path: 'biomed/self_instruct_seed_tasks.jsonl', label: 'Self-instruct seeds (generic, 175 tasks)' },
  },
  corpus: {
    pubmedqa: { path: 'biomed/pubmedqa_ori_pqal.json', label: 'PubMedQA abstracts (1,000)' },
  },
} as const;

const PUBMEDQA = 'biomed/pubmedqa_ori_pqal.json';
const PUBMEDQA_TRUTH = 'biomed/pubmedqa_test_ground_truth.json';

export const SELFSPEC_REQUESTS: ReadonlySet<string> = new Set(['selfspecStart', 'selfspecResume', 'selfspecControl', 'selfspecRuns', 'selfspecFiles', 'selfspecDelete']);

export interface SelfSpecDeps {
  model(): LoadedModel | null;
  db: Promise<SelfSpecRunsDb>;
  /** Why the engine cannot start a run now (a training or generation is running), or null. */
  busyWith(): string | null;
  /** Fetches a data file (default: fetch from the request's data URL). */
  fetchText?: (baseUrl: string) => (path: string) => Promise<string>;
  /** Training, evaluation and the engine's shape for the pipeline (default: the real GPU engine's). Tests pass fakes. */
  engineParts?(model: LoadedModel, cfg: PipelineConfig): Omit<PipelineDeps, 'model'>;
  /** The worker's tag library (start adapters are taken from it). */
  library?(): TagLibrary | null;
  now?(): Date;
}

export interface SelfSpecHandler {
  handle(msg: RequestMessage, signal: AbortSignal, emit: OnEvent): Promise<unknown>;
  /** A run is in progress (the model must not be unloaded under it). */
  running(): boolean;
}

/** PipelineConfig of the panel's settings. */
export function configOf(s: SelfSpecSettings): PipelineConfig {
  return {
    ...DEFAULT_CONFIG,
    domain: s.domain,
    seed: s.seed,
    instructions: s.instructions,
    instructionMaxTokens: s.instructionTokens,
    k: s.k,
    responseMaxTokens: s.responseTokens,
    methods: [...s.methods],
    rounds: s.rounds,
    specialise: {
      ...DEFAULT_CONFIG.specialise,
      epochs: s.epochs,
      batch: s.batch,
      accum: s.accum,
      lr: s.lr,
      tagLength: s.tagLength,
      domainTag: s.domainTag,
      ...(s.lora ? { lora: { ...DEFAULT_CONFIG.specialise.lora, rank: s.lora.rank, alpha: s.lora.alpha, targets: s.lora.targets as Proj[] } } : {}),
    },
    eval: { ...DEFAULT_CONFIG.eval, n: s.evalN, shots: [...s.shots], scorings: [...s.scorings], rougeN: s.rougeN },
    ...(s.instructionTemplate ? { instructionTemplate: s.instructionTemplate } : {}),
    ...(s.seedsPerPrompt ? { seedsPerPrompt: s.seedsPerPrompt } : {}),
    ...(s.maxBarrenBatches ? { maxBarrenBatches: s.maxBarrenBatches } : {}),
    ...(s.freshInstructions === false ? { freshInstructions: false } : {}),
    ...(s.initAdapter ? { initAdapter: s.initAdapter } : {}),
  };
}

/**
 * A folder of .txt documents as a JSONL corpus {id, text} with ids `<file>#<n>` (corpus.ts
 * splitDocuments; other files are left out). The total size is checked before anything is decoded.
 */
export function folderCorpus(folder: { name: string; files: Array<{ name: string; bytes: ArrayBuffer }> }): { name: string; bytes: ArrayBuffer } {
  const txt = folder.files.filter((f) => f.name.toLowerCase().endsWith('.txt')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (txt.length === 0) throw new Error(`${folder.name}: the folder has no .txt documents. Choose a folder (or files) of plain-text .txt documents.`);
  checkCorpusSize(txt.reduce((a, f) => a + f.bytes.byteLength, 0), `${folder.name} (${txt.length} .txt files)`);
  const { passages } = splitDocuments(txt.map((f) => ({ name: f.name, text: decodeUtf8(new Uint8Array(f.bytes), f.name) })));
  return { name: `${folder.name}.jsonl`, bytes: new TextEncoder().encode(passages.map((x) => JSON.stringify(x)).join('\n') + '\n').buffer as ArrayBuffer };
}

/** A given instruction set: JSON lines with an "instruction" (and optionally "input"). */
function givenInstructions(file: { name: string; text: string }): Array<{ instruction: string; input: string }> {
  let rows: Array<{ instruction?: unknown; input?: unknown }>;
  try {
    rows = parseJsonl(file.text);
  } catch (e) {
    throw new Error(`${file.name}: ${(e as Error).message}. Give JSON lines with an "instruction" (and "input").`);
  }
  const out = rows.flatMap((r) => (r && typeof r.instruction === 'string' && r.instruction.trim() ? [{ instruction: r.instruction.trim(), input: typeof r.input === 'string' ? r.input : '' }] : []));
  if (out.length === 0) throw new Error(`${file.name}: no line has an "instruction". Give JSON lines like {"instruction": "…", "input": "…"}.`);
  return out;
}

/** The pipeline's engine parts on the real GPU engine (what loadModel returns). */
function realEngineParts(model: LoadedModel, cfg: PipelineConfig): Omit<PipelineDeps, 'model'> {
  const engine = model as Engine;
  const slots = engine.transformer.opts.slots;
  return {
    slots,
    maxContext: engine.transformer.opts.maxContext,
    specialise: (records, library, o, hooks) => specialise(engine, records, library, o, hooks),
    runner: (variant) => new EngineRunner(engine, variant, { slots, batch: cfg.specialise.batch }),
  };
}

export function createSelfSpecHandler(deps: SelfSpecDeps): SelfSpecHandler {
  const fetcher = deps.fetchText ?? fetchFromUrl;
  const now = deps.now ?? (() => new Date());
  let current: { id: string; controller: AbortController; stop: 'paused' | 'cancelled' | null } | null = null;

  async function textOf(src: SelfSpecSource | { kind: 'stored'; name: string; bytes: ArrayBuffer }, fetchText: (p: string) => Promise<string>, role: 'seeds' | 'corpus' | 'instructions'): Promise<{ name: string; text: string }> {
    if (src.kind === 'folder') throw new Error(`A folder cannot be read as one ${role} file.`);
    if (src.kind === 'builtin') {
      if (role === 'instructions') throw new Error('There is no built-in instruction set.');
      const b = (SELFSPEC_BUILTINS[role] as Record<string, { path: string }>)[src.id];
      if (!b) throw new Error(`Unknown built-in ${role} "${src.id}" (known: ${Object.keys(SELFSPEC_BUILTINS[role]).join(', ')}).`);
      const text = await fetchText(b.path);
      const name = b.path.split('/').pop()!;
      assertUtf8Text(text, name);
      return { name, text };
    }
    return { name: src.name, text: decodeUtf8(new Uint8Array(src.bytes), src.name) };
  }

  async function inputSource(db: SelfSpecRunsDb, meta: SelfSpecRunMeta, role: 'seeds' | 'corpus' | 'instructions') {
    const ref = role === 'seeds' ? meta.seeds : role === 'corpus' ? meta.corpus : (meta.instructions ?? null);
    if (!ref) return null;
    if (ref.kind === 'builtin') return { kind: 'builtin' as const, id: ref.id! };
    const bytes = await db.getInput(meta.id, role);
    if (!bytes) throw new Error(`The ${role} file of run "${meta.name}" is no longer stored; start a new run.`);
    return { kind: 'stored' as const, name: ref.name ?? role, bytes };
  }

  async function run(meta: SelfSpecRunMeta, dataBaseUrl: string, reqSignal: AbortSignal, emit: OnEvent): Promise<SelfSpecReply> {
    const model = deps.model();
    if (!model) throw new Error('No model is loaded. Load one in the Model panel first: self-specialization runs on the loaded model.');
    const busy = deps.busyWith();
    if (busy) throw new Error(`${busy} is in progress. Wait for it or stop it first.`);
    if (current) throw new Error('A self-specialization run is already in progress. Pause or cancel it first.');
    const db = await deps.db;
    const controller = new AbortController();
    const state = { id: meta.id, controller, stop: null as 'paused' | 'cancelled' | null };
    current = state;
    const onReqAbort = () => {
      state.stop ??= 'cancelled';
      controller.abort();
    };
    reqSignal.addEventListener('abort', onReqAbort, { once: true });
    const save = (patch: Partial<SelfSpecRunMeta>) => db.putRun({ ...meta, ...patch, updated: now().toISOString() }).catch(() => undefined);
    try {
      await save({ status: 'running', error: null });
      const settings = meta.settings as SelfSpecSettings;
      const cfg = configOf(settings);
      const fetchText = fetcher(dataBaseUrl);

      const seedsSrc = (await inputSource(db, meta, 'seeds'))!;
      const seedsFile = await textOf(seedsSrc, fetchText, 'seeds');
      const seeds = parseSeeds(seedsFile.text, seedsFile.name);
      for (const r of seeds.rejected.slice(0, 20)) emit({ type: 'warning', stage: 'seeds', message: `${seedsFile.name}:${r.line}: skipped seed: ${r.reason}` });
      if (seeds.rejected.length > 20) emit({ type: 'warning', stage: 'seeds', message: `${seedsFile.name}: ${seeds.rejected.length - 20} more seeds skipped` });

      let retriever: PipelineInputs['retriever'] = null;
      const corpusSrc = await inputSource(db, meta, 'corpus');
      if (corpusSrc && cfg.k > 0) {
        emit({ type: 'stage', stage: 'corpus', round: 0, status: 'start' });
        const t0 = performance.now();
        const file = await textOf(corpusSrc, fetchText, 'corpus');
        const corpus: ParsedCorpus = corpusSrc.kind === 'builtin' && corpusSrc.id === 'pubmedqa' ? parsePubmedqaCorpus(file.text, file.name) : parseCorpus(file.text, file.name);
        for (const r of corpus.rejected.slice(0, 20)) emit({ type: 'warning', stage: 'corpus', message: `${r.file ?? file.name}:${r.line}: skipped passage: ${r.reason}` });
        const index = Bm25Index.build(corpus.passages);
        retriever = index;
        const secs = (performance.now() - t0) / 1000;
        emit({ type: 'progress', stage: 'corpus', round: 0, done: index.size, total: index.size, perSecond: secs > 0 ? index.size / secs : 0, etaSeconds: 0, unit: 'passages' });
        emit({ type: 'stage', stage: 'corpus', round: 0, status: 'done', detail: `${index.size} passages from ${file.name}, indexed in ${Math.round(secs * 1000)} ms` });
      } else {
        emit({ type: 'stage', stage: 'corpus', round: 0, status: 'skipped', detail: cfg.k > 0 ? 'no corpus' : 'k = 0: responses without retrieval' });
      }

      const instrSrc = await inputSource(db, meta, 'instructions');
      const given = instrSrc ? givenInstructions(await textOf(instrSrc, fetchText, 'instructions')) : undefined;

      // The start adapter as copied into the run at its start: the run resumes with it whatever the library holds now.
      let library: TagLibrary | null = null;
      if (cfg.initAdapter) {
        const bytes = await db.getInput(meta.id, 'adapter');
        if (!bytes) throw new Error(`The start adapter of run "${meta.name}" is no longer stored; start a new run.`);
        const r = importLibrary(JSON.parse(new TextDecoder().decode(bytes)), { dModel: model.config.dModel, fingerprint: '' }, { acceptFingerprintMismatch: true });
        if (r.status !== 'ok') throw new Error(`The stored start adapter of run "${meta.name}": ${r.status === 'refused' ? r.error : r.warning}`);
        library = new TagLibrary({ tags: [], heads: [], adapters: r.adapters });
      }

      const pubmedqa = cfg.eval.n > 0 ? parsePubmedqa(await fetchText(PUBMEDQA), await fetchText(PUBMEDQA_TRUTH)) : null;
      const store = await db.files(meta.id);
      const pipeline = new Pipeline(
        { model, ...(deps.engineParts ?? realEngineParts)(model, cfg) },
        cfg,
        { seeds: seeds.seeds, retriever, pubmedqa, instructions: given, library },
        // The run's store is its own (a fresh run has no files), so resuming is always safe.
        { store, resume: true, signal: controller.signal, onEvent: emit },
      );
      await pipeline.run();
      await save({ status: 'done', error: null });
      return { runId: meta.id, outcome: 'done' };
    } catch (e) {
      if (state.stop || (e as Error)?.name === 'AbortError') {
        const outcome = state.stop ?? 'cancelled';
        await save({ status: outcome, error: null });
        return { runId: meta.id, outcome };
      }
      await save({ status: 'error', error: String((e as Error)?.message ?? e) });
      throw e;
    } finally {
      reqSignal.removeEventListener('abort', onReqAbort);
      if (current === state) current = null;
    }
  }

  return {
    running: () => current !== null,
    async handle(msg, signal, emit) {
      const db = await deps.db;
      switch (msg.type) {
        case 'selfspecStart': {
          const p = msg.params;
          if (!p.runId) throw new TypeError('selfspecStart needs a runId.');
          if (await db.getRun(p.runId)) throw new Error(`A run with id ${p.runId} exists already; resume it or delete it.`);
          const model = deps.model();
          if (!model) throw new Error('No model is loaded. Load one in the Model panel first: self-specialization runs on the loaded model.');
          if (current) throw new Error('A self-specialization run is already in progress. Pause or cancel it first.');
          // Inputs are checked before anything is stored: a bad seed file leaves no run behind.
          const fetchText = fetcher(p.dataBaseUrl);
          const seedsFile = await textOf(p.seeds, fetchText, 'seeds');
          parseSeeds(seedsFile.text, seedsFile.name);
          if (p.instructions) givenInstructions(await textOf(p.instructions, fetchText, 'instructions'));
          if (p.settings.k > 0 && !p.corpus) throw new Error(`k = ${p.settings.k} passages need a corpus: choose one, or set k to 0.`);
          // A folder is split into passages here and stored as JSONL {id, text}: the run re-reads one file.
          let corpusBytes: { name: string; bytes: ArrayBuffer } | null = null;
          if (p.corpus?.kind === 'file') {
            checkCorpusSize(p.corpus.bytes.byteLength, p.corpus.name);
            corpusBytes = { name: p.corpus.name, bytes: p.corpus.bytes };
          } else if (p.corpus?.kind === 'folder') corpusBytes = folderCorpus(p.corpus);
          let adapterJson: ArrayBuffer | null = null;
          if (p.settings.initAdapter) {
            const lib = deps.library?.() ?? null;
            const ad = lib?.adapters.find((a) => a.name === p.settings.initAdapter);
            if (!lib || !ad) {
              throw new Error(`The start adapter "${p.settings.initAdapter}" is not in the library (it has ${lib?.adapters.map((a) => `"${a.name}"`).join(', ') || 'no adapter'}). Import it in the Library panel, or start without one.`);
            }
            adapterJson = new TextEncoder().encode(JSON.stringify(exportLibrary(lib, { tags: [], heads: [], adapters: [ad.name] }))).buffer as ArrayBuffer;
          }
          const t = now().toISOString();
          const ref = (s: SelfSpecSource | null) => (s === null ? null : s.kind === 'builtin' ? { kind: 'builtin' as const, id: s.id } : { kind: 'stored' as const, name: s.name });
          if (p.seeds.kind === 'folder') throw new Error('Seeds come from one file, not a folder.');
          if (p.instructions?.kind === 'folder') throw new Error('A given instruction set is one JSONL file, not a folder.');
          const meta: SelfSpecRunMeta = {
            id: p.runId,
            name: p.settings.name || p.runId,
            created: t,
            updated: t,
            status: 'running',
            error: null,
            model: model.name,
            settings: p.settings,
            seeds: ref(p.seeds)!,
            corpus: corpusBytes ? { kind: 'stored', name: corpusBytes.name } : ref(p.corpus),
            instructions: ref(p.instructions ?? null),
          };
          if (p.seeds.kind === 'file') await db.putInput(p.runId, 'seeds', p.seeds.bytes);
          if (corpusBytes) await db.putInput(p.runId, 'corpus', corpusBytes.bytes);
          if (adapterJson) await db.putInput(p.runId, 'adapter', adapterJson);
          if (p.instructions?.kind === 'file') await db.putInput(p.runId, 'instructions', p.instructions.bytes);
          await db.putRun(meta);
          return run(meta, p.dataBaseUrl, signal, emit);
        }
        case 'selfspecResume': {
          const meta = await db.getRun(msg.params.runId);
          if (!meta) throw new Error(`No stored run ${msg.params.runId}.`);
          return run(meta, msg.params.dataBaseUrl, signal, emit);
        }
        case 'selfspecControl': {
          if (!current) return { ok: false };
          current.stop = msg.params.action === 'pause' ? 'paused' : 'cancelled';
          current.controller.abort();
          return { ok: true };
        }
        case 'selfspecRuns':
          return db.listRuns();
        case 'selfspecFiles': {
          const store = await db.files(msg.params.runId);
          const names = msg.params.names ?? (await store.list());
          const files: Record<string, string> = {};
          for (const n of names) {
            const t = await store.read(n);
            if (t !== null) files[n] = t;
          }
          return { files };
        }
        case 'selfspecDelete': {
          if (current?.id === msg.params.runId) throw new Error('This run is in progress; pause or cancel it before deleting it.');
          const had = (await db.getRun(msg.params.runId)) !== null;
          await db.deleteRun(msg.params.runId);
          return { deleted: had };
        }
        default:
          throw new TypeError(`Unknown request type: ${(msg as { type?: unknown }).type}`);
      }
    },
  };
}
