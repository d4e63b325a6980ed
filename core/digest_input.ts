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
import { crc32, hexOf, runtimeHex } from "./byte_io.ts";

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
const ascii = new TextEncoder();
const COMMA = 0x2c;

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
 * This runs once per resync, on cold code: the hex and the sort are the runtime's own,
 * and entries are compared four digits at a time (a loop over their bytes, and one
 * over strings decoded from them, each took 5–10 ms for 100 changes of 11k entries).
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
  const gone = sortedEntries(removed);
  const come = sortedEntries(added);
  const k1 = gone.length / INPUT_ENTRY;
  const k2 = come.length / INPUT_ENTRY;
  if (k1 > m) return undefined;
  const baseView = viewOf(base);
  const goneView = viewOf(gone);
  const comeView = viewOf(come);
  // Old entries to leave out, ascending; equal checksums take successive places.
  const skip = new Uint32Array(k1);
  for (let j = 0; j < k1; j++) {
    const at = j * INPUT_ENTRY;
    const again = j > 0 && compareEntries(goneView, at - INPUT_ENTRY, goneView, at) === 0;
    const i = again ? (skip[j - 1] as number) + 1 : lowerBound(baseView, m, goneView, at);
    if (i >= m || compareEntries(baseView, i * INPUT_ENTRY, goneView, at) !== 0) return undefined;
    skip[j] = i;
  }
  /** Old entry before which each new one goes. */
  const place = new Uint32Array(k2);
  for (let j = 0; j < k2; j++) place[j] = lowerBound(baseView, m, comeView, j * INPUT_ENTRY);
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

/** `sums` (32 bytes each) as input entries, hex and a comma each, sorted. */
function sortedEntries(sums: Uint8Array): Uint8Array {
  const k = sums.length / 32;
  if (k === 0) return new Uint8Array(0);
  const all = runtimeHex()?.(sums) ?? hexOf(sums);
  const hexes = Array.from({ length: k }, (_, i) => all.slice(i * 64, i * 64 + 64)).sort();
  return ascii.encode(`${hexes.join(",")},`);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The order of the entries at `a[x]` and `b[y]`: their digits four at a time, as
 * big-endian words (ASCII digits sort as the hex they spell).
 */
function compareEntries(a: DataView, x: number, b: DataView, y: number): number {
  for (let k = 0; k < 64; k += 4) {
    const d = a.getUint32(x + k) - b.getUint32(y + k);
    if (d !== 0) return d;
  }
  return 0;
}

/** The first of the `m` entries of `input` not before the entry at `entry[at]`. */
function lowerBound(input: DataView, m: number, entry: DataView, at: number): number {
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEntries(input, mid * INPUT_ENTRY, entry, at) < 0) lo = mid + 1;
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
