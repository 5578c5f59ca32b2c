/**
 * CPU reference for logits.wgsl. logits: [B, V] → [B] indices of each row's largest value, the lowest
 * index on ties, NaNs ignored, 0 for a row without any value > −FLT_MAX.
 */
export function argmaxRef(logits: ArrayLike<number>, B: number, V: number): Uint32Array {
  const out = new Uint32Array(B);
  for (let b = 0; b < B; b++) {
    let best = -Infinity;
    let bi = -1;
    for (let v = 0; v < V; v++) {
      const x = logits[b * V + v];
      if (x > best && x >= -3.4028234663852886e38) {
        best = x;
        bi = v;
      }
    }
    out[b] = bi < 0 ? 0 : bi;
  }
  return out;
}
