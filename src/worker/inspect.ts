/**
 * The tag inspector's arithmetic, on the CPU: row norms, nearest vocabulary tokens by cosine, and a
 * 2-D PCA of tag rows among a sample of vocabulary embeddings (power iteration with deflation, never
 * forming the d × d covariance, so it stays cheap at d = 4096).
 */

/** L2 norm of each of the `rows` rows of a row-major [rows, d] array. */
export function rowNorms(data: ArrayLike<number>, rows: number, d: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[r * d + j] ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

export function normStats(norms: readonly number[]): { mean: number; min: number; max: number } {
  if (!norms.length) return { mean: 0, min: 0, max: 0 };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const n of norms) {
    sum += n;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  return { mean: sum / norms.length, min, max };
}

/**
 * For each query row, the `k` vocabulary rows with the highest cosine similarity, best first.
 * `tableNorms` (optional) are the table's row norms, to avoid recomputing them per query.
 */
export function nearestByCosine(
  queries: ArrayLike<number>,
  nQueries: number,
  table: ArrayLike<number>,
  vocab: number,
  d: number,
  k: number,
  tableNorms: readonly number[] = rowNorms(table, vocab, d),
): Array<Array<{ id: number; cos: number }>> {
  const out: Array<Array<{ id: number; cos: number }>> = [];
  const kk = Math.max(0, Math.min(k, vocab));
  for (let q = 0; q < nQueries; q++) {
    let qn = 0;
    for (let j = 0; j < d; j++) qn += queries[q * d + j] ** 2;
    qn = Math.sqrt(qn);
    // Keep the best k in a small sorted array (k is tiny).
    const best: Array<{ id: number; cos: number }> = [];
    for (let v = 0; v < vocab; v++) {
      let dot = 0;
      const o = v * d;
      for (let j = 0; j < d; j++) dot += queries[q * d + j] * table[o + j];
      const den = qn * tableNorms[v];
      const cos = den > 0 ? dot / den : 0;
      if (best.length < kk || cos > best[best.length - 1].cos) {
        let i = best.length < kk ? best.length : best.length - 1;
        if (best.length < kk) best.push({ id: v, cos });
        while (i > 0 && best[i - 1].cos < cos) {
          best[i] = best[i - 1];
          i--;
        }
        best[i] = { id: v, cos };
      }
    }
    out.push(best);
  }
  return out;
}

/** Up to `k` distinct indices spread evenly over 0..n−1. */
export function evenSample(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / Math.max(1, k - 1)));
}

export interface PcaResult {
  /** [n][2] coordinates of each input row. */
  coords: Array<[number, number]>;
  /** Share of the total variance along each component. */
  explained: [number, number];
  /** The two unit directions, each [d]. */
  components: [Float64Array, Float64Array];
}

/**
 * Two principal components of the n rows of X ([n, d], row-major): center, then power iteration on
 * XᵀX applied as Xᵀ(X v), deflating the first component before the second. `seed` fixes the start
 * vector so results are reproducible.
 */
export function pca2(X: ArrayLike<number>, n: number, d: number, opts: { iterations?: number; seed?: number } = {}): PcaResult {
  const iters = opts.iterations ?? 100;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= Math.max(1, n);
  const C = new Float64Array(n * d);
  let total = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = X[i * d + j] - mean[j];
      C[i * d + j] = v;
      total += v * v;
    }

  let state = (opts.seed ?? 12345) >>> 0;
  const rand = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };

  const Xv = new Float64Array(n);
  /** y = Xᵀ X v, minus the projection on the earlier components. */
  const apply = (v: Float64Array, prev: Float64Array[]): Float64Array => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += C[i * d + j] * v[j];
      Xv[i] = s;
    }
    const y = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const a = Xv[i];
      if (a === 0) continue;
      for (let j = 0; j < d; j++) y[j] += a * C[i * d + j];
    }
    for (const p of prev) orthogonalize(y, p);
    return y;
  };

  const components: Float64Array[] = [];
  const eig: number[] = [];
  for (let c = 0; c < 2; c++) {
    let v: Float64Array = new Float64Array(d);
    for (let j = 0; j < d; j++) v[j] = rand();
    for (const p of components) orthogonalize(v, p);
    normalize(v);
    let lambda = 0;
    for (let it = 0; it < iters; it++) {
      const y = apply(v, components);
      let sq = 0;
      for (let j = 0; j < d; j++) sq += y[j] * y[j];
      const norm = Math.sqrt(sq);
      if (!(norm > 0)) {
        lambda = 0;
        break;
      }
      for (let j = 0; j < d; j++) y[j] /= norm;
      let diff = 0;
      for (let j = 0; j < d; j++) diff += (y[j] - v[j]) ** 2;
      v = y;
      lambda = norm;
      if (diff < 1e-18) break;
    }
    components.push(v);
    eig.push(lambda);
  }
  // Sign convention: the largest-magnitude entry of each component is positive (stable plots).
  for (const v of components) {
    let at = 0;
    for (let j = 1; j < d; j++) if (Math.abs(v[j]) > Math.abs(v[at])) at = j;
    if (v[at] < 0) for (let j = 0; j < d; j++) v[j] = -v[j];
  }
  const coords: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < d; j++) {
      a += C[i * d + j] * components[0][j];
      b += C[i * d + j] * components[1][j];
    }
    coords.push([a, b]);
  }
  const explained: [number, number] = total > 0 ? [eig[0] / total, eig[1] / total] : [0, 0];
  return { coords, explained, components: [components[0], components[1]] };
}

function orthogonalize(v: Float64Array, u: Float64Array): void {
  let dot = 0;
  for (let j = 0; j < v.length; j++) dot += v[j] * u[j];
  for (let j = 0; j < v.length; j++) v[j] -= dot * u[j];
}

function normalize(v: Float64Array): void {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const n = Math.sqrt(s);
  if (n > 0) for (let j = 0; j < v.length; j++) v[j] /= n;
}
