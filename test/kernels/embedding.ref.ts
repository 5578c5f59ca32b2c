/** CPU float64 reference for embedding.wgsl; the table is given dequantized, row-major [vocab, d]. */
export function embeddingRef(
  ids: ArrayLike<number>,
  inject: ArrayLike<number>,
  injected: ArrayLike<number>,
  table: ArrayLike<number>,
  vocab: number,
  d: number,
  scale = 1,
): Float64Array {
  const T = ids.length;
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < d; c++) {
      let v = 0;
      if (inject[t] !== 0xffffffff) v = injected[inject[t] * d + c];
      else if (ids[t] < vocab) v = table[ids[t] * d + c];
      out[t * d + c] = scale * v;
    }
  }
  return out;
}
