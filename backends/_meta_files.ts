/**
 * The files of a {@linkcode FileMetaStore}: checksummed encodings of a record and of a
 * hash tree, an atomic write (temp file, fsync, rename) and a coalescing directory
 * fsync. Kept apart from the store so the store reads as its crash argument.
 * @module
 */
import { constants } from "node:fs";
import { pid } from "node:process";
import { crc32 } from "../core/byte_io.ts";
import { isValidRecord } from "../core/record.ts";
import type { SourceRecord } from "../core/types.ts";
import { closeFile, openFile, removeFile, renamePath, syncFile, truncateFile, writeAll } from "./_fs_callbacks.ts";
import { sha256Hex } from "./node_sha256.ts";

/** A record as stored: the record plus the write sequence number that orders duplicates. */
export interface StoredRecord {
  seq: number;
  record: SourceRecord;
}

const FORMAT = 1;
const TREE_MAGIC = "fscache-tree";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Prefix of temp files; a leftover one (the writer was killed) is deleted on open. */
export const TEMP_PREFIX = ".tmp-";

/**
 * Encodes a record file: one line of JSON, then one line with the CRC-32 of its UTF-8
 * (`crc32:` and 8 hex digits). JSON escapes every newline inside keys, so the first
 * line is the whole payload.
 *
 * @example
 * ```ts
 * const text = encodeRecord({ seq: 1, record });
 * decodeRecord(text)?.record.key === record.key; // true
 * ```
 */
export function encodeRecord({ seq, record }: StoredRecord): string {
  const { key, sharedKey, backendId, lastUsed, priority, size, stale } = record;
  const payload = JSON.stringify({ v: FORMAT, seq, key, sharedKey, backendId, lastUsed, priority, size, stale });
  return `${payload}\n${recordSum(payload)}\n`;
}

/**
 * The check line of a record: CRC-32, as trees carry. Files written by earlier versions
 * carry the payload's SHA-256 and still read; with CRC-32, opening a cache and a no-op
 * sync need no `node:crypto` (6–11 ms to load) at all.
 */
function recordSum(payload: string): string {
  return `${CRC_PREFIX}${crcHex(encoder.encode(payload))}`;
}

/** The record in a record file, or `undefined` when it is truncated, altered or malformed. */
export function decodeRecord(text: string): StoredRecord | undefined {
  if (!text.endsWith("\n")) return undefined;
  const split = text.lastIndexOf("\n", text.length - 2);
  if (split < 0) return undefined;
  const payload = text.slice(0, split);
  const sum = text.slice(split + 1, -1);
  if ((sum.startsWith(CRC_PREFIX) ? recordSum(payload) : sha256Hex(payload)) !== sum) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (value.v !== FORMAT || !Number.isSafeInteger(value.seq)) return undefined;
  const record = {
    key: value.key,
    sharedKey: value.sharedKey,
    backendId: value.backendId,
    lastUsed: value.lastUsed,
    priority: value.priority,
    size: value.size,
    stale: value.stale,
  };
  return isValidRecord(record) ? { seq: value.seq as number, record } : undefined;
}

/**
 * Encodes a hash-tree file: a header line `fscache-tree crc32:<8 hex> <length>`, then
 * the bytes as given. CRC-32, not SHA-256: the header guards against a torn or damaged
 * file, not against someone who can write the store (a 100k-entry tree's 5.8 MB: ~1 ms
 * against ~4 ms).
 *
 * @example
 * ```ts
 * decodeTree(encodeTree(new Uint8Array([1, 2]))); // Uint8Array [1, 2]
 * ```
 */
export function encodeTree(data: Uint8Array): Uint8Array {
  const [header] = treeFile(data) as [Uint8Array, Uint8Array];
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/**
 * {@linkcode encodeTree} as its two pieces, header and `data` itself, for a writer
 * that takes pieces: a 100k-entry tree is megabytes, and a fresh buffer that size
 * costs a page fault per 4 KiB to fill.
 *
 * @example
 * ```ts
 * await writeFileAtomic("/cache/meta", "abc.tree", treeFile(data));
 * ```
 */
export function treeFile(data: Uint8Array): Uint8Array[] {
  return [encoder.encode(`${TREE_MAGIC} ${CRC_PREFIX}${crcHex(data)} ${data.length}\n`), data];
}

/** The bytes of a hash-tree file, or `undefined` when it is truncated or altered. */
export function decodeTree(file: Uint8Array): Uint8Array | undefined {
  const end = file.subarray(0, 128).indexOf(10);
  if (end < 0) return undefined;
  let header: string;
  try {
    header = decoder.decode(file.subarray(0, end));
  } catch {
    return undefined;
  }
  const [magic, sum, length, ...rest] = header.split(" ");
  // A plain Uint8Array (not a Buffer): callers compare and keep it. A view of the file's
  // bytes when the file owns its memory (`readFile` of a tree allocates it for the file
  // alone): copying a 100k-entry tree's megabytes out of a Buffer cost more than hashing them.
  const owned = file.byteOffset === 0 && file.byteLength === file.buffer.byteLength;
  const data = owned ? new Uint8Array(file.buffer, end + 1, file.length - end - 1) : copyOf(file.subarray(end + 1));
  if (magic !== TREE_MAGIC || rest.length > 0 || String(data.length) !== length) return undefined;
  // Files written before the CRC header carry the SHA-256 of the bytes.
  const expected = sum?.startsWith(CRC_PREFIX) ? `${CRC_PREFIX}${crcHex(data)}` : sha256Hex(data);
  return expected === sum ? data : undefined;
}

const CRC_PREFIX = "crc32:";

function crcHex(data: Uint8Array): string {
  return crc32(data).toString(16).padStart(8, "0");
}

let counter = 0;

/**
 * Writes `dir/name` so that a reader (or a crash) sees the old content or the new,
 * never a mix: write a temp file in the same directory, fsync it, rename it over.
 * The rename is durable only once the directory is fsynced ({@linkcode DirSync}).
 *
 * @example
 * ```ts
 * await writeFileAtomic("/cache/meta", "abc.rec", text);
 * await dirSync.sync();
 * ```
 */
export async function writeFileAtomic(
  dir: string,
  name: string,
  data: Uint8Array | string | readonly Uint8Array[],
): Promise<void> {
  const temp = `${dir}/${TEMP_PREFIX}${pid}-${++counter}-${name}`;
  try {
    const fd = await openFile(temp, "w", 0o600);
    try {
      // Pieces are written one after the other, each where the last ended.
      for (const piece of typeof data === "string" || data instanceof Uint8Array ? [data] : data) {
        await writeAll(fd, typeof piece === "string" ? encoder.encode(piece) : piece);
      }
      await syncFile(fd);
    } finally {
      await closeFile(fd);
    }
    await renamePath(temp, `${dir}/${name}`);
  } catch (err) {
    await removeFile(temp);
    throw err;
  }
}

/**
 * Writes `data` over the file at `path` (made if missing) in place, then cuts it to
 * length: no fsync, no temp file. Only for a file that carries its own check, which a
 * crash or a reader meanwhile may see torn. Neither a rename over the old file nor
 * truncating it to nothing first: on ext4 either makes the kernel write the new data
 * out at once (its `auto_da_alloc` guard), which slowed the tree's own fsync beside it.
 *
 * @example
 * ```ts
 * await overwriteFile("/cache/meta/a.digest-input", bytes);
 * ```
 */
export async function overwriteFile(path: string, data: Uint8Array): Promise<void> {
  const fd = await openFile(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    await writeAll(fd, data);
    await truncateFile(fd, data.length);
  } finally {
    await closeFile(fd);
  }
}

/**
 * fsyncs one directory, coalescing concurrent requests: a caller is answered by an
 * fsync that *started* after it asked, and many writers finishing together share one.
 *
 * @example
 * ```ts
 * const dirSync = new DirSync("/cache/meta");
 * await Promise.all([dirSync.sync(), dirSync.sync()]); // one or two fsyncs, never one per caller
 * ```
 */
export class DirSync {
  readonly #dir: string;
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  sync(): Promise<void> {
    if (!this.#current) {
      this.#current = this.#fsync().finally(() => {
        this.#current = undefined;
      });
      return this.#current;
    }
    // An fsync is running but may have started before our rename: wait for the next one.
    this.#next ??= this.#current
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.sync();
      });
    return this.#next;
  }

  async #fsync(): Promise<void> {
    const fd = await openFile(this.#dir, "r");
    try {
      await syncFile(fd);
    } finally {
      await closeFile(fd);
    }
  }
}

/** A copy in a plain Uint8Array, made with one `set` (constructing from a Buffer was far slower). */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}
