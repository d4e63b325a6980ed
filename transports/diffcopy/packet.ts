/**
 * fsutil's wire messages (SPEC §5.2): the protobuf `Packet` and `Stat` of BuildKit's
 * `github.com/tonistiigi/fsutil/types`, decoded by hand here (encoded in `packet_encoder.ts`). The decoder is
 * strict: anything fsutil itself would never send (unknown fields, wrong wire types,
 * unknown packet types, xattr names that are not UTF-8, out-of-range numbers) is an
 * `ERR_PROTOCOL`. Paths and link targets are bytes, as file names are (fsutil sends a
 * name that is not UTF-8 as it is): such bytes are kept escaped (`core/names.ts`).
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import { decodeName } from "../../core/names.ts";

/** `Packet.PacketType`. */
export const PacketType = { STAT: 0, REQ: 1, DATA: 2, FIN: 3, ERR: 4 } as const;
/** One of {@linkcode PacketType}'s values. */
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];

const typeNames = ["STAT", "REQ", "DATA", "FIN", "ERR"];

/** Name of a packet type, for messages. */
export function packetTypeName(type: number): string {
  return typeNames[type] ?? String(type);
}

/** fsutil's `Stat`: one entry of the sender's tree. */
export interface Stat {
  /** Relative, clean, `/`-separated; bytes that are not UTF-8 escaped (`core/names.ts`). */
  path: string;
  /** Go `os.FileMode` bits (see file_mode.ts). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for regular files and hard links; fsutil sends the target length for symlinks. */
  size: number;
  /** Nanoseconds since the epoch. */
  modTime: bigint;
  /** Symlink target, or for a regular file the earlier path it is a hard link to (escaped as `path`). */
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Uint8Array>;
}

/** fsutil's `Packet`. `stat` is absent on the STAT that ends the entry list. */
export interface Packet {
  type: PacketTypeValue;
  stat?: Stat;
  id: number;
  data: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A packet with defaults filled in.
 *
 * @example
 * ```ts
 * const req = packet(PacketType.REQ, { id: 3 });
 * ```
 */
export function packet(type: PacketTypeValue, fields: Partial<Omit<Packet, "type">> = {}): Packet {
  return { type, id: fields.id ?? 0, data: fields.data ?? EMPTY, ...(fields.stat ? { stat: fields.stat } : {}) };
}

/**
 * A stat with defaults filled in.
 *
 * @example
 * ```ts
 * const s = stat({ path: "a.txt", mode: 0o644, size: 4 });
 * ```
 */
export function stat(fields: Partial<Stat> & { path: string }): Stat {
  return {
    path: fields.path,
    mode: fields.mode ?? 0,
    uid: fields.uid ?? 0,
    gid: fields.gid ?? 0,
    size: fields.size ?? 0,
    modTime: fields.modTime ?? 0n,
    linkname: fields.linkname ?? "",
    devmajor: fields.devmajor ?? 0,
    devminor: fields.devminor ?? 0,
    xattrs: fields.xattrs ?? new Map(),
  };
}

// ---------------------------------------------------------------- decoding

function fail(message: string): never {
  throw new FSCacheError("ERR_PROTOCOL", `invalid packet: ${message}`);
}

class In {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end = buf.length,
  ) {}
  done(): boolean {
    return this.pos >= this.end;
  }
  /** A varint as a 64-bit two's-complement bigint. */
  varintBig(): bigint {
    const start = this.pos;
    const fast = this.#short();
    if (fast >= 0) return BigInt(fast);
    this.pos = start;
    if (this.end - start > 4) {
      // more than 7 bytes (nanosecond times): the low 28 bits, then the rest as a number
      const b = this.buf;
      const low =
        ((b[start] as number) & 0x7f) |
        (((b[start + 1] as number) & 0x7f) << 7) |
        (((b[start + 2] as number) & 0x7f) << 14) |
        (((b[start + 3] as number) & 0x7f) << 21);
      this.pos = start + 4;
      const high = this.#short();
      if (high >= 0 && high < 2 ** 36) return (BigInt(high) << 28n) | BigInt(low);
      this.pos = start;
    }
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) fail("truncated varint");
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    return fail("varint longer than 10 bytes");
  }
  /**
   * A varint of at most 7 bytes (below 2^49, exact as a number) without BigInt, else
   * -1 with the position left anywhere (the caller rewinds and takes the long way).
   */
  #short(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 7 && this.pos < this.end; i++) {
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    return -1;
  }
  /** A varint that must fit a non-negative safe integer (tags, lengths). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) fail("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    return fail("varint too large");
  }
  /** A uint32 field: protobuf keeps the low 32 bits of the varint. */
  uint32(): number {
    const start = this.pos;
    const fast = this.#short();
    if (fast >= 0) return fast % 0x100000000;
    this.pos = start;
    return Number(BigInt.asUintN(32, this.varintBig()));
  }
  /** An int64 field as a safe JS number. */
  int64Safe(what: string): number {
    const start = this.pos;
    const fast = this.#short();
    if (fast >= 0) return fast;
    this.pos = start;
    const v = BigInt.asIntN(64, this.varintBig());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail(`${what} out of range`);
    return Number(v);
  }
  bytes(): Uint8Array {
    const length = this.varint();
    if (length > this.end - this.pos) fail("truncated length-delimited field");
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  string(what: string): string {
    try {
      return decoder.decode(this.bytes());
    } catch (err) {
      if (err instanceof FSCacheError) throw err;
      return fail(`${what} is not valid UTF-8`);
    }
  }
  tag(): [field: number, wire: number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field === 0) fail("field number 0");
    return [field, t % 8];
  }
}

function expectWire(field: number, wire: number, want: number, message: string): void {
  if (wire !== want) fail(`${message} field ${field} has wire type ${wire}, expected ${want}`);
}

function decodeXattr(buf: Uint8Array): [string, Uint8Array] {
  const r = new In(buf);
  let key = "";
  let value: Uint8Array = EMPTY;
  while (!r.done()) {
    const [field, wire] = r.tag();
    expectWire(field, wire, 2, "xattr");
    if (field === 1) key = r.string("xattr key");
    else if (field === 2) value = r.bytes();
    else fail(`unknown xattr field ${field}`);
  }
  return [key, value];
}

/** The xattrs of every decoded stat without any: shared, not one map per entry (GC). */
const NO_XATTRS: Map<string, Uint8Array> = new Map();

function decodeStat(buf: Uint8Array): Stat {
  const r = new In(buf);
  const s = stat({ path: "", xattrs: NO_XATTRS });
  while (!r.done()) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
      case 7:
      case 10:
        expectWire(field, wire, 2, "Stat");
        if (field === 1) s.path = decodeName(r.bytes());
        else if (field === 7) s.linkname = decodeName(r.bytes());
        else {
          const [key, value] = decodeXattr(r.bytes());
          if (s.xattrs === NO_XATTRS) s.xattrs = new Map();
          s.xattrs.set(key, value);
        }
        break;
      case 2:
        expectWire(field, wire, 0, "Stat");
        s.mode = r.uint32();
        break;
      case 3:
        expectWire(field, wire, 0, "Stat");
        s.uid = r.uint32();
        break;
      case 4:
        expectWire(field, wire, 0, "Stat");
        s.gid = r.uint32();
        break;
      case 5:
        expectWire(field, wire, 0, "Stat");
        s.size = r.int64Safe("size");
        break;
      case 6:
        expectWire(field, wire, 0, "Stat");
        s.modTime = BigInt.asIntN(64, r.varintBig());
        break;
      case 8:
        expectWire(field, wire, 0, "Stat");
        s.devmajor = r.int64Safe("devmajor");
        break;
      case 9:
        expectWire(field, wire, 0, "Stat");
        s.devminor = r.int64Safe("devminor");
        break;
      default:
        fail(`unknown Stat field ${field}`);
    }
  }
  return s;
}

/**
 * Decodes one packet (the frame's payload). Throws `ERR_PROTOCOL` on anything malformed.
 *
 * @example
 * ```ts
 * decodePacket(new Uint8Array([0x08, 0x01, 0x18, 0x05])); // { type: 1, id: 5, data: Uint8Array [] }
 * ```
 */
export function decodePacket(buf: Uint8Array): Packet {
  const r = new In(buf);
  const p: Packet = { type: PacketType.STAT, id: 0, data: EMPTY };
  while (!r.done()) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1: {
        expectWire(field, wire, 0, "Packet");
        const type = r.uint32();
        if (type > PacketType.ERR) fail(`unknown packet type ${type}`);
        p.type = type as PacketTypeValue;
        break;
      }
      case 2:
        expectWire(field, wire, 2, "Packet");
        p.stat = decodeStat(r.bytes());
        break;
      case 3:
        expectWire(field, wire, 0, "Packet");
        p.id = r.uint32();
        break;
      case 4:
        expectWire(field, wire, 2, "Packet");
        p.data = r.bytes();
        break;
      default:
        fail(`unknown Packet field ${field}`);
    }
  }
  return p;
}
