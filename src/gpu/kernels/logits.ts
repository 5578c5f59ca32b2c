import code from './logits.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { grid, type Binding, type Recorder } from '../recorder';

const WG = 256;

export interface ArgmaxArgs {
  /** f32 [B, V] */
  logits: Binding;
  /** u32 [B]: index of the largest logit of each row (lowest index on ties; NaNs ignored). */
  out: Binding;
  B: number;
  V: number;
}

/** Greedy token choice on the GPU, so decoding reads back B ids instead of B·V logits. */
export class Argmax {
  private constructor(private readonly k: Kernel) {}

  static async create(kc: KernelCache): Promise<Argmax> {
    const k = await kc.get({ label: 'argmax', entry: 'argmax', code, params: ['u32', 'u32'], bindings: ['read', 'rw'], constants: { WG } });
    return new Argmax(k);
  }

  forward(rec: Recorder, a: ArgmaxArgs): void {
    rec.dispatch(this.k, [a.logits, a.out], [a.B, a.V], grid(a.B));
  }
}
