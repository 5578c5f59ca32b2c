/**
 * Response generation with retrieval (METHODS.md §2.3). For each (instruction, input): the query is
 * instruction ⊕ input, BM25 returns the top-k passages, p_ret = softmax(score / temperature), and
 * the k prompts — one per passage — are decoded as ONE mixture group that shares a single response,
 * y_t ~ Σ_j p_ret(d_j|x) · p_lm(y_t | x, d_j, y_<t). Several instructions share a batch, up to the
 * model's slots. Every response keeps its passages, their weights and, per token, the posterior share
 * of each passage that the engine reports.
 *
 * Round 2 (iteration, §2.5) decodes contrastively: the specialised model (adapter / tags) as expert
 * against the base as amateur, each over the same k passage prompts. With k ≥ 2 the request holds two
 * mixture groups per item (expert group = the k prompts with the specialised adapter/tags, amateur
 * group = the same k prompts on the base, both weighted by p_ret) paired by `contrastive`, so an item
 * takes 2k slots; with k ≤ 1 it is a plain contrastive pair (2 slots).
 */
import type { GenerateRequest, LoadedModel, TaggedPrompt } from '../model/api';
import type { Tokenizer } from '../model/tokenizer-api';
import type { PassageRef } from './events';

/** The retrieval the responses need (BM25 over the corpus; ties already broken by corpus order). */
export interface Retriever {
  readonly size: number;
  search(query: string, k: number): Array<{ id: string; score: number; text: string }>;
}

/**
 * The response prompt (editable). {domain}, {instruction}, {input}, {passage} are filled in; without
 * retrieval (k = 0) every line that mentions {passage} is left out, and so is an "Input:" line whose
 * input is empty.
 */
export const RESPONSE_TEMPLATE = [
  'You are a {domain} expert. Given an instruction and an input, generate the best response to solve the given task about {domain}. Use the background document when it helps.',
  '',
  'Background document: {passage}',
  '',
  'Instruction: {instruction}',
  'Input: {input}',
  'Response:',
].join('\n');

export interface ResponseItem {
  index: number;
  instruction: string;
  input: string;
}

/** One generated response: the Alpaca fields plus where it came from. */
export interface ResponseRecord {
  index: number;
  instruction: string;
  input: string;
  output: string;
  round: number;
  decoding: 'plain' | 'mixture' | 'contrastive';
  k: number;
  /** Passages without their text (the corpus has it): id, BM25 score, p_ret. */
  passages: Array<{ id: string; score: number; weight: number }>;
  /** Per generated token, the posterior share of each passage (k ≥ 2 mixture only; rounded to 1e-4). */
  posterior?: number[][];
  tokens: number;
  finish: string;
}

/** A prompt and the adapter its slot decodes with (null = base). */
export interface SlotPrompt {
  prompt: string | number[] | TaggedPrompt;
  adapter?: string | null;
}

export interface ResponseOptions {
  round: number;
  k: number;
  retriever: Retriever | null;
  /** BM25 scores are divided by this before the softmax (default 1). */
  retrievalTemperature?: number;
  /** Slots the model decodes at once. */
  slots: number;
  /** Prompt of one (item, passage) pair; default: RESPONSE_TEMPLATE as text for the base model. */
  promptOf: (item: ResponseItem, passage: string | null) => SlotPrompt;
  /** Round 2: the amateur's prompt for the same pair; the promptOf slot is the expert. */
  contrastive?: { amateurOf: (item: ResponseItem, passage: string | null) => SlotPrompt; alpha?: number };
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stopStrings?: string[];
  signal?: AbortSignal;
  /**
   * Items already answered (resume). Batches are cut from the whole item list, not from what is left,
   * so a resumed run decodes the same batches with the same seeds as an uninterrupted one.
   */
  skip?: (item: ResponseItem) => boolean;
  onStart?: (item: ResponseItem, passages: PassageRef[]) => void;
  /**
   * One generated token of `item`. `posterior[j]` is passage j's share for this token (k ≥ 2 mixture
   * only, rounded like the record's), else null; the live shares equal the record's `posterior[t]`.
   */
  onToken?: (item: ResponseItem, id: number, text: string, posterior: number[] | null) => void;
  /** After each response (in batch order); awaited, so the caller can write it to disk first. */
  onResponse: (rec: ResponseRecord, item: ResponseItem) => void | Promise<void>;
}

/** p_ret = softmax(scores / temperature). */
export function retrievalWeights(scores: number[], temperature = 1): number[] {
  if (scores.length === 0) return [];
  if (!(temperature > 0)) throw new Error(`The retrieval temperature must be > 0 (got ${temperature}).`);
  const z = scores.map((s) => s / temperature);
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export function queryOf(item: { instruction: string; input: string }): string {
  return item.input ? `${item.instruction}\n${item.input}` : item.instruction;
}

/** Fills RESPONSE_TEMPLATE-style text. */
export function fillResponseTemplate(template: string, f: { domain: string; instruction: string; input: string; passage: string | null }): string {
  const lines = template.split('\n').filter((l) => !(f.passage === null && l.includes('{passage}')) && !(f.input.trim() === '' && /^\s*Input:\s*\{input\}\s*$/.test(l)));
  // Drop the blank line a removed paragraph leaves behind.
  const text = lines.join('\n').replace(/\n{3,}/g, '\n\n');
  return text.replace(/\{(domain|instruction|input|passage)\}/g, (_, k: 'domain' | 'instruction' | 'input' | 'passage') => f[k] ?? '');
}

/**
 * Cuts `passage` (at word boundaries) so that `render(passage)` has at most `budget` tokens: a
 * corpus passage must never push a prompt past the model's context.
 */
export function fitPassage(tok: Tokenizer, render: (p: string) => string, passage: string, budget: number): string {
  const count = (p: string) => tok.encode(render(p), { bos: true }).length;
  if (count(passage) <= budget) return passage;
  const words = passage.split(/\s+/);
  let lo = 0;
  let hi = words.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(words.slice(0, mid).join(' ') + ' …') <= budget) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0 && count('') > budget) throw new Error(`The response prompt alone has ${count('')} tokens, more than the ${budget} the context leaves; shorten the instruction or load the model with a longer context.`);
  return lo === 0 ? '' : words.slice(0, lo).join(' ') + ' …';
}

/** Passages of one item: top-k by BM25 and their weights. */
export function retrieve(retriever: Retriever | null, item: ResponseItem, k: number, temperature = 1): PassageRef[] {
  if (k === 0 || !retriever) return [];
  const hits = retriever.search(queryOf(item), k);
  const w = retrievalWeights(
    hits.map((h) => h.score),
    temperature,
  );
  return hits.map((h, j) => ({ id: h.id, score: h.score, weight: w[j], text: h.text }));
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Generates responses for `items`, packing as many mixture groups (or contrastive pairs) into each
 * batch as the slots allow. Items are processed in order; onResponse fires per item, after its whole
 * batch is decoded (a cancelled batch writes nothing and is redone on resume).
 */
export async function generateResponses(model: LoadedModel, items: ResponseItem[], o: ResponseOptions): Promise<void> {
  if (o.k < 0 || !Number.isInteger(o.k)) throw new Error(`k must be a whole number ≥ 0 (got ${o.k}).`);
  if (o.k > 0 && !o.retriever) throw new Error(`k = ${o.k} passages were asked for, but there is no corpus to retrieve from.`);
  if (o.retriever && o.k > o.retriever.size) {
    throw new Error(`k = ${o.k} passages were asked for, but the corpus has only ${o.retriever.size}. Use --k ${o.retriever.size} or fewer.`);
  }
  const contrastive = !!o.contrastive;
  const width = (contrastive ? 2 : 1) * Math.max(1, o.k);
  if (width > o.slots) {
    throw new Error(`Each response needs ${width} slots (k = ${o.k}${contrastive ? ', expert and amateur' : ''}) but the model was loaded with ${o.slots}; load it with more slots or lower k.`);
  }
  const perBatch = Math.floor(o.slots / width);
  for (let b0 = 0; b0 < items.length; b0 += perBatch) {
    if (o.signal?.aborted) throw abortError();
    const batch = items.slice(b0, b0 + perBatch).filter((x) => !o.skip?.(x));
    if (batch.length === 0) continue;
    const prompts: SlotPrompt[] = [];
    const group: number[] = [];
    const weights: number[] = [];
    const expert: number[] = [];
    const amateur: number[] = [];
    const passagesOf = batch.map((item) => retrieve(o.retriever, item, o.k, o.retrievalTemperature ?? 1));
    // An item with ≥ 2 passages is a mixture group (contrastive: a pair of them); groups of one (k ≤ 1, or
    // fewer hits than k) decode plainly. A request is in mixture form as soon as one item needs it.
    const mixed = passagesOf.some((p) => p.length >= 2);
    const first: number[] = []; // first slot of each item (the expert's first member when contrastive)
    for (const [g, item] of batch.entries()) {
      const passages = passagesOf[g];
      o.onStart?.(item, passages);
      first.push(prompts.length);
      const texts: Array<string | null> = passages.length ? passages.map((p) => p.text) : [null];
      const w = passages.length ? passages.map((p) => p.weight) : [1];
      if (contrastive && mixed) {
        // Group ids 2g (expert) and 2g + 1 (amateur): the engine's contrastive-over-mixtures form.
        for (const [j, t] of texts.entries()) {
          prompts.push(o.promptOf(item, t));
          group.push(2 * g);
          weights.push(w[j]);
        }
        for (const [j, t] of texts.entries()) {
          prompts.push(o.contrastive!.amateurOf(item, t));
          group.push(2 * g + 1);
          weights.push(w[j]);
        }
        expert.push(2 * g);
        amateur.push(2 * g + 1);
      } else if (contrastive) {
        expert.push(prompts.length);
        prompts.push(o.promptOf(item, texts[0]));
        amateur.push(prompts.length);
        prompts.push(o.contrastive!.amateurOf(item, texts[0]));
        group.push(g, g);
        weights.push(1, 1);
      } else {
        for (const [j, t] of texts.entries()) {
          prompts.push(o.promptOf(item, t));
          group.push(g);
          weights.push(w[j]);
        }
      }
    }
    const req: GenerateRequest = {
      prompts: prompts.map((p) => p.prompt),
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: o.seed * 100003 + b0,
      stopStrings: o.stopStrings,
      signal: o.signal,
    };
    if (prompts.some((p) => p.adapter)) req.adapters = prompts.map((p) => p.adapter ?? null);
    if (mixed) req.mixture = { group, weights };
    if (contrastive) req.contrastive = { expert, amateur, alpha: o.contrastive!.alpha ?? 0.1 };
    // The engine streams one event per member; a mixed item's token is reported once all k shares are in.
    // Contrastive: only the expert members (the first k) are listened to; their shares are within the expert group.
    const memberOf = new Map<number, { g: number; j: number }>();
    first.forEach((s, g) => {
      const n = passagesOf[g].length >= 2 ? passagesOf[g].length : 1;
      for (let j = 0; j < n; j++) memberOf.set(s + j, { g, j });
    });
    const shares = passagesOf.map((p) => new Array<number>(p.length).fill(0));
    const seen = passagesOf.map(() => 0);
    const res = await model.generate(req, (ev) => {
      const m = memberOf.get(ev.seq);
      if (!m) return;
      const k = passagesOf[m.g].length;
      if (k < 2) {
        o.onToken?.(batch[m.g], ev.id, ev.text, null);
        return;
      }
      shares[m.g][m.j] = round4(ev.posterior ?? Number.NaN);
      if (++seen[m.g] < k) return;
      seen[m.g] = 0;
      const live = shares[m.g].slice();
      o.onToken?.(batch[m.g], ev.id, ev.text, live.every(Number.isFinite) ? live : null);
    });
    if (o.signal?.aborted) throw abortError();
    for (const [g, item] of batch.entries()) {
      const out = res.outputs[first[g]];
      const passages = passagesOf[g];
      let posterior: number[][] | undefined;
      const itemMixed = passages.length >= 2;
      if (itemMixed) {
        const members = passages.map((_, j) => res.outputs[first[g] + j].posterior);
        if (members.every((m) => m && m.length === out.ids.length)) {
          posterior = out.ids.map((_, t) => members.map((m) => round4(m![t])));
        }
      }
      await o.onResponse(
        {
          index: item.index,
          instruction: item.instruction,
          input: item.input,
          output: out.text.trim(),
          round: o.round,
          decoding: contrastive ? 'contrastive' : itemMixed ? 'mixture' : 'plain',
          k: passages.length,
          passages: passages.map((p) => ({ id: p.id, score: p.score, weight: p.weight })),
          ...(posterior ? { posterior } : {}),
          tokens: out.ids.length,
          finish: out.finish,
        },
        item,
      );
    }
  }
}

export function abortError(): Error {
  const e = new Error('Cancelled.');
  e.name = 'AbortError';
  return e;
}
