/**
 * How many decoding slots a self-specialization run needs. Instruction generation fills whatever
 * slots there are (one prompt each), so it needs 1; responses decode a response's k passage prompts
 * as one mixture group (round 1, every ablation k too), and rounds ≥ 2 put the expert group beside
 * the amateur group (2k). Those groups cannot be split across batches: fewer slots cannot run.
 */
export interface SlotNeed {
  /** Slots the whole run needs. */
  slots: number;
  /** The stage that needs them, in words (for messages). */
  reason: string;
}

export function slotsNeeded(c: { k: number; rounds: number; ablationK?: readonly number[] }): SlotNeed {
  const width = (k: number) => Math.max(1, Math.floor(Number.isFinite(k) ? k : 0));
  const round1 = Math.max(width(c.k), ...(c.ablationK ?? []).map(width));
  const round1Reason = round1 > 1 ? `round 1 decodes each response as a mixture of ${round1} passage prompts (one slot each)` : 'generation needs at least one slot';
  if (c.rounds >= 2 && 2 * width(c.k) > round1) {
    return { slots: 2 * width(c.k), reason: `round 2 decodes each response with ${2 * width(c.k)} slots (k = ${c.k} passages, expert and amateur)` };
  }
  return { slots: round1, reason: round1Reason };
}
