/**
 * `fscache serve`: receives pushed directories into the cache, over TCP or one session
 * on stdin/stdout.
 * @module
 */
import process from "node:process";
import { FSCacheError } from "../../core/errors.ts";
import { stdioConnection } from "../../transports/diffcopy/node_streams.ts";
import type { ReceiveOptions } from "../../transports/diffcopy/receiver.ts";
import { diskWriteThreads } from "../../transports/local/diffcopy_threads.ts";
import { type SessionOutcome, SessionServer } from "../../transports/session/server.ts";
import { isLoopback } from "../../transports/session/tcp.ts";
import { readTokenFile, tokenVerifier } from "../../transports/session/token.ts";
import { listenSessionsAndWebSockets } from "../../transports/websocket/listener.ts";
import { type CliIO, type Command, positionalArgs, refuseTerminal } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { formatBytes, parseCount, parseDuration, parseHostPort, parseSize } from "../units.ts";

const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Serves push sessions until SIGINT/SIGTERM: then stops accepting, lets sessions in
 * progress finish for `--grace` (a second signal aborts them at once), and closes the cache.
 *
 * @example
 * ```sh
 * fscache serve --listen 0.0.0.0:7373 --token-file /run/secrets/fscache-token
 * ```
 */
export const serve: Command = {
  name: "serve",
  summary: "receive pushed directories into the cache (TCP and WebSocket, or --stdio)",
  usage: `Usage: fscache serve [--listen HOST:PORT] [--token-file F] [--allow-origin O]... [--stdio]
                     [--max-bytes SIZE] [--max-entries N] [--max-size SIZE] [--keep DURATION]
                     [--grace DURATION] [--idle-timeout DURATION]

Accepts 'fscache push' sessions and stores each pushed tree as a cached snapshot,
receiving only what changed since the last push with the same shared key. The same
port accepts WebSocket sessions (ws://HOST:PORT/) from browser pages, which can push
a folder and pull a cached source (see docs/BROWSER.md).

  --listen HOST:PORT  address to listen on (default 127.0.0.1:7373; port 0 picks one)
  --token-file F      clients must present the token in F; required unless HOST is loopback
  --allow-origin O    only WebSocket requests from page origin O (e.g. https://ide.example)
                      are accepted (repeatable). Without it any origin may try, and the
                      token is what protects; without a token, pages are refused
  --stdio             serve one session on stdin/stdout, then exit
  --max-bytes SIZE    refuse trees with more file content than SIZE (e.g. 2GiB)
  --max-entries N     refuse trees with more than N entries
  --max-size SIZE     GC budget: after each session, idle snapshots beyond SIZE are
                      collected, least recently used first (default 512MiB)
  --keep DURATION     GC: idle snapshots unused for longer are collected (default 7d)
  --grace DURATION    on SIGINT/SIGTERM, how long sessions may finish before they are
                      aborted (default 10s; a second signal aborts at once)
  --idle-timeout DURATION
                      abort a session whose client sends nothing, while nothing goes to
                      it either, for this long (default 5m; 0s: never)

Prints "listening on HOST:PORT" once ready; a line per session goes to stderr.`,
  options: {
    listen: { type: "string", default: "127.0.0.1:7373" },
    "token-file": { type: "string" },
    stdio: { type: "boolean", default: false },
    "max-bytes": { type: "string" },
    "max-entries": { type: "string" },
    "max-size": { type: "string" },
    keep: { type: "string" },
    grace: { type: "string", default: "10s" },
    "idle-timeout": { type: "string", default: "5m" },
    "allow-origin": { type: "string", multiple: true },
  },
  async run({ global, io, positionals, values }) {
    positionalArgs(positionals, []);
    const receive: ReceiveOptions = {};
    if (typeof values["max-bytes"] === "string") receive.maxBytes = parseSize(values["max-bytes"], "--max-bytes");
    if (typeof values["max-entries"] === "string")
      receive.maxEntries = parseCount(values["max-entries"], "--max-entries");
    const graceMs = parseDuration(values.grace as string, "--grace");
    const idleTimeoutMs = parseDuration(values["idle-timeout"] as string, "--idle-timeout");
    const tokenFile = values["token-file"] as string | undefined;
    const token = tokenFile === undefined ? undefined : readTokenFile(resolvePath(io, tokenFile));
    const { host, port } = parseHostPort(values.listen as string, "--listen");
    if (!values.stdio && !token && !isLoopback(host)) {
      throw new FSCacheError(
        "ERR_INSECURE",
        `refusing to listen on ${host} without --token-file: anyone who can reach it could fill the cache`,
      );
    }
    if (values.stdio) await refuseTerminal(io, "serve --stdio");
    const gcPolicy: { maxSize?: number; maxKeepDuration?: number } = {};
    if (typeof values["max-size"] === "string") gcPolicy.maxSize = parseSize(values["max-size"], "--max-size");
    if (typeof values.keep === "string") gcPolicy.maxKeepDuration = parseDuration(values.keep, "--keep");
    await using cache = await openCache(global, io.stderr, gcPolicy);
    // large first pushes are written by worker threads (started with the first one)
    const writeThreads = diskWriteThreads();
    receive.writeThreads = writeThreads;
    await using _threads = { [Symbol.asyncDispose]: () => writeThreads.close() };
    const server = new SessionServer(cache, {
      receive,
      idleTimeoutMs,
      ...(token ? { verifyToken: tokenVerifier(token) } : {}),
      onSession: (outcome) => global.quiet || io.stderr(`${describeOutcome(outcome)}\n`),
    });
    if (values.stdio) {
      const outcome = await server.handle(stdioConnection());
      return outcome.ok ? 0 : 1;
    }
    const listener = await listenSessionsAndWebSockets(server, host, port, {
      allowOrigin: originPolicy((values["allow-origin"] as string[] | undefined) ?? [], token !== undefined),
      onRefused: (reason) => global.quiet || io.stderr(`refused a WebSocket request: ${reason}\n`),
    });
    // An IPv6 host in brackets, as `push --to` and `pull --from` take it back.
    const address = `${host.includes(":") ? `[${host}]` : host}:${listener.port}`;
    io.stdout(global.json ? `${JSON.stringify({ listening: address })}\n` : `listening on ${address}\n`);
    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals === 1) {
          if (!global.quiet) io.stderr(`shutting down: ${server.active} session(s) in progress\n`);
          void listener
            .close()
            .then(() => server.close({ graceMs }))
            .then(() => {
              for (const s of SHUTDOWN_SIGNALS) process.off(s, onSignal);
              resolve();
            });
        } else server.abortAll();
      };
      for (const s of SHUTDOWN_SIGNALS) process.on(s, onSignal);
    });
    await cache.close();
    if (!global.quiet) io.stderr("stopped\n");
    return 0;
  },
};

/**
 * Which page origins may open WebSocket sessions. Any page can open a WebSocket to
 * localhost, so a server without a token must not let pages in at all (any site the
 * user visits could fill or read the cache); with a token, the token decides.
 * Non-browser clients send no `Origin` and are treated like TCP clients.
 */
function originPolicy(allowed: string[], hasToken: boolean): (origin: string | undefined) => boolean {
  if (allowed.length > 0) return (origin) => origin === undefined || allowed.includes(origin);
  return (origin) => origin === undefined || hasToken;
}

function resolvePath(io: CliIO, path: string): string {
  return path.startsWith("/") ? path : `${io.cwd.replace(/\/$/, "")}/${path}`;
}

function describeOutcome(outcome: SessionOutcome): string {
  if (!outcome.ok) {
    const key = outcome.key === undefined ? "" : ` key=${outcome.key}`;
    return `session failed${key}: ${outcome.error.code}: ${outcome.error.message}`;
  }
  if ("pulled" in outcome) {
    const p = outcome.pulled;
    return `pull key=${p.key}: ${p.filesSent} files, ${formatBytes(p.bytesSent)} sent, ${p.checksum}`;
  }
  const r = outcome.result;
  if (r.reused) return `session key=${r.key}: reused ${r.checksum}`;
  return `session key=${r.key}: ${r.added} added, ${r.modified} modified, ${r.deleted} deleted, ${formatBytes(r.bytesReceived)} received, ${r.checksum}`;
}
