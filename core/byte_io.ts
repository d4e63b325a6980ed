/**
 * The byte-level pieces of the stored hash tree and the wire: varints, raw bytes,
 * float64s, byte order, and the CRC-32 trailer.
 * @module
 */
import { FSCacheError } from "./errors.ts";
import { runtimeBinding, runtimeBuiltin } from "./runtime_builtin.ts";

/** Whether this machine stores numbers little-endian (as the stored tree does: its numeric columns are then copied whole). */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const HEX = "0123456789abcdef";

/**
 * Lowercase hex of a few bytes (a stored digest): a loop, for what is too short to be
 * worth the runtime's encoder.
 *
 * @example
 * ```ts
 * hexOf(new Uint8Array([0xab, 1])); // "ab01"
 * ```
 */
export function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += (HEX[b >> 4] as string) + (HEX[b & 15] as string);
  return out;
}

/** `node:buffer`'s hex encoding (Node, Deno); `null` where there is none (browsers). */
let nativeHex: ((bytes: Uint8Array) => string) | null | undefined;

/**
 * The runtime's own hex encoding, looked up through `process.getBuiltinModule` as
 * CRC-32 is, so the core imports nothing from `node:`. The root digest's input is made
 * once per changed sync, before the JIT has optimized code writing hex digits: the
 * whole digest of 11k checksums took 33–40 ms on its first call here with the digits
 * written in JS, 17–22 ms with them from one native call; of 100k, ~100 against ~68 ms.
 * Once optimized, both take the same.
 *
 * @example
 * ```ts
 * runtimeHex()?.(new Uint8Array([0xab])); // "ab" on Node and Deno; no function in browsers
 * ```
 */
export function runtimeHex(): ((bytes: Uint8Array) => string) | null {
  if (nativeHex === undefined) {
    type BufferClass = { from(data: ArrayBuffer, offset: number, length: number): { toString(enc: "hex"): string } };
    const Buffer = runtimeBuiltin<{ Buffer?: BufferClass }>("node:buffer")?.Buffer;
    nativeHex =
      typeof Buffer?.from === "function"
        ? (bytes) => Buffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length).toString("hex")
        : null;
  }
  return nativeHex;
}

/** Throws the `ERR_CORRUPT` every decoding failure of a stored tree becomes. */
export function corrupt(why: string, cause?: unknown): never {
  throw new FSCacheError("ERR_CORRUPT", `stored hash tree is corrupt: ${why}`, { cause });
}

/**
 * Writes `value` (a non-negative integer up to 2^53, unchecked) as an unsigned LEB128
 * varint into `out` at `at`, which must have room (8 bytes at most for 2^53, 10 for
 * protobuf's 64 bits); returns where it ended. Arithmetic, not 32-bit shifts.
 *
 * @example
 * ```ts
 * putVarint(out, 0, 300); // 2: out starts [0xac, 0x02]
 * ```
 */
export function putVarint(out: Uint8Array, at: number, value: number): number {
  let o = at;
  let v = value;
  while (v >= 0x80) {
    out[o++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[o++] = v;
  return o;
}

/** Throws unless `value` is a number a stored hash tree can hold: a non-negative safe integer. */
export function checkTreeNumber(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FSCacheError("ERR_INVALID_OPTION", `hash tree numbers must be non-negative integers, got ${value}`);
  }
}

/**
 * Reads bytes, varints and float64s one after the other; running past the end is `ERR_CORRUPT`.
 *
 * @example
 * ```ts
 * new ByteReader(new Uint8Array([0xac, 0x02]), 0).varint(); // 300
 * ```
 */
export class ByteReader {
  readonly #buf: Uint8Array;
  #pos: number;

  constructor(buf: Uint8Array, pos: number) {
    this.#buf = buf;
    this.#pos = pos;
  }

  get position(): number {
    return this.#pos;
  }

  get done(): boolean {
    return this.#pos === this.#buf.length;
  }

  byte(): number {
    if (this.#pos >= this.#buf.length) corrupt("truncated");
    return this.#buf[this.#pos++] as number;
  }

  bytes(n: number): Uint8Array {
    if (this.#pos + n > this.#buf.length) corrupt("truncated");
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 53) corrupt("number too large");
    }
    return value;
  }

  float64(): number {
    const b = this.bytes(8);
    return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
  }
}

let crcTables: Uint32Array[] | undefined;

/** Below this size the portable CRC is as quick as looking up and calling the runtime's. */
const NATIVE_CRC_MIN_BYTES = 64 * 1024;
/** The runtime's own `crc32`; `null` where there is none (browsers). */
let nativeCrc32: ((data: Uint8Array) => number) | null | undefined;

/**
 * The runtime's own CRC-32, looked up rather than imported, so the core stays free of
 * `node:` imports and runs in browsers. A 100k-entry tree's 5.8 MB took 8–10 ms in the
 * portable code once optimized (and 40 ms on its first, cold call) against ~1.3 ms
 * natively. On Node 20 it comes from the zlib binding, which answers as `zlib.crc32`
 * does: loading `node:zlib` loads Node's streams with it, 3–4 ms of a command that
 * reads a stored tree and uses neither.
 */
function runtimeCrc32(): ((data: Uint8Array) => number) | null {
  if (nativeCrc32 === undefined) {
    const binding = runtimeBinding("zlib")?.crc32;
    if (typeof binding === "function" && bindingAnswers(binding as BindingCrc32)) {
      nativeCrc32 = (data) => (binding as BindingCrc32)(data, 0);
    } else {
      const crc = runtimeBuiltin<{ crc32?: unknown }>("node:zlib")?.crc32;
      nativeCrc32 = typeof crc === "function" ? (crc as (data: Uint8Array) => number) : null;
    }
  }
  return nativeCrc32;
}

/** The zlib binding's `crc32(data, initial)` (Node ≥ 20.15). */
type BindingCrc32 = (data: Uint8Array, initial: number) => number;

/** Whether the binding gives the check value of CRC-32 (IEEE), as the portable code does. */
function bindingAnswers(crc: BindingCrc32): boolean {
  const check = new TextEncoder().encode("123456789");
  try {
    return crc(check, 0) >>> 0 === crc32Portable(check);
  } catch {
    return false;
  }
}

/**
 * CRC-32 (IEEE), enough to tell a damaged record from a good one: the runtime's own for
 * large inputs where it has one, else {@linkcode crc32Portable}.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(data: Uint8Array): number {
  const native = data.length >= NATIVE_CRC_MIN_BYTES ? runtimeCrc32() : null;
  return native ? native(data) >>> 0 : crc32Portable(data);
}

/**
 * CRC-32 (IEEE) in portable code. Slicing-by-8: eight bytes per step through eight
 * tables, several times fewer steps than a byte at a time over a tree's megabytes.
 *
 * @example
 * ```ts
 * crc32Portable(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32Portable(data: Uint8Array): number {
  crcTables ??= makeCrcTables();
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcTables as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = 0xffffffff;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const a =
      (crc ^
        ((data[i] as number) |
          ((data[i + 1] as number) << 8) |
          ((data[i + 2] as number) << 16) |
          ((data[i + 3] as number) << 24))) >>>
      0;
    crc =
      (t7[a & 0xff] as number) ^
      (t6[(a >>> 8) & 0xff] as number) ^
      (t5[(a >>> 16) & 0xff] as number) ^
      (t4[a >>> 24] as number) ^
      (t3[data[i + 4] as number] as number) ^
      (t2[data[i + 5] as number] as number) ^
      (t1[data[i + 6] as number] as number) ^
      (t0[data[i + 7] as number] as number);
  }
  for (; i < data.length; i++) crc = (t0[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t0[c & 0xff] as number) ^ (c >>> 8);
      (tables[k] as Uint32Array)[n] = c >>> 0;
    }
  }
  return tables;
}
