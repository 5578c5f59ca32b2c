/**
 * LoRA adapters resident on the GPU for inference, several at once. Per adapted matrix of every layer
 * the adapters are packed side by side — A stacked row-wise (f32 [Σr, in]) so the down projection is
 * one ordinary f32 matmul for all of them, B column-wise (f32 [out, Σr]) for the per-token up
 * projection (lora.wgsl) — so a batch mixing adapters costs two dispatches per adapted matrix.
 * Changing the set repacks everything: adapters change rarely, decode steps often.
 */
import { NO_ADAPTER } from '../gpu/kernels/lora';
import type { GpuMemory } from '../gpu/memory';
import type { AdapterWeights } from './api';
import { GgmlType, type GpuTensor, type ModelConfig } from './types';

export { NO_ADAPTER };

export const LORA_PROJS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraProj = (typeof LORA_PROJS)[number];

export interface PackedProj {
  /** f32 [R, in]: every adapter's A, adapter a in rows off_a … off_a + r_a − 1 */
  a: GpuTensor;
  /** f32 [out, R] */
  b: GPUBuffer;
  R: number;
  out: number;
}

/** [out, in] of a projection. */
export function projShape(cfg: ModelConfig, p: LoraProj): [number, number] {
  const qd = cfg.nHeads * cfg.headDim;
  const kvd = cfg.nKvHeads * cfg.headDim;
  const d = cfg.dModel;
  switch (p) {
    case 'q':
      return [qd, d];
    case 'k':
    case 'v':
      return [kvd, d];
    case 'o':
      return [d, qd];
    case 'gate':
    case 'up':
      return [cfg.dFF, d];
    case 'down':
      return [d, cfg.dFF];
  }
}

/** Throws a message naming what does not fit when `w` cannot adapt a model of `cfg`. */
export function checkAdapter(name: string, w: AdapterWeights, cfg: ModelConfig): void {
  const bad = (what: string) => new Error(`Adapter "${name}": ${what}`);
  if (!Number.isInteger(w.rank) || w.rank <= 0) throw bad(`rank must be a positive integer, got ${w.rank}.`);
  if (!Number.isFinite(w.alpha)) throw bad(`alpha must be a number, got ${w.alpha}.`);
  if (!w.targets.length) throw bad('it adapts no matrix (targets is empty).');
  for (const t of w.targets) if (!(LORA_PROJS as readonly string[]).includes(t)) throw bad(`unknown target "${t}" (expected some of ${LORA_PROJS.join(', ')}).`);
  if (w.layers.length !== cfg.nLayers) throw bad(`it has ${w.layers.length} layers but the model has ${cfg.nLayers}: it was trained for another model.`);
  w.layers.forEach((L, l) => {
    for (const t of w.targets) {
      const pair = L[t];
      if (!pair) throw bad(`layer ${l} lacks target "${t}".`);
      const [out, inp] = projShape(cfg, t as LoraProj);
      if (pair.A.length !== w.rank * inp || pair.B.length !== out * w.rank) {
        throw bad(`layer ${l} "${t}" holds A ${pair.A.length} and B ${pair.B.length} values; this model needs A [${w.rank}, ${inp}] and B [${out}, ${w.rank}]: it was trained for another model.`);
      }
    }
  });
}

export class ResidentAdapters {
  /** Adapter per slot (null = free). A token's adapter index is its slot. */
  private readonly slots: Array<AdapterWeights | null> = [];
  /** Per layer, per adapted matrix (absent when no resident adapter adapts it). */
  packed: Array<Partial<Record<LoraProj, PackedProj>>> = [];
  /** Per matrix kind: u32 [slots, 4] (column offset, rank or 0, scale bits, unused). */
  tables: Partial<Record<LoraProj, GPUBuffer>> = {};
  /** f32 [maxTokens, max R]: the down projections of one matrix. */
  u: GPUBuffer | null = null;

  constructor(
    private readonly mem: GpuMemory,
    private readonly cfg: ModelConfig,
    private readonly maxTokens: number,
    /** Called before buffers are destroyed (cached bind groups must go). */
    private readonly beforeFree: () => void,
  ) {}

  get size(): number {
    return this.slots.length;
  }

  has(slot: number): boolean {
    return this.slots[slot] != null;
  }

  /** Puts `w` in `slot` (null frees it) and repacks. */
  set(slot: number, w: AdapterWeights | null): void {
    if (w) checkAdapter(`#${slot}`, w, this.cfg);
    const before = [...this.slots];
    while (this.slots.length <= slot) this.slots.push(null);
    this.slots[slot] = w;
    while (this.slots.length && this.slots[this.slots.length - 1] === null) this.slots.pop();
    try {
      this.repack();
    } catch (e) {
      // Out of GPU memory while packing: go back to the adapters that fitted before.
      this.slots.splice(0, this.slots.length, ...before);
      this.repack();
      throw e;
    }
  }

  /** A free slot index. */
  freeSlot(): number {
    const i = this.slots.indexOf(null);
    return i < 0 ? this.slots.length : i;
  }

  dispose(): void {
    this.free();
  }

  private free(): void {
    this.beforeFree();
    for (const L of this.packed) for (const p of Object.values(L)) {
      this.mem.destroy(p.a.buffer);
      this.mem.destroy(p.b);
    }
    for (const t of Object.values(this.tables)) this.mem.destroy(t);
    if (this.u) this.mem.destroy(this.u);
    this.packed = [];
    this.tables = {};
    this.u = null;
  }

  private repack(): void {
    this.free();
    const { cfg, mem } = this;
    let maxR = 0;
    for (const p of LORA_PROJS) {
      const users = this.slots.map((w) => (w && w.targets.includes(p) ? w : null));
      if (!users.some((w) => w)) continue;
      const table = new Uint32Array(Math.max(1, this.slots.length) * 4);
      const tf = new Float32Array(table.buffer);
      let R = 0;
      users.forEach((w, i) => {
        if (!w) return;
        table[4 * i] = R;
        table[4 * i + 1] = w.rank;
        tf[4 * i + 2] = w.alpha / w.rank;
        R += w.rank;
      });
      maxR = Math.max(maxR, R);
      this.tables[p] = mem.upload(`lora-table.${p}`, table, 'weights');
      const [out, inp] = projShape(cfg, p);
      for (let l = 0; l < cfg.nLayers; l++) {
        const A = new Float32Array(R * inp);
        const B = new Float32Array(out * R);
        users.forEach((w, i) => {
          if (!w) return;
          const off = table[4 * i];
          const pair = w.layers[l][p];
          A.set(pair.A, off * inp);
          for (let n = 0; n < out; n++) for (let j = 0; j < w.rank; j++) B[n * R + off + j] = pair.B[n * w.rank + j];
        });
        (this.packed[l] ??= {})[p] = {
          a: { name: `lora.${l}.${p}.A`, type: GgmlType.F32, shape: [R, inp], buffer: mem.upload(`lora.${l}.${p}.A`, A, 'weights') },
          b: mem.upload(`lora.${l}.${p}.B`, B, 'weights'),
          R,
          out,
        };
      }
    }
    for (let l = 0; l < cfg.nLayers; l++) this.packed[l] ??= {};
    if (maxR > 0) this.u = mem.create('lora-u', this.maxTokens * maxR * 4, 'scratch');
  }
}
