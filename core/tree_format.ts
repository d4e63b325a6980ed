/**
 * The stored hash tree's envelope, common to every version: `"FSHT"`, a version byte,
 * the version's body, and a CRC-32 (big-endian) of everything before it. Version 4 is
 * written (`recorded_table_codec.ts`); versions 1 to 3, written before, are still read
 * (3 there, 1 and 2 in `recorded_table_v2.ts`).
 * @module
 */
import { ByteReader, corrupt, crc32 } from "./byte_io.ts";

export const MAGIC: readonly number[] = [0x46, 0x53, 0x48, 0x54]; // "FSHT"
/** The version written: columns, with a listing key per entry (see `recorded_table_codec.ts`). */
export const VERSION = 4;
/** Version 4 without the listing keys (5 stat numbers per entry); still read. */
export const VERSION_3 = 3;
/** Entries one after the other, with the root digest; still read. */
export const VERSION_2 = 2;
/** Version 2 without the root digest; still read. */
export const VERSION_1 = 1;
/** Bytes of the stored root digest (a raw sha256), right after the version byte (versions 2 to 4). */
export const DIGEST_BYTES = 32;
/**
 * The header of versions 3 and 4: magic, version, root digest, then four little-endian numbers at
 * these offsets: entry count (u32), content size (f64, -1 when not exact), names' byte
 * length (u32), link count (u32).
 */
export const COUNT_AT: number = 5 + DIGEST_BYTES;
/** See {@linkcode COUNT_AT}. */
export const SIZE_AT: number = COUNT_AT + 4;
/** See {@linkcode COUNT_AT}. */
export const NAMES_LENGTH_AT: number = SIZE_AT + 8;
/** See {@linkcode COUNT_AT}. */
export const LINK_COUNT_AT: number = NAMES_LENGTH_AT + 4;
/** Bytes of the header of versions 3 and 4; their columns start here. */
export const HEADER_BYTES: number = LINK_COUNT_AT + 4;

/**
 * The bytes of a stored tree between its magic and its CRC, once both check out, with
 * its version; throws `ERR_CORRUPT` otherwise.
 *
 * @example
 * ```ts
 * const { version, body } = checkedBody(bytes); // body[4] === version
 * ```
 */
export function checkedBody(data: Uint8Array): { version: number; body: Uint8Array } {
  const problem = headerProblem(data);
  if (problem !== undefined) corrupt(problem);
  const body = data.subarray(0, data.length - 4);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(data.length - 4) !== crc32(body)) corrupt("checksum mismatch");
  return { version: data[4] as number, body };
}

/**
 * Seals `out[0, out.length - 4)` with its CRC-32 in the last 4 bytes; returns `out`.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(body.length + 4);
 * out.set(body);
 * sealTree(out);
 * ```
 */
export function sealTree(out: Uint8Array): Uint8Array {
  const end = out.length - 4;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(end, crc32(out.subarray(0, end)));
  return out;
}

/**
 * The entry count a stored tree declares, read from its header alone (no CRC check, no
 * decoding): a size hint before the tree is decoded. `undefined` for what is not a
 * stored tree of a known version.
 *
 * @example
 * ```ts
 * storedEntryCount(serializeHashTree(tree)); // tree.size
 * ```
 */
export function storedEntryCount(data: Uint8Array): number | undefined {
  if (headerProblem(data) !== undefined) return undefined;
  const version = data[4];
  if (version === VERSION || version === VERSION_3) {
    if (data.length < HEADER_BYTES) return undefined;
    return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(COUNT_AT, true);
  }
  try {
    return new ByteReader(data, 5 + (version === VERSION_2 ? DIGEST_BYTES : 0)).varint();
  } catch {
    return undefined;
  }
}

/** Why `data` is not a stored tree of a known version (by its magic and version byte), if it is not. */
function headerProblem(data: Uint8Array): string | undefined {
  if (data.length < MAGIC.length + 1 + 4 || MAGIC.some((b, i) => data[i] !== b)) return "not a hash tree";
  const version = data[4];
  if (version !== VERSION && version !== VERSION_3 && version !== VERSION_2 && version !== VERSION_1) {
    return `unsupported hash tree version ${version}`;
  }
  return undefined;
}
