/**
 * The root digest's input kept from one sync to the next: every entry checksum's hex,
 * sorted and comma-joined (65 bytes an entry, the last without its comma), which the
 * `dir:` digest of the root hashes. A resync changes few checksums; its input is the
 * last one's with those taken out and put in, where making it again sorts and writes
 * the hex of every checksum (~12 ms for 11k entries on a resync's cold code, ~70 ms
 * for 100k). Stored beside the tree as a cache: checked against the tree's digest and
 * its own CRC-32 before use, so a lost, stale or torn copy only costs the full work.
 * @module
 */
import { crc32, hexOf } from "./byte_io.ts";

/** Bytes of an entry in the input: 64 hex digits and a comma. */
export const INPUT_ENTRY = 65;
/**
 * Bytes before the input in its stored form: magic `FSDI`, version, three reserved,
 * CRC-32 of the input (little-endian), the digest (32 bytes). Even, so that the input
 * after it can be written two digits at a time.
 */
const HEADER = 44;
const MAGIC = [0x46, 0x53, 0x44, 0x49];
const VERSION = 1;
const CRC_AT = 8;
const DIGEST_AT = 12;
const COMMA = 0x2c;
const HEX_DIGIT = new TextEncoder().encode("0123456789abcdef");

/** A change from a table whose input is known to the table folded from it. */
export interface InputChange {
  /** The input of the table before. */
  base: Uint8Array;
  /** Raw checksums (32 bytes each) of the entries that went. */
  removed: Uint8Array;
  /** Raw checksums of the entries that came. */
  added: Uint8Array;
}

/**
 * A buffer for the input of `n` entries with room before it for the stored form's
 * header and after it for the last entry's comma; write the entries from
 * {@linkcode inputStart} on, then take them with {@linkcode inputOf}.
 *
 * @example
 * ```ts
 * const room = inputRoom(2); // 44 + 130 bytes
 * ```
 */
export function inputRoom(n: number): Uint8Array {
  const room = new Uint8Array(HEADER + n * INPUT_ENTRY);
  rooms.add(room.buffer);
  return room;
}

/** Buffers made by {@linkcode inputRoom}: the only ones whose header room may be written. */
const rooms = new WeakSet<ArrayBufferLike>();

/** Where the first entry goes in an {@linkcode inputRoom}. */
export const inputStart: number = HEADER;

/**
 * The input of the `n` entries written into `room`.
 *
 * @example
 * ```ts
 * inputOf(inputRoom(0), 0).length; // 0
 * ```
 */
export function inputOf(room: Uint8Array, n: number): Uint8Array {
  return room.subarray(HEADER, HEADER + Math.max(0, n * INPUT_ENTRY - 1));
}

/** Entries in an input of `length` bytes, or -1 when no whole number of entries fits it. */
function entriesIn(length: number): number {
  if (length === 0) return 0;
  return (length + 1) % INPUT_ENTRY === 0 ? (length + 1) / INPUT_ENTRY : -1;
}

/**
 * The input after `change`, or `undefined` when a removed checksum is not in the base
 * (the base does not belong to the table changed: the caller makes the input anew).
 *
 * @example
 * ```ts
 * const next = spliceDigestInput({ base, removed: oldSum, added: newSum });
 * ```
 */
export function spliceDigestInput(change: InputChange): Uint8Array | undefined {
  const { base, removed, added } = change;
  const m = entriesIn(base.length);
  if (m < 0 || removed.length % 32 !== 0 || added.length % 32 !== 0) return undefined;
  const gone = hexEntries(removed);
  const come = hexEntries(added);
  const k1 = gone.length / INPUT_ENTRY;
  const k2 = come.length / INPUT_ENTRY;
  if (k1 > m) return undefined;
  // Old entries to leave out, ascending; equal checksums take successive places.
  const skip = new Uint32Array(k1);
  for (let j = 0; j < k1; j++) {
    const previous = j > 0 && sameEntry(gone, (j - 1) * INPUT_ENTRY, gone, j * INPUT_ENTRY);
    const at = previous ? (skip[j - 1] as number) + 1 : lowerBound(base, m, gone, j * INPUT_ENTRY);
    if (at >= m || !sameEntry(base, at * INPUT_ENTRY, gone, j * INPUT_ENTRY)) return undefined;
    skip[j] = at;
  }
  /** Old entry before which each new one goes. */
  const place = new Uint32Array(k2);
  for (let j = 0; j < k2; j++) place[j] = lowerBound(base, m, come, j * INPUT_ENTRY);
  const n = m - k1 + k2;
  const room = inputRoom(n);
  let w = HEADER;
  let old = 0;
  let s = 0;
  let a = 0;
  for (;;) {
    const stop = Math.min(s < k1 ? (skip[s] as number) : m, a < k2 ? (place[a] as number) : m);
    if (stop > old) {
      // Old entries [old, stop): the last of the base has no comma after it.
      const from = old * INPUT_ENTRY;
      const to = stop * INPUT_ENTRY;
      room.set(base.subarray(from, Math.min(to, base.length)), w);
      w += to - from;
      room[w - 1] = COMMA;
      old = stop;
    }
    if (a < k2 && place[a] === old) {
      room.set(come.subarray(a * INPUT_ENTRY, (a + 1) * INPUT_ENTRY), w);
      w += INPUT_ENTRY;
      a++;
    } else if (s < k1 && skip[s] === old) {
      old++;
      s++;
    } else break;
  }
  return w === room.length ? inputOf(room, n) : undefined;
}

/** `sums` (32 bytes each) as input entries (hex and a comma each), sorted. */
function hexEntries(sums: Uint8Array): Uint8Array {
  const k = sums.length / 32;
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => {
    for (let b = 0; b < 32; b++) {
      const d = (sums[x * 32 + b] as number) - (sums[y * 32 + b] as number);
      if (d !== 0) return d;
    }
    return 0;
  });
  const out = new Uint8Array(k * INPUT_ENTRY);
  order.forEach((i, j) => {
    const at = j * INPUT_ENTRY;
    for (let b = 0; b < 32; b++) {
      const byte = sums[i * 32 + b] as number;
      out[at + 2 * b] = HEX_DIGIT[byte >> 4] as number;
      out[at + 2 * b + 1] = HEX_DIGIT[byte & 15] as number;
    }
    out[at + 64] = COMMA;
  });
  return out;
}

/** Whether the 64 digits at `a[x]` and `b[y]` are the same. */
function sameEntry(a: Uint8Array, x: number, b: Uint8Array, y: number): boolean {
  for (let k = 0; k < 64; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}

/** The first of the `m` entries of `input` not before the entry at `hex[at]`. */
function lowerBound(input: Uint8Array, m: number, hex: Uint8Array, at: number): number {
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const o = mid * INPUT_ENTRY;
    let d = 0;
    for (let k = 0; k < 64 && d === 0; k++) d = (input[o + k] as number) - (hex[at + k] as number);
    if (d < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The stored form of `input`, the input of the table whose root digest is `digest`
 * (hex): written in place before the input when it lies in an {@linkcode inputRoom}
 * (as the inputs tables make do), else in a copy.
 *
 * @example
 * ```ts
 * await metaStore.putDigestInput?.(key, encodeDigestInput(table.knownDigestInput(), table.digest(sha256)));
 * ```
 */
export function encodeDigestInput(input: Uint8Array, digest: string): Uint8Array {
  let out: Uint8Array;
  if (input.byteOffset === HEADER && rooms.has(input.buffer))
    out = new Uint8Array(input.buffer, input.byteOffset - HEADER, HEADER + input.length);
  else {
    out = new Uint8Array(HEADER + input.length);
    out.set(input, HEADER);
  }
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out.fill(0, 5, CRC_AT);
  new DataView(out.buffer, out.byteOffset, HEADER).setUint32(CRC_AT, crc32(input), true);
  for (let b = 0; b < 32; b++) out[DIGEST_AT + b] = Number.parseInt(digest.slice(2 * b, 2 * b + 2), 16);
  return out;
}

/**
 * The input in `stored` when it is the stored form of the input of a table of `n`
 * entries whose root digest is `digest` (hex), intact; else `undefined`.
 *
 * @example
 * ```ts
 * decodeDigestInput(encodeDigestInput(input, digest), digest, n); // input
 * ```
 */
export function decodeDigestInput(stored: Uint8Array, digest: string, n: number): Uint8Array | undefined {
  if (stored.length < HEADER || stored[4] !== VERSION) return undefined;
  for (let b = 0; b < MAGIC.length; b++) if (stored[b] !== MAGIC[b]) return undefined;
  const input = stored.subarray(HEADER);
  if (entriesIn(input.length) !== n) return undefined;
  if (hexOf(stored.subarray(DIGEST_AT, DIGEST_AT + 32)) !== digest) return undefined;
  const crc = new DataView(stored.buffer, stored.byteOffset, HEADER).getUint32(CRC_AT, true);
  return crc32(input) === crc ? input : undefined;
}
