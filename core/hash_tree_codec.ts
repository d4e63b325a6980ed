/**
 * The hash tree's bytes for the MetaStore. Compact (entries in walk order, each path
 * stored as the bytes it does not share with the previous one, checksums as 32 raw
 * bytes, numbers as varints) and versioned; a CRC-32 trailer makes corruption and
 * truncation an `ERR_CORRUPT` error instead of a wrong tree.
 *
 * Layout, version 2: `"FSHT"` · version u8 · root digest (32 bytes) · entry count
 * varint · entries · CRC-32 (big-endian, of everything before it). Entry: shared-prefix
 * length varint · suffix length varint · suffix bytes · checksum (32 bytes) · flags u8
 * (1 = stat, 2 = link name) · [stat: mode, uid, gid, size varints, mtimeMs float64 LE] ·
 * [link name: length varint, bytes].
 *
 * The root digest is the raw form of `hash(".")` (without `dir:`): a repeat sync that
 * changed nothing answers it from the stored bytes instead of sorting and hashing every
 * entry checksum again. Version 1 (written before) is the same without the digest; it is
 * still read, and its digest is computed when asked for.
 * @module
 */
import { ByteReader, ByteWriter, corrupt, crc32 } from "./byte_io.ts";
import { FSCacheError } from "./errors.ts";
import { HashTree } from "./hash_tree.ts";
import { compareWalkOrder, decodeName, encodeName } from "./names.ts";
import type { EntryStat, RecordedEntry, Sha256Factory } from "./types.ts";

export const MAGIC: readonly number[] = [0x46, 0x53, 0x48, 0x54]; // "FSHT"
/** The version written. */
export const VERSION = 2;
/** The version before the stored root digest; still read. */
export const VERSION_WITHOUT_DIGEST = 1;
/** Bytes of the stored root digest (a raw sha256). */
export const DIGEST_BYTES = 32;
export const HAS_STAT = 1;
export const HAS_LINK = 2;

/**
 * Encodes a tree for {@linkcode MetaStore.putHashTree}.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, serializeHashTree(tree));
 * ```
 */
export function serializeHashTree(tree: HashTree): Uint8Array {
  const out = new ByteWriter();
  for (const b of MAGIC) out.byte(b);
  out.byte(VERSION);
  // `dir:` and 64 hex digits; the trie caches it, so a later `hash(".")` costs nothing more.
  const root = tree.hash(".", "dir") as string;
  for (let i = 4; i < 4 + 64; i += 2) {
    out.byte(((HEX_VALUE[root.charCodeAt(i)] as number) << 4) | (HEX_VALUE[root.charCodeAt(i + 1)] as number));
  }
  out.varint(tree.size);
  let previous: Uint8Array = new Uint8Array(0);
  for (const [path, entry] of tree.entries()) {
    const name = encodeName(path);
    let shared = 0;
    const max = Math.min(name.length, previous.length);
    while (shared < max && name[shared] === previous[shared]) shared++;
    out.varint(shared);
    out.varint(name.length - shared);
    out.bytes(name.subarray(shared));
    previous = name;
    const sum = entry.checksum;
    for (let i = 0; i < 64; i += 2) {
      out.byte(((HEX_VALUE[sum.charCodeAt(i)] as number) << 4) | (HEX_VALUE[sum.charCodeAt(i + 1)] as number));
    }
    const stat = entry.stat;
    out.byte((stat ? HAS_STAT : 0) | (stat?.linkname !== undefined ? HAS_LINK : 0));
    if (!stat) continue;
    out.varint(stat.mode);
    out.varint(stat.uid);
    out.varint(stat.gid);
    out.varint(stat.size);
    out.float64(stat.mtimeMs);
    if (stat.linkname !== undefined) {
      const link = encodeName(stat.linkname);
      out.varint(link.length);
      out.bytes(link);
    }
  }
  const body = out.finish();
  const result = new Uint8Array(body.length + 4);
  result.set(body);
  new DataView(result.buffer).setUint32(body.length, crc32(body));
  return result;
}

/**
 * Decodes {@linkcode serializeHashTree}'s bytes (either version); throws `ERR_CORRUPT`
 * for anything else (wrong magic or version, bad CRC, truncation, paths out of order).
 * The trie computes its root digest itself when asked: a stored one is not used here.
 *
 * @example
 * ```ts
 * const tree = deserializeHashTree(await metaStore.getHashTree(key), nodeSha256);
 * ```
 */
export function deserializeHashTree(data: Uint8Array, sha256: Sha256Factory): HashTree {
  const { body, input, count } = openRecord(data);
  const entries = decodeEntries(input, count, hexChecksums(body, input.position, count));
  let tree: HashTree;
  try {
    tree = HashTree.fromWalkOrder(sha256, entries);
  } catch (err) {
    if (err instanceof FSCacheError && err.code === "ERR_CORRUPT") throw err;
    corrupt(`bad entry ${JSON.stringify((err as { path?: unknown }).path)}`, err);
  }
  if (!input.done || tree.size !== count) corrupt("trailing or repeated entries");
  return tree;
}

/** The stored entries, decoded as the tree builder asks for them (no array of them all). */
function* decodeEntries(input: ByteReader, count: number, hex: string): Generator<[string, RecordedEntry]> {
  // One growing buffer for the current name: each stored name only adds its suffix.
  let name = new Uint8Array(256);
  let length = 0;
  let previousPath: string | undefined;
  for (let n = 0; n < count; n++) {
    const shared = input.varint();
    const suffix = input.varint();
    if (shared > length) corrupt("bad path prefix");
    if (shared + suffix > name.length) {
      const bigger = new Uint8Array(Math.max(name.length * 2, shared + suffix));
      bigger.set(name.subarray(0, shared));
      name = bigger;
    }
    const added = input.bytes(suffix);
    // No name holds a NUL (the columnar decoder rejects it too); the prefix was checked before.
    if (added.includes(0)) corrupt("bad entry path");
    name.set(added, shared);
    length = shared + suffix;
    const path = decodeName(name.subarray(0, length));
    input.bytes(32);
    const checksum = hex.slice(n * 64, n * 64 + 64);
    const flags = input.byte();
    let stat: EntryStat | undefined;
    if (flags & HAS_STAT) {
      stat = { mode: input.varint(), uid: input.varint(), gid: input.varint(), size: input.varint(), mtimeMs: 0 };
      stat.mtimeMs = input.float64();
      if (flags & HAS_LINK) stat.linkname = decodeName(input.bytes(input.varint()));
    }
    if (previousPath !== undefined && compareWalkOrder(previousPath, path) >= 0) corrupt("paths out of order");
    previousPath = path;
    yield [path, stat === undefined ? { checksum } : { checksum, stat }];
  }
}

/**
 * Every checksum of the stored entries as hex, in one string (64 digits per entry):
 * a first, allocation-free pass over the entries writes the digits into one buffer
 * and decodes it once; each entry's checksum is then a slice of it. Building each
 * 64-character string on its own made most of a large tree's decoding time and garbage.
 */
function hexChecksums(body: Uint8Array, position: number, count: number): string {
  const input = new ByteReader(body, position);
  const digits = new Uint8Array(count * 64);
  for (let n = 0; n < count; n++) {
    input.varint();
    input.bytes(input.varint());
    const sum = input.bytes(32);
    for (let i = 0; i < 32; i++) {
      const b = sum[i] as number;
      digits[n * 64 + i * 2] = HEX_DIGIT[b >> 4] as number;
      digits[n * 64 + i * 2 + 1] = HEX_DIGIT[b & 15] as number;
    }
    const flags = input.byte();
    if (flags & HAS_STAT) {
      for (let i = 0; i < 4; i++) input.varint();
      input.bytes(8);
      if (flags & HAS_LINK) input.bytes(input.varint());
    }
  }
  return ascii.decode(digits);
}

const ascii = new TextDecoder();
const HEX_DIGIT = new TextEncoder().encode("0123456789abcdef");

/** The value of a lowercase hex digit by char code (checksums are validated lowercase hex). */
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;

/** What {@linkcode openRecord} finds at the start of a stored tree. */
export interface OpenedRecord {
  /** The bytes before the CRC. */
  body: Uint8Array;
  /** Positioned at the first entry. */
  input: ByteReader;
  count: number;
  /** The stored root digest (version 2 on), a view into `body`. */
  digest: Uint8Array | undefined;
}

/**
 * Checks a stored tree's magic, version and CRC, and reads its root digest (if the
 * version has one) and entry count: what both decoders (this trie and the columnar
 * `decodeRecordedTable`) start with.
 *
 * @example
 * ```ts
 * const { input, count } = openRecord(bytes); // then `count` entries from `input`
 * ```
 */
export function openRecord(data: Uint8Array): OpenedRecord {
  const problem = headerProblem(data);
  if (problem !== undefined) corrupt(problem);
  const version = data[4];
  const body = data.subarray(0, data.length - 4);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(data.length - 4) !== crc32(body)) corrupt("checksum mismatch");
  const input = new ByteReader(body, 5);
  const digest = version === VERSION ? input.bytes(DIGEST_BYTES) : undefined;
  const count = input.varint();
  // Each entry takes at least 35 bytes: a count beyond that is a lie, not a reason to allocate.
  if (count * 35 > body.length - input.position) corrupt("truncated");
  return { body, input, count, digest };
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
  try {
    return new ByteReader(data, 5 + (version === VERSION ? DIGEST_BYTES : 0)).varint();
  } catch {
    return undefined;
  }
}

/** Why `data` is not a stored tree of a known version (by its magic and version byte), if it is not. */
function headerProblem(data: Uint8Array): string | undefined {
  if (data.length < MAGIC.length + 1 + 4 || MAGIC.some((b, i) => data[i] !== b)) return "not a hash tree";
  const version = data[4];
  if (version !== VERSION && version !== VERSION_WITHOUT_DIGEST) return `unsupported hash tree version ${version}`;
  return undefined;
}
