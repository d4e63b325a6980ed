/**
 * Overwriting a file in place without the kernel reading its old blocks back. A write
 * that covers only part of a block holding old data makes the kernel read that block
 * first. For a snapshot written hours before, that read cost ~0.4 ms a file here: 460–530
 * µs to rewrite a small file in place, against 60 µs when its last block was written
 * whole. So the write that ends a rewritten file's content is padded with zeros to the
 * end of its block, and the file is then cut back to size, which frees no block.
 * @module
 */

/** The block size writes are padded to (ext4's and most Linux file systems'). */
export const BLOCK_SIZE = 4096;

/**
 * Zero bytes to write after content that ends at `end`, so that the write covers its last
 * block whole when that block holds old data of a file `oldSize` bytes long; 0 when the
 * content ends on a block boundary or the old file did not reach its last block (a new
 * file: `oldSize` -1 or 0).
 *
 * @example
 * ```ts
 * blockPadding(1000, 3000); // 3096: cut the file back to 1000 bytes afterwards
 * blockPadding(8192, 9000); // 0: ends on a block boundary
 * blockPadding(5000, 4096); // 0: the old file ended before that block
 * ```
 */
export function blockPadding(end: number, oldSize: number): number {
  const partial = end % BLOCK_SIZE;
  return partial !== 0 && oldSize > end - partial ? BLOCK_SIZE - partial : 0;
}
