/**
 * One port for both kinds of session: a TCP listener that looks at each connection's
 * first byte. A TCP session starts with a frame length (its first byte is 0: frames are
 * far below 16 MiB); an HTTP request starts with its method's capital letter. Its head
 * is parsed here and, when it asks for `Upgrade: websocket`, upgraded with the `ws`
 * package; the WebSocket then carries the same byte stream as TCP (see connection.ts)
 * into the same {@linkcode SessionServer}. No `node:http` is involved, so this runs the
 * same on Node and on Deno's node compatibility (whose `node:http` server cannot be
 * handed a socket).
 * @module
 */
import { Buffer } from "node:buffer";
import { createServer, type Server, type Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import type { SessionServer } from "../session/server.ts";
import { listening, type SessionListener, serveSocket, stopListening } from "../session/tcp.ts";
import { webSocketConnection } from "./connection.ts";

/** Options of {@linkcode listenSessionsAndWebSockets}. */
export interface WebSocketListenOptions {
  /**
   * Decides whether a WebSocket request's `Origin` header (absent for non-browser
   * clients) may open a session. Default: every origin — the session token is what
   * protects the server; see docs/BROWSER.md.
   */
  allowOrigin?: (origin: string | undefined) => boolean;
  /** Largest WebSocket message accepted (default 8 MiB; a session frame is at most 4 MiB + 4). */
  maxPayload?: number;
  /** Told about refused HTTP requests, for logs. */
  onRefused?(reason: string): void;
}

const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_TIMEOUT_MS = 10_000;

/** What `ws`'s `handleUpgrade` reads of a request. */
interface RequestHead {
  method: string;
  url: string;
  headers: Record<string, string>;
  socket: Socket;
}

/**
 * Accepts TCP sessions and WebSocket sessions on `host:port`.
 *
 * @example
 * ```ts
 * const listener = await listenSessionsAndWebSockets(server, "127.0.0.1", 7373);
 * // fscache push --to 127.0.0.1:7373 …, or new WebSocket("ws://127.0.0.1:7373/") from a page
 * await listener.close();
 * ```
 */
export function listenSessionsAndWebSockets(
  server: SessionServer,
  host: string,
  port: number,
  options: WebSocketListenOptions = {},
): Promise<SessionListener> {
  // Sockets not yet a session (nothing read yet, or an HTTP head being read): closing
  // the listener closes them, and one that sends nothing is closed after a while.
  const undecided = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 8 * 1024 * 1024 });
  const serveWebSocket = (ws: WebSocket) => {
    void server.handle(webSocketConnection(ws)).finally(() => ws.terminate());
  };
  const tcp: Server = createServer({ allowHalfOpen: true }, (socket) => {
    undecided.add(socket);
    const silent = setTimeout(() => socket.destroy(), HEAD_TIMEOUT_MS);
    socket.on("close", () => {
      clearTimeout(silent);
      undecided.delete(socket);
    });
    socket.on("error", () => undefined); // reported through the session's streams
    socket.once("data", (first: Uint8Array) => {
      clearTimeout(silent);
      socket.pause();
      const byte = first[0] ?? 0;
      if (byte < 0x41 || byte > 0x5a /* not A-Z: not an HTTP method */) {
        socket.unshift(first);
        undecided.delete(socket);
        serveSocket(server, socket);
        socket.resume();
        return;
      }
      readHead(socket, first)
        .then(({ head, rest }) => {
          const refusal = checkRequest(head, options);
          if (refusal) {
            options.onRefused?.(refusal.reason);
            respond(socket, refusal.status, refusal.reason);
            return;
          }
          wss.handleUpgrade(head as never, socket, Buffer.from(rest), (ws) => {
            undecided.delete(socket);
            serveWebSocket(ws);
            socket.resume(); // paused while the head was read; `ws` only adds listeners
          });
        })
        .catch((err: Error) => {
          options.onRefused?.(err.message);
          respond(socket, 400, err.message);
        });
    });
  });
  return listening(tcp, host, port, () => {
    wss.close();
    for (const socket of undecided) socket.destroy();
    return stopListening(tcp);
  });
}

/** Reads up to the end of the request head; `rest` is what followed it (WebSocket bytes). */
function readHead(socket: Socket, first: Uint8Array): Promise<{ head: RequestHead; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.from(first);
    const timer = setTimeout(() => finish(new Error("request head timed out")), HEAD_TIMEOUT_MS);
    const finish = (err?: Error, value?: { head: RequestHead; rest: Uint8Array }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(value as { head: RequestHead; rest: Uint8Array });
    };
    const attempt = () => {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buffered.length > MAX_HEAD_BYTES) finish(new Error("request head too large"));
        return;
      }
      try {
        finish(undefined, {
          head: parseHead(buffered.subarray(0, end).toString("latin1"), socket),
          rest: buffered.subarray(end + 4),
        });
      } catch (err) {
        finish(err as Error);
      }
    };
    const onData = (chunk: Uint8Array) => {
      buffered = Buffer.concat([buffered, chunk]);
      attempt();
    };
    const onEnd = () => finish(new Error("connection closed inside the request head"));
    socket.on("data", onData);
    socket.on("end", onEnd);
    attempt();
    socket.resume();
  });
}

function parseHead(text: string, socket: Socket): RequestHead {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const match = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  if (!match) throw new Error("not an HTTP/1.1 request");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error("malformed header line");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method: match[1] as string, url: match[2] as string, headers, socket };
}

function checkRequest(
  head: RequestHead,
  options: WebSocketListenOptions,
): { status: number; reason: string } | undefined {
  if ((head.headers.upgrade ?? "").toLowerCase() !== "websocket") {
    return { status: 426, reason: "this port speaks fscache sessions: raw TCP, or a WebSocket upgrade" };
  }
  const origin = head.headers.origin;
  if (options.allowOrigin && !options.allowOrigin(origin)) {
    return { status: 403, reason: `WebSocket origin ${JSON.stringify(origin ?? "")} is not allowed` };
  }
  return undefined;
}

const STATUS_TEXT = new Map([
  [400, "Bad Request"],
  [403, "Forbidden"],
  [426, "Upgrade Required"],
]);

function respond(socket: Socket, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT.get(status) ?? "Error"}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${status === 426 ? "Upgrade: websocket\r\n" : ""}\r\n${body}`,
  );
}
