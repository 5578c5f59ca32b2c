/**
 * The pipeline's event stream: one typed union that the CLI prints as JSON lines and the UI panel
 * subscribes to. Stage events carry counts, throughput and ETA; item events carry what a live view
 * draws (an instruction accepted or rejected and why; a response's passages, then its tokens with the
 * posterior share of each passage).
 */
import type { ResponseRecord } from './responses';

export type Stage = 'seeds' | 'corpus' | 'instructions' | 'responses' | 'specialise' | 'evaluate';
export const STAGES: readonly Stage[] = ['seeds', 'corpus', 'instructions', 'responses', 'specialise', 'evaluate'];

export interface PassageRef {
  id: string;
  score: number;
  /** p_ret: softmax of the BM25 scores over the k passages. */
  weight: number;
  text: string;
}

export type SelfSpecEvent =
  /** A stage starts, finishes, or is skipped because its files say it is done (resume). */
  | { type: 'stage'; stage: Stage; round: number; status: 'start' | 'done' | 'skipped'; detail?: string }
  /** Counts of the running stage: `done` of `total` items, items per second, seconds left. */
  | { type: 'progress'; stage: Stage; round: number; done: number; total: number; perSecond: number; etaSeconds: number | null; unit: string }
  | { type: 'instruction'; round: number; accepted: true; index: number; instruction: string; input: string }
  | { type: 'instruction'; round: number; accepted: false; instruction: string; input: string; reason: string; duplicateOf?: string }
  | { type: 'response-start'; round: number; index: number; instruction: string; input: string; passages: PassageRef[] }
  /** One generated token of response `index`; `posterior[j]` = share of passage j (null unless the item is mixture-decoded over k ≥ 2 passages). */
  | { type: 'response-token'; round: number; index: number; id: number; text: string; posterior: number[] | null }
  /** The finished response as written to responses.jsonl, with its per-token posterior shares. */
  | { type: 'response-done'; round: number; record: ResponseRecord }
  | { type: 'train-step'; round: number; method: string; step: number; totalSteps: number; epoch: number; loss: number; lr: number; tokensPerSec: number }
  | { type: 'train-done'; round: number; method: string; steps: number; finalLoss: number; library: string }
  | { type: 'eval-cell'; row: string; column: string; value: EvalCellSummary }
  | { type: 'warning'; stage: Stage | null; message: string }
  | { type: 'log'; message: string };

/** A classification cell (accuracy, macro-F1) or the ROUGE-L column. */
export type EvalCellSummary = { accuracy: number; macroF1: number; n: number } | { rougeL: number; n: number };

export type OnEvent = (ev: SelfSpecEvent) => void;

/** Throughput and ETA of a stage from its start time and counts. */
export class Meter {
  private readonly t0 = performance.now();
  constructor(
    private readonly emit: OnEvent,
    private readonly stage: Stage,
    private readonly round: number,
    private readonly total: number,
    private readonly unit: string,
    /** Items already done before this meter started (resume): they do not count toward the rate. */
    private readonly already = 0,
  ) {}
  tick(done: number): void {
    const secs = (performance.now() - this.t0) / 1000;
    const fresh = done - this.already;
    const perSecond = secs > 0 && fresh > 0 ? fresh / secs : 0;
    const left = Math.max(0, this.total - done);
    this.emit({
      type: 'progress',
      stage: this.stage,
      round: this.round,
      done,
      total: this.total,
      perSecond,
      etaSeconds: perSecond > 0 ? left / perSecond : null,
      unit: this.unit,
    });
  }
}
