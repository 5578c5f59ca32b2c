/**
 * VariantRunner on the engine: one model variant (base, + adapter, + tags, + both) scoring answers
 * and generating, for the evaluation. Answer likelihoods come from a forward-only pass of src/train's
 * graph (the same rendering and loss positions as training, LoRA applied from the library's
 * weights); generation goes through LoadedModel.generate with the adapter resident and the tags
 * injected.
 */
import type { TaggedPrompt } from '../model/api';
import type { Engine } from '../model/model';
import type { TagLibrary } from '../tags/library';
import { packInjected } from '../tags/inject';
import { renderExample } from '../tags/template';
import type { Proj } from '../train/graph';
import { Trainer, type Example } from '../train/trainer';
import { ALPACA_STOP, alpacaTemplateFor, type AlpacaTags } from './alpaca';
import type { PromptFields, VariantRunner } from './evaluate';

export interface Variant {
  library: TagLibrary;
  tags: AlpacaTags;
  /** Adapter of the library applied to every slot (null = none). */
  adapter: string | null;
}

export class EngineRunner implements VariantRunner {
  private uploaded = false;
  constructor(
    private readonly engine: Engine,
    private readonly v: Variant,
    private readonly o: { slots: number; batch: number },
  ) {}

  private render(p: PromptFields, output: string | null) {
    const tags = this.v.library.tagMap();
    return renderExample(alpacaTemplateFor(p, this.v.tags), { instruction: p.instruction, input: p.input, output: output ?? '' }, {
      tokenizer: this.engine.tokenizer,
      tags,
      omitFields: output === null ? ['output'] : undefined,
    });
  }

  promptTokens(p: PromptFields): number {
    return this.render(p, null).ids.length;
  }

  private usedTags() {
    return [this.v.tags.domainTag, this.v.tags.functionTag].filter((n): n is string => !!n).map((n) => {
      const t = this.v.library.getTag(n);
      if (!t) throw new Error(`The variant uses <${n}>, which is not in the library.`);
      return t;
    });
  }

  async score(prompts: PromptFields[], candidates: string[], signal?: AbortSignal): Promise<number[][]> {
    const packed = packInjected(this.usedTags());
    const d = this.engine.config.dModel;
    const examples: Example[] = [];
    const counts: number[] = [];
    for (const p of prompts) {
      for (const c of candidates) {
        const rd = this.render(p, c);
        const n = rd.ids.length;
        const inject = new Array<number>(n).fill(-1);
        for (const a of rd.tagAt) inject[a.pos] = packed.offsets.get(a.tag)! + a.row;
        const targets: Array<number | null> = new Array(n).fill(null);
        for (let t = 0; t + 1 < n; t++) if (rd.field[t + 1] === 'output') targets[t] = rd.ids[t + 1];
        counts.push(targets.filter((x) => x !== null).length);
        examples.push({ ids: rd.ids, inject, start: rd.start, targets, headPos: null });
      }
    }
    const ad = this.v.adapter ? this.v.library.adapters.find((a) => a.name === this.v.adapter) : null;
    if (this.v.adapter && !ad) throw new Error(`Adapter "${this.v.adapter}" is not in the library.`);
    const out: number[][] = [];
    // One graph per chunk of prompts keeps its size bounded by the longest prompt of the chunk.
    const chunk = Math.max(1, this.o.batch * 8) * candidates.length;
    for (let i = 0; i < examples.length; i += chunk) {
      if (signal?.aborted) throw Object.assign(new Error('Cancelled.'), { name: 'AbortError' });
      const ex = examples.slice(i, i + chunk);
      const trainer = await Trainer.create({
        engine: this.engine,
        train: [],
        heldOut: ex,
        hyper: { steps: 0, batch: this.o.batch },
        injected: packed.nRows ? packed.data : new Float32Array(d),
        trainable: [],
        lora: ad
          ? {
              rank: ad.rank,
              alpha: ad.alpha,
              dropout: 0,
              targets: ad.targets as Proj[],
              init: new Map(ad.layers.flatMap((layer, l) => Object.entries(layer).flatMap(([p, pair]) => [[`lora.${l}.${p}.A`, pair.A] as const, [`lora.${l}.${p}.B`, pair.B] as const]))),
            }
          : undefined,
      });
      try {
        const r = await trainer.evaluate(ex);
        r.exampleNll.forEach((nll, j) => {
          const q = Math.floor((i + j) / candidates.length);
          (out[q] ??= []).push(-nll * counts[i + j]);
        });
      } finally {
        trainer.dispose();
      }
    }
    return out;
  }

  async generate(prompts: PromptFields[], maxTokens: number, signal?: AbortSignal): Promise<string[]> {
    const tags = this.usedTags();
    if (this.v.adapter && !this.uploaded) {
      // Always (re)upload: an adapter of the same name from another run must not be reused.
      const ad = this.v.library.adapters.find((a) => a.name === this.v.adapter);
      if (!ad) throw new Error(`Adapter "${this.v.adapter}" is not in the library.`);
      this.engine.setAdapter(this.v.adapter, ad);
      this.uploaded = true;
    }
    const packed = packInjected(tags);
    const toPrompt = (p: PromptFields): TaggedPrompt | number[] => {
      const rd = this.render(p, null);
      if (!rd.tagAt.length) return rd.ids;
      const inject = new Array<number>(rd.ids.length).fill(-1);
      for (const a of rd.tagAt) inject[a.pos] = packed.offsets.get(a.tag)! + a.row;
      return { ids: rd.ids, inject, injected: packed.data, start: rd.start };
    };
    const out: string[] = [];
    for (let i = 0; i < prompts.length; i += this.o.slots) {
      const batch = prompts.slice(i, i + this.o.slots);
      const res = await this.engine.generate({
        prompts: batch.map(toPrompt),
        maxTokens,
        temperature: 0,
        stopStrings: ALPACA_STOP,
        signal,
        adapters: this.v.adapter ? batch.map(() => this.v.adapter) : undefined,
      });
      out.push(...res.outputs.map((o) => o.text.trim()));
    }
    return out;
  }
}
