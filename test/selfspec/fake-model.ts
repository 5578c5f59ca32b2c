/**
 * A scripted LoadedModel for the self-specialization tests: each prompt's continuation comes from
 * `reply(promptText, slot)`, one character per token (the fake tokenizer is one char per id). It
 * honours the engine contract's mixture (members of a group share member 0's continuation; member
 * j's posterior share is its normalised weight), contrastive pairs (the amateur gets the expert's
 * continuation; over mixtures, the amateur group follows the expert group's first member), stop strings, maxTokens, adapters (recorded) and cancellation. Like the engine, a
 * mixture member's streamed token carries its share.
 */
import type { AdapterWeights, GenerateRequest, GenerateResult, LoadedModel, MemoryReport, OnToken, TaggedPrompt } from '../../src/model/api';
import { FAKE_CONFIG, fakeTokenizer } from '../worker/fake-engine';

export type Reply = (prompt: string, slot: number, req: GenerateRequest) => string;

export class ScriptModel implements LoadedModel {
  readonly config = FAKE_CONFIG;
  readonly tokenizer = fakeTokenizer;
  readonly name = 'script';
  readonly shape = { slots: 4, maxContext: FAKE_CONFIG.maxSeqLen, maxTokens: 256 };
  readonly requests: GenerateRequest[] = [];
  readonly resident = new Map<string, AdapterWeights>();
  /** Called before each generate() returns (tests abort from here). */
  afterGenerate?: (req: GenerateRequest) => void;

  constructor(private readonly reply: Reply) {}

  setAdapter(name: string, w: AdapterWeights): void {
    this.resident.set(name, w);
  }
  removeAdapter(name: string): void {
    this.resident.delete(name);
  }
  adapterNames(): string[] {
    return [...this.resident.keys()];
  }
  memory(): MemoryReport {
    return { weights: 0, kv: 0, scratch: 0, train: 0, total: 0 };
  }

  static textOf(p: string | number[] | TaggedPrompt): string {
    if (typeof p === 'string') return p;
    const ids = Array.isArray(p) ? p : p.ids.filter((_, i) => p.inject[i] < 0);
    return fakeTokenizer.decode(ids.filter((i) => i !== fakeTokenizer.bosId));
  }

  async generate(req: GenerateRequest, onToken?: OnToken): Promise<GenerateResult> {
    this.requests.push({ ...req, signal: undefined });
    for (const a of req.adapters ?? []) if (a && !this.resident.has(a)) throw new Error(`adapter ${a} is not resident`);
    await Promise.resolve();
    const n = req.prompts.length;
    const max = req.maxTokens ?? 16;
    // Who leads each slot: a mixture group's first member, a contrastive pair's expert.
    const lead = Array.from({ length: n }, (_, i) => i);
    if (req.mixture) for (let i = 0; i < n; i++) lead[i] = req.mixture.group.indexOf(req.mixture.group[i]);
    if (req.contrastive && req.mixture) {
      // Contrastive over mixtures: expert/amateur are group ids; the amateur group follows the expert's lead.
      const g = req.mixture.group;
      req.contrastive.amateur.forEach((a, j) => {
        const e = g.indexOf(req.contrastive!.expert[j]);
        for (let i = 0; i < n; i++) if (g[i] === a) lead[i] = e;
      });
    } else if (req.contrastive) req.contrastive.amateur.forEach((a, j) => (lead[a] = req.contrastive!.expert[j]));
    const texts = req.prompts.map((p, i) => {
      let t = this.reply(ScriptModel.textOf(p), i, req);
      for (const s of req.stopStrings ?? []) {
        const at = t.indexOf(s);
        if (at >= 0) t = t.slice(0, at);
      }
      return t;
    });
    const outputs = Array.from({ length: n }, (_, i) => {
      const full = [...texts[lead[i]]];
      const chars = full.slice(0, max);
      const ids = chars.map((c) => c.charCodeAt(0) % 512);
      const out: GenerateResult['outputs'][number] = { ids, text: chars.join(''), finish: full.length > max ? 'length' : 'stop' };
      if (req.mixture) {
        const g = req.mixture.group[i];
        const total = req.mixture.weights.reduce((s, w, j) => s + (req.mixture!.group[j] === g ? w : 0), 0);
        out.posterior = ids.map(() => req.mixture!.weights[i] / total);
      }
      return out;
    });
    const T = Math.max(0, ...outputs.map((o) => o.ids.length));
    for (let t = 0; t < T; t++) for (let s = 0; s < n; s++) if (t < outputs[s].ids.length) onToken?.({ seq: s, id: outputs[s].ids[t], text: outputs[s].text[t], ...(outputs[s].posterior ? { posterior: outputs[s].posterior![t] } : {}) });
    this.afterGenerate?.(req);
    if (req.signal?.aborted) for (const o of outputs) o.finish = 'cancelled';
    return { outputs, timings: { prefillTokens: 0, prefillMs: 0, decodeTokens: T, decodeMs: 1 } };
  }

  async hiddenAt(): Promise<Float32Array> {
    throw new Error('not used');
  }
  async attentionMap(): Promise<{ T: number; layers: Float32Array[] }> {
    throw new Error('not used');
  }
  dispose(): void {}
}
