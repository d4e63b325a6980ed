/**
 * fsutil's wire messages (`./packet.ts`) encoded as protobuf: {@linkcode ProtoWriter}
 * appends packets to one growing buffer (the framing batches many into one write), and
 * {@linkcode encodePacket} encodes one.
 * @module
 */
import { putVarint } from "../../core/byte_io.ts";
import { encodeName, hasLoneSurrogate } from "../../core/names.ts";
import type { Packet, Stat } from "./packet.ts";

const encoder = new TextEncoder();

/**
 * A `Stat` that may also carry its time as whole microseconds, as the sender's walked
 * stats do (`source_walker.ts`): the encoder then writes it without BigInt. `modTime` must
 * be `modTimeUs * 1000` held within int64.
 */
export interface StatWithMicros extends Stat {
  readonly modTimeUs?: number;
}

/** The largest microseconds whose nanoseconds fit int64 (a double: above 2^53 only even ones are). */
const MAX_MICROS = 9_223_372_036_854_774;
const P28 = 2 ** 28;

/** Bytes of `value` as a varint (`value` a non-negative safe integer). */
export function varintSize(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/**
 * Appends protobuf to one growing buffer: no per-field arrays, numbers below 2^53 (and
 * walked times: {@linkcode StatWithMicros}) without BigInt, strings encoded in place.
 * Length-delimited messages reserve room for the longest length varint they can need
 * and close the gap once the length is known.
 *
 * @example
 * ```ts
 * const w = new ProtoWriter();
 * w.packet(packet(PacketType.REQ, { id: 5 }));
 * w.take(); // Uint8Array [0x08, 0x01, 0x18, 0x05]
 * ```
 */
export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;

  /** `buffer`: a buffer to fill from the start, or the size of a new one. */
  constructor(buffer: number | Uint8Array = 1024) {
    this.buf = typeof buffer === "number" ? new Uint8Array(buffer) : buffer;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  /** The bytes written so far, in a buffer of their own; the writer starts empty again. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  varint(value: number): void {
    this.ensure(10);
    this.pos = putVarint(this.buf, this.pos, value);
  }

  /** A 64-bit varint (two's complement for negatives, as Go's int64). */
  varint64(value: bigint): void {
    if (value >= 0n && value <= 0x1fffffffffffffn) {
      this.varint(Number(value));
      return;
    }
    // past 2^53 (nanosecond times, negatives as two's complement): split at bit 28
    const v = BigInt.asUintN(64, value);
    this.#split(Number(v & 0xfffffffn), Number(v >> 28n));
  }

  bytesField(field: number, data: Uint8Array): void {
    this.varint(field * 8 + 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  stringField(field: number, value: string): void {
    if (!this.#asciiField(field, value)) this.#utf8Field(field, value);
  }

  /** A path or link target: its bytes, which for escaped bytes (`core/names.ts`) are not its UTF-8. */
  nameField(field: number, value: string): void {
    if (this.#asciiField(field, value)) return;
    if (hasLoneSurrogate(value)) this.bytesField(field, encodeName(value));
    else this.#utf8Field(field, value);
  }

  #utf8Field(field: number, value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    const max = value.length * 3;
    this.varint(field * 8 + 2);
    const start = this.#open(max);
    const { written } = encoder.encodeInto(value, this.buf.subarray(this.pos, this.pos + max));
    this.pos += written;
    this.#close(start, varintSize(max));
  }

  /** One `Stat` as a length-delimited field. */
  statField(field: number, s: StatWithMicros): void {
    this.varint(field * 8 + 2);
    // a Stat is small unless its strings or xattrs are long: bound its size loosely
    let max = 100 + (s.path.length + s.linkname.length) * 3;
    if (s.xattrs.size > 0) for (const [key, value] of s.xattrs) max += 20 + key.length * 3 + value.length;
    const start = this.#open(max);
    if (s.path !== "") this.nameField(1, s.path);
    if (s.mode !== 0) this.#uint(2, s.mode >>> 0);
    if (s.uid !== 0) this.#uint(3, s.uid >>> 0);
    if (s.gid !== 0) this.#uint(4, s.gid >>> 0);
    if (s.size !== 0) this.#int64(5, s.size);
    const us = s.modTimeUs;
    if (us !== undefined && us >= 0 && us <= MAX_MICROS) {
      if (us !== 0) {
        this.varint(6 * 8);
        this.#micros(us);
      }
    } else if (s.modTime !== 0n) {
      // before 1970 or past int64 (held at its end by `modTime`): rare, the BigInt way
      this.varint(6 * 8);
      this.varint64(s.modTime);
    }
    if (s.linkname !== "") this.nameField(7, s.linkname);
    if (s.devmajor !== 0) this.#int64(8, s.devmajor);
    if (s.devminor !== 0) this.#int64(9, s.devminor);
    if (s.xattrs.size > 0) {
      for (const [key, value] of [...s.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        this.varint(10 * 8 + 2);
        const entry = this.#open(20 + key.length * 3 + value.length);
        this.stringField(1, key);
        this.bytesField(2, value);
        this.#close(entry, varintSize(20 + key.length * 3 + value.length));
      }
    }
    this.#close(start, varintSize(max));
  }

  /** One `Packet`. */
  packet(p: Packet): void {
    if (p.type !== 0) this.#uint(1, p.type);
    if (p.stat) this.statField(2, p.stat);
    if (p.id !== 0) this.#uint(3, p.id >>> 0);
    if (p.data.length > 0) this.bytesField(4, p.data);
  }

  /**
   * A string field written a character a byte, when every character is ASCII (as most
   * paths are): its length is then known before it is written, and a short path costs
   * a few loads and stores, where `encodeInto` (a view, a call into the runtime and a
   * result object per string) was about a tenth of a no-op push's walk. Writes nothing
   * and answers false at the first character that is not ASCII.
   */
  #asciiField(field: number, value: string): boolean {
    const n = value.length;
    this.ensure(n + 12);
    const buf = this.buf;
    const start = this.pos;
    let at = putVarint(buf, putVarint(buf, start, field * 8 + 2), n);
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at++] = c;
    }
    this.pos = at;
    return true;
  }

  #uint(field: number, value: number): void {
    this.varint(field * 8);
    this.varint(value);
  }

  /**
   * An int64 field held in a number: non-negative safe integers without BigInt, the rest
   * as Go's int64 (a negative one in ten bytes of two's complement).
   */
  #int64(field: number, value: number): void {
    this.varint(field * 8);
    if (value >= 0 && Number.isSafeInteger(value)) this.varint(value);
    else this.varint64(BigInt(value));
  }

  /**
   * The varint of `us * 1000` (nanoseconds) for whole `us` in [0, MAX_MICROS], exact
   * without BigInt: the product passes 2^53, so it is made as the bits below 2^28 and
   * those above (`us` = a·2^28 + b; b·1000 < 2^38 and a·1000 < 2^36 stay exact).
   */
  #micros(us: number): void {
    const a = Math.floor(us / P28);
    const b = (us - a * P28) * 1000;
    const carry = Math.floor(b / P28);
    const high = a * 1000 + carry;
    if (high === 0) this.varint(b);
    else this.#split(b - carry * P28, high);
  }

  /** The varint of `high * 2^28 + low28` for `high` > 0: the low 28 bits as four groups, then the rest. */
  #split(low28: number, high: number): void {
    let low = low28;
    this.ensure(4);
    for (let i = 0; i < 4; i++) {
      this.buf[this.pos++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    this.varint(high);
  }

  /** Reserves room for the length varint of a message of at most `max` bytes. */
  #open(max: number): number {
    const room = varintSize(max);
    this.ensure(room + max);
    const start = this.pos;
    this.pos += room;
    return start;
  }

  /** Writes the length of the message begun at `start`, closing the gap left for it. */
  #close(start: number, room: number): void {
    const length = this.pos - start - room;
    const size = varintSize(length);
    if (size < room) {
      this.buf.copyWithin(start + size, start + room, this.pos);
      this.pos -= room - size;
    }
    let v = length;
    let at = start;
    while (v >= 0x80) {
      this.buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[at] = v;
  }
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
  const out = new ProtoWriter(prefix + 64 + p.data.length);
  out.pos = prefix;
  out.packet(p);
  return out.take();
}
