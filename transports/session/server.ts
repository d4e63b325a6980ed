/**
 * The receiving side of push sessions: reads a client's `hello`, checks its token,
 * and fills the cache through `FSCache.syncFrom` with this session's connection as
 * the diff-copy transport. Concurrent sessions for one key share one transfer (the
 * cache's singleflight): the session whose connection the transport was handed runs
 * it, the others are told the result was reused. Runtime-agnostic: any
 * {@linkcode DiffCopyConnection} (TCP, stdio, WebSocket) can be served.
 * @module
 */
import { describeError, FSCacheError } from "../../core/errors.ts";
import type { FSCache } from "../../core/fscache.ts";
import type { CopyRequest, Transport } from "../../core/types.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";
import { type ReceiveOptions, type ReceiveResult, receiveDiffCopy } from "../diffcopy/receiver.ts";
import { controlFrame, diffCopyChannel, FrameReader } from "./frames.ts";
import { type ErrorMessage, type Hello, parseHello, type ResultMessage, SESSION_VERSION } from "./handshake.ts";
import { watchIdle } from "./idle_watch.ts";
import { type PullReport, servePull } from "./pull.ts";

/** Options of {@linkcode SessionServer}. */
export interface SessionServerOptions {
  /** Returns true when a client's token is acceptable; absent: every client is. */
  verifyToken?: (token: string | undefined) => boolean;
  /** Receiver limits (bytes, entries, frame size) for every transfer; `earlyDirs` is on unless set `false`. */
  receive?: ReceiveOptions;
  /** Name the server registers its transport under (default `"session"`). */
  transportName?: string;
  /** Told about every session as it ends, for logs. */
  onSession?(outcome: SessionOutcome): void;
  /**
   * How long a client may take to send its `hello` (default 30 s): a connection that
   * sends nothing, or part of a frame, must not hold a session open for ever.
   */
  helloTimeoutMs?: number;
  /**
   * A session whose client sends nothing, while nothing goes to it either, for this long
   * is aborted with `ERR_TIMEOUT` (default 5 min; 0: never): a stalled client would
   * otherwise hold its key's transfer, and every other push of that key, for ever.
   */
  idleTimeoutMs?: number;
}

const HELLO_TIMEOUT_MS = 30_000;
const IDLE_TIMEOUT_MS = 300_000;

/** How one session ended: a push's `result`, a pull's `pulled`, or the error. */
export type SessionOutcome =
  | { ok: true; result: ResultMessage }
  | { ok: true; pulled: PullReport }
  | { ok: false; error: FSCacheError; key?: string };

interface SessionState {
  frames: FrameReader;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  transferred: boolean;
  result?: ReceiveResult;
}

/** How often a session retries when the transfer it waited on (another session's) failed. */
const FOLLOWER_ATTEMPTS = 3;

/**
 * Serves push sessions into a cache.
 *
 * @example
 * ```ts
 * const server = new SessionServer(cache, { verifyToken: (t) => t === "secret" });
 * const outcome = await server.handle(connection);
 * await server.close();
 * ```
 */
export class SessionServer {
  readonly #cache: FSCache;
  readonly #options: SessionServerOptions;
  readonly #transportName: string;
  readonly #sessions = new Map<Promise<SessionOutcome>, AbortController>();
  #closing = false;

  constructor(cache: FSCache, options: SessionServerOptions = {}) {
    this.#cache = cache;
    this.#options = options;
    this.#transportName = options.transportName ?? "session";
    // A failed session leaves its snapshot stale anyway: new directories are made early.
    const receive = { earlyDirs: true, ...options.receive };
    const transport: Transport = {
      async copy(request: CopyRequest) {
        const session = request.id.session as SessionState;
        session.transferred = true;
        await session.writer.write(controlFrame({ v: SESSION_VERSION, type: "send" }));
        session.result = await receiveDiffCopy(diffCopyChannel(session.frames, session.writer), request, receive);
      },
    };
    cache.registerTransport(this.#transportName, transport);
  }

  /** Sessions in progress. */
  get active(): number {
    return this.#sessions.size;
  }

  /** Serves one session on `connection`; never throws (the outcome says how it went). */
  handle(connection: DiffCopyConnection): Promise<SessionOutcome> {
    const controller = new AbortController();
    const idleMs = this.#options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    const watched =
      idleMs > 0
        ? watchIdle(connection, idleMs, () =>
            controller.abort(new FSCacheError("ERR_TIMEOUT", `the client sent nothing for ${idleMs} ms`)),
          )
        : connection;
    const run = this.#run(watched, controller.signal);
    this.#sessions.set(run, controller);
    run.finally(() => this.#sessions.delete(run));
    return run;
  }

  /**
   * Stops taking sessions (new ones are refused) and waits for those in progress; with
   * `abort`, or once `graceMs` has passed, aborts them (their snapshots are marked stale).
   * Closing the cache is the caller's business.
   */
  async close(options: { abort?: boolean; graceMs?: number } = {}): Promise<void> {
    this.#closing = true;
    const pending = [...this.#sessions.keys()];
    if (options.abort) this.abortAll();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.graceMs !== undefined && !options.abort) timer = setTimeout(() => this.abortAll(), options.graceMs);
    try {
      await Promise.all(pending);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Aborts every session in progress. */
  abortAll(): void {
    for (const controller of this.#sessions.values()) {
      controller.abort(new FSCacheError("ERR_ABORTED", "the server is shutting down"));
    }
  }

  async #run(connection: DiffCopyConnection, signal: AbortSignal): Promise<SessionOutcome> {
    const frames = new FrameReader(connection.readable, this.#options.receive?.maxFrameBytes);
    const writer = connection.writable.getWriter();
    const session: SessionState = { frames, writer, transferred: false };
    let hello: Hello | undefined;
    // A session aborted before its transfer starts (still reading the hello) must not hang.
    const onAbort = () => void frames.cancel(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let outcome: SessionOutcome;
    try {
      hello = parseHello(await this.#hello(frames));
      if (this.#closing) throw new FSCacheError("ERR_CLOSED", "the server is shutting down");
      if (this.#options.verifyToken && !this.#options.verifyToken(hello.token)) {
        throw new FSCacheError("ERR_AUTH", "invalid or missing token", { key: hello.key });
      }
      if (hello.direction === "pull") {
        outcome = { ok: true, pulled: await servePull(this.#cache, hello, frames, writer, signal) };
      } else {
        const result = await this.#sync(hello, session, signal);
        await writer.write(controlFrame(result));
        outcome = { ok: true, result };
      }
    } catch (err) {
      const error = asError(err, signal);
      const message: ErrorMessage = { v: SESSION_VERSION, type: "error", code: error.code, message: error.message };
      await withTimeout(writer.write(controlFrame(message)), 1000).catch(() => undefined);
      outcome = { ok: false, error, ...(hello ? { key: hello.key } : {}) };
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    // Each step bounded: a peer that stops reading leaves a write in flight, which an
    // abort waits for, and the session would never end.
    await withTimeout(writer.close(), 1000).catch(() => undefined);
    await withTimeout(writer.abort(), 1000).catch(() => undefined);
    await withTimeout(frames.cancel(), 1000);
    this.#options.onSession?.(outcome);
    return outcome;
  }

  /** The first frame, or `ERR_TIMEOUT` (the read cancelled) if it does not come in time. */
  async #hello(frames: FrameReader): Promise<Uint8Array | undefined> {
    const ms = this.#options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new FSCacheError("ERR_TIMEOUT", `no hello within ${ms} ms`);
        void frames.cancel(error);
        reject(error);
      }, ms);
    });
    try {
      return await Promise.race([frames.next(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #sync(hello: Hello, session: SessionState, signal: AbortSignal): Promise<ResultMessage> {
    const id = {
      key: hello.key,
      ...(hello.sharedKey === undefined ? {} : { sharedKey: hello.sharedKey }),
      transport: this.#transportName,
      session,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await using source = await this.#cache.syncFrom(id, { signal });
        const r = session.result;
        return {
          v: SESSION_VERSION,
          type: "result",
          key: hello.key,
          checksum: await source.hash("."),
          reused: !session.transferred,
          entries: r?.entries ?? 0,
          added: r?.added ?? 0,
          modified: r?.modified ?? 0,
          deleted: r?.deleted ?? 0,
          filesReceived: r?.filesReceived ?? 0,
          bytesReceived: r?.bytesReceived ?? 0,
        };
      } catch (err) {
        // Another session's transfer of this key failed: try again, maybe as the one transferring.
        if (session.transferred || signal.aborted || attempt >= FOLLOWER_ATTEMPTS) throw err;
      }
    }
  }
}

function asError(err: unknown, signal: AbortSignal): FSCacheError {
  if (signal.aborted && !(err instanceof FSCacheError && err.code === "ERR_AUTH")) {
    const reason = signal.reason;
    return reason instanceof FSCacheError ? reason : new FSCacheError("ERR_ABORTED", "session aborted");
  }
  if (err instanceof FSCacheError) return err;
  return new FSCacheError("ERR_TRANSPORT", describeError(err), { cause: err });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
