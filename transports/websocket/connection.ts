/**
 * A WebSocket as a {@linkcode DiffCopyConnection}: every binary message carries the
 * next bytes of the same stream a TCP session carries (length-prefixed frames; message
 * and frame boundaries need not line up). Works on anything shaped like the WHATWG
 * `WebSocket` (a browser's, Deno's, and the `ws` package's on Node), so the session
 * code runs unchanged over it. Runtime-agnostic.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";

/** The parts of a WHATWG `WebSocket` used here. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
  /** `ws` only: stop reading from the socket (incoming backpressure). */
  pause?(): void;
  resume?(): void;
}

/** Options of {@linkcode webSocketConnection}. */
export interface WebSocketConnectionOptions {
  /** A write waits while more than this many bytes are queued unsent (default 1 MiB). */
  maxBuffered?: number;
  /** Incoming bytes queued before reading pauses, where the socket can pause (`ws`); default 4 MiB. */
  readHighWater?: number;
}

const OPEN = 1;

/**
 * Wraps an open WebSocket. Closing the writable closes the socket (a WebSocket has no
 * half-close: sessions close only after their last message), and the readable ends when
 * the socket closes. A text message is a protocol error.
 *
 * @example
 * ```ts
 * const socket = new WebSocket("ws://127.0.0.1:7373");
 * await new Promise((ok) => socket.addEventListener("open", ok));
 * const result = await pushTree(webSocketConnection(socket), { fs, root, key: "k" });
 * ```
 */
export function webSocketConnection(
  socket: WebSocketLike,
  options: WebSocketConnectionOptions = {},
): DiffCopyConnection {
  socket.binaryType = "arraybuffer";
  const maxBuffered = options.maxBuffered ?? 1024 * 1024;
  const highWater = options.readHighWater ?? 4 * 1024 * 1024;
  let closed = socket.readyState > OPEN;
  let paused = false;
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        readController = controller;
      },
      pull() {
        if (paused) {
          paused = false;
          socket.resume?.();
        }
      },
      cancel() {
        closeSocket(1000);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: highWater }),
  );
  const closeSocket = (code: number, reason = "") => {
    if (closed) return;
    closed = true;
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
  };
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") {
      readController.error(new FSCacheError("ERR_PROTOCOL", "text WebSocket message: sessions are binary"));
      closeSocket(1003, "binary messages only");
      return;
    }
    const bytes = toBytes(event.data);
    try {
      readController.enqueue(bytes);
    } catch {
      return; // the reader is gone
    }
    if ((readController.desiredSize ?? 1) <= 0 && socket.pause) {
      paused = true;
      socket.pause();
    }
  });
  socket.addEventListener("close", () => {
    closed = true;
    try {
      readController.close();
    } catch {
      // already closed or errored
    }
  });
  socket.addEventListener("error", () => {
    try {
      readController.error(new FSCacheError("ERR_CONNECT", "WebSocket error: the connection failed or was refused"));
    } catch {
      // already closed or errored
    }
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (socket.readyState !== OPEN) throw new FSCacheError("ERR_TRANSPORT", "the WebSocket is closed");
      socket.send(chunk);
      // The WebSocket API has no drain event: poll, only while too much is queued.
      while (socket.bufferedAmount > maxBuffered && socket.readyState === OPEN) {
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    close() {
      closeSocket(1000);
    },
    abort() {
      closeSocket(1000);
    },
  });
  return { readable, writable };
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // `ws` delivers a fragmented message as an array of Buffers unless binaryType is set.
  if (Array.isArray(data)) {
    const parts = data.map(toBytes);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  throw new FSCacheError("ERR_PROTOCOL", "unexpected WebSocket message type");
}

/**
 * Opens a WebSocket with the runtime's global `WebSocket` (browsers, Deno, Node ≥ 22)
 * and wraps it once open.
 *
 * @example
 * ```ts
 * const connection = await connectWebSocket("ws://127.0.0.1:7373/");
 * ```
 */
export function connectWebSocket(
  url: string,
  options: WebSocketConnectionOptions & { WebSocket?: new (url: string) => WebSocketLike } = {},
): Promise<DiffCopyConnection> {
  const Ctor =
    options.WebSocket ?? (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket ?? undefined;
  if (!Ctor) throw new FSCacheError("ERR_CONNECT", "this runtime has no WebSocket: pass options.WebSocket");
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url);
    } catch (err) {
      reject(new FSCacheError("ERR_CONNECT", `cannot open a WebSocket to ${url}: ${(err as Error).message}`));
      return;
    }
    socket.binaryType = "arraybuffer";
    const target = socket as unknown as EventTarget;
    const onOpen = () => {
      target.removeEventListener("error", onError);
      resolve(webSocketConnection(socket, options));
    };
    const onError = () => {
      target.removeEventListener("open", onOpen);
      // Browsers tell a page nothing more about a failed WebSocket, by design.
      reject(
        new FSCacheError(
          "ERR_CONNECT",
          `cannot connect to ${url}: the server is not reachable or refused the WebSocket (origin not allowed?)`,
        ),
      );
    };
    target.addEventListener("open", onOpen, { once: true });
    target.addEventListener("error", onError, { once: true });
  });
}
