/**
 * A minimal ustar writer for tests, byte by byte, so a test controls every header
 * field — type bits in `mode` as Docker writes them, or malformed fields, giant sizes,
 * bad checksums — which a packing library would normalize or refuse.
 */
import { concatBytes } from "./_helpers.ts";

/** One archive entry; `raw` overrides header bytes at offsets after the fields are written. */
export interface RawTarEntry {
  name: string | Uint8Array;
  /** Written as 7 octal digits, so type bits (`0o100644`) fit. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Header size field; default: the content length. */
  size?: number;
  mtime?: number;
  /** `"0"` file, `"1"` hard link, `"2"` symlink, `"3"`/`"4"` devices, `"5"` dir, `"6"` fifo, `"x"` pax, … */
  typeflag?: string;
  linkname?: string | Uint8Array;
  content?: Uint8Array;
  /** Header bytes patched after the checksum: a wrong checksum, a giant size field. */
  raw?: [offset: number, bytes: Uint8Array][];
  /** Patched before the checksum is computed (so the checksum stays valid). */
  fields?: [offset: number, bytes: Uint8Array][];
}

const encoder = new TextEncoder();

function put(block: Uint8Array, offset: number, length: number, value: string | Uint8Array): void {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  block.set(bytes.subarray(0, length), offset);
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, "0")}\0`;
}

/** The 512-byte header and padded content of one entry. */
export function tarEntry(entry: RawTarEntry): Uint8Array {
  const content = entry.content ?? new Uint8Array(0);
  const header = new Uint8Array(512);
  put(header, 0, 100, entry.name);
  put(header, 100, 8, octal(entry.mode ?? 0o644, 8));
  put(header, 108, 8, octal(entry.uid ?? 0, 8));
  put(header, 116, 8, octal(entry.gid ?? 0, 8));
  put(header, 124, 12, octal(entry.size ?? content.length, 12));
  put(header, 136, 12, octal(entry.mtime ?? 1_600_000_000, 12));
  put(header, 156, 1, entry.typeflag ?? "0");
  put(header, 157, 100, entry.linkname ?? "");
  put(header, 257, 8, "ustar\u000000");
  for (const [offset, bytes] of entry.fields ?? []) header.set(bytes, offset);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  put(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  for (const [offset, bytes] of entry.raw ?? []) header.set(bytes, offset);
  const padded = Math.ceil(content.length / 512) * 512;
  const out = new Uint8Array(512 + padded);
  out.set(header);
  out.set(content, 512);
  return out;
}

/** Entries followed (unless `end` is false) by the two zero blocks that end an archive. */
export function tarArchive(entries: readonly RawTarEntry[], end = true): Uint8Array {
  const parts = entries.map(tarEntry);
  if (end) parts.push(new Uint8Array(1024));
  return concatBytes(parts);
}
