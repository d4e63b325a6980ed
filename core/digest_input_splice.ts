/**
 * A resync's root digest input made from the last one's: the checksums that went taken
 * out, those that came put in, where making it anew sorts and writes the hex of every
 * checksum (see `digest_input.ts` for the input and its stored form).
 * @module
 */
import { COMMA, entriesIn, INPUT_ENTRY, inputOf, inputRoom, inputStart } from "./digest_input.ts";
import { digestInput } from "./root_digest.ts";

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
 * The input after `change`, or `undefined` when a removed checksum is not in the base
 * (the base does not belong to the table changed: the caller makes the input anew).
 * This runs once per resync, on cold code: the changed checksums' entries are made as
 * `digestInput` makes a whole input, and entries are compared four digits at a time (a
 * loop over their bytes, and one over strings decoded from them, each took 5–10 ms for
 * 100 changes of 11k entries).
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
  let w = inputStart;
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

/** `sums` (32 bytes each) as input entries, sorted, each with its comma (as `digestInput` writes them). */
function sortedEntries(sums: Uint8Array): Uint8Array {
  const k = sums.length / 32;
  const input = digestInput(sums, k);
  return new Uint8Array(input.buffer, input.byteOffset, k * INPUT_ENTRY);
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
