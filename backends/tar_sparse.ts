/**
 * GNU sparse files in tar archives, read as Go's `archive/tar` reads them (and so as
 * Docker's TarSum sees them): the entry's size is the file's real size and its content
 * the whole file, holes as zeros. Three layouts: PAX 0.0 and 0.1 (the map in PAX
 * records), PAX 1.0 (the map at the start of the data) and the old GNU `S` entry (the
 * map in the header block, continued in extension blocks after it, which the tar
 * parser underneath does not know: {@linkcode frameOldGnuExtensions} takes them out of
 * its way).
 * @module
 */
import { FSCacheError } from "../core/errors.ts";

/** A sparse entry's layout: segments of data at offsets, or a map still to be read. */
export interface SparseLayout {
  /** The file's real size. */
  size: number;
  /** `[offset, length]` of each stored segment, in order; absent: read first from the data (PAX 1.0). */
  map?: [offset: number, length: number][];
  /** The name the sparse records give the file, when they do. */
  name?: Uint8Array;
}

const utf8 = new TextDecoder();
const BLOCK = 512;

function invalid(message: string): never {
  throw new FSCacheError("ERR_INVALID_TAR", `invalid GNU sparse entry: ${message}`);
}

function decimal(text: string, what: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(n) ? n : invalid(`${what} ${JSON.stringify(text.slice(0, 40))}`);
}

/**
 * The sparse layout PAX records describe, or `undefined` for an ordinary entry. As in
 * Go, an unknown `GNU.sparse.major`/`minor` is not sparse, and 0.0's repeated
 * offset/numbytes records arrive joined as `GNU.sparse.map`.
 *
 * @example
 * ```ts
 * paxSparseLayout(new Map([["GNU.sparse.map", enc("0,5")], ["GNU.sparse.size", enc("9")]]));
 * // { size: 9, map: [[0, 5]] }
 * ```
 */
export function paxSparseLayout(records: ReadonlyMap<string, Uint8Array>): SparseLayout | undefined {
  const text = (key: string) => {
    const v = records.get(key);
    return v === undefined ? "" : utf8.decode(v);
  };
  const major = text("GNU.sparse.major");
  const minor = text("GNU.sparse.minor");
  let v1 = false;
  if (major === "0" && (minor === "0" || minor === "1")) v1 = false;
  else if (major === "1" && minor === "0") v1 = true;
  else if (major !== "" || minor !== "") return undefined;
  else if (text("GNU.sparse.map") === "") return undefined;
  const sizeText = text("GNU.sparse.size") || text("GNU.sparse.realsize");
  if (sizeText === "") invalid("no real size");
  const layout: SparseLayout = { size: decimal(sizeText, "size") };
  const name = records.get("GNU.sparse.name");
  if (name !== undefined && name.length > 0) layout.name = name;
  if (v1) return layout;
  const numbers = text("GNU.sparse.map").split(",");
  const blocks = decimal(text("GNU.sparse.numblocks") || String(numbers.length / 2), "numblocks");
  if (numbers.length !== blocks * 2) invalid("map and numblocks disagree");
  layout.map = pairs(numbers.map((n) => decimal(n, "map entry")));
  return layout;
}

/**
 * The layout of an old GNU sparse entry (typeflag `S`) from its header block and the
 * extension blocks that followed it.
 *
 * @example
 * ```ts
 * oldGnuSparseLayout(headerBlock, []); // { size: 5242880, map: [[0, 4096], [5238784, 4096]] }
 * ```
 */
export function oldGnuSparseLayout(block: Uint8Array, extensions: readonly Uint8Array[]): SparseLayout {
  // Go reads the `S` layout only in GNU headers (magic "ustar  \0"): STAR uses the flag
  // for another layout.
  if (utf8.decode(block.subarray(257, 265)) !== "ustar  \0") invalid("type S outside a GNU header");
  const numbers: number[] = [];
  // As Go (and GNU tar): a block's entries end at the first whose offset starts with NUL.
  const read = (b: Uint8Array, from: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const at = from + i * 24;
      if (b[at] === 0) break;
      numbers.push(numeric(b.subarray(at, at + 12)), numeric(b.subarray(at + 12, at + 24)));
    }
  };
  read(block, 386, 4);
  if ((block[482] !== 0) !== extensions.length > 0) invalid("extension headers missing");
  for (const extension of extensions) read(extension, 0, 21);
  return { size: numeric(block.subarray(483, 495)), map: pairs(numbers) };
}

/** The parts of tar-stream's extractor (3.2.x) that {@linkcode frameOldGnuExtensions} hooks. */
export interface HeaderFraming {
  _buffer: {
    shift(size: number): Uint8Array | null;
    push(chunk: Uint8Array): void;
    buffered: number;
    shifted: number;
    queue: { peek(): Uint8Array | undefined };
    _offset: number;
  };
  _consumeHeader(): boolean;
  _continueWrite(err: Error | null): void;
}

/**
 * Makes tar-stream frame old GNU sparse entries whose map continues in extension
 * blocks: it knows nothing of them and would read them as the entry's data (and the
 * data's tail as the next header). Before a header is taken, if it is such an entry,
 * waits until the extension blocks are buffered too; once it is taken, takes them out
 * of the way. Returns what gives the extension blocks of the header taken last.
 *
 * @example
 * ```ts
 * const extensionsOfLast = frameOldGnuExtensions(extractor as unknown as HeaderFraming);
 * ```
 */
export function frameOldGnuExtensions(ex: HeaderFraming): () => Uint8Array[] {
  const buffer = ex._buffer;
  let pending: Uint8Array[] = [];
  let last: Uint8Array[] = [];
  const consume = ex._consumeHeader.bind(ex);
  ex._consumeHeader = () => {
    pending = [];
    if (nextTypeflag(buffer) === 0x53) {
      const blocks = extensionBlocks(peekAll(buffer));
      if (blocks === undefined) {
        // Not all buffered yet: ask for more input, as tar-stream does when short of a block.
        ex._continueWrite(null);
        return false;
      }
      pending = blocks;
    }
    return consume();
  };
  const shift = buffer.shift.bind(buffer);
  buffer.shift = (size) => {
    const out = shift(size);
    if (size === BLOCK && pending.length > 0) {
      // The header was just taken: its extension blocks are next, before its data.
      last = pending;
      pending = [];
      shift(BLOCK * last.length);
    } else if (size === BLOCK) last = [];
    return out;
  };
  return () => last;
}

/** The typeflag byte of the header at the front of `buffer`. */
function nextTypeflag(buffer: HeaderFraming["_buffer"]): number {
  const first = buffer.queue.peek();
  if (first && first.byteLength - buffer._offset > 156) return first[buffer._offset + 156] as number;
  return peekAll(buffer)[156] ?? 0;
}

/** Everything buffered, left in the buffer (a copy: only for `S` headers, which are rare). */
function peekAll(buffer: HeaderFraming["_buffer"]): Uint8Array {
  const all = buffer.shift(buffer.buffered) as Uint8Array;
  buffer.push(all);
  buffer.shifted -= all.length;
  return all;
}

/** Copies of the extension blocks after the `S` header at the start of `bytes`; `undefined` if not all there yet. */
function extensionBlocks(bytes: Uint8Array): Uint8Array[] | undefined {
  const blocks: Uint8Array[] = [];
  let extended = bytes[482] !== 0;
  for (let at = BLOCK; extended; at += BLOCK) {
    if (bytes.length < at + BLOCK) return undefined;
    const block = bytes.slice(at, at + BLOCK);
    blocks.push(block);
    extended = block[504] !== 0;
  }
  return blocks;
}

function pairs(numbers: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < numbers.length; i += 2) out.push([numbers[i] as number, numbers[i + 1] as number]);
  return out;
}

/** A tar numeric field: octal text, or base-256 when its high bit is set. */
function numeric(field: Uint8Array): number {
  if ((field[0] as number) & 0x80) {
    let n = (field[0] as number) & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] as number);
    if (!Number.isSafeInteger(n)) invalid("number too large");
    return n;
  }
  const text = utf8
    .decode(field)
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  const n = /^[0-7]*$/.test(text) ? Number.parseInt(text || "0", 8) : Number.NaN;
  return Number.isSafeInteger(n) ? n : invalid(`number ${JSON.stringify(text)}`);
}

/** Where an entry's content goes (as `TarEntrySink`); `hole` marks zeros the archive did not store. */
interface Sink {
  data(chunk: Uint8Array, hole?: boolean): void;
  end(): void | Promise<void>;
}

/** Zeros handed out for holes, at most this much at a time: a hole of gigabytes costs no memory. */
const ZEROS = new Uint8Array(64 * 1024);

/**
 * Wraps `sink` so that it receives the expanded file: the stored segments where the
 * map puts them and zeros between and after, `layout.size` bytes in all. Checks the
 * map as Go does (segments in order, not overlapping, within the size) and that the
 * stored data is exactly the segments.
 *
 * @example
 * ```ts
 * const expanded = sparseSink({ size: 9, map: [[4, 2]] }, hashSink);
 * expanded.data(new Uint8Array([1, 2])); // hashSink gets 4 zeros, 1, 2 (then 3 zeros at the end)
 * ```
 */
export function sparseSink(layout: SparseLayout, sink: Sink): Sink {
  let map = layout.map;
  /** PAX 1.0: the map's text as read so far (whole blocks). */
  let mapText = "";
  let mapBytes = 0;
  let segment = 0;
  /** Bytes of the current segment already passed on. */
  let done = 0;
  /** Bytes of the expanded file passed on. */
  let position = 0;
  const zerosUntil = (end: number) => {
    while (position < end) {
      const n = Math.min(ZEROS.length, end - position);
      sink.data(ZEROS.subarray(0, n), true);
      position += n;
    }
  };
  const take = (chunk: Uint8Array) => {
    let at = 0;
    while (at < chunk.length) {
      const entry = (map as [number, number][])[segment];
      if (!entry) invalid("more data than its map holds");
      const [offset, length] = entry;
      if (done === 0) zerosUntil(offset);
      const n = Math.min(length - done, chunk.length - at);
      if (n > 0) sink.data(chunk.subarray(at, at + n));
      at += n;
      done += n;
      position += n;
      if (done === length) {
        segment++;
        done = 0;
      }
    }
  };
  if (map) check(map, layout.size);
  return {
    data(chunk) {
      if (map) {
        take(chunk);
        return;
      }
      // PAX 1.0: the map comes first, in whole blocks: a count, then offset and length
      // pairs, each number ending in a newline.
      const need = BLOCK - (mapBytes % BLOCK);
      const head = chunk.subarray(0, need);
      mapBytes += head.length;
      mapText += utf8.decode(head);
      const rest = chunk.subarray(head.length);
      if (mapBytes % BLOCK !== 0) return;
      const parsed = parseMap1x0(mapText);
      if (parsed === undefined) {
        if (rest.length > 0) this.data(rest);
        return;
      }
      map = parsed;
      check(map, layout.size);
      if (rest.length > 0) take(rest);
    },
    end() {
      if (!map) invalid("data ends inside its map");
      while (segment < map.length && (map[segment] as [number, number])[1] === 0) segment++;
      if (segment < map.length) invalid("less data than its map holds");
      zerosUntil(layout.size);
      return sink.end();
    },
  };
}

/** The PAX 1.0 map once its text holds all of it, else `undefined`. */
function parseMap1x0(text: string): [number, number][] | undefined {
  const lines = text.split("\n");
  lines.pop(); // what follows the last newline: not a whole number yet
  if (lines.length === 0) return undefined;
  const count = decimal(lines[0] as string, "map count");
  if (lines.length < 1 + count * 2) {
    if (text.indexOf("\0") !== -1) invalid("map cut short");
    return undefined;
  }
  return pairs(lines.slice(1, 1 + count * 2).map((n) => decimal(n, "map entry")));
}

/** Go's `validateSparseEntries`: in order, not overlapping, within the file. */
function check(map: [number, number][], size: number): void {
  let end = 0;
  for (const [offset, length] of map) {
    if (offset < end || offset + length > size) invalid("segments out of order, overlapping or past its size");
    end = offset + length;
  }
}
