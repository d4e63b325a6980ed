/**
 * A session's connection, watched for a peer that stalls: alive (no FIN, no reset, its
 * kernel still answering keep-alive probes) but sending nothing, say a suspended laptop
 * or a frozen tunnel. Such a peer would hold its key's transfer, and every other push of
 * that key, for ever.
 * @module
 */
import type { DiffCopyConnection } from "../diffcopy/framing.ts";

/**
 * `connection` with `onIdle` called once when a read has waited while nothing moved in
 * either direction for `ms` (bytes going out count: a pull's client rightly says
 * nothing while it receives a large file).
 *
 * @example
 * ```ts
 * const watched = watchIdle(connection, 120_000, () => controller.abort(timeoutError));
 * ```
 */
export function watchIdle(connection: DiffCopyConnection, ms: number, onIdle: () => void): DiffCopyConnection {
  let last = Date.now();
  let fired = false;
  const reader = connection.readable.getReader();
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const arm = (wait: number) => {
          timer = setTimeout(() => {
            const quiet = Date.now() - last;
            if (quiet < ms) arm(ms - quiet);
            else if (!fired) {
              fired = true;
              onIdle();
            }
          }, wait);
        };
        arm(ms);
        try {
          const { done, value } = await reader.read();
          last = Date.now();
          if (done) controller.close();
          else controller.enqueue(value);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    // Nothing read ahead: a read waits only while the session waits for the peer.
    { highWaterMark: 0 },
  );
  const writer = connection.writable.getWriter();
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      await writer.write(chunk);
      last = Date.now();
    },
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
  });
  return { readable, writable };
}
