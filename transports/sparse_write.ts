/**
 * Holes in written files: whole blocks of zeros skipped (left as holes), the file's
 * length set at the end. The local copy does it for a sparse source, as
 * `cp --sparse=auto` decides; the diff-copy receiver, which is not told which files
 * were sparse, for every new file of some size.
 * @module
 */
import { BLOCK_SIZE } from "./block_padding.ts";

/** The calls these helpers make. */
export interface SparseFs {
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  fstatSync?(fd: number): { blocks?: number };
}

/** Files smaller than this are never looked at: their holes would save next to nothing. */
export const SPARSE_MIN_SIZE: number = 64 * 1024;

/**
 * Whether the file open as `fd`, of `size` bytes, is sparse: it has fewer 512-byte
 * blocks allocated than its size needs. False where `fs` cannot say.
 *
 * @example
 * ```ts
 * const fd = fs.openSync("disk.img", "r");
 * isSparse(fs, fd, fs.fstatSync(fd).size); // true for a 1 GiB image holding 4 KiB
 * ```
 */
export function isSparse(fs: SparseFs, fd: number, size: number): boolean {
  if (size < SPARSE_MIN_SIZE || !fs.fstatSync) return false;
  const blocks = fs.fstatSync(fd).blocks;
  return typeof blocks === "number" && blocks >= 0 && blocks * 512 < size;
}

/**
 * Writes `data[0, length)` to `fd` at file offset `at`, except each whole block (4 KiB,
 * aligned in the file) that holds only zeros: those are left unwritten, as holes. The
 * caller sets the file's length at the end (`ftruncate`), which also covers a hole at
 * its end. Returns the bytes written.
 *
 * @example
 * ```ts
 * writeSkippingZeros(fs, fd, chunk, chunk.length, 1 << 20);
 * ```
 */
export function writeSkippingZeros(fs: SparseFs, fd: number, data: Uint8Array, length: number, at: number): number {
  let written = 0;
  let run = -1;
  for (let i = 0; i < length; ) {
    const end = Math.min(length, i + BLOCK_SIZE - ((at + i) % BLOCK_SIZE));
    if (end - i === BLOCK_SIZE && allZero(data, i, end)) {
      if (run !== -1) written += writeAt(fs, fd, data, run, i, at);
      run = -1;
    } else if (run === -1) run = i;
    i = end;
  }
  if (run !== -1) written += writeAt(fs, fd, data, run, length, at);
  return written;
}

function writeAt(fs: SparseFs, fd: number, data: Uint8Array, from: number, to: number, at: number): number {
  for (let off = from; off < to; ) off += fs.writeSync(fd, data, off, to - off, at + off);
  return to - from;
}

function allZero(data: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (data[i] !== 0) return false;
  return true;
}
