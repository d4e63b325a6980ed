/**
 * Node-stream adapters: a {@linkcode DiffCopyConnection} over a node `Readable` and
 * `Writable` (stdin/stdout, a child process's pipes, a TCP socket). Kept out of the
 * protocol files so those stay free of `node:` imports.
 * @module
 */
import { stdin, stdout } from "node:process";
import { finished, type Readable, Writable } from "node:stream";
import type { DiffCopyConnection } from "./framing.ts";

/**
 * Wraps a pair of node streams.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * const connection = nodeConnection(stdin, stdout);
 * ```
 */
export function nodeConnection(input: Readable, output: Writable): DiffCopyConnection {
  return {
    readable: webReadable(input),
    writable: Writable.toWeb(output) as unknown as WritableStream<Uint8Array>,
    // A node stream counts a chunk until the system has taken it (its write callback):
    // with nothing counted, no chunk handed to it is held anywhere any more.
    writesReleased: () => output.writableLength === 0,
  };
}

/**
 * A node `Readable` of bytes as a web stream, like `Readable.toWeb` but handing on each
 * chunk as it is instead of a copy (`toWeb` copies every chunk, so that a consumer may
 * transfer it: ours never does, and on a 160 MB push that copy and its garbage were a
 * tenth of the receiver's time). Counted in bytes, up to 4 MiB: a high-water mark of a
 * few chunks paused and resumed the socket for nearly every 64 KiB read.
 */
function webReadable(input: Readable): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        input.on("data", (chunk: Uint8Array | string) => {
          if (done) return;
          controller.enqueue(
            typeof chunk === "string"
              ? encoder.encode(chunk)
              : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          );
          if ((controller.desiredSize ?? 0) <= 0) input.pause();
        });
        // As `toWeb` does: an end is a close; a close before the end is an AbortError.
        // Only the reading side counts: on a socket, `finished` would otherwise wait for
        // our own writes to end too, and a peer that half-closed (or died, leaving a FIN)
        // would leave the reader waiting forever.
        finished(input, { writable: false }, (err) => {
          if (done) return;
          done = true;
          if (!err) controller.close();
          else if ((err as { code?: string }).code === "ERR_STREAM_PREMATURE_CLOSE") {
            controller.error(new DOMException("the connection closed before its end", "AbortError"));
          } else controller.error(err);
        });
      },
      pull() {
        input.resume();
      },
      cancel() {
        done = true;
        input.destroy();
      },
    },
    { highWaterMark: 4 * 1024 * 1024, size: (chunk) => chunk.byteLength },
  );
}

const encoder = new TextEncoder();

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
  return nodeConnection(stdin, stdout);
}
