/**
 * Classification metrics of the evaluation (PubMedQA yes/no/maybe): accuracy, macro-F1 over the
 * gold classes, and the confusion matrix. A prediction that parses to no class counts as wrong and
 * sits in the matrix's last column ("none").
 */
export interface Classification {
  classes: string[];
  /** confusion[gold][pred]: pred indexes classes, then one extra column for "no answer". */
  confusion: number[][];
  accuracy: number;
  /** Mean over the classes of F1 = 2·P·R/(P+R); a class with no true positives scores 0. */
  macroF1: number;
  perClass: Array<{ cls: string; precision: number; recall: number; f1: number; support: number }>;
  n: number;
}

export function classify(gold: string[], pred: Array<string | null>, classes: string[]): Classification {
  if (gold.length !== pred.length) throw new Error(`${gold.length} labels but ${pred.length} predictions`);
  const C = classes.length;
  const confusion = Array.from({ length: C }, () => new Array<number>(C + 1).fill(0));
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = classes.indexOf(gold[i]);
    if (g < 0) throw new Error(`label "${gold[i]}" is not one of ${classes.join(', ')}`);
    const p = pred[i] === null ? -1 : classes.indexOf(pred[i]!);
    confusion[g][p < 0 ? C : p]++;
    if (p === g) correct++;
  }
  const perClass = classes.map((cls, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((s, row) => s + row[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { cls, precision, recall, f1, support };
  });
  const n = gold.length;
  return {
    classes,
    confusion,
    accuracy: n ? correct / n : 0,
    macroF1: C ? perClass.reduce((s, x) => s + x.f1, 0) / C : 0,
    perClass,
    n,
  };
}

/**
 * The answer a free generation gives: the first of `classes` that appears as a whole word in it
 * (case-insensitive), or null. "Yes, but…" → yes; "It may be" → null (no class word).
 */
export function parseAnswer(text: string, classes: string[]): string | null {
  const lower = text.toLowerCase();
  let best: { cls: string; at: number } | null = null;
  for (const cls of classes) {
    const m = new RegExp(`(^|[^a-z])${cls.toLowerCase()}([^a-z]|$)`).exec(lower);
    if (m && (!best || m.index < best.at)) best = { cls, at: m.index };
  }
  return best?.cls ?? null;
}

/** Index of the largest score (first on ties). */
export function argmax(xs: number[]): number {
  let b = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[b]) b = i;
  return b;
}
