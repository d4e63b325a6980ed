/**
 * fsutil's wire messages (SPEC §5.2): the protobuf `Packet` and `Stat` of BuildKit's
 * `github.com/tonistiigi/fsutil/types`, encoded and decoded by hand. The decoder is
 * strict: anything fsutil itself would never send (unknown fields, wrong wire types,
 * unknown packet types, invalid UTF-8, out-of-range numbers) is an `ERR_PROTOCOL`.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";

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
  /** Relative, clean, `/`-separated. */
  path: string;
  /** Go `os.FileMode` bits (see file_mode.ts). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes for regular files and hard links; fsutil sends the target length for symlinks. */
  size: number;
  /** Nanoseconds since the epoch. */
  modTime: bigint;
  /** Symlink target, or for a regular file the earlier path it is a hard link to. */
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
const encoder = new TextEncoder();
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
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    modTime: 0n,
    linkname: "",
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...fields,
  };
}

// ---------------------------------------------------------------- encoding

class Out {
  bytes: number[] = [];
  parts: Uint8Array[] = [];
  length = 0;
  flush(): void {
    if (this.bytes.length === 0) return;
    this.parts.push(Uint8Array.from(this.bytes));
    this.length += this.bytes.length;
    this.bytes = [];
  }
  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }
  varintBig(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  raw(data: Uint8Array): void {
    this.flush();
    this.parts.push(data);
    this.length += data.length;
  }
  uintField(field: number, value: number): void {
    this.tag(field, 0);
    this.varint(value);
  }
  bigField(field: number, value: bigint): void {
    this.tag(field, 0);
    this.varintBig(value);
  }
  lengthDelimited(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.raw(data);
  }
  finish(prefix = 0): Uint8Array {
    this.flush();
    const out = new Uint8Array(prefix + this.length);
    let offset = prefix;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

function encodeStat(s: Stat): Uint8Array {
  const out = new Out();
  if (s.path !== "") out.lengthDelimited(1, encoder.encode(s.path));
  if (s.mode !== 0) out.uintField(2, s.mode >>> 0);
  if (s.uid !== 0) out.uintField(3, s.uid >>> 0);
  if (s.gid !== 0) out.uintField(4, s.gid >>> 0);
  if (s.size !== 0) out.bigField(5, BigInt(s.size));
  if (s.modTime !== 0n) out.bigField(6, s.modTime);
  if (s.linkname !== "") out.lengthDelimited(7, encoder.encode(s.linkname));
  if (s.devmajor !== 0) out.bigField(8, BigInt(s.devmajor));
  if (s.devminor !== 0) out.bigField(9, BigInt(s.devminor));
  for (const [key, value] of [...s.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const entry = new Out();
    entry.lengthDelimited(1, encoder.encode(key));
    entry.lengthDelimited(2, value);
    out.lengthDelimited(10, entry.finish());
  }
  return out.finish();
}

/**
 * Encodes a packet as protobuf, preceded by `prefix` zero bytes (room for a frame header).
 *
 * @example
 * ```ts
 * encodePacket(packet(PacketType.REQ, { id: 5 })); // Uint8Array [0x08, 0x01, 0x18, 0x05]
 * ```
 */
export function encodePacket(p: Packet, prefix = 0): Uint8Array {
  const out = new Out();
  if (p.type !== 0) out.uintField(1, p.type);
  if (p.stat) out.lengthDelimited(2, encodeStat(p.stat));
  if (p.id !== 0) out.uintField(3, p.id >>> 0);
  if (p.data.length > 0) out.lengthDelimited(4, p.data);
  return out.finish(prefix);
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
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) fail("truncated varint");
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    return fail("varint longer than 10 bytes");
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
    return Number(BigInt.asUintN(32, this.varintBig()));
  }
  /** An int64 field as a safe JS number. */
  int64Safe(what: string): number {
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

function decodeStat(buf: Uint8Array): Stat {
  const r = new In(buf);
  const s = stat({ path: "" });
  while (!r.done()) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
      case 7:
      case 10:
        expectWire(field, wire, 2, "Stat");
        if (field === 1) s.path = r.string("path");
        else if (field === 7) s.linkname = r.string("linkname");
        else {
          const [key, value] = decodeXattr(r.bytes());
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
