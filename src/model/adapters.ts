/**
 * LoRA adapters resident on the GPU for inference, several at once. Per layer the adapted matrices
 * that share an input (a group: q|k|v, o, gate|up, down) are packed together — every adapter's A of
 * every adapted matrix of the group stacked row-wise (f32 [R, in]) so one down projection serves them
 * all, and each matrix's B with the adapters side by side (f32 [out, Σr]) for the up projection — so a
 * batch mixing adapters costs one down projection per adapted input plus one up projection per
 * adapted matrix (or none: the fused decode kernels add B·u themselves, matvec.wgsl).
 * Changing the set repacks everything: adapters change rarely, decode steps often.
 */
import { NO_ADAPTER } from '../gpu/kernels/lora';
import type { GpuMemory } from '../gpu/memory';
import type { AdapterWeights } from './api';
import { GgmlType, type GpuTensor, type ModelConfig } from './types';

export { NO_ADAPTER };

export const LORA_PROJS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraProj = (typeof LORA_PROJS)[number];

/** Matrices sharing one input, in the order the fused decode kernels stack their rows. */
export const LORA_GROUPS = { qkv: ['q', 'k', 'v'], o: ['o'], gu: ['gate', 'up'], down: ['down'] } as const satisfies Record<string, readonly LoraProj[]>;
export type LoraGroup = keyof typeof LORA_GROUPS;

/** One adapted matrix of a group. */
export interface PackedPart {
  proj: LoraProj;
  /** Columns of B = rows of A for this matrix: Σ of the ranks of the adapters adapting it. */
  R: number;
  /** First row of this matrix's A in the group's A (= its first column of u). */
  uOff: number;
  out: number;
  /** f32 [out, R]: B of every adapter side by side (adapter a in columns off_a … off_a + r_a − 1), inside `lb`. */
  b: { buffer: GPUBuffer; offset: number; size: number };
}

export interface PackedGroup {
  /** f32 [R, in]: A of every adapted matrix of the group, each with its adapters' rows. */
  a: GpuTensor;
  R: number;
  /**
   * Header (u32, 256 bytes: [0] R, per part i [1+3i] R_i or 0, [2+3i] uOff_i, [3+3i] B word offset),
   * then each part's B at a binding-aligned offset: what matvec.wgsl's LoRA variants read.
   */
  lb: GPUBuffer;
  /** Per matrix of LORA_GROUPS[group], null when no resident adapter adapts it. */
  parts: Array<PackedPart | null>;
}

/** Bytes of the B pack's header; also the alignment of each part (the largest minStorageBufferOffsetAlignment). */
const LB_ALIGN = 256;

/**
 * The layout of a group's B pack (PackedGroup.lb) for parts of R_i columns (0: not adapted) and `out_i`
 * rows: the header words and each part's word offset. Fill B_i [out_i, R_i] at its offset.
 */
export function loraBLayout(parts: ReadonlyArray<{ R: number; out: number }>): { words: number; header: Uint32Array; bOff: number[]; uOff: number[]; R: number } {
  if (parts.length > 3) throw new Error(`A LoRA group has at most 3 matrices, got ${parts.length}.`);
  const header = new Uint32Array(LB_ALIGN / 4);
  const bOff: number[] = [];
  const uOff: number[] = [];
  let words = LB_ALIGN / 4;
  let R = 0;
  parts.forEach((p, i) => {
    uOff.push(R);
    bOff.push(words);
    if (!p.R) return;
    header[1 + 3 * i] = p.R;
    header[2 + 3 * i] = R;
    header[3 + 3 * i] = words;
    R += p.R;
    words += Math.ceil((p.out * p.R * 4) / LB_ALIGN) * (LB_ALIGN / 4);
  });
  header[0] = R;
  return { words, header, bOff, uOff, R };
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
  /** Per layer, per group (absent when no resident adapter adapts a matrix of it). */
  packed: Array<Partial<Record<LoraGroup, PackedGroup>>> = [];
  /** Per matrix kind: u32 [slots, 4] (column offset within the matrix's R, rank or 0, scale bits, unused). */
  tables: Partial<Record<LoraProj, GPUBuffer>> = {};
  /** Per group: u32 [R, 2] (adapter slot, scale bits) of each row of the group's A (the same in every layer). */
  owners: Partial<Record<LoraGroup, GPUBuffer>> = {};
  /** f32 [maxTokens, max R]: the down projections of one group. */
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
    for (const L of this.packed) for (const g of Object.values(L)) {
      this.mem.destroy(g.a.buffer);
      this.mem.destroy(g.lb);
    }
    for (const t of [...Object.values(this.tables), ...Object.values(this.owners)]) this.mem.destroy(t);
    if (this.u) this.mem.destroy(this.u);
    this.packed = [];
    this.tables = {};
    this.owners = {};
    this.u = null;
  }

  private repack(): void {
    this.free();
    const { cfg, mem } = this;
    let maxR = 0;
    // Per matrix: each adapter's column offset within the matrix's R (the tables lora_up reads).
    const projR: Partial<Record<LoraProj, number>> = {};
    const offs: Partial<Record<LoraProj, number[]>> = {};
    for (const p of LORA_PROJS) {
      const users = this.slots.map((w) => (w && w.targets.includes(p) ? w : null));
      if (!users.some((w) => w)) continue;
      const table = new Uint32Array(Math.max(1, this.slots.length) * 4);
      const tf = new Float32Array(table.buffer);
      let R = 0;
      const off: number[] = [];
      users.forEach((w, i) => {
        if (!w) return;
        off[i] = R;
        table[4 * i] = R;
        table[4 * i + 1] = w.rank;
        tf[4 * i + 2] = w.alpha / w.rank;
        R += w.rank;
      });
      projR[p] = R;
      offs[p] = off;
      this.tables[p] = mem.upload(`lora-table.${p}`, table, 'weights');
    }
    for (const g of Object.keys(LORA_GROUPS) as LoraGroup[]) {
      const projs: readonly LoraProj[] = LORA_GROUPS[g];
      if (!projs.some((p) => projR[p])) continue;
      const inp = projShape(cfg, projs[0])[1];
      // Layout shared by every layer: A rows, owners, B offsets.
      const { words, header, bOff, uOff, R } = loraBLayout(projs.map((p) => ({ R: projR[p] ?? 0, out: projShape(cfg, p)[0] })));
      maxR = Math.max(maxR, R);
      const owner = new Uint32Array(2 * R);
      const of = new Float32Array(owner.buffer);
      projs.forEach((p, pi) => {
        this.slots.forEach((w, i) => {
          if (!w || !w.targets.includes(p)) return;
          for (let j = 0; j < w.rank; j++) {
            const row = uOff[pi] + offs[p]![i] + j;
            owner[2 * row] = i;
            of[2 * row + 1] = w.alpha / w.rank;
          }
        });
      });
      this.owners[g] = mem.upload(`lora-owner.${g}`, owner, 'weights');
      for (let l = 0; l < cfg.nLayers; l++) {
        const A = new Float32Array(R * inp);
        const lb = new Float32Array(words);
        new Uint32Array(lb.buffer).set(header);
        projs.forEach((p, pi) => {
          const Rp = projR[p] ?? 0;
          if (!Rp) return;
          const out = projShape(cfg, p)[0];
          this.slots.forEach((w, i) => {
            if (!w || !w.targets.includes(p)) return;
            const off = offs[p]![i];
            const pair = w.layers[l][p];
            A.set(pair.A, (uOff[pi] + off) * inp);
            for (let n = 0; n < out; n++) for (let j = 0; j < w.rank; j++) lb[bOff[pi] + n * Rp + off + j] = pair.B[n * w.rank + j];
          });
        });
        const lbBuf = mem.upload(`lora.${l}.${g}.B`, lb, 'weights');
        (this.packed[l] ??= {})[g] = {
          a: { name: `lora.${l}.${g}.A`, type: GgmlType.F32, shape: [R, inp], buffer: mem.upload(`lora.${l}.${g}.A`, A, 'weights') },
          R,
          lb: lbBuf,
          parts: projs.map((p, pi) => {
            const Rp = projR[p] ?? 0;
            if (!Rp) return null;
            const out = projShape(cfg, p)[0];
            return { proj: p, R: Rp, uOff: uOff[pi], out, b: { buffer: lbBuf, offset: bOff[pi] * 4, size: out * Rp * 4 } };
          }),
        };
      }
    }
    for (let l = 0; l < cfg.nLayers; l++) this.packed[l] ??= {};
    if (maxR > 0) this.u = mem.create('lora-u', this.maxTokens * maxR * 4, 'scratch');
  }
}
