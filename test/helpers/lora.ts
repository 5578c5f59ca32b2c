/** LoRA fixtures for engine tests: random adapters and their reference-forward form. */
import type { AdapterWeights } from '../../src/model/api';
import { projShape, LORA_PROJS, type LoraProj } from '../../src/model/adapters';
import type { ModelConfig } from '../../src/model/types';
import type { RefInput } from '../reference/forward';
import { randn, rng } from './gpu';

/** A random adapter large enough to change the model's choices. */
export function randomAdapter(cfg: ModelConfig, seed: number, targets: readonly LoraProj[] = LORA_PROJS, rank = 8, alpha = 16, scale = 0.15): AdapterWeights {
  const r = rng(seed);
  return {
    rank,
    alpha,
    targets: [...targets],
    layers: Array.from({ length: cfg.nLayers }, () =>
      Object.fromEntries(
        targets.map((p) => {
          const [out, inp] = projShape(cfg, p);
          return [p, { A: Float32Array.from(randn(r, rank * inp, scale)), B: Float32Array.from(randn(r, out * rank, scale)) }];
        }),
      ),
    ),
  };
}

/** The reference forward's form of an adapter. */
export function refLora(w: AdapterWeights): RefInput['lora'] {
  return w.layers.map((L) => Object.fromEntries(w.targets.map((p) => [p, { A: L[p].A, B: L[p].B, rank: w.rank, scale: w.alpha / w.rank }])));
}

