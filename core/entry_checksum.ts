/**
 * Docker-compatible per-entry checksums (tarsum v1, SPEC §4.1):
 * `sha256(header ‖ content)` where the header is `key value` pairs without separators.
 * @module
 */
import type { FileStats } from "./file_system.ts";
import { encodeName, hasLoneSurrogate } from "./names.ts";
import type { EntryStat, Sha256, Sha256Factory } from "./types.ts";

/**
 * The tar-header fields an entry checksum covers. Strings are encoded as UTF-8, except
 * that lone surrogates U+DC80–U+DCFF stand for raw bytes (see `core/names.ts`), so a
 * non-UTF-8 name read from disk hashes as its real bytes.
 */
export interface EntryHeader {
  /** Path relative to the snapshot root, `/`-separated; directories end in `/`. */
  name: string | Uint8Array;
  /** Permission and special bits plus the file-type bits (`0o100644` for a 0644 file). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes for regular files, 0 otherwise. */
  size: number;
  /** `0` regular, `5` dir, `2` symlink, `3` char dev, `4` block dev, `6` fifo. */
  typeflag: string;
  linkname?: string | Uint8Array;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes; hashed with keys in byte order. */
  xattrs?: ReadonlyArray<readonly [string | Uint8Array, string | Uint8Array]>;
  /** Only tarsum version 0 hashes this (seconds since the epoch). */
  mtime?: number;
}

/** How to encode a header: version 1 (default, also `dev`) or 0 (mtime, no xattrs). */
export interface HeaderEncoding {
  version?: 0 | 1;
}

const encoder = new TextEncoder();
const S_IFMT = 0o170000;

/** Tar typeflag of a POSIX file type (`mode & S_IFMT`); sockets have none. */
function typeflagOf(type: number): string | undefined {
  switch (type) {
    case 0o100000:
      return "0";
    case 0o040000:
      return "5";
    case 0o120000:
      return "2";
    case 0o020000:
      return "3";
    case 0o060000:
      return "4";
    case 0o010000:
      return "6";
    default:
      return undefined;
  }
}

function bytesOf(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encodeName(value) : value;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The header bytes that precede an entry's content in its checksum.
 *
 * @example
 * ```ts
 * const h = encodeEntryHeader({ name: "foo", mode: 0o100644, uid: 0, gid: 0, size: 4, typeflag: "0" });
 * new TextDecoder().decode(h); // "namefoomode33188uid0gid0size4typeflag0linknameunamegnamedevmajor0devminor0"
 * ```
 */
export function encodeEntryHeader(header: EntryHeader, encoding: HeaderEncoding = {}): Uint8Array {
  const version = encoding.version ?? 1;
  const parts: Uint8Array[] = [];
  const add = (key: string, value: string | Uint8Array) => {
    parts.push(encoder.encode(key), bytesOf(value));
  };
  add("name", header.name);
  add("mode", String(header.mode));
  add("uid", String(header.uid));
  add("gid", String(header.gid));
  add("size", String(header.size));
  if (version === 0) add("mtime", String(header.mtime ?? 0));
  add("typeflag", header.typeflag);
  add("linkname", header.linkname ?? "");
  add("uname", "");
  add("gname", "");
  add("devmajor", String(header.devmajor ?? 0));
  add("devminor", String(header.devminor ?? 0));
  if (version !== 0 && header.xattrs && header.xattrs.length > 0) {
    const xattrs = header.xattrs.map(([k, v]) => [bytesOf(k), bytesOf(v)] as const);
    xattrs.sort((a, b) => compareBytes(a[0], b[0]));
    for (const [k, v] of xattrs) parts.push(k, v);
  }
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Starts an entry checksum: a hash already fed with the header. Feed the content
 * (regular files only), then `digest()`.
 *
 * @example
 * ```ts
 * const h = startEntryChecksum(sha256, { name: "foo", mode: 0o100644, uid: 0, gid: 0, size: 4, typeflag: "0" });
 * h.update("data");
 * h.digest(); // "68173f04…"
 * ```
 */
export function startEntryChecksum(sha256: Sha256Factory, header: EntryHeader, encoding?: HeaderEncoding): Sha256 {
  const hash = sha256();
  hash.update(entryHeaderText(header, encoding) ?? encodeEntryHeader(header, encoding));
  return hash;
}

/**
 * The header as one string when it is plain text (no byte names, no xattrs), else
 * `undefined`: the hasher encodes it natively, where building bytes field by field
 * costs more than hashing a small file. Its UTF-8 bytes are {@linkcode encodeEntryHeader}'s.
 *
 * @example
 * ```ts
 * entryHeaderText({ name: "foo", mode: 0o100644, uid: 0, gid: 0, size: 4, typeflag: "0" });
 * // "namefoomode33188uid0gid0size4typeflag0linknameunamegnamedevmajor0devminor0"
 * ```
 */
export function entryHeaderText(h: EntryHeader, encoding: HeaderEncoding = {}): string | undefined {
  const { name, linkname = "" } = h;
  if (typeof name !== "string" || typeof linkname !== "string") return undefined;
  if (h.xattrs && h.xattrs.length > 0 && encoding.version !== 0) return undefined;
  if (hasLoneSurrogate(name) || hasLoneSurrogate(linkname)) return undefined;
  const mtime = encoding.version === 0 ? `mtime${h.mtime ?? 0}` : "";
  return `name${name}mode${h.mode}uid${h.uid}gid${h.gid}size${h.size}${mtime}typeflag${h.typeflag}linkname${linkname}unamegnamedevmajor${h.devmajor ?? 0}devminor${h.devminor ?? 0}`;
}

/** The checksum of an entry whose content (if any) is at hand. */
export function entryChecksum(sha256: Sha256Factory, header: EntryHeader, content?: Uint8Array | string): string {
  const hash = startEntryChecksum(sha256, header);
  if (content !== undefined) hash.update(content);
  return hash.digest();
}

/** Linux `major(rdev)`. */
function devMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

/** Linux `minor(rdev)`. */
function devMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

/**
 * The header of a file-system entry from its `lstat`, or `undefined` for kinds a tar
 * cannot hold (sockets). `name` is relative to the snapshot root, without the
 * directory slash (added here). Symlinks always hash as mode 0777, as on Linux, so a
 * tree in memory and the same tree on disk agree.
 */
export function headerFromStats(
  name: string | Uint8Array,
  stats: FileStats,
  linkname?: string | Uint8Array,
): EntryHeader | undefined {
  const type = stats.mode & S_IFMT;
  const typeflag = typeflagOf(type);
  if (typeflag === undefined) return undefined;
  let mode = stats.mode & 0o177777;
  if (typeflag === "2") mode = type | 0o777;
  const header: EntryHeader = {
    name: typeflag === "5" ? appendSlash(name) : name,
    mode,
    uid: stats.uid,
    gid: stats.gid,
    size: typeflag === "0" ? stats.size : 0,
    typeflag,
  };
  if (typeflag === "2") header.linkname = linkname ?? "";
  if (typeflag === "3" || typeflag === "4") {
    header.devmajor = devMajor(stats.rdev);
    header.devminor = devMinor(stats.rdev);
  }
  return header;
}

function appendSlash(name: string | Uint8Array): string | Uint8Array {
  if (typeof name === "string") return name.endsWith("/") ? name : `${name}/`;
  if (name[name.length - 1] === 0x2f) return name;
  const out = new Uint8Array(name.length + 1);
  out.set(name);
  out[name.length] = 0x2f;
  return out;
}

/**
 * The {@linkcode EntryStat} a scan records for an entry: its `lstat` fields, the size its
 * header declares (0 for all but regular files), and a symlink's target.
 *
 * @example
 * ```ts
 * entryStatOf(fs.lstatSync(path), 0, "target"); // { mode, uid, gid, size: 0, mtimeMs, linkname: "target" }
 * ```
 */
export function entryStatOf(stats: FileStats, size: number, linkname?: string): EntryStat {
  const stat: EntryStat = { mode: stats.mode, uid: stats.uid, gid: stats.gid, size, mtimeMs: stats.mtimeMs };
  if (linkname !== undefined) stat.linkname = linkname;
  return stat;
}
