/** Evaluation metrics on the CPU, in float64. Arrays are flat; rows are row-major. */

type Nums = ArrayLike<number>;

function checkLengths(a: Nums, b: Nums, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} predictions vs ${b.length} labels`);
}

/** Mean squared error; NaN for empty input. */
export function mse(preds: Nums, labels: Nums): number {
  checkLengths(preds, labels, 'mse');
  if (preds.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < preds.length; i++) {
    const e = preds[i] - labels[i];
    s += e * e;
  }
  return s / preds.length;
}

/** Mean absolute error; NaN for empty input. */
export function mae(preds: Nums, labels: Nums): number {
  checkLengths(preds, labels, 'mae');
  if (preds.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < preds.length; i++) s += Math.abs(preds[i] - labels[i]);
  return s / preds.length;
}

/**
 * Pearson correlation. Degenerate cases, where r is undefined: fewer than 2 points, or either side
 * constant (zero variance, up to rounding) → 0, "no measurable linear relation", so a collapsed
 * predictor reads as uninformative instead of NaN in charts and early stopping.
 */
export function pearson(a: Nums, b: Nums): number {
  checkLengths(a, b, 'pearson');
  const n = a.length;
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  let scaleA = 0;
  let scaleB = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
    scaleA = Math.max(scaleA, Math.abs(a[i]));
    scaleB = Math.max(scaleB, Math.abs(b[i]));
  }
  // Relative tolerance: a constant column leaves only rounding noise around its mean.
  const tiny = (s: number) => (s * 1e-12) ** 2 * n;
  if (!(saa > tiny(scaleA)) || !(sbb > tiny(scaleB))) return 0;
  const r = sab / Math.sqrt(saa * sbb);
  return Math.max(-1, Math.min(1, r));
}

/** Fraction of equal entries (predicted vs true class ids); NaN for empty input. */
export function accuracy(predClasses: Nums, labels: Nums): number {
  checkLengths(predClasses, labels, 'accuracy');
  if (predClasses.length === 0) return NaN;
  let hit = 0;
  for (let i = 0; i < predClasses.length; i++) if (predClasses[i] === labels[i]) hit++;
  return hit / predClasses.length;
}

/** Per-row argmax of scores [n, k] (lowest index on ties). */
export function argmaxRows(scores: Nums, k: number): Int32Array {
  if (!(k > 0) || scores.length % k !== 0) throw new Error(`argmaxRows: ${scores.length} scores is not a multiple of k = ${k}`);
  const n = scores.length / k;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (scores[r * k + j] > scores[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Per-row softmax cross-entropy (NLL of the label) of scores [n, k]; stable for large scores. */
export function crossEntropyRows(scores: Nums, labels: Nums, k: number): Float64Array {
  const n = labels.length;
  if (scores.length !== n * k) throw new Error(`crossEntropyRows: ${scores.length} scores for ${n} labels × ${k} classes`);
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const o = r * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, scores[o + j]);
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(scores[o + j] - max);
    out[r] = max + Math.log(z) - scores[o + labels[r]];
  }
  return out;
}

/** Mean negative log-likelihood: Σ nll / count (count defaults to the number of values); NaN when count is 0. */
export function meanNll(nlls: Nums, count = nlls.length): number {
  if (!(count > 0)) return NaN;
  let s = 0;
  for (let i = 0; i < nlls.length; i++) s += nlls[i];
  return s / count;
}

/** exp(mean NLL). */
export function perplexity(meanNllValue: number): number {
  return Math.exp(meanNllValue);
}

export type MetricTask = 'regression' | 'classification' | 'lm';

export interface RegressionSummary {
  task: 'regression';
  n: number;
  mse: number;
  rmse: number;
  mae: number;
  pearson: number;
}

export interface ClassificationSummary {
  task: 'classification';
  n: number;
  accuracy: number;
  /** Present when scores (not class ids) were given. */
  nll?: number;
}

export interface LmSummary {
  task: 'lm';
  /** Tokens counted. */
  n: number;
  nll: number;
  perplexity: number;
}

export type MetricSummary = RegressionSummary | ClassificationSummary | LmSummary;

/**
 * The metrics of a task over a whole evaluation set.
 *   regression:     preds and labels [n] (or [n·k] flattened; Pearson is over all entries).
 *   classification: labels = class ids [n]; preds = class ids [n], or scores [n, k] flattened
 *                   (k = preds.length / n), which also gives the mean NLL.
 *   lm:             preds = per-token NLLs [n]; labels = weights [n] (1 = counted, 0 = ignored), or an
 *                   empty array to count every token.
 */
export function summarize(task: 'regression', preds: Nums, labels: Nums): RegressionSummary;
export function summarize(task: 'classification', preds: Nums, labels: Nums): ClassificationSummary;
export function summarize(task: 'lm', preds: Nums, labels: Nums): LmSummary;
export function summarize(task: MetricTask, preds: Nums, labels: Nums): MetricSummary;
export function summarize(task: MetricTask, preds: Nums, labels: Nums): MetricSummary {
  switch (task) {
    case 'regression': {
      const e = mse(preds, labels);
      return { task, n: labels.length, mse: e, rmse: Math.sqrt(e), mae: mae(preds, labels), pearson: pearson(preds, labels) };
    }
    case 'classification': {
      const n = labels.length;
      if (preds.length === n) return { task, n, accuracy: accuracy(preds, labels) };
      if (n === 0 || preds.length % n !== 0) throw new Error(`summarize: ${preds.length} scores for ${n} labels`);
      const k = preds.length / n;
      return { task, n, accuracy: accuracy(argmaxRows(preds, k), labels), nll: meanNll(crossEntropyRows(preds, labels, k)) };
    }
    case 'lm': {
      let s = 0;
      let count = 0;
      if (labels.length === 0) {
        for (let i = 0; i < preds.length; i++) s += preds[i];
        count = preds.length;
      } else {
        checkLengths(preds, labels, 'summarize(lm)');
        for (let i = 0; i < preds.length; i++) {
          if (labels[i] === 0) continue;
          s += preds[i] * labels[i];
          count += labels[i];
        }
      }
      const nll = count > 0 ? s / count : NaN;
      return { task, n: count, nll, perplexity: perplexity(nll) };
    }
    default:
      throw new Error(`summarize: unknown task "${task as string}"`);
  }
}
