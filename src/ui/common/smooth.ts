/** Exponential moving average (debiased like TensorBoard's smoothing), for noisy loss curves. */
export function smoothSeries(values: readonly number[], weight: number): number[] {
  const out: number[] = [];
  let last = 0;
  let n = 0;
  for (const v of values) {
    last = last * weight + (1 - weight) * v;
    n++;
    out.push(last / (1 - weight ** n));
  }
  return out;
}

