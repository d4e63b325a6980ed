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
  let reading = false;
  let fired = false;
  // One timer, re-armed only when it fires: a timer set and cleared around every read
  // cost a server's main thread ~8 ms of timer-list work per small first push (~2,800
  // socket reads). It holds the process open only while a read waits (a stalled peer
  // on an in-memory pipe must still time out), never after.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    timer = undefined;
    if (fired || !reading) return;
    const quiet = Date.now() - last;
    if (quiet < ms) arm(ms - quiet);
    else {
      fired = true;
      onIdle();
    }
  };
  const arm = (wait: number) => {
    timer = setTimeout(check, wait);
  };
  const stop = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const reader = connection.readable.getReader();
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // A read starts its own wait: time the session spent busy before it is not idle.
        last = Date.now();
        reading = true;
        if (timer !== undefined) holdOpen(timer, true);
        else if (!fired) arm(ms);
        try {
          const { done, value } = await reader.read();
          last = Date.now();
          if (done) {
            stop();
            controller.close();
          } else controller.enqueue(value);
        } finally {
          reading = false;
          if (timer !== undefined) holdOpen(timer, false);
        }
      },
      cancel: (reason) => {
        stop();
        return reader.cancel(reason);
      },
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

type DenoTimers = { refTimer?(id: number): void; unrefTimer?(id: number): void };

/**
 * Whether `timer` holds the process open (Node's timers are objects with `ref`/`unref`,
 * Deno's are ids; a browser has no process to hold).
 */
function holdOpen(timer: ReturnType<typeof setTimeout>, hold: boolean): void {
  if (typeof timer === "object" && timer !== null && "ref" in timer) {
    const t = timer as { ref(): void; unref(): void };
    if (hold) t.ref();
    else t.unref();
    return;
  }
  const deno = (globalThis as { Deno?: DenoTimers }).Deno;
  const id = timer as unknown as number;
  if (hold) deno?.refTimer?.(id);
  else deno?.unrefTimer?.(id);
}
