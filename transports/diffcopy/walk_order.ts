/**
 * SPEC §5.2 walk order: byte order of the UTF-8 paths, except that `/` sorts before
 * every other byte, so a directory's entries come right after it
 * (`foo`, `foo/a`, `foo.2`, `foo0`). fsutil calls this `ComparePath`.
 * @module
 */

/**
 * Negative, zero or positive as `a` sorts before, equal to, or after `b`.
 *
 * @example
 * ```ts
 * ["foo0", "foo.2", "foo/a"].sort(comparePath); // ["foo/a", "foo.2", "foo0"]
 * ```
 */
export function comparePath(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca === 0x2f) return -1;
    if (cb === 0x2f) return 1;
    // UTF-16 code units order like code points (= UTF-8 bytes) except that surrogates
    // (astral characters) must sort after U+E000–U+FFFF.
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/**
 * Orders names within one directory so that a depth-first walk comes out in walk order.
 *
 * @example
 * ```ts
 * sortNames(["b", "a"]); // ["a", "b"]
 * ```
 */
export function sortNames(names: string[]): string[] {
  return names.sort(comparePath);
}
