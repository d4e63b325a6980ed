/**
 * Node-stream adapters: a {@linkcode DiffCopyConnection} over a node `Readable` and
 * `Writable` (stdin/stdout, a child process's pipes, a TCP socket). Kept out of the
 * protocol files so those stay free of `node:` imports.
 * @module
 */
import process from "node:process";
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
    // Counted in bytes, up to 4 MiB: the default (a few chunks) paused and resumed the
    // socket for nearly every 64 KiB read.
    readable: Readable.toWeb(input, {
      strategy: { highWaterMark: 4 * 1024 * 1024, size: (chunk: Uint8Array) => chunk.byteLength },
    }) as unknown as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(output) as unknown as WritableStream<Uint8Array>,
  };
}

interface DenoStdio {
  stdin: { readable: ReadableStream<Uint8Array> };
  stdout: { writable: WritableStream<Uint8Array> };
}

/**
 * The process's stdin/stdout as a connection. Under Deno its own streams are used:
 * through node's compatibility layer, closing stdout does not close the descriptor and
 * cancelling stdin does not stop its read, so neither the peer nor the process would end.
 *
 * @example
 * ```ts
 * await sendDiffCopy(stdioConnection(), { fs, root: "." });
 * ```
 */
export function stdioConnection(): DiffCopyConnection {
  const deno = (globalThis as { Deno?: DenoStdio }).Deno;
  if (deno) return { readable: deno.stdin.readable, writable: deno.stdout.writable };
  return nodeConnection(process.stdin, process.stdout);
}
