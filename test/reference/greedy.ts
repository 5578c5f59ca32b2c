/** Greedy decoding on the float64 reference forward, with a library LoRA adapter applied: what the PEFT tests compare engines against. */
import type { LoraAdapter } from '../../src/tags/head';
import { refForward, type RefInput, type RefModel } from './forward';

/** A library adapter as the reference forward takes it (scale α/r per matrix). */
export function refLora(a: LoraAdapter): RefInput['lora'] {
  return a.layers.map((layer) => Object.fromEntries(a.targets.map((t) => [t, { A: layer[t]!.A, B: layer[t]!.B, rank: a.rank, scale: a.alpha / a.rank }])));
}

/** n greedy tokens after `ids`, and the logits of the last forward (f64 [T, V]). */
export function refGreedy(m: RefModel, ids: number[], n: number, lora: RefInput['lora']): { ids: number[]; logits: Float64Array<ArrayBufferLike> } {
  const seq = [...ids];
  let logits: Float64Array<ArrayBufferLike> = new Float64Array(0);
  for (let i = 0; i < n; i++) {
    logits = refForward(m, { ids: seq, lora }).logits;
    const V = m.cfg.vocabSize;
    const last = logits.subarray((seq.length - 1) * V, seq.length * V);
    seq.push(last.indexOf(Math.max(...last)));
  }
  return { ids: seq.slice(ids.length), logits };
}
