/**
 * The self-specialization pipeline (METHODS.md §2, issue 8 items 10–11):
 *   seeds → instructions → responses (retrieval mixture) → specialise (LoRA / tag / both) → evaluate
 *   → round 2: new instructions and responses from the specialised model, decoded contrastively
 *     against the base, specialise and evaluate again.
 * Every stage writes plain files into a RunStore as it goes and, on resume, continues where those
 * files stop (a torn last line is redone). Cancelling (AbortSignal) keeps everything written so far.
 * Runs are seeded: the same settings and files give the same prompts and data order. Progress comes
 * out as one typed event stream (events.ts) for the CLI and the workbench panel.
 *
 * Files (round r = 1, 2, …):
 *   config.json                   the settings the run was made with (resume refuses others)
 *   seeds.json                    seeds used for generation, and the held-out seed tasks (ROUGE-L)
 *   round<r>/instructions.jsonl   accepted {index, instruction, input}
 *   round<r>/rejected.jsonl       {instruction, input, reason, duplicateOf?}
 *   round<r>/instructions.progress.json  prompt batches done (resume continues the seeded sequence)
 *   round<r>/responses[-k<k>].jsonl      Alpaca fields + passages, weights, posterior (responses.ts)
 *   round<r>/<method>[-k<k>]/library.json   the adapter / tags as a tag-library JSON
 *   round<r>/<method>[-k<k>]/checkpoint.json, train-log.jsonl
 *   eval-cells.jsonl              every evaluated cell (resume skips them)
 *   eval.json, eval.md            the table (rewritten after each evaluation)
 */
import type { AdapterWeights, LoadedModel } from '../model/api';
import { Rng } from '../model/sampling';
import { TagLibrary } from '../tags/library';
import { renderPrompt } from '../tags/prompt';
import { exportLibrary, importLibrary } from '../tags/library-format';
import type { StepLog, TrainState } from '../train/trainer';
import { ALPACA_STOP, alpacaTemplateFor, type AlpacaTags } from './alpaca';
import { Meter, type OnEvent } from './events';
import { columnOf, evaluateCell, evaluateRouge, makeTable, tableMarkdown, type CellResult, type EvalRow, type PubmedqaItem, type Scoring, type VariantRunner } from './evaluate';
import { abortError, fillResponseTemplate, fitPassage, generateResponses, RESPONSE_TEMPLATE, type ResponseItem, type ResponseRecord, type Retriever, type SlotPrompt } from './responses';
import { buildInstructionPrompt, DEFAULT_FILTER, DEFAULT_INSTRUCTION_TEMPLATE, extractInstructions, sampleSeeds, type FilterOptions } from './instructions';
import { DedupPool, rougeL } from './rouge';
import type { Seed } from './seeds';
import { DEFAULT_SPECIALISE, initLora, stateFromJson, stateToJson, tagsOf, type AlpacaRecord, type SpecialiseHooks, type SpecialiseOptions, type SpecialiseResult, type SpecMethod } from './specialise';
import type { Variant } from './runner';
import { jsonl, parseJsonl, type RunStore } from './store';
import { slotsNeeded } from './slots';

/** What the pipeline needs from the engine; the CLI and the worker build it over a real model, tests over a fake. */
export interface PipelineDeps {
  model: LoadedModel;
  /** Sequences the model decodes in parallel. */
  slots: number;
  /** KV positions per sequence: prompts are cut to fit. */
  maxContext: number;
  specialise(records: AlpacaRecord[], library: TagLibrary, o: SpecialiseOptions, hooks: SpecialiseHooks): Promise<SpecialiseResult>;
  runner(v: Variant): VariantRunner;
}

export interface PipelineConfig {
  domain: string;
  seed: number;
  /** Accepted instructions per round. */
  instructions: number;
  seedsPerPrompt: number;
  /** The brainstorm prompt (instructions.ts: {domain}, {examples}, {next}). */
  instructionTemplate: string;
  filter: FilterOptions;
  instructionMaxTokens: number;
  instructionTemperature: number;
  instructionTopP: number;
  /** Prompt batches without a single accepted instruction before the stage gives up. */
  maxBarrenBatches: number;
  /** Passages per response (0 = no retrieval). */
  k: number;
  /** Extra k values trained and evaluated with the first method (the retrieval ablation), round 1. */
  ablationK: number[];
  retrievalTemperature: number;
  responseTemplate: string;
  responseMaxTokens: number;
  responseTemperature: number;
  responseTopP: number;
  methods: SpecMethod[];
  specialise: Omit<SpecialiseOptions, 'method' | 'adapterName'>;
  rounds: number;
  /** Round ≥ 2: a fresh instruction set (default) or the previous round's instructions again. */
  freshInstructions: boolean;
  contrastiveAlpha: number;
  /**
   * Name of an adapter in the input library (PipelineInputs.library, e.g. an imported PEFT adapter)
   * that every LoRA specialisation starts from instead of a fresh LoRA; null = fresh. With it the
   * "start" is base + that adapter: round 1 evaluates it as an extra row, and round 2's amateur uses it.
   */
  initAdapter: string | null;
  eval: {
    /** PubMedQA test questions (0 = skip PubMedQA). */
    n: number;
    shots: number[];
    scorings: Scoring[];
    /** Share of seed tasks held out of generation for ROUGE-L (0 = none). */
    heldOutSeedTasks: number;
    /** Held-out seeds scored (at most). */
    rougeN: number;
    maxTokens: number;
  };
}

export const DEFAULT_CONFIG: PipelineConfig = {
  domain: 'biomedicine',
  seed: 0,
  instructions: 100,
  seedsPerPrompt: 3,
  instructionTemplate: DEFAULT_INSTRUCTION_TEMPLATE,
  filter: { ...DEFAULT_FILTER },
  instructionMaxTokens: 256,
  instructionTemperature: 1.0,
  instructionTopP: 0.98,
  maxBarrenBatches: 20,
  k: 5,
  ablationK: [],
  retrievalTemperature: 1,
  responseTemplate: RESPONSE_TEMPLATE,
  responseMaxTokens: 256,
  responseTemperature: 0.7,
  responseTopP: 0.95,
  methods: ['lora'],
  specialise: { ...DEFAULT_SPECIALISE },
  rounds: 1,
  freshInstructions: true,
  contrastiveAlpha: 0.1,
  initAdapter: null,
  eval: { n: 100, shots: [0, 1, 5], scorings: ['likelihood', 'generation'], heldOutSeedTasks: 0.1, rougeN: 50, maxTokens: 64 },
};

export interface PipelineInputs {
  seeds: Seed[];
  /** A ready instruction set for round 1 instead of generating one (e.g. from another run). */
  instructions?: Array<{ instruction: string; input: string }>;
  retriever: Retriever | null;
  pubmedqa: { test: PubmedqaItem[]; demos: PubmedqaItem[] } | null;
  /** A tag library to take `initAdapter` from. */
  library?: TagLibrary | null;
}

export interface PipelineOptions {
  store: RunStore;
  /** Continue a run whose files are in `store` (without it, a store with files is refused). */
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: OnEvent;
}

/** One line of eval-cells.jsonl. */
interface CellLine {
  row: string;
  column: string;
  result?: CellResult;
  rouge?: { rougeL: number; n: number };
}

interface InstructionRow {
  index: number;
  instruction: string;
  input: string;
}

/**
 * Settings a resume may change: more rounds, more ablation rows, more patience. Every other setting
 * shapes files already written, so resuming with another value is refused.
 */
const RESUMABLE: ReadonlySet<keyof PipelineConfig> = new Set(['rounds', 'ablationK', 'maxBarrenBatches']);

export class Pipeline {
  private readonly emit: OnEvent;
  private readonly store: RunStore;
  private readonly signal?: AbortSignal;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly cfg: PipelineConfig,
    private readonly inputs: PipelineInputs,
    private readonly opts: PipelineOptions,
  ) {
    this.emit = opts.onEvent ?? (() => {});
    this.store = opts.store;
    this.signal = opts.signal;
  }

  private checkAbort(): void {
    if (this.signal?.aborted) throw abortError();
  }

  private async readJson<T>(name: string): Promise<T | null> {
    const t = await this.store.read(name);
    if (t === null) return null;
    try {
      return JSON.parse(t) as T;
    } catch {
      throw new Error(`${name} in the run directory is not valid JSON; delete it to redo that step.`);
    }
  }

  /**
   * Runs (or continues) every stage of every round; returns the final table. A cancelled run
   * rejects with an AbortError whatever stage it was in.
   */
  async run(): Promise<{ table: ReturnType<typeof makeTable> }> {
    try {
      return await this.runStages();
    } catch (e) {
      if (this.signal?.aborted) throw abortError();
      throw e;
    }
  }

  private async runStages(): Promise<{ table: ReturnType<typeof makeTable> }> {
    const c = this.cfg;
    validateConfig(c, this.inputs);
    // A response's mixture group (round 1) and its expert + amateur groups (rounds ≥ 2) cannot be split
    // across batches: refuse before any work, not after the instructions were generated.
    const need = slotsNeeded(c);
    if (need.slots > this.deps.slots) {
      const fix = c.rounds >= 2 && need.slots === 2 * Math.max(1, c.k) ? 'load it with more slots, lower k, or run 1 round' : 'load it with more slots or lower k';
      throw new Error(`${need.reason[0].toUpperCase()}${need.reason.slice(1)} but the model has ${this.deps.slots}; ${fix}.`);
    }
    this.init = this.startAdapter();
    await this.checkConfig();
    const { train: seeds, heldOut } = await this.seedSplit();
    let previous: { library: TagLibrary; method: SpecMethod } | null = null;
    for (let round = 1; round <= c.rounds; round++) {
      this.checkAbort();
      const dir = `round${round}`;
      const instructions = await this.instructionStage(round, seeds, previous);
      const ks = round === 1 ? [c.k, ...c.ablationK.filter((k) => k !== c.k)] : [c.k];
      const trained: Array<{ method: SpecMethod; k: number; library: TagLibrary; name: string }> = [];
      for (const k of ks) {
        const file = k === c.k ? `${dir}/responses.jsonl` : `${dir}/responses-k${k}.jsonl`;
        const responses = await this.responseStage(round, instructions, k, file, previous);
        const methods = k === c.k ? c.methods : [c.methods[0]];
        for (const m of methods) {
          const name = k === c.k ? `${dir}/${m}` : `${dir}/${m}-k${k}`;
          const library = await this.specialiseStage(round, m, responses, name);
          trained.push({ method: m, k, library, name });
        }
      }
      await this.evaluateStage(round, trained, heldOut);
      previous = { library: trained[0].library, method: trained[0].method };
    }
    const table = await this.writeTable();
    return { table };
  }

  private init: { name: string; weights: AdapterWeights } | null = null;

  /** The adapter every LoRA specialisation starts from (checked against the run and the model before any work), made resident. */
  private startAdapter(): { name: string; weights: AdapterWeights } | null {
    const c = this.cfg;
    if (!c.initAdapter) return null;
    const lib = this.inputs.library;
    const ad = lib?.adapters.find((a) => a.name === c.initAdapter);
    if (!ad) {
      const names = lib?.adapters.map((a) => `"${a.name}"`) ?? [];
      throw new Error(`The start adapter "${c.initAdapter}" is not in the ${lib ? 'library' : 'run (no library was given)'}${names.length ? `; it has ${names.join(', ')}` : lib ? '; it has no adapter' : ''}. Give a library (--tags-in) that holds it, or start without one.`);
    }
    const init = { name: ad.name, weights: ad };
    initLora(init, c.specialise.lora, this.deps.model.config);
    this.deps.model.setAdapter(ad.name, ad);
    return init;
  }

  private async checkConfig(): Promise<void> {
    const existing = await this.store.list();
    const saved = await this.readJson<PipelineConfig>('config.json');
    if (existing.length && !this.opts.resume) {
      throw new Error('The output directory already holds a run. Pass --resume to continue it, or choose an empty directory.');
    }
    if (saved) {
      const keys = [...new Set([...Object.keys(saved), ...Object.keys(this.cfg)])] as Array<keyof PipelineConfig>;
      // A setting added after the run was made counts as its default there.
      const diff = keys.filter((f) => !RESUMABLE.has(f) && JSON.stringify(f in saved ? saved[f] : DEFAULT_CONFIG[f]) !== JSON.stringify(this.cfg[f]));
      if (diff.length) {
        throw new Error(`The run in this directory was made with other settings (${diff.join(', ')}). Resume with the same settings, or use a new directory.`);
      }
    }
    await this.store.write('config.json', JSON.stringify(this.cfg, null, 1));
  }

  /** Seeds for generation and held-out seed tasks for ROUGE-L, fixed on the first run. */
  private async seedSplit(): Promise<{ train: Seed[]; heldOut: Seed[] }> {
    this.emit({ type: 'stage', stage: 'seeds', round: 0, status: 'start' });
    const saved = await this.readJson<{ train: Seed[]; heldOut: Seed[] }>('seeds.json');
    if (saved) {
      this.emit({ type: 'stage', stage: 'seeds', round: 0, status: 'skipped', detail: `${saved.train.length} seeds, ${saved.heldOut.length} held out` });
      return saved;
    }
    const seeds = this.inputs.seeds;
    const tasks = [...new Set(seeds.map((s, i) => s.task ?? `#${i}`))];
    const nHeld = this.cfg.eval.heldOutSeedTasks > 0 && tasks.length >= 2 ? Math.max(1, Math.round(tasks.length * this.cfg.eval.heldOutSeedTasks)) : 0;
    const order = shuffled(tasks, new Rng(this.cfg.seed * 31 + 7));
    const held = new Set(order.slice(0, nHeld));
    const split = {
      train: seeds.filter((s, i) => !held.has(s.task ?? `#${i}`)),
      heldOut: seeds.filter((s, i) => held.has(s.task ?? `#${i}`)),
    };
    await this.store.write('seeds.json', JSON.stringify(split, null, 1));
    this.emit({ type: 'stage', stage: 'seeds', round: 0, status: 'done', detail: `${split.train.length} seeds, ${split.heldOut.length} held out (${nHeld} tasks)` });
    return split;
  }

  private async instructionStage(round: number, seeds: Seed[], previous: { library: TagLibrary; method: SpecMethod } | null): Promise<InstructionRow[]> {
    const c = this.cfg;
    const dir = `round${round}`;
    if (round > 1 && !c.freshInstructions) {
      const prev = parseJsonl<InstructionRow>(await this.store.read(`round${round - 1}/instructions.jsonl`));
      this.emit({ type: 'stage', stage: 'instructions', round, status: 'skipped', detail: `reusing round ${round - 1}'s ${prev.length} instructions` });
      return prev;
    }
    const file = `${dir}/instructions.jsonl`;
    if (round === 1 && this.inputs.instructions && (await this.store.read(file)) === null) {
      const given = this.inputs.instructions.slice(0, c.instructions).map((x, index) => ({ index, instruction: x.instruction, input: x.input }));
      await this.store.write(file, jsonl(given));
      this.emit({ type: 'stage', stage: 'instructions', round, status: 'skipped', detail: `${given.length} instructions given` });
      return given;
    }
    const accepted = parseJsonl<InstructionRow>(await this.store.read(file));
    if (accepted.length >= c.instructions) {
      this.emit({ type: 'stage', stage: 'instructions', round, status: 'skipped', detail: `${accepted.length} instructions` });
      return accepted.slice(0, c.instructions);
    }
    this.emit({ type: 'stage', stage: 'instructions', round, status: 'start' });
    // The pool every candidate is compared with: the seeds, earlier rounds, and what is accepted so far.
    const pool = new DedupPool();
    for (const s of seeds) pool.add(s.instruction);
    for (let r = 1; r < round; r++) for (const x of parseJsonl<InstructionRow>(await this.store.read(`round${r}/instructions.jsonl`))) pool.add(x.instruction);
    for (const x of accepted) pool.add(x.instruction);
    const progress = (await this.readJson<{ batches: number }>(`${dir}/instructions.progress.json`)) ?? { batches: 0 };
    const meter = new Meter(this.emit, 'instructions', round, c.instructions, 'instructions', accepted.length);
    const adapter = previous && previous.method !== 'tag' ? await this.residentAdapter(previous.library) : null;
    let barren = 0;
    const rejectedCounts = new Map<string, number>();
    const uniqueSeeds = dedupeSeeds(seeds);
    if (uniqueSeeds.length === 0) throw new Error('No seed is left for generation (all were held out). Give more seed tasks or hold out fewer.');
    while (accepted.length < c.instructions) {
      this.checkAbort();
      const b = progress.batches;
      const rng = new Rng((c.seed * 1000003 + round * 7919 + b * 104729) >>> 0);
      const shown = Array.from({ length: this.deps.slots }, () => sampleSeeds(uniqueSeeds, c.seedsPerPrompt, () => rng.next()));
      // A prompt must leave room for the continuation: drop seeds from the end until it fits.
      const budget = this.deps.maxContext - c.instructionMaxTokens;
      const tok = this.deps.model.tokenizer;
      for (const s of shown) while (s.length > 1 && tok.encode(buildInstructionPrompt(c.instructionTemplate, s, c.domain), { bos: true }).length > budget) s.pop();
      const prompts = shown.map((s) => buildInstructionPrompt(c.instructionTemplate, s, c.domain));
      const tooLong = prompts.findIndex((p) => tok.encode(p, { bos: true }).length > budget);
      if (tooLong >= 0) {
        throw new Error(
          `The instruction prompt with a single seed takes ${tok.encode(prompts[tooLong], { bos: true }).length} tokens; the context (${this.deps.maxContext}) minus --instruction-tokens (${c.instructionMaxTokens}) leaves ${budget}. Use shorter seeds, fewer instruction tokens or a longer context.`,
        );
      }
      const res = await this.deps.model.generate({
        prompts,
        maxTokens: c.instructionMaxTokens,
        temperature: c.instructionTemperature,
        topP: c.instructionTopP,
        seed: (c.seed * 65537 + round * 257 + b) >>> 0,
        signal: this.signal,
        adapters: adapter ? prompts.map(() => adapter) : undefined,
      });
      this.checkAbort();
      let got = 0;
      const acceptedLines: InstructionRow[] = [];
      const rejectedLines: unknown[] = [];
      for (const [i, out] of res.outputs.entries()) {
        const parsed = extractInstructions(out.text, shown[i].length + 1, pool, { ...c.filter, truncated: out.finish === 'length' });
        for (const r of parsed.rejected) {
          rejectedCounts.set(r.code, (rejectedCounts.get(r.code) ?? 0) + 1);
          const reason = `${r.code}: ${r.detail}`;
          rejectedLines.push({ instruction: r.instruction, input: r.input, reason, ...(r.duplicateOf ? { duplicateOf: r.duplicateOf.text } : {}) });
          this.emit({ type: 'instruction', round, accepted: false, instruction: r.instruction, input: r.input, reason, ...(r.duplicateOf ? { duplicateOf: r.duplicateOf.text } : {}) });
        }
        for (const cand of parsed.accepted) {
          if (accepted.length >= c.instructions) break;
          const row = { index: accepted.length, instruction: cand.instruction, input: cand.input };
          accepted.push(row);
          acceptedLines.push(row);
          got++;
          this.emit({ type: 'instruction', round, accepted: true, index: row.index, instruction: row.instruction, input: row.input });
        }
      }
      if (rejectedLines.length) await this.store.append(`${dir}/rejected.jsonl`, jsonl(rejectedLines));
      if (acceptedLines.length) await this.store.append(file, jsonl(acceptedLines));
      progress.batches++;
      await this.store.write(`${dir}/instructions.progress.json`, JSON.stringify(progress));
      meter.tick(accepted.length);
      barren = got ? 0 : barren + 1;
      if (barren >= c.maxBarrenBatches) {
        const why = [...rejectedCounts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([r, n]) => `${r} ×${n}`).join(', ');
        const msg = `${c.maxBarrenBatches} prompt batches in a row gave no new instruction (rejections: ${why || 'nothing parsed'}).`;
        if (accepted.length === 0) throw new Error(`${msg} The model does not follow the instruction prompt; try a larger model, or other seeds.`);
        this.emit({ type: 'warning', stage: 'instructions', message: `${msg} Continuing with ${accepted.length} of ${c.instructions}.` });
        break;
      }
    }
    this.emit({ type: 'stage', stage: 'instructions', round, status: 'done', detail: `${accepted.length} accepted` });
    return accepted;
  }

  /** Makes the library's adapter resident in the engine; returns its name (null if it has none). */
  private async residentAdapter(lib: TagLibrary): Promise<string | null> {
    const ad = lib.adapters[0];
    if (!ad) return null;
    this.deps.model.setAdapter(ad.name, ad);
    return ad.name;
  }

  private responsePrompt(item: ResponseItem, passage: string | null): SlotPrompt {
    const c = this.cfg;
    const tok = this.deps.model.tokenizer;
    const render = (p: string | null) => fillResponseTemplate(c.responseTemplate, { domain: c.domain, instruction: item.instruction, input: item.input, passage: p });
    const budget = this.deps.maxContext - c.responseMaxTokens - 1;
    const text = passage === null ? render(null) : render(fitPassage(tok, (p) => render(p), passage, budget));
    const ids = tok.encode(text, { bos: tok.bosId !== null });
    if (ids.length > budget) throw new Error(`Instruction ${item.index}: its response prompt has ${ids.length} tokens, more than the ${budget} the context leaves.`);
    return { prompt: ids };
  }

  /**
   * Round ≥ 2 with retrieval (k ≥ 1): the round-1 response prompt for one passage, for the expert
   * (`on`: the specialised adapter and tags) or the amateur (the base). The response prompt has no tag
   * slot, so the tags go where the method's training template (alpaca.ts) puts them: the domain tag
   * right before the instruction (the span of domain data it was trained in front of), the function tag
   * (if any) at the end, right before the response. A method with tags renders both roles through the
   * tag template (piece by piece), so expert and amateur tokens differ only by the tags; a LoRA-only
   * method sends the expert and the amateur the very same ids.
   */
  private retrievalPrompt(item: ResponseItem, passage: string | null, previous: { library: TagLibrary; method: SpecMethod }, on: boolean): SlotPrompt {
    const adapter = on ? (previous.method !== 'tag' ? (previous.library.adapters[0]?.name ?? null) : null) : this.amateurAdapter(previous);
    const tags = tagsOf(previous.method, this.cfg.specialise);
    if (!tags.domainTag && !tags.functionTag) return { ...this.responsePrompt(item, passage), adapter };
    const c = this.cfg;
    const tok = this.deps.model.tokenizer;
    const lib = on ? previous.library : new TagLibrary();
    const names = [tags.domainTag, tags.functionTag].filter((x): x is string => !!x);
    const tagTokens = on ? names.reduce((a, n) => a + (previous.library.getTag(n)?.p ?? 0), 0) : 0;
    const budget = this.deps.maxContext - c.responseMaxTokens - 1;
    const mark = '\u0001';
    const render = (p: string | null) => {
      const text = fillResponseTemplate(c.responseTemplate, { domain: c.domain, instruction: mark, input: item.input, passage: p });
      const esc = text.replace(/[\\<{}]/g, (ch) => `\\${ch}`);
      const d = on && tags.domainTag ? `<${tags.domainTag}> ` : '';
      const f = on && tags.functionTag ? ` <${tags.functionTag}>` : '';
      const tpl = esc.includes(mark) ? esc.replace(mark, `${d}{instruction}`) : `${d}{instruction}\n${esc}`;
      return tpl + f;
    };
    const plain = (p: string | null) => fillResponseTemplate(c.responseTemplate, { domain: c.domain, instruction: item.instruction, input: item.input, passage: p });
    const fitted = passage === null ? null : fitPassage(tok, plain, passage, budget - tagTokens);
    const prompt = renderFor(this.deps.model, render(fitted), { instruction: item.instruction }, lib);
    const n = Array.isArray(prompt) ? prompt.length : prompt.ids.length;
    if (n > budget) throw new Error(`Instruction ${item.index}: its response prompt has ${n} tokens, more than the ${budget} the context leaves.`);
    return { prompt, adapter };
  }

  /**
   * The amateur's adapter in round ≥ 2: the model the specialisation started from — the base, or base +
   * the start adapter when the previous round's LoRA was trained from it.
   */
  private amateurAdapter(previous: { method: SpecMethod }): string | null {
    return this.init && previous.method !== 'tag' ? this.init.name : null;
  }

  /** Round ≥ 2 without retrieval (k = 0): the Alpaca prompt of the specialised model (expert) or of the base (amateur). */
  private alpacaPrompt(item: ResponseItem, lib: TagLibrary | null, method: SpecMethod | null): SlotPrompt {
    const tags: AlpacaTags = lib && method ? tagsOf(method, this.cfg.specialise) : {};
    const v = { instruction: item.instruction, input: item.input, output: '' };
    const tpl = alpacaTemplateFor(v, tags);
    const rd = renderFor(this.deps.model, tpl, v, lib ?? new TagLibrary());
    const adapter = lib && method && method !== 'tag' ? (lib.adapters[0]?.name ?? null) : null;
    return { prompt: rd, adapter };
  }

  private async responseStage(round: number, instructions: InstructionRow[], k: number, file: string, previous: { library: TagLibrary; method: SpecMethod } | null): Promise<ResponseRecord[]> {
    const c = this.cfg;
    const done = new Map(parseJsonl<ResponseRecord>(await this.store.read(file)).map((r) => [r.index, r]));
    const todo = instructions.filter((x) => !done.has(x.index));
    const label = previous ? `contrastive, specialised vs base, k = ${k}` : `k = ${k}`;
    if (todo.length === 0) {
      this.emit({ type: 'stage', stage: 'responses', round, status: 'skipped', detail: `${done.size} responses (${label})` });
      return instructions.map((x) => done.get(x.index)!);
    }
    this.emit({ type: 'stage', stage: 'responses', round, status: 'start', detail: label });
    if (k > 0 && !this.inputs.retriever) throw new Error(`k = ${k} needs a corpus (--corpus).`);
    const meter = new Meter(this.emit, 'responses', round, instructions.length, 'responses', done.size);
    if (previous) await this.residentAdapter(previous.library);
    await generateResponses(this.deps.model, instructions, {
      skip: (item) => done.has(item.index),
      round,
      k,
      retriever: this.inputs.retriever,
      retrievalTemperature: c.retrievalTemperature,
      slots: this.deps.slots,
      // Round ≥ 2: with retrieval, the round-1 passage prompts (expert with the specialised adapter/tags,
      // amateur on the base: 2k slots per item); without, the Alpaca prompt pair the model was trained on.
      promptOf: !previous ? (item, p) => this.responsePrompt(item, p) : k > 0 ? (item, p) => this.retrievalPrompt(item, p, previous, true) : (item) => this.alpacaPrompt(item, previous.library, previous.method),
      contrastive: !previous
        ? undefined
        : { amateurOf: k > 0 ? (item, p) => this.retrievalPrompt(item, p, previous, false) : (item) => ({ ...this.alpacaPrompt(item, null, null), adapter: this.amateurAdapter(previous) }), alpha: c.contrastiveAlpha },
      maxTokens: c.responseMaxTokens,
      temperature: c.responseTemperature,
      topP: c.responseTopP,
      seed: c.seed * 7 + round * 1000 + k,
      stopStrings: previous && k === 0 ? ALPACA_STOP : ['\nInstruction:', '\n\n\n'],
      signal: this.signal,
      onStart: (item, passages) => this.emit({ type: 'response-start', round, index: item.index, instruction: item.instruction, input: item.input, passages }),
      onToken: (item, id, text, posterior) => this.emit({ type: 'response-token', round, index: item.index, id, text, posterior }),
      onResponse: async (rec) => {
        await this.store.append(file, jsonl([rec]));
        done.set(rec.index, rec);
        this.emit({ type: 'response-done', round, record: rec });
        meter.tick(done.size);
      },
    });
    this.emit({ type: 'stage', stage: 'responses', round, status: 'done', detail: `${done.size} responses (${label})` });
    return instructions.map((x) => done.get(x.index)!);
  }

  private async loadLibrary(name: string): Promise<TagLibrary | null> {
    const json = await this.readJson<unknown>(name);
    if (json === null) return null;
    const res = importLibrary(json, { dModel: this.deps.model.config.dModel, fingerprint: '' }, { acceptFingerprintMismatch: true });
    if (res.status !== 'ok') throw new Error(`${name}: ${res.status === 'refused' ? res.error : res.warning}`);
    return new TagLibrary({ tags: res.tags, heads: res.heads, adapters: res.adapters });
  }

  private async specialiseStage(round: number, method: SpecMethod, responses: ResponseRecord[], dir: string): Promise<TagLibrary> {
    const c = this.cfg;
    const done = await this.loadLibrary(`${dir}/library.json`);
    if (done) {
      this.emit({ type: 'stage', stage: 'specialise', round, status: 'skipped', detail: `${dir}: library.json exists` });
      return done;
    }
    this.emit({ type: 'stage', stage: 'specialise', round, status: 'start', detail: dir });
    const ck = await this.readJson<unknown>(`${dir}/checkpoint.json`);
    const resume: TrainState | null = ck ? stateFromJson(ck) : null;
    const records = responses.map((r) => ({ instruction: r.instruction, input: r.input, output: r.output }));
    const library = new TagLibrary();
    let meter: Meter | null = null;
    const res = await this.deps.specialise(
      records,
      library,
      // The adapter's name is unique per run directory entry, so variants never shadow each other in the engine.
      { ...c.specialise, method, adapterName: `selfspec-${dir.replace(/\//g, '-')}`, seed: c.seed, init: method !== 'tag' ? this.init : null },
      {
        signal: this.signal,
        resume,
        checkpointEvery: 10,
        checkpoint: async (s) => this.store.write(`${dir}/checkpoint.json`, JSON.stringify(stateToJson(s))),
        onStep: async (s: StepLog & { epoch: number; totalSteps: number }) => {
          meter ??= new Meter(this.emit, 'specialise', round, s.totalSteps, 'steps', resume?.step ?? 0);
          await this.store.append(`${dir}/train-log.jsonl`, jsonl([{ step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, grad_norm: s.gradNorm, tokens_per_s: s.tokensPerSec, skipped: s.skipped }]));
          this.emit({ type: 'train-step', round, method, step: s.step, totalSteps: s.totalSteps, epoch: s.epoch, loss: s.loss, lr: s.lr, tokensPerSec: s.tokensPerSec });
          meter.tick(s.step);
        },
      },
    );
    if (res.dropped.tooLong || res.dropped.empty) {
      this.emit({ type: 'warning', stage: 'specialise', message: `${dir}: left out ${res.dropped.empty} empty responses and ${res.dropped.tooLong} examples longer than the context.` });
    }
    await this.store.write(`${dir}/library.json`, JSON.stringify(exportLibrary(library), null, 1));
    await this.store.remove(`${dir}/checkpoint.json`);
    this.emit({ type: 'train-done', round, method, steps: res.steps, finalLoss: res.finalLoss, library: `${dir}/library.json` });
    this.emit({ type: 'stage', stage: 'specialise', round, status: 'done', detail: `${dir}: ${res.steps} steps, ${res.epochs.toFixed(2)} epochs, final loss ${res.finalLoss.toFixed(4)}` });
    return library;
  }

  private async cells(): Promise<Map<string, CellLine>> {
    const rows = parseJsonl<CellLine>(await this.store.read('eval-cells.jsonl'));
    return new Map(rows.map((r) => [`${r.row}\u0000${r.column}`, r]));
  }

  private rows: Array<Omit<EvalRow, 'cells' | 'rougeL'>> = [];

  private async evaluateStage(round: number, trained: Array<{ method: SpecMethod; k: number; library: TagLibrary; name: string }>, heldOut: Seed[]): Promise<void> {
    const c = this.cfg;
    const variants: Array<{ row: Omit<EvalRow, 'cells' | 'rougeL'>; variant: Variant }> = [];
    if (round === 1) variants.push({ row: { label: 'base', round: 0, method: 'base', k: null }, variant: { library: new TagLibrary(), tags: {}, adapter: null } });
    // Starting from an adapter, the specialisation's own effect is the LoRA rows against this one.
    if (round === 1 && this.init) {
      variants.push({ row: { label: `start (${this.init.name})`, round: 0, method: 'base', k: null }, variant: { library: this.inputs.library!, tags: {}, adapter: this.init.name } });
    }
    for (const t of trained) {
      const name = { lora: 'LoRA', tag: 'tag', both: 'LoRA + tag' }[t.method];
      variants.push({
        row: { label: `${name} (round ${round}, k = ${t.k})`, round, method: t.method, k: t.k },
        variant: { library: t.library, tags: tagsOf(t.method, c.specialise), adapter: t.method === 'tag' ? null : (t.library.adapters[0]?.name ?? null) },
      });
    }
    for (const v of variants) if (!this.rows.some((r) => r.label === v.row.label)) this.rows.push(v.row);
    const pq = this.inputs.pubmedqa;
    const items = pq && c.eval.n > 0 ? pickItems(pq.test, c.eval.n, c.seed) : [];
    const demos = pq ? shuffled(pq.demos, new Rng(c.seed * 13 + 5)) : [];
    const jobs = variants.flatMap((v) => [
      ...(items.length ? c.eval.scorings.flatMap((s) => c.eval.shots.map((k) => ({ v, column: columnOf(k, s), shots: k, scoring: s as Scoring | null }))) : []),
      ...(heldOut.length && c.eval.rougeN > 0 ? [{ v, column: 'rougeL', shots: 0, scoring: null as Scoring | null }] : []),
    ]);
    const have = await this.cells();
    const todo = jobs.filter((j) => !have.has(`${j.v.row.label}\u0000${j.column}`));
    if (todo.length === 0) {
      this.emit({ type: 'stage', stage: 'evaluate', round, status: 'skipped', detail: `${jobs.length} cells` });
      await this.writeTable();
      return;
    }
    this.emit({ type: 'stage', stage: 'evaluate', round, status: 'start', detail: `${todo.length} of ${jobs.length} cells` });
    const meter = new Meter(this.emit, 'evaluate', round, jobs.length, 'cells', jobs.length - todo.length);
    let n = jobs.length - todo.length;
    const budget = this.deps.maxContext - c.eval.maxTokens - 1;
    for (const j of todo) {
      this.checkAbort();
      const runner = this.deps.runner(j.v.variant);
      let line: CellLine;
      try {
        if (j.scoring) {
          const result = await evaluateCell(runner, { items, demos, shots: j.shots, scoring: j.scoring, budget, maxTokens: 8, signal: this.signal });
          line = { row: j.v.row.label, column: j.column, result };
          this.emit({ type: 'eval-cell', row: j.v.row.label, column: j.column, value: { accuracy: result.accuracy, macroF1: result.macroF1, n: result.n } });
        } else {
          const r = await evaluateRouge(runner, heldOut.slice(0, c.eval.rougeN), (cand, ref) => rougeL(ref, cand).fmeasure, { budget, maxTokens: c.eval.maxTokens, signal: this.signal });
          line = { row: j.v.row.label, column: j.column, rouge: { rougeL: r.rougeL, n: r.n } };
          if (r.n === 0) this.emit({ type: 'warning', stage: 'evaluate', message: `${j.v.row.label}: no held-out seed fits the context; ROUGE-L is left empty.` });
          else this.emit({ type: 'eval-cell', row: j.v.row.label, column: j.column, value: { rougeL: r.rougeL, n: r.n } });
        }
      } catch (e) {
        if ((e as Error).name === 'AbortError' || this.signal?.aborted) throw e;
        // One cell the engine cannot compute (e.g. generation with an adapter before the engine has it)
        // must not lose the others: it is reported and left empty, and a resume tries it again.
        this.emit({ type: 'warning', stage: 'evaluate', message: `${j.v.row.label}, ${j.column}: ${(e as Error).message}` });
        n++;
        meter.tick(n);
        continue;
      }
      await this.store.append('eval-cells.jsonl', jsonl([line]));
      n++;
      meter.tick(n);
      await this.writeTable();
    }
    this.emit({ type: 'stage', stage: 'evaluate', round, status: 'done' });
  }

  private async writeTable() {
    const have = await this.cells();
    const rows: EvalRow[] = this.rows.map((r) => {
      const cells: Record<string, CellResult> = {};
      let rouge: { rougeL: number; n: number } | undefined;
      for (const x of have.values()) {
        if (x.row !== r.label) continue;
        if (x.result) cells[x.column] = x.result;
        if (x.rouge) rouge = x.rouge;
      }
      return { ...r, cells, ...(rouge ? { rougeL: rouge } : {}) };
    });
    const n = Math.min(this.cfg.eval.n, this.inputs.pubmedqa?.test.length ?? 0);
    const table = makeTable(rows, this.cfg.eval.shots, this.cfg.eval.scorings, n);
    await this.store.write('eval.json', JSON.stringify(table, null, 1));
    await this.store.write('eval.md', tableMarkdown(table));
    return table;
  }
}

export function validateConfig(c: PipelineConfig, inputs: PipelineInputs): void {
  const bad = (m: string) => {
    throw new Error(m);
  };
  if (inputs.seeds.length === 0) bad('There are no seeds: give a seed file with at least one instruction and output.');
  if (!(Number.isInteger(c.instructions) && c.instructions >= 1)) bad(`--instructions must be a whole number ≥ 1 (got ${c.instructions}).`);
  for (const k of [c.k, ...c.ablationK]) {
    if (!(Number.isInteger(k) && k >= 0)) bad(`k must be a whole number ≥ 0 (got ${k}).`);
    if (k > 0 && !inputs.retriever) bad(`k = ${k} passages need a corpus: give --corpus, or use --k 0.`);
    if (k > 0 && inputs.retriever && k > inputs.retriever.size) bad(`k = ${k} passages were asked for, but the corpus has only ${inputs.retriever.size}. Use --k ${inputs.retriever.size} or fewer.`);
  }
  if (c.methods.length === 0) bad('Give at least one method (lora, tag or both).');
  if (c.initAdapter && !c.methods.some((m) => m !== 'tag')) bad(`A start adapter ("${c.initAdapter}") starts LoRA training, but the tag method trains no LoRA: use --method lora or both, or start without it.`);
  if (!(Number.isInteger(c.rounds) && c.rounds >= 1)) bad(`--rounds must be 1 or more (got ${c.rounds}).`);
  if (!(c.specialise.epochs > 0)) bad(`--epochs must be > 0 (got ${c.specialise.epochs}).`);
  if (c.eval.shots.some((s) => !(Number.isInteger(s) && s >= 0))) bad('Shots must be whole numbers ≥ 0.');
  if (inputs.pubmedqa && c.eval.shots.some((s) => s > inputs.pubmedqa!.demos.length)) bad(`${Math.max(...c.eval.shots)}-shot needs that many demonstrations; PubMedQA has ${inputs.pubmedqa.demos.length} outside the test set.`);
}

/** A prompt cut before {output}: token ids, or a TaggedPrompt when the template has tags. */
function renderFor(model: LoadedModel, template: string, v: Record<string, string>, lib: TagLibrary) {
  const { prompt } = renderPrompt(template, v, lib, model.tokenizer, { omitFields: ['output'] });
  return prompt.inject.some((x) => x >= 0) ? prompt : prompt.ids;
}

function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function dedupeSeeds(seeds: Seed[]): Seed[] {
  const seen = new Set<string>();
  return seeds.filter((s) => {
    const key = `${s.instruction}\u0000${s.input}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The evaluated test questions: a seeded choice of n, the same for every row. */
function pickItems(test: PubmedqaItem[], n: number, seed: number): PubmedqaItem[] {
  return shuffled(test, new Rng(seed * 17 + 3)).slice(0, Math.min(n, test.length));
}

