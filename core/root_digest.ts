/**
 * What the root's `dir:` digest of a recorded table hashes (SPEC §4.2): every entry
 * checksum in hex, sorted and comma-joined, made from the raw 32-byte checksums
 * (`RecordedTable.digest` hashes it, or splices it from the last one's).
 * @module
 */
import { LITTLE_ENDIAN, runtimeHex } from "./byte_io.ts";
import { orderByPrefix } from "./checksum_order.ts";
import { COMMA, INPUT_ENTRY, inputOf, inputRoom, inputStart } from "./digest_input.ts";

const HEX = "0123456789abcdef";
const ascii = new TextEncoder();
const HEX_DIGIT = ascii.encode(HEX);
/** A byte's two hex digits as one 16-bit word that lands in memory in reading order. */
const HEX_PAIR16 = Uint16Array.from({ length: 256 }, (_, b) => {
  const first = HEX_DIGIT[b >> 4] as number;
  const second = HEX_DIGIT[b & 15] as number;
  return LITTLE_ENDIAN ? first | (second << 8) : (first << 8) | second;
});
/** A comma, then a hex digit, as one 16-bit word in reading order (by the digit's value). */
const COMMA_THEN16 = Uint16Array.from({ length: 16 }, (_, d) => {
  const digit = HEX_DIGIT[d] as number;
  return LITTLE_ENDIAN ? COMMA | (digit << 8) : (COMMA << 8) | digit;
});
/** A hex digit, then a comma, as one 16-bit word in reading order. */
const THEN_COMMA16 = Uint16Array.from({ length: 16 }, (_, d) => {
  const digit = HEX_DIGIT[d] as number;
  return LITTLE_ENDIAN ? digit | (COMMA << 8) : (digit << 8) | COMMA;
});

/** Entries joined per piece: one string of ~64 KiB each. */
const PIECE_ENTRIES = 1008;

/**
 * Writes the checksums' hex in `order` into `room` (from `inputStart`), a comma after
 * each, two digits per step: this runs once per changed sync, mostly before the JIT has
 * optimized it. An entry at an even offset is its bytes' digit pairs; one at an odd
 * offset is written from the comma before it, in pairs that straddle its bytes (the low
 * digit of one byte and the high digit of the next are the pair of the byte made of
 * those two nibbles), ending with the comma after it.
 */
function writeSortedHex(room: Uint8Array, sums: Uint8Array, order: Uint32Array): void {
  const n = order.length;
  const words = new Uint16Array(room.buffer, room.byteOffset, room.length >> 1);
  for (let k = 0; k < n; k++) {
    const from = (order[k] as number) * 32;
    const at = inputStart + k * INPUT_ENTRY;
    if ((at & 1) === 0) {
      let w = at >> 1;
      for (let j = 0; j < 32; j++) words[w++] = HEX_PAIR16[sums[from + j] as number] as number;
      room[at + 64] = COMMA;
      continue;
    }
    let w = (at - 1) >> 1;
    let b = sums[from] as number;
    words[w++] = COMMA_THEN16[b >> 4] as number;
    for (let j = 1; j < 32; j++) {
      const next = sums[from + j] as number;
      words[w++] = HEX_PAIR16[((b & 15) << 4) | (next >> 4)] as number;
      b = next;
    }
    words[w] = THEN_COMMA16[b & 15] as number;
  }
}

/**
 * The root digest's input of the `n` checksums in `sums` (32 bytes each): their hex,
 * sorted and comma-joined, in an {@linkcode inputRoom} (so it is stored without a
 * copy). `portable` leaves the runtime's hex encoding unused, as in a browser (for tests).
 *
 * @example
 * ```ts
 * digestInput(new Uint8Array(32), 1).length; // 64
 * ```
 */
export function digestInput(sums: Uint8Array, n: number, portable = false): Uint8Array {
  const order = sortedChecksums(sums, n);
  const room = inputRoom(n);
  const hex = portable ? null : runtimeHex();
  if (hex) writeSortedHexNative(room, sums, order, hex);
  else writeSortedHex(room, sums, order);
  return inputOf(room, n);
}

/**
 * {@linkcode writeSortedHex} with the runtime's hex encoding: every checksum's hex in one
 * call, then each piece's 64-digit slices joined in order with commas and written.
 */
function writeSortedHexNative(
  room: Uint8Array,
  sums: Uint8Array,
  order: Uint32Array,
  hex: (b: Uint8Array) => string,
): void {
  const n = order.length;
  const all = hex(sums.subarray(0, n * 32));
  const parts: string[] = [];
  let at = inputStart;
  for (let first = 0; first < n; first += PIECE_ENTRIES) {
    const count = Math.min(PIECE_ENTRIES, n - first);
    parts.length = count;
    for (let k = 0; k < count; k++) {
      const from = (order[first + k] as number) * 64;
      parts[k] = all.slice(from, from + 64);
    }
    at += ascii.encodeInto(parts.join(","), room.subarray(at)).written;
    room[at++] = COMMA;
  }
}

/** Entry indices ordered by their checksums' bytes (which is the hex strings' order). */
function sortedChecksums(sums: Uint8Array, n: number): Uint32Array {
  const view = new DataView(sums.buffer, sums.byteOffset, sums.byteLength);
  const compare = (a: number, b: number) => {
    for (let k = 0; k < 32; k++) {
      const d = (sums[a * 32 + k] as number) - (sums[b * 32 + k] as number);
      if (d !== 0) return d;
    }
    return 0;
  };
  return orderByPrefix(n, (i) => view.getUint32(i * 32), compare);
}
