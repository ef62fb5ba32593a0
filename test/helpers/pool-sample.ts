/** A string of 1 to `most` pieces drawn from `pool` with `next` (a seeded random source): property tests' inputs. */
export function poolSample(pool: readonly string[], next: () => number, most = 8): string {
  const n = 1 + Math.floor(next() * most);
  let s = "";
  for (let i = 0; i < n; i++) s += pool[Math.floor(next() * pool.length)]!;
  return s;
}
