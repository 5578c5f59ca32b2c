import type { GenerateRequest, GenerateResult, OnToken, TaggedPrompt } from './api';
import { createDetokenizer } from './tokenizer';
import type { Tokenizer } from './tokenizer-api';
import { Rng, sampleToken, type SampleOptions } from './sampling';
import type { Transformer } from './transformer';

/**
 * Batched generation: all prompts are prefilled in one forward (one KV-cache slot each), then decoded
 * in lockstep, one token per live sequence per step, until each stops or hits maxTokens.
 */
export async function generate(tr: Transformer, tok: Tokenizer, req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult> {
  const { slots, maxContext } = tr.opts;
  const B = req.prompts.length;
  if (B === 0) return { outputs: [], timings: { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0 } };
  if (B > slots) throw new Error(`${B} prompts but the model was loaded with ${slots} sequence slots; load it with more slots or send fewer prompts.`);
  const tagged = req.prompts.map((p) => (typeof p === 'string' ? null : Array.isArray(p) ? null : p));
  const prompts = req.prompts.map((p) => (typeof p === 'string' ? tok.encode(p, { bos: tok.bosId !== null }) : Array.isArray(p) ? [...p] : [...p.ids]));
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new Error(`Prompt ${i} is empty: give at least one token (a BOS token counts).`);
    if (p.length >= maxContext) throw new Error(`Prompt ${i} has ${p.length} tokens; the context holds ${maxContext}. Shorten it.`);
  }
  const maxTokens = req.maxTokens ?? 128;
  const sampling: SampleOptions = { temperature: req.temperature ?? 0, topK: req.topK ?? 0, topP: req.topP ?? 1 };
  const greedy = !(sampling.temperature > 0);
  // One stream per sequence so a sequence's sample does not depend on how many others are in the batch.
  const rngs = prompts.map((_, i) => new Rng((req.seed ?? 0) * 1000003 + i));
  const stopIds = new Set(req.stopTokens ?? (tok.eosId !== null ? [tok.eosId] : []));
  const stopStrings = req.stopStrings ?? [];

  const outs = prompts.map(() => ({ ids: [] as number[], text: '', finish: 'length' as 'stop' | 'length' | 'cancelled', done: false }));
  // Tag positions hold placeholder ids: leave them out of the text context the detokenizer sees.
  const detoks = prompts.map((p, s) => createDetokenizer(tok, { prefixIds: p.filter((_, j) => !tagged[s] || tagged[s]!.inject[j] < 0), skipSpecial: true }));
  const lens = prompts.map((p) => p.length);

  const pick = async (R: number): Promise<number[]> => {
    if (greedy) return Array.from(await tr.argmax(R));
    const logits = await tr.logits(R);
    const V = tr.cfg.vocabSize;
    return Array.from({ length: R }, (_, r) => sampleToken(logits.subarray(r * V, (r + 1) * V), sampling, rngs[live[r]]));
  };

  // Prefill.
  const t0 = performance.now();
  const T = lens.reduce((a, b) => a + b, 0);
  const ids = new Uint32Array(T);
  const slot = new Uint32Array(T);
  const pos = new Uint32Array(T);
  const rows = new Uint32Array(B);
  let t = 0;
  prompts.forEach((p, s) => {
    p.forEach((id, j) => {
      ids[t] = id;
      slot[t] = s;
      pos[t] = j;
      t++;
    });
    rows[s] = t - 1;
  });
  let live = prompts.map((_, i) => i);
  const inj = packTagged(prompts, tagged, tr.cfg.dModel);
  const injBuf = inj ? tr.uploadInjected(inj.rows) : undefined;
  try {
    tr.run({ ids, slot, pos, logitRows: rows, inject: inj?.inject, start: inj?.start, injected: injBuf });
  } finally {
    if (injBuf) tr.releaseInjected(injBuf);
  }
  let next = await pick(B);
  const prefillMs = performance.now() - t0;

  const t1 = performance.now();
  let decodeTokens = 0;
  for (let step = 0; step < maxTokens; step++) {
    if (req.signal?.aborted) {
      for (const s of live) outs[s].finish = 'cancelled';
      break;
    }
    const still: number[] = [];
    live.forEach((s, r) => {
      const id = next[r];
      const o = outs[s];
      if (stopIds.has(id)) {
        o.finish = 'stop';
        return;
      }
      o.ids.push(id);
      const piece = detoks[s].push(id);
      o.text += piece;
      onToken?.({ seq: s, id, text: piece });
      const hit = stopStrings.find((ss) => ss && o.text.includes(ss));
      if (hit) {
        o.text = o.text.slice(0, o.text.indexOf(hit));
        o.finish = 'stop';
        return;
      }
      if (o.ids.length >= maxTokens || lens[s] + o.ids.length >= maxContext) return;
      still.push(s);
    });
    live = still;
    if (live.length === 0) break;
    const n = live.length;
    const dIds = new Uint32Array(n);
    const dSlot = new Uint32Array(n);
    const dPos = new Uint32Array(n);
    live.forEach((s, r) => {
      dIds[r] = outs[s].ids[outs[s].ids.length - 1];
      dSlot[r] = s;
      dPos[r] = lens[s] + outs[s].ids.length - 1;
    });
    tr.run({ ids: dIds, slot: dSlot, pos: dPos, logitRows: Uint32Array.from({ length: n }, (_, i) => i) });
    next = await pick(n);
    decodeTokens += n;
  }
  return {
    outputs: outs.map(({ ids, text, finish }) => ({ ids, text, finish })),
    timings: { prefillTokens: T, prefillMs, decodeTokens, decodeMs: performance.now() - t1 },
  };
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
