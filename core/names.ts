/**
 * Entry names as bytes. File names on Linux are byte strings that need not be
 * UTF-8; fscache keeps them in JS strings losslessly the way Python's
 * `surrogateescape` does: each byte that is not part of valid UTF-8 becomes the lone
 * surrogate U+DC80–U+DCFF, which decoding valid UTF-8 never yields, so no two names
 * collide. Plus the SPEC §5.2 walk order, which compares names as bytes.
 * @module
 */

const utf8 = new TextEncoder();
// `ignoreBOM`: a name that starts with U+FEFF keeps it (by default it would be dropped).
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The bytes a name stands for: UTF-8, except escaped bytes (U+DC80–U+DCFF) which are
 * themselves.
 *
 * @example
 * ```ts
 * encodeName("a\udcff"); // Uint8Array [0x61, 0xff]
 * ```
 */
export function encodeName(name: string): Uint8Array {
  if (!hasLoneSurrogate(name)) return utf8.encode(name);
  const out: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && isHigh(name.charCodeAt(i - 1)))) {
      out.push(c - 0xdc00);
      continue;
    }
    const end = isHigh(c) && i + 1 < name.length && isLow(name.charCodeAt(i + 1)) ? i + 2 : i + 1;
    for (const b of utf8.encode(name.slice(i, end))) out.push(b);
    i = end - 1;
  }
  return Uint8Array.from(out);
}

/**
 * The string for a name's bytes; the inverse of {@linkcode encodeName}.
 *
 * @example
 * ```ts
 * decodeName(new Uint8Array([0x61, 0xff])); // "a\udcff"
 * ```
 */
export function decodeName(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Invalid UTF-8 somewhere: decode the longest valid runs, escape the rest byte by byte.
  }
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const len = validSequenceLength(bytes, i);
    if (len === 0) {
      out += String.fromCharCode(0xdc00 + (bytes[i] as number));
      i++;
    } else {
      out += strictUtf8.decode(bytes.subarray(i, i + len));
      i += len;
    }
  }
  return out;
}

/**
 * Names stored as bytes, NUL-separated, as one string (NUL-separated too): all at once
 * when they are all UTF-8 (the usual case, one decoder call instead of one per name);
 * else name by name, so that only the names that are not pay for escaping.
 *
 * @example
 * ```ts
 * decodeNameText(new Uint8Array([0x61, 0, 0x62, 0xff])).split("\0"); // ["a", "b\udcff"]
 * ```
 */
export function decodeNameText(all: Uint8Array): string {
  try {
    return strictUtf8.decode(all);
  } catch {
    // Some name is not UTF-8.
  }
  const names: string[] = [];
  let start = 0;
  for (let i = 0; i <= all.length; i++) {
    if (i < all.length && all[i] !== 0) continue;
    names.push(decodeName(all.subarray(start, i)));
    start = i + 1;
  }
  return names.join("\0");
}

/**
 * SPEC §5.2 walk order of two relative paths: byte order of their names, except that
 * `/` sorts before every other byte (`foo/a` < `foo.2` < `foo0`), so a directory's
 * entries follow it directly.
 *
 * @example
 * ```ts
 * ["foo0", "foo.2", "foo/a"].sort(compareWalkOrder); // ["foo/a", "foo.2", "foo0"]
 * ```
 */
export function compareWalkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0x80 && y < 0x80) return (x === 0x2f ? -1 : x) - (y === 0x2f ? -1 : y);
    // Non-ASCII: compare the bytes from the start of the differing character on.
    const start = i > 0 && isLow(x) && isHigh(a.charCodeAt(i - 1)) ? i - 1 : i;
    return compareBytesWalk(encodeName(a.slice(start)), encodeName(b.slice(start)));
  }
  return a.length - b.length;
}

function compareBytesWalk(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return (x === 0x2f ? -1 : x) - (y === 0x2f ? -1 : y);
  }
  return a.length - b.length;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * True when `s` holds an unpaired surrogate, i.e. escaped bytes; such a string is not
 * its own UTF-8.
 *
 * @example
 * ```ts
 * hasLoneSurrogate("a\udcff"); // true
 * ```
 */
export const hasLoneSurrogate: (s: string) => boolean =
  // Native where there is one (ES2024): constant-time for a one-byte string, which most
  // paths are, where the loop cost ~0.1 µs per path, on every disk call and header.
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === "function"
    ? (s) => !(s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : scanForLoneSurrogate;

function scanForLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (isHigh(c) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) {
      i++;
      continue;
    }
    return true;
  }
  return false;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 if the byte there starts none. */
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const v = b[i + k];
    return v !== undefined && v >= lo && v <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
