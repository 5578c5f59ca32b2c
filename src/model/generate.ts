import type { GenerateRequest, GenerateResult, OnToken, TaggedPrompt } from './api';
import { GroupKind, type PlanGroup } from '../gpu/kernels/mixture';
import { createDetokenizer } from './tokenizer';
import type { Tokenizer } from './tokenizer-api';
import { Rng } from './sampling';
import { NO_ADAPTER, type Transformer } from './transformer';

/**
 * A continuation decoded for one or more prompts at once: a plain prompt alone, a mixture group
 * (members share one continuation, next token from Σ w_j softmax(l_j/T)), or a contrastive pair
 * (member 0 expert, member 1 amateur).
 */
interface Stream {
  members: number[];
  kind: GroupKind;
  weights: number[];
  ids: number[];
  text: string;
  finish: 'stop' | 'length' | 'cancelled';
  posterior: number[][] | null;
  detok: ReturnType<typeof createDetokenizer>;
  rng: Rng;
  plan: PlanGroup;
}

/**
 * Batched generation: all prompts are prefilled in one forward (one KV-cache slot each), then decoded
 * in lockstep, one token per live stream per step, until each stops or hits maxTokens. Every step is
 * one submit: the forward, then the token choice on the GPU (mixture.wgsl), then a read of the ids.
 */
export async function generate(
  tr: Transformer,
  tok: Tokenizer,
  req: GenerateRequest,
  onToken?: OnToken,
  adapterSlot: (name: string) => number | undefined = () => undefined,
): Promise<GenerateResult> {
  const { slots, maxContext } = tr.opts;
  const B = req.prompts.length;
  if (B === 0) return { outputs: [], timings: { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0 } };
  if (B > slots) throw new Error(`${B} prompts but the model was loaded with ${slots} sequence slots; load it with more slots or send fewer prompts.`);
  const tagged = req.prompts.map((p) => (typeof p === 'string' ? null : Array.isArray(p) ? null : p));
  const prompts = req.prompts.map((p) => (typeof p === 'string' ? tok.encode(p, { bos: tok.bosId !== null }) : Array.isArray(p) ? [...p] : [...p.ids]));
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new Error(`Prompt ${i} is empty: give at least one token (a BOS token counts).`);
    if (p.length >= maxContext) throw new Error(`Prompt ${i} has ${p.length} tokens; the context holds ${maxContext}. Shorten it.`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= tr.cfg.vocabSize) throw new Error(`Prompt ${i} holds token id ${id}, outside the vocabulary of ${tr.cfg.vocabSize}.`);
  }
  const adapters = adapterSlots(req, B, adapterSlot);
  if (adapters.some((a) => a !== NO_ADAPTER)) await tr.prepareAdapters();
  const maxTokens = req.maxTokens ?? 128;
  const temperature = req.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0) throw new Error(`temperature must be ≥ 0 (0 = greedy), got ${temperature}.`);
  const topK = req.topK ?? 0;
  const topP = req.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`topK must be a whole number ≥ 0 (0 = off), got ${topK}.`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`topP must be in (0, 1] (1 = off), got ${topP}.`);
  const greedy = !(temperature > 0);
  const invT = greedy ? 1 : 1 / temperature;
  const stopIds = new Set(req.stopTokens ?? (tok.eosId !== null ? [tok.eosId] : []));
  const stopStrings = req.stopStrings ?? [];
  const lens = prompts.map((p) => p.length);

  const streams: Stream[] = streamsOf(req, B).map(({ members, kind, weights }) => {
    // One random stream per continuation, seeded by its first prompt's index, so a sequence's draws do
    // not depend on what else is in the batch, and a mixture of one equals plain decoding.
    const first = members[0];
    const prefix = prompts[first].filter((_, j) => !tagged[first] || tagged[first]!.inject[j] < 0);
    const alpha = req.contrastive?.alpha ?? 0.1;
    return {
      members,
      kind,
      weights,
      ids: [],
      text: '',
      finish: 'length',
      posterior: req.mixture ? members.map(() => []) : null,
      // Tag positions hold placeholder ids: leave them out of the text context the detokenizer sees.
      detok: createDetokenizer(tok, { prefixIds: prefix, skipSpecial: true }),
      rng: new Rng((req.seed ?? 0) * 1000003 + first),
      plan: {
        kind,
        greedy,
        members: members.map((_, j) => ({ row: 0, weight: weights[j], invT: kind === GroupKind.Contrastive ? 1 : invT })),
        topK,
        topP,
        u: 0,
        invT,
        logAlpha: Math.log(alpha),
      },
    };
  });
  if (req.contrastive) {
    const a = req.contrastive.alpha ?? 0.1;
    if (!(a > 0 && a <= 1)) throw new Error(`contrastive.alpha must be in (0, 1], got ${a}.`);
  }
  const needStats = !greedy || streams.some((s) => s.members.length > 1);

  // Rows of the step's logits: the members of each live stream, in order. Preallocated for every step.
  const dIds = new Uint32Array(slots);
  const dSlot = new Uint32Array(slots);
  const dPos = new Uint32Array(slots);
  const dAdapter = new Uint32Array(slots);
  const iota = Uint32Array.from({ length: slots }, (_, i) => i);
  const planGroups: PlanGroup[] = [];
  // The plan's member rows are set by the caller for the forward just recorded.
  const choose = async (live: Stream[]) => {
    planGroups.length = 0;
    for (const s of live) {
      s.plan.u = greedy ? 0 : s.rng.next();
      planGroups.push(s.plan);
    }
    return tr.choose(planGroups, needStats);
  };

  // Prefill: every prompt's last position is a logit row, row = prompt index.
  const t0 = performance.now();
  const T = lens.reduce((a, b) => a + b, 0);
  const ids = new Uint32Array(T);
  const slot = new Uint32Array(T);
  const pos = new Uint32Array(T);
  const adapter = new Uint32Array(T);
  const rows = new Uint32Array(B);
  let t = 0;
  prompts.forEach((p, s) => {
    p.forEach((id, j) => {
      ids[t] = id;
      slot[t] = s;
      pos[t] = j;
      adapter[t] = adapters[s];
      t++;
    });
    rows[s] = t - 1;
  });
  const inj = packTagged(prompts, tagged, tr.cfg.dModel);
  const injBuf = inj ? tr.uploadInjected(inj.rows) : undefined;
  let live = streams;
  let picked: { ids: Uint32Array; p: Float32Array };
  try {
    tr.record({ ids, slot, pos, adapter, logitRows: rows, inject: inj?.inject, start: inj?.start, injected: injBuf });
    for (const s of live) s.members.forEach((m, j) => (s.plan.members[j].row = m));
    picked = await choose(live);
  } finally {
    if (injBuf) tr.releaseInjected(injBuf);
  }
  const prefillMs = performance.now() - t0;

  const t1 = performance.now();
  let decodeTokens = 0;
  for (let step = 0; step < maxTokens; step++) {
    if (req.signal?.aborted) {
      for (const s of live) s.finish = 'cancelled';
      break;
    }
    const still: Stream[] = [];
    let e = 0;
    live.forEach((s, g) => {
      const id = picked.ids[g];
      const p0 = e;
      e += s.members.length;
      if (stopIds.has(id)) {
        s.finish = 'stop';
        return;
      }
      s.ids.push(id);
      if (s.posterior) {
        // A contrastive mixture's shares are within each half (expert group, amateur group).
        const h = s.kind === GroupKind.Contrastive ? s.members.length / 2 : s.members.length;
        for (let a = 0; a < s.members.length; a += h) {
          let z = 0;
          for (let j = a; j < a + h; j++) z += s.weights[j] * picked.p[p0 + j];
          for (let j = a; j < a + h; j++) s.posterior[j].push(z > 0 ? (s.weights[j] * picked.p[p0 + j]) / z : 1 / h);
        }
      }
      const piece = s.detok.push(id);
      s.text += piece;
      // The shares were read back with the ids, so streaming them costs nothing extra.
      s.members.forEach((m, j) => onToken?.(s.posterior ? { seq: m, id, text: piece, posterior: s.posterior[j][s.posterior[j].length - 1] } : { seq: m, id, text: piece }));
      const hit = stopStrings.find((ss) => ss && s.text.includes(ss));
      if (hit) {
        s.text = s.text.slice(0, s.text.indexOf(hit));
        s.finish = 'stop';
        return;
      }
      if (s.ids.length >= maxTokens || s.members.some((m) => lens[m] + s.ids.length >= maxContext)) return;
      still.push(s);
    });
    live = still;
    if (live.length === 0) break;
    let n = 0;
    for (const s of live) {
      for (const [j, m] of s.members.entries()) {
        dIds[n] = s.ids[s.ids.length - 1];
        dSlot[n] = m;
        dPos[n] = lens[m] + s.ids.length - 1;
        dAdapter[n] = adapters[m];
        s.plan.members[j].row = n;
        n++;
      }
    }
    tr.record({ ids: dIds.subarray(0, n), slot: dSlot.subarray(0, n), pos: dPos.subarray(0, n), adapter: dAdapter.subarray(0, n), logitRows: iota.subarray(0, n) });
    picked = await choose(live);
    decodeTokens += n;
  }
  const outputs: GenerateResult['outputs'] = new Array(B);
  for (const s of streams) {
    s.members.forEach((m, j) => {
      outputs[m] = { ids: [...s.ids], text: s.text, finish: s.finish, ...(s.posterior ? { posterior: s.posterior[j] } : {}) };
    });
  }
  return { outputs, timings: { prefillTokens: T, prefillMs, decodeTokens, decodeMs: performance.now() - t1 } };
}

/** Adapter slot per prompt (NO_ADAPTER for the base model), from the request's adapter names. */
function adapterSlots(req: GenerateRequest, B: number, slotOf: (name: string) => number | undefined): number[] {
  const names = req.adapters ?? [];
  if (names.length > B) throw new Error(`adapters has ${names.length} entries for ${B} prompts: give one per prompt (null = base model).`);
  return Array.from({ length: B }, (_, i) => {
    const name = names[i];
    if (name === null || name === undefined || name === '') return NO_ADAPTER;
    const s = slotOf(name);
    if (s === undefined) throw new Error(`Prompt ${i} asks for adapter "${name}", which is not loaded; call setAdapter first.`);
    return s;
  });
}

/** The continuations of a request: mixture groups, contrastive pairs, or one per prompt. */
function streamsOf(req: GenerateRequest, B: number): Array<{ members: number[]; kind: GroupKind; weights: number[] }> {
  if (req.mixture) {
    const { group, weights } = req.mixture;
    if (group.length !== B || weights.length !== B) throw new Error(`mixture needs one group and one weight per prompt (${B}); got ${group.length} groups and ${weights.length} weights.`);
    const byGroup = new Map<number, number[]>();
    group.forEach((g, i) => {
      if (!Number.isInteger(g)) throw new Error(`mixture.group[${i}] must be a whole number, got ${g}.`);
      if (!(weights[i] >= 0) || !Number.isFinite(weights[i])) throw new Error(`mixture.weights[${i}] must be a finite number ≥ 0, got ${weights[i]}.`);
      byGroup.set(g, [...(byGroup.get(g) ?? []), i]);
    });
    const groups = new Map(
      [...byGroup.entries()].map(([g, members]) => {
        const z = members.reduce((a, i) => a + weights[i], 0);
        if (!(z > 0)) throw new Error(`mixture group ${g}: its weights sum to 0; give at least one member a positive weight.`);
        return [g, { members, kind: GroupKind.Mixture as GroupKind, weights: members.map((i) => weights[i] / z) }];
      }),
    );
    if (!req.contrastive) return [...groups.values()];
    // Contrastive over mixtures: pairs of group ids; the expert group's members, then the amateur's.
    const { expert, amateur } = req.contrastive;
    if (expert.length !== amateur.length || expert.length === 0) throw new Error(`contrastive needs as many expert groups as amateur groups (≥ 1); got ${expert.length} and ${amateur.length}.`);
    const used = new Set<number>();
    const pairs = expert.map((e, i) => {
      const a = amateur[i];
      for (const x of [e, a]) {
        if (!groups.has(x)) throw new Error(`contrastive pair ${i} names mixture group ${x}, which no prompt is in (with mixture, expert and amateur are group ids).`);
        if (used.has(x)) throw new Error(`contrastive: mixture group ${x} appears in more than one role or pair.`);
        used.add(x);
      }
      const [ge, ga] = [groups.get(e)!, groups.get(a)!];
      if (ge.members.length !== ga.members.length) throw new Error(`contrastive pair ${i}: expert group ${e} has ${ge.members.length} prompts, amateur group ${a} has ${ga.members.length}; give both the same number.`);
      return { members: [...ge.members, ...ga.members], kind: GroupKind.Contrastive as GroupKind, weights: [...ge.weights, ...ga.weights] };
    });
    return [...pairs, ...[...groups.entries()].filter(([g]) => !used.has(g)).map(([, s]) => s)];
  }
  if (req.contrastive) {
    const { expert, amateur } = req.contrastive;
    if (expert.length !== amateur.length || expert.length === 0) throw new Error(`contrastive needs as many experts as amateurs (≥ 1); got ${expert.length} and ${amateur.length}.`);
    const used = new Set<number>();
    const out: Array<{ members: number[]; kind: GroupKind; weights: number[] }> = [];
    expert.forEach((e, i) => {
      const a = amateur[i];
      for (const x of [e, a]) {
        if (!Number.isInteger(x) || x < 0 || x >= B) throw new Error(`contrastive pair ${i} names prompt ${x}; there are ${B} prompts.`);
        if (used.has(x)) throw new Error(`contrastive: prompt ${x} appears in more than one role or pair.`);
        used.add(x);
      }
      out.push({ members: [e, a], kind: GroupKind.Contrastive, weights: [1, 0] });
    });
    for (let i = 0; i < B; i++) if (!used.has(i)) out.push({ members: [i], kind: GroupKind.Mixture, weights: [1] });
    return out;
  }
  return Array.from({ length: B }, (_, i) => ({ members: [i], kind: GroupKind.Mixture, weights: [1] }));
}

/**
 * Lays the prompts' injected rows end to end and maps each token of the packed prefill to its row
 * there (0xFFFFFFFF where the vocabulary embedding is used).
 */
function packTagged(prompts: number[][], tagged: Array<TaggedPrompt | null>, d: number): { inject: Uint32Array; start: Uint32Array; rows: Float32Array } | null {
  if (!tagged.some((x) => x)) return null;
  const T = prompts.reduce((a, p) => a + p.length, 0);
  const inject = new Uint32Array(T).fill(0xffffffff);
  const start = new Uint32Array(T);
  const rows = new Float32Array(tagged.reduce((a, x) => a + (x?.injected.length ?? 0), 0));
  let t = 0;
  let rowBase = 0;
  prompts.forEach((ids, s) => {
    const x = tagged[s];
    if (x) {
      if (x.injected.length % d !== 0) throw new Error(`Prompt ${s}: injected rows hold ${x.injected.length} values, not a multiple of d_model ${d}.`);
      for (let j = 0; j < ids.length; j++) {
        if (x.inject[j] >= 0) inject[t + j] = rowBase + x.inject[j];
        start[t + j] = x.start?.[j] ?? 0;
      }
      rows.set(x.injected, rowBase * d);
      rowBase += x.injected.length / d;
    }
    t += ids.length;
  });
  return { inject, start, rows };
}
