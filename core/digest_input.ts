/**
 * The root digest's input kept from one sync to the next: every entry checksum's hex,
 * sorted and comma-joined (65 bytes an entry, the last without its comma), which the
 * `dir:` digest of the root hashes. A resync changes few checksums; its input is the
 * last one's with those taken out and put in (`digest_input_splice.ts`), where making
 * it again sorts and writes the hex of every checksum (~12 ms for 11k entries on a
 * resync's cold code, ~70 ms for 100k). Stored beside the tree as a cache: checked
 * against the tree's digest and its own CRC-32 before use, so a lost, stale or torn
 * copy only costs the full work.
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
/** The byte between two entries. */
export const COMMA = 0x2c;

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
export function entriesIn(length: number): number {
  if (length === 0) return 0;
  return (length + 1) % INPUT_ENTRY === 0 ? (length + 1) / INPUT_ENTRY : -1;
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
