/**
 * Node-stream adapters: a {@linkcode DiffCopyConnection} over a node `Readable` and
 * `Writable` (stdin/stdout, a child process's pipes, a TCP socket). Kept out of the
 * protocol files so those stay free of `node:` imports.
 * @module
 */
import { Readable, Writable } from "node:stream";
import type { DiffCopyConnection } from "./framing.ts";

/**
 * Wraps a pair of node streams.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * const connection = nodeConnection(process.stdin, process.stdout);
 * ```
 */
export function nodeConnection(input: Readable, output: Writable): DiffCopyConnection {
  return {
    readable: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(output) as unknown as WritableStream<Uint8Array>,
  };
}
