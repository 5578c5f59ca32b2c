import code from './swiglu.wgsl?raw';
import type { Kernel, KernelCache } from '../kernel';
import { workgroupSize } from '../workgroup';
import { grid, type Binding, type Recorder } from '../recorder';

export interface SwigluForwardArgs {
  /** f32 [T, ff] */
  gate: Binding;
  /** f32 [T, ff]; a different buffer from out. */
  up: Binding;
  /** f32 [T, ff]; either a buffer of its own, or exactly `gate` (the same binding object or buffer+range) for in place. */
  out: Binding;
  /** Elements: T·ff. */
  n: number;
}

export interface SwigluBackwardArgs {
  gate: Binding;
  up: Binding;
  /** Gradient of out, f32 [n]. */
  dout: Binding;
  /** Outputs, f32 [n] each, in buffers distinct from the inputs and from each other. */
  dgate: Binding;
  dup: Binding;
  n: number;
}

/** out = silu(gate) · up elementwise. */
export class Swiglu {
  private constructor(private readonly fwdK: Kernel, private readonly inplaceK: Kernel, private readonly bwdK: Kernel, readonly wg: number) {}

  static async create(kc: KernelCache): Promise<Swiglu> {
    const wg = workgroupSize(kc.gpu.limits, { preferred: 256 });
    const c = { code, constants: { WG: wg }, params: ['u32'] } as const;
    const [f, ip, b] = await Promise.all([
      kc.get({ ...c, label: 'swiglu', entry: 'swiglu', bindings: ['rw', 'read', 'read'] }),
      kc.get({ ...c, label: 'swiglu_inplace', entry: 'swiglu_inplace', bindings: ['rw', 'read'] }),
      kc.get({ ...c, label: 'swiglu_bwd', entry: 'swiglu_bwd', bindings: ['rw', 'read', 'read', 'read', 'rw'] }),
    ]);
    return new Swiglu(f, ip, b, wg);
  }

  forward(rec: Recorder, a: SwigluForwardArgs): void {
    const groups = grid(Math.ceil(a.n / this.wg));
    if (sameRange(a.out, a.gate)) {
      rec.dispatch(this.inplaceK, [a.gate, a.up], [a.n], groups);
    } else {
      rec.dispatch(this.fwdK, [a.out, a.up, a.gate], [a.n], groups);
    }
  }

  /** dgate = dout·up·silu'(gate), dup = dout·silu(gate). */
  backward(rec: Recorder, a: SwigluBackwardArgs): void {
    rec.dispatch(this.bwdK, [a.dgate, a.up, a.gate, a.dout, a.dup], [a.n], grid(Math.ceil(a.n / this.wg)));
  }
}

function parts(b: Binding): [GPUBuffer, number, number | undefined] {
  if (typeof (b as GPUBuffer).mapAsync === 'function') return [b as GPUBuffer, 0, undefined];
  const r = b as { buffer: GPUBuffer; offset?: number; size?: number };
  return [r.buffer, r.offset ?? 0, r.size];
}

function sameRange(a: Binding, b: Binding): boolean {
  if (a === b) return true;
  const [ba, oa, sa] = parts(a);
  const [bb, ob, sb] = parts(b);
  return ba === bb && oa === ob && sa === sb;
}
