/** Seeded, epoch-based data order that survives checkpoints: the order of an epoch is a pure function of (n, seed, epoch). */
import { Rng } from '../model/sampling';

/** 32-bit avalanche mix (murmur3 finalizer). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The RNG seed of one epoch: distinct, decorrelated streams for every (seed, epoch). */
export function epochSeed(seed: number, epoch: number): number {
  return mix32((mix32(seed >>> 0) ^ Math.imul((epoch >>> 0) + 1, 0x9e3779b9)) >>> 0);
}

/** A permutation of 0..n−1 for `epoch` (Fisher–Yates driven by Rng); the same arguments give the same order. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  if (!(n >= 0) || !Number.isInteger(n)) throw new Error(`epochOrder: n must be a non-negative integer, got ${n}`);
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(epochSeed(seed, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Where an EpochIterator stands: the next item is epochOrder(n, seed, epoch)[index]. JSON-safe. */
export interface ShuffleState {
  epoch: number;
  index: number;
}

export interface ShuffleOptions {
  /** false: items in their natural order each epoch (evaluation, debugging). Default true. */
  shuffle?: boolean;
}

/**
 * An endless stream of example indices, epoch after epoch, each epoch a fresh permutation. Its state
 * is two integers, so a checkpoint can store it and a restored iterator continues exactly.
 */
export class EpochIterator {
  private epochNo: number;
  private index: number;
  private order: number[] | null = null;
  private readonly shuffle: boolean;

  constructor(
    readonly n: number,
    readonly seed: number,
    state: ShuffleState = { epoch: 0, index: 0 },
    opts: ShuffleOptions = {},
  ) {
    if (!(n > 0) || !Number.isInteger(n)) throw new Error(`EpochIterator: n must be a positive integer, got ${n}`);
    if (!(state.epoch >= 0) || !(state.index >= 0) || !Number.isInteger(state.epoch) || !Number.isInteger(state.index)) {
      throw new Error(`EpochIterator: bad state ${JSON.stringify(state)}`);
    }
    this.shuffle = opts.shuffle ?? true;
    // An index at the end of an epoch (a checkpoint taken right after its last item) means the next epoch's start.
    this.epochNo = state.epoch + Math.floor(state.index / n);
    this.index = state.index % n;
  }

  /** The current position, for a checkpoint. */
  get state(): ShuffleState {
    return { epoch: this.epochNo, index: this.index };
  }

  /** Epoch of the next item (completed epochs so far). */
  get epoch(): number {
    return this.epochNo;
  }

  /** Fraction of training seen, in epochs (e.g. 2.5). */
  get progress(): number {
    return this.epochNo + this.index / this.n;
  }

  /** The next example index. */
  next(): number {
    const order = this.currentOrder();
    const item = order[this.index++];
    if (this.index === this.n) {
      this.index = 0;
      this.epochNo++;
      this.order = null;
    }
    return item;
  }

  /** The next `size` example indices; a batch may run across an epoch boundary. */
  nextBatch(size: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < size; i++) out.push(this.next());
    return out;
  }

  private currentOrder(): number[] {
    this.order ??= this.shuffle ? epochOrder(this.n, this.seed, this.epochNo) : Array.from({ length: this.n }, (_, i) => i);
    return this.order;
  }
}
