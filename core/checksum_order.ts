/**
 * Putting many entry checksums in order fast, whatever holds them.
 * @module
 */

/** Indices fit below this in a packed sort key (a 32-bit prefix times this stays exact). */
const INDEX_BITS = 2 ** 21;

/**
 * Indices `0…n-1` ordered by `compare`, where `prefix(i)` is the first 32 bits of item
 * `i`'s key and agrees with `compare`. Keys are sorted as numbers (prefix × 2²¹ + index:
 * unique and exact in a double), the rare equal prefixes settled by `compare`; sorting
 * 100k checksums with a comparator alone costs several times more.
 *
 * @example
 * ```ts
 * const sums = ["b0…", "a1…"];
 * orderByPrefix(sums.length, (i) => parseInt(sums[i].slice(0, 8), 16), (a, b) => (sums[a] < sums[b] ? -1 : 1));
 * // Uint32Array [1, 0]
 * ```
 */
export function orderByPrefix(
  n: number,
  prefix: (i: number) => number,
  compare: (a: number, b: number) => number,
): Uint32Array {
  const order = new Uint32Array(n);
  if (n > INDEX_BITS) {
    // Too many for the packed keys (not a tree anyone syncs): plain comparison sort.
    order.set(Array.from({ length: n }, (_, i) => i).sort(compare));
    return order;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = prefix(i) * INDEX_BITS + i;
  keys.sort();
  // Equal prefixes are rare (among 11k random checksums, two share one ~1.4% of the time): noticed
  // in the same pass, settled in a second only when there are some. On the first,
  // unoptimized run of this code, each pass over the keys costs ~1 ms per 10k.
  let tied = false;
  let previous = -1;
  for (let i = 0; i < n; i++) {
    const key = keys[i] as number;
    const index = key % INDEX_BITS;
    order[i] = index;
    tied ||= key - index === previous;
    previous = key - index;
  }
  if (!tied) return order;
  for (let i = 0; i < n; ) {
    const first = Math.floor((keys[i] as number) / INDEX_BITS);
    let j = i + 1;
    while (j < n && Math.floor((keys[j] as number) / INDEX_BITS) === first) j++;
    if (j - i > 1) order.set(Array.from(order.subarray(i, j)).sort(compare), i);
    i = j;
  }
  return order;
}

/**
 * The first 8 hex digits (lowercase) of `text` at `at`, as a number.
 *
 * @example
 * ```ts
 * hexPrefix("6ef733e2…", 0); // 0x6ef733e2
 * ```
 */
export function hexPrefix(text: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    v = v * 16 + (c <= 0x39 ? c - 0x30 : c - 0x57);
  }
  return v;
}
