/**
 * Two connected in-memory {@linkcode DiffCopyConnection}s: what one writes, the other
 * reads. For tests, and for a sender and receiver in the same process (or a browser).
 * @module
 */
import type { DiffCopyConnection } from "./framing.ts";

/**
 * A pair of connected ends.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPipe();
 * await Promise.all([sendDiffCopy(a, { fs, root: "src" }), receiveDiffCopy(b, { dest: "dst", fs, updater })]);
 * ```
 */
export function memoryPipe(): [DiffCopyConnection, DiffCopyConnection] {
  const forward = new TransformStream<Uint8Array, Uint8Array>();
  const backward = new TransformStream<Uint8Array, Uint8Array>();
  return [
    { readable: backward.readable, writable: forward.writable },
    { readable: forward.readable, writable: backward.writable },
  ];
}
