import angleCode from './rope-angle.wgsl?raw';
import ropeCode from './rope.wgsl?raw';
import type { RopeStyle } from '../../model/types';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

const code = angleCode + '\n' + ropeCode;

export interface RopeArgs {
  /** f32 [T, nHeads, headDim], rotated in place (backward: holds dy, rotated back in place). */
  x: Binding;
  /** u32 [T] token positions. */
  pos: Binding;
  T: number;
  nHeads: number;
  headDim: number;
  theta: number;
  style: RopeStyle;
  /** Linear position interpolation: positions are divided by this (1 = none). */
  scale: number;
  /** Floats between consecutive tokens in x (default nHeads·headDim), e.g. for a fused QKV row. */
  rowStride?: number;
  /** A second tensor in the same binding rotated in the same dispatch (k beside q): f32 [T, nHeads, headDim] at byte `offset` of x. */
  second?: { nHeads: number; offset: number; rowStride?: number };
}

/**
 * Rotary position embedding (see rope.wgsl for the precision notes). One invocation per rotated pair.
 * forward rotates by +angle; backward applies the inverse rotation (−angle), which is the exact
 * vector-Jacobian product of forward since the rotation is orthogonal.
 */
export class Rope {
  private constructor(private readonly k: Kernel, readonly wg: number) {}

  static async create(kc: KernelCache): Promise<Rope> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const k = await kc.get({
      label: 'rope',
      entry: 'rope',
      code,
      params: ['u32', 'u32', 'u32', 'u32', 'f32', 'f32', 'f32', 'u32', 'f32', 'u32', 'u32', 'u32'],
      bindings: ['rw', 'read'],
      constants: { WG: wg },
    });
    return new Rope(k, wg);
  }

  forward(rec: Recorder, a: RopeArgs): void {
    this.run(rec, a, 1);
  }

  /** dx = Rᵀ·dy, in place on a.x. */
  backward(rec: Recorder, a: RopeArgs): void {
    this.run(rec, a, -1);
  }

  private run(rec: Recorder, a: RopeArgs, dir: 1 | -1): void {
    if (a.headDim % 2 !== 0) throw new Error(`rope: headDim ${a.headDim} must be even`);
    const [cHi, cLo] = freqExponent(a.theta, a.headDim);
    const s = a.second;
    if (s && s.offset % 4 !== 0) throw new Error(`rope: second tensor offset ${s.offset} must be a multiple of 4 bytes`);
    const pairs = a.T * (a.nHeads + (s?.nHeads ?? 0)) * (a.headDim / 2);
    const second = s ? [s.nHeads, s.offset / 4, s.rowStride ?? s.nHeads * a.headDim] : [0, 0, 0];
    rec.dispatch(
      this.k,
      [a.x, a.pos],
      [a.T, a.nHeads, a.headDim, a.rowStride ?? a.nHeads * a.headDim, 1 / a.scale, cHi, cLo, a.style === 'neox' ? 1 : 0, dir, ...second],
      grid(Math.ceil(pairs / this.wg)),
    );
  }
}

/** c = 2·log2(theta)/headDim split as c_hi (12 significant bits, so i·c_hi is exact in f32) + c_lo. */
export function freqExponent(theta: number, headDim: number): [number, number] {
  const c = (2 * Math.log2(theta)) / headDim;
  if (c === 0) return [0, 0];
  const e = Math.floor(Math.log2(Math.abs(c)));
  const q = 2 ** (e - 11);
  const hi = Math.round(c / q) * q;
  return [hi, Math.fround(c - hi)];
}
