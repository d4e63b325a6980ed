/**
 * Sessions over TCP with `node:net` (Node and Deno): a listener that hands each
 * socket to a {@linkcode SessionServer}, and a client connect. Kept apart from the
 * session protocol files, which use Web Streams only.
 * @module
 */
import { createConnection, createServer, isIP, type Server, type Socket } from "node:net";
import { FSCacheError } from "../../core/errors.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";
import { nodeConnection } from "../diffcopy/node_streams.ts";
import type { SessionServer } from "./server.ts";

/** Idle time before the first keep-alive probe of a session's socket. */
const KEEPALIVE_MS = 30_000;

/** A listening socket. */
export interface SessionListener {
  /** The address actually bound (port resolved when 0 was asked for). */
  host: string;
  port: number;
  /** Stops accepting connections; sessions in progress go on. */
  close(): Promise<void>;
}

/**
 * True for addresses only this machine can reach: `localhost`, 127.0.0.0/8, `::1`.
 *
 * @example
 * ```ts
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/**
 * Accepts TCP connections on `host:port` and serves a session on each.
 *
 * @example
 * ```ts
 * const listener = await listenSessions(server, "127.0.0.1", 7373);
 * // ...
 * await listener.close();
 * await server.close();
 * ```
 */
export function listenSessions(server: SessionServer, host: string, port: number): Promise<SessionListener> {
  const tcp: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => undefined); // reported through the session's streams
    serveSocket(server, socket);
  });
  return listening(tcp, host, port, () => stopListening(tcp));
}

/**
 * Stops `tcp` accepting connections, without waiting for those it accepted (as
 * `Server.close`'s callback would): they are sessions, which `SessionServer.close`
 * lets finish or aborts.
 *
 * @example
 * ```ts
 * await stopListening(tcp);
 * ```
 */
export function stopListening(tcp: Server): Promise<void> {
  tcp.close();
  return Promise.resolve();
}

/**
 * Serves one session on an accepted TCP socket, destroying the socket when it ends.
 *
 * @example
 * ```ts
 * createServer({ allowHalfOpen: true }, (socket) => serveSocket(server, socket));
 * ```
 */
export function serveSocket(server: SessionServer, socket: Socket): void {
  socket.setNoDelay(true);
  // A peer that vanishes without a FIN or RST (a cable pulled, a machine gone) is
  // noticed by keep-alive probes instead of holding its session forever.
  socket.setKeepAlive(true, KEEPALIVE_MS);
  void server.handle(nodeConnection(socket, socket)).finally(() => socket.destroy());
}

/**
 * Starts `tcp` listening on `host:port` (port 0: any free one) and resolves with the
 * bound address; `close` stops what the listener serves.
 *
 * @example
 * ```ts
 * const listener = await listening(tcp, "127.0.0.1", 0, () => new Promise((done) => tcp.close(() => done())));
 * listener.port; // the bound port
 * ```
 */
export function listening(
  tcp: Server,
  host: string,
  port: number,
  close: () => Promise<void>,
): Promise<SessionListener> {
  return new Promise((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      const address = tcp.address();
      const bound = typeof address === "object" && address ? address.port : port;
      resolve({ host, port: bound, close });
    });
  });
}

/**
 * Opens a TCP connection to a session server.
 *
 * @example
 * ```ts
 * const connection = await connectSession("127.0.0.1", 7373);
 * const result = await pushTree(connection, { fs, root: ".", key: "k" });
 * ```
 */
export function connectSession(host: string, port: number): Promise<DiffCopyConnection> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port, allowHalfOpen: true });
    socket.once("error", (err) =>
      reject(new FSCacheError("ERR_CONNECT", `cannot connect to ${host}:${port}: ${err.message}`, { cause: err })),
    );
    socket.once("connect", () => {
      socket.setNoDelay(true);
      socket.on("error", () => undefined); // reported through the streams
      resolve(nodeConnection(socket, socket));
    });
  });
}
