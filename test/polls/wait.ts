/** The first collected event matching `pred`, awaiting more as they arrive (no sleeps). */
export async function waitFor<T>(sub: { until(n: number): Promise<T[]> }, pred: (e: T) => boolean): Promise<T> {
  for (let n = 1; ; n++) {
    const items = await sub.until(n);
    const hit = items.find(pred);
    if (hit) return hit;
  }
}
