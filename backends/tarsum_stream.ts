/**
 * TarSum of a tar stream (SPEC §4.4), read with `tar-stream` in bounded memory: the
 * archive streams through, each entry's content is hashed as it passes.
 *
 * Docker computes TarSum over Go's `archive/tar`, so fields are taken as Go reads
 * them: names and link names as raw bytes (ustar, GNU long names, PAX `path`/
 * `linkpath`), PAX `uid`/`gid`/`mtime` overrides, `SCHILY.xattr.*` records as xattrs
 * with raw byte values, the raw typeflag byte, and PAX global headers as entries of
 * their own. `tar-stream` decodes PAX records as UTF-8 and drops the typeflag byte,
 * so the raw PAX records and header block are captured from its (pinned) parser.
 * @module
 */
import { extract } from "tar-stream";
import type { EntryHeader } from "../core/entry_checksum.ts";
import { FSCacheError } from "../core/errors.ts";
import { decodeName } from "../core/names.ts";
import { TarSum, type TarSumVersion } from "../core/tarsum.ts";
import type { Sha256Factory } from "../core/types.ts";
import { nodeSha256 } from "./node_sha256.ts";
import {
  frameOldGnuExtensions,
  type HeaderFraming,
  oldGnuSparseLayout,
  paxSparseLayout,
  type SparseLayout,
  sparseSink,
} from "./tar_sparse.ts";

/** Options of {@linkcode tarSum}. */
export interface TarSumOptions {
  /** Default `"1"`. */
  version?: TarSumVersion;
  /** Bytes hashed before the entry checksums (Docker's `Sum(extra)`). */
  extra?: Uint8Array;
  /** Called per entry with its cleaned name (as Docker's `GetSums` keys it) and checksum. */
  onEntry?(name: string, checksum: string): void;
  /** Default `node:crypto`'s. */
  sha256?: Sha256Factory;
}

/** What {@linkcode tarSum} returns. */
export interface TarSumResult {
  /** e.g. `tarsum.v1+sha256:<hex>`. */
  sum: string;
  entries: number;
}

type PaxRecords = [key: string, value: Uint8Array][];

/** The parts of tar-stream's parser this module hooks into (tar-stream 3.2.x). */
interface ExtractInternals {
  _buffer: { shift(size: number): Uint8Array | null };
  _header: { type: string | null; name: string } | null;
  _decodeLongHeader(buf: Uint8Array): void;
  /** Global PAX records, which tar-stream applies to every later entry and Go does not. */
  _paxGlobal: unknown;
}

const GO_ZERO_TIME_UNIX = -62135596800;
/** Types Go reads no data for (links, devices, directories, fifos): never sparse. */
const HEADER_ONLY = new Set(["1", "2", "3", "4", "5", "6"]);
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const utf8 = new TextDecoder();

/**
 * The TarSum of an archive.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 * const { sum } = await tarSum(createReadStream("layer.tar"));
 * sum; // "tarsum.v1+sha256:…"
 * ```
 */
export async function tarSum(input: TarInput, options: TarSumOptions = {}): Promise<TarSumResult> {
  const sum = new TarSum(options.sha256 ?? nodeSha256, options.version ?? "1");
  await readTarEntries(input, (header) => {
    const hash = sum.startEntry(header);
    return {
      data: (chunk) => hash.update(chunk),
      end: () => {
        const digest = hash.digest();
        sum.addEntry(digest);
        options.onEntry?.(cleanName(header.name as Uint8Array), digest);
      },
    };
  });
  return { sum: sum.finish(options.extra), entries: sum.entries };
}

/** What a tar can be read from. */
export type TarInput = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Where one entry's content goes. */
export interface TarEntrySink {
  /** A piece of the content; `hole`: zeros a sparse entry did not store (a writer may skip them). */
  data(chunk: Uint8Array, hole?: boolean): void;
  end(): void | Promise<void>;
}

/**
 * Streams an archive, handing each entry's header (as Go's `archive/tar` reads it: see
 * the module doc) to `onEntry` and its content to the sink returned. PAX global
 * headers come as entries of their own with typeflag `g`. An error thrown by
 * `onEntry` or a sink ends the read and is rethrown as is; a malformed archive is
 * `ERR_INVALID_TAR`.
 *
 * @example
 * ```ts
 * await readTarEntries(stream, (h) => ({ data: (c) => hash.update(c), end: () => {} }));
 * ```
 */
export async function readTarEntries(
  input: TarInput,
  onEntry: (header: TarHeader) => TarEntrySink | Promise<TarEntrySink>,
): Promise<void> {
  const ex = extract({ filenameEncoding: "latin1", allowUnknownFormat: true } as never);
  const internals = ex as unknown as ExtractInternals;
  let block: Uint8Array | null = null;
  let pax: PaxRecords | undefined;
  const globals: TarHeader[] = [];
  let handlerError: { error: unknown } | undefined;

  const extensionsOfLast = frameOldGnuExtensions(ex as unknown as HeaderFraming);
  const shift = internals._buffer.shift.bind(internals._buffer);
  internals._buffer.shift = (size) => {
    const out = shift(size);
    if (size === 512) block = out;
    return out;
  };
  const decodeLong = internals._decodeLongHeader.bind(ex);
  internals._decodeLongHeader = (buf) => {
    const header = internals._header;
    if (header?.type === "pax-header") pax = parsePax(buf);
    else if (header?.type === "pax-global-header") {
      // Go's reader returns a global header as an entry of its own, bare but for name and records.
      const records = parsePax(buf);
      const name = records.find(([k]) => k === "path")?.[1] ?? latin1(header.name);
      globals.push({
        name,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        typeflag: "g",
        mtime: GO_ZERO_TIME_UNIX,
        mtimeNs: BigInt(GO_ZERO_TIME_UNIX) * 1_000_000_000n,
        ...xattrsOf(records),
      });
    }
    decodeLong(buf);
    // Go's reader returns a global header as an entry and applies it to nothing else.
    internals._paxGlobal = null;
  };

  const flushGlobals = async () => {
    for (const g of globals.splice(0)) await (await onEntry(g)).end();
  };

  ex.on("entry", (h, stream, next) => {
    const records = pax ?? [];
    pax = undefined;
    const raw = block?.[156] ?? 0x30;
    const fail = (error: unknown) => {
      handlerError ??= { error };
      next(error as Error);
    };
    // Listened to at once: the entry can fail (the archive ends inside it, or its header
    // is refused just below) before the handler has attached its listeners, and an
    // unheard "error" would crash the process.
    stream.on("error", (err: Error) => next(err));
    let header: TarHeader;
    let sparse: SparseLayout | undefined;
    try {
      header = goHeader(h, records, raw, block);
      sparse =
        raw === 0x53 ? oldGnuSparseLayout(block as Uint8Array, extensionsOfLast()) : paxSparseLayout(new Map(records));
      if (sparse) {
        if (HEADER_ONLY.has(header.typeflag))
          throw new FSCacheError("ERR_INVALID_TAR", "a sparse entry of a type without data");
        header = { ...header, size: sparse.size, ...(sparse.name ? { name: sparse.name } : {}) };
      }
    } catch (error) {
      fail(error);
      return;
    }
    (async () => {
      await flushGlobals();
      const handler = await onEntry(header);
      const sink = sparse ? sparseSink(sparse, handler) : handler;
      if ((h as { type?: string }).type === "directory" && h.size > 0) {
        // A directory is header-only (as Go reads it): tar-stream reads no data for it, but
        // its entry stream ends only when the size field is 0, so waiting would hang.
        await sink.end();
        next();
        return;
      }
      stream.on("data", (chunk) => {
        try {
          sink.data(chunk as Uint8Array);
        } catch (error) {
          // Failed first, so the extractor is destroyed *with* the error: an entry stream
          // destroyed without one takes the extractor down silently (no "error", no
          // "finish"), and the import would wait forever.
          fail(error);
          stream.destroy(error as Error);
        }
      });
      stream.on("end", () => {
        // `end()` may throw synchronously (a failing close): that must fail the import too.
        Promise.resolve()
          .then(() => sink.end())
          .then(() => next(), fail);
      });
    })().catch(fail);
  });

  const done = new Promise<void>((resolve, reject) => {
    ex.on("error", reject);
    ex.on("finish", () => resolve());
    // Destroyed without an error, the extractor emits only "close": never wait on it then.
    ex.on("close", () => reject(handlerError?.error ?? new Error("the tar reader stopped")));
  });
  // Noted here, not thrown while writing: a parse error must reach the `catch` below that
  // turns it into ERR_INVALID_TAR (while the input's own errors, a cut upload, pass as they are).
  let failed = false;
  const stopped = done.catch(() => {
    failed = true;
  });
  for await (const chunk of input as AsyncIterable<Uint8Array>) {
    if (failed || ex.destroyed) break;
    if (!ex.write(chunk)) await Promise.race([new Promise<void>((r) => ex.once("drain", () => r())), stopped]);
  }
  ex.end(undefined as never);
  try {
    await done;
  } catch (err) {
    if (handlerError) throw handlerError.error;
    throw new FSCacheError("ERR_INVALID_TAR", `not a readable tar archive: ${(err as Error).message}`, { cause: err });
  }
  if (handlerError) throw handlerError.error;
  await flushGlobals();
}

/** The header as Go's `archive/tar` would have produced it. */
function goHeader(
  h: { name: string; mode: number; uid: number; gid: number; size: number; mtime: Date; linkname: string | null } & {
    devmajor: number;
    devminor: number;
  },
  records: PaxRecords,
  rawTypeflag: number,
  block: Uint8Array | null,
): TarHeader {
  const rec = new Map(records);
  const name = rec.get("path") ?? latin1(h.name);
  let typeflag = String.fromCharCode(rawTypeflag);
  // Go reads the pre-POSIX "regular file" flag NUL as '0', or as a directory when the name ends in '/'.
  if (rawTypeflag === 0) typeflag = name[name.length - 1] === 0x2f ? "5" : "0";
  // A PAX number that does not parse is a bad header, as in Go (strconv fails, ErrHeader):
  // NaN must not reach checksums or the importer's BigInt mtime.
  const invalid = (key: string, text: string): never => {
    throw new FSCacheError("ERR_INVALID_TAR", `invalid PAX ${key} record ${JSON.stringify(text.slice(0, 40))}`);
  };
  const number = (key: string, fallback: number) => {
    const v = rec.get(key);
    if (v === undefined) return fallback;
    const text = utf8.decode(v);
    const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    return Number.isSafeInteger(n) ? n : invalid(key, text);
  };
  const mtimeRecord = rec.get("mtime");
  let mtime = block
    ? headerSeconds(block, 136, Math.floor(h.mtime.getTime() / 1000))
    : Math.floor(h.mtime.getTime() / 1000);
  let mtimeNs = BigInt(mtime) * 1_000_000_000n;
  if (mtimeRecord) {
    const text = utf8.decode(mtimeRecord);
    const seconds = /^-?\d+(\.\d*)?$/.test(text) ? Math.floor(Number(text)) : Number.NaN;
    mtime = Number.isSafeInteger(seconds) ? seconds : invalid("mtime", text);
    mtimeNs = paxNanoseconds(text);
  }
  return {
    name,
    mode: h.mode,
    uid: number("uid", h.uid),
    gid: number("gid", h.gid),
    size: h.size,
    typeflag,
    linkname: rec.get("linkpath") ?? latin1(h.linkname ?? ""),
    devmajor: h.devmajor,
    devminor: h.devminor,
    mtime,
    mtimeNs,
    ...xattrsOf(records),
  };
}

/**
 * A header's numeric field at `at` (12 bytes) when it is in base-256 (GNU tar's form for
 * what octal cannot hold, such as a time before 1970), read as Go reads it; otherwise
 * `parsed`, the parser's value. tar-stream reads negative base-256 numbers one too high.
 */
function headerSeconds(block: Uint8Array, at: number, parsed: number): number {
  const first = block[at] as number;
  if ((first & 0x80) === 0) return parsed;
  const invert = (first & 0x40) !== 0 ? 0xff : 0;
  let value = 0n;
  for (let i = at; i < at + 12; i++) {
    let byte = (block[i] as number) ^ invert;
    if (i === at) byte &= 0x7f;
    value = (value << 8n) | BigInt(byte);
  }
  return Number(invert ? -value - 1n : value);
}

/** A PAX time (`-?seconds[.fraction]`, checked already) in nanoseconds, as Go's `parsePAXTime`. */
function paxNanoseconds(text: string): bigint {
  const [whole = "0", fraction = ""] = text.split(".");
  const ns = BigInt(`${fraction}000000000`.slice(0, 9));
  const seconds = BigInt(whole);
  return seconds * 1_000_000_000n + (whole.startsWith("-") ? -ns : ns);
}

/** An entry's header as Go reads it, with its mtime to the nanosecond (PAX keeps fractions). */
export type TarHeader = EntryHeader & { mtimeNs: bigint };

function xattrsOf(records: PaxRecords): Pick<EntryHeader, "xattrs"> {
  const prefix = "SCHILY.xattr.";
  const xattrs = new Map<string, Uint8Array>();
  for (const [k, v] of records) if (k.startsWith(prefix)) xattrs.set(k.slice(prefix.length), v);
  return xattrs.size > 0 ? { xattrs: [...xattrs] } : {};
}

/**
 * PAX extended-header records (`"<len> <key>=<value>\n"`), values kept as bytes: Go
 * keeps them raw, and xattr values are binary. Later records win, as in Go.
 */
function parsePax(buf: Uint8Array): PaxRecords {
  const out = new Map<string, Uint8Array>();
  // GNU sparse 0.0 repeats these two records, in pairs: Go joins them into a map.
  const sparseMap: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number.parseInt(utf8.decode(buf.subarray(pos, space)), 10);
    if (!(len > 0) || pos + len > buf.length) break;
    const record = buf.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq !== -1) {
      const key = decodeName(record.subarray(0, eq));
      const value = record.slice(eq + 1);
      if (key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes") {
        if ((sparseMap.length % 2 === 0) !== (key === "GNU.sparse.offset")) {
          throw new FSCacheError("ERR_INVALID_TAR", "GNU sparse offset and numbytes records out of turn");
        }
        sparseMap.push(utf8.decode(value));
      } else out.set(key, value);
    }
    pos += len;
  }
  if (sparseMap.length > 0) out.set("GNU.sparse.map", new TextEncoder().encode(sparseMap.join(",")));
  // An empty value leaves the field as the header block has it (Go's mergePAX skips it).
  return [...out].filter(([, value]) => value.length > 0);
}

/** Docker's `path.Join(".", path.Join("/", name))`: clean, relative, `..` stops at the root. */
export function cleanName(name: Uint8Array): string {
  const parts: string[] = [];
  for (const part of decodeName(name).split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.length === 0 ? "." : parts.join("/");
}
