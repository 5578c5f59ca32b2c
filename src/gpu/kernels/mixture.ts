import code from './mixture.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

/** Group kinds of a decode plan (mixture.wgsl). */
export const GroupKind = { Mixture: 0, Contrastive: 1 } as const;
export type GroupKind = (typeof GroupKind)[keyof typeof GroupKind];

/** Words per group and per member entry in a plan buffer. */
export const GROUP_WORDS = 8;
export const MEMBER_WORDS = 4;

export interface PlanGroup {
  kind: GroupKind;
  greedy: boolean;
  /** Member entries of this group, in plan order (contrastive: [expert, amateur]). */
  members: Array<{ row: number; weight: number; invT: number }>;
  topK: number;
  topP: number;
  /** Uniform number in [0, 1) for this group's draw. */
  u: number;
  /** Contrastive: 1/T of the score softmax. */
  invT: number;
  /** Contrastive: ln α of the plausibility cut. */
  logAlpha: number;
}

/**
 * Writes a plan into `words` (u32 view) and `floats` (f32 view of the same memory); returns the number
 * of words used. Preallocated views keep a decode step free of allocations.
 */
export function writePlan(groups: readonly PlanGroup[], words: Uint32Array, floats: Float32Array): { G: number; M: number; words: number } {
  const G = groups.length;
  let e = 0;
  groups.forEach((g, i) => {
    const o = GROUP_WORDS * i;
    words[o] = g.kind | (g.greedy ? 16 : 0);
    words[o + 1] = e;
    words[o + 2] = g.members.length;
    words[o + 3] = g.topK;
    floats[o + 4] = g.topP;
    floats[o + 5] = g.u;
    floats[o + 6] = g.invT;
    floats[o + 7] = g.logAlpha;
    for (const m of g.members) {
      const mo = GROUP_WORDS * G + MEMBER_WORDS * e;
      words[mo] = m.row;
      floats[mo + 1] = m.weight;
      floats[mo + 2] = m.invT;
      words[mo + 3] = 0;
      e++;
    }
  });
  return { G, M: e, words: GROUP_WORDS * G + MEMBER_WORDS * e };
}

export interface MixtureArgs {
  /** f32 [rows, V] */
  logits: Binding;
  /** u32 plan (writePlan) */
  plan: Binding;
  /** f32 [M, 2] scratch */
  stats: Binding;
  /** f32 [G, V] scratch */
  q: Binding;
  /** u32 [G] chosen ids, then f32 [M] each member's probability of its group's id */
  out: Binding;
  G: number;
  M: number;
  V: number;
  /** False when every group is a lone greedy sequence: the row statistics are then not needed. */
  needStats: boolean;
}

/** Token choice for plain, mixture and contrastive decoding (mixture.wgsl): three dispatches per step. */
export class MixtureSampler {
  private constructor(
    private readonly stats: Kernel,
    private readonly mixK: Kernel,
    private readonly select: Kernel,
    /** Invocations per workgroup of mix (and, on GPUs, of stats_rows and select_token): src/gpu/workgroup.ts. */
    readonly wg: number,
  ) {}

  static async create(kc: KernelCache): Promise<MixtureSampler> {
    const sw = kc.gpu.software === true;
    // Shared memory: one f32 and one u32 per invocation.
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256, bytesPerInvocation: 8 });
    const spec = (entry: string, n: number) =>
      kc.get({ label: `mixture_${entry}`, code, entry, params: ['u32', 'u32', 'u32', 'u32'], bindings: ['read', 'read', 'rw', 'rw', 'rw'], constants: { WG: n } });
    const [stats, mixK, select] = await Promise.all([spec('stats_rows', sw ? 1 : wg), spec('mix', wg), spec('select_token', sw ? 1 : wg)]);
    return new MixtureSampler(stats, mixK, select, wg);
  }

  record(rec: Recorder, a: MixtureArgs): void {
    if (a.G === 0) return;
    const maxG = rec.gpu.limits.maxComputeWorkgroupsPerDimension;
    const b = [a.logits, a.plan, a.stats, a.q, a.out];
    const p = [a.G, a.M, a.V, 0];
    if (a.needStats) rec.dispatch(this.stats, b, p, grid(a.M, maxG));
    rec.dispatch(this.mixK, b, p, grid(Math.ceil((a.G * a.V) / this.wg), maxG));
    rec.dispatch(this.select, b, p, grid(a.G, maxG));
  }
}
