/**
 * `fscache push`: sends a directory to an `fscache serve`, moving only what changed.
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { cwd } from "node:process";
import { diskFileSystem } from "../../backends/disk_fs.ts";
import { randomUUID } from "../../backends/node_crypto.ts";
import { describeError, FSCacheError } from "../../core/errors.ts";
import { excludeMatcher } from "../../transports/diffcopy/excludes.ts";
import type { DiffCopyConnection } from "../../transports/diffcopy/framing.ts";
import { nodeConnection } from "../../transports/diffcopy/node_streams.ts";
import { isSourceFailure } from "../../transports/diffcopy/sender.ts";
import { diskWalkThreads } from "../../transports/local/diffcopy_threads.ts";
import { type PushResult, pushTree } from "../../transports/session/client.ts";
import { isServerError } from "../../transports/session/handshake.ts";
import { watchIdle } from "../../transports/session/idle_watch.ts";
import { connectSession } from "../../transports/session/tcp.ts";
import { readTokenFile } from "../../transports/session/token.ts";
import { type Command, positionalArgs, UsageError } from "../command.ts";
import { commandProgress } from "../progress.ts";
import { loadListings, saveListings } from "../push_listings.ts";
import { assertDirectory, dockerignoreOf, sharedKeyOf } from "../source_dir.ts";
import { startStopwatch } from "../stopwatch.ts";
import { formatBytes, parseDuration, parseHostPort } from "../units.ts";

/** What `fscache push --json` prints, exactly these keys: the push's result and its duration. */
export type PushReport = Omit<PushResult, "reused"> & { durationMs: number };

/**
 * Pushes `<dir>` to a server as a snapshot: a fresh key per run and a shared key from
 * the directory's absolute path (as `fscache sync`), so a repeat push sends only changes.
 *
 * @example
 * ```sh
 * fscache push . --to build-host:7373 --token-file ~/.fscache-token --json
 * fscache push . --exec "ssh build-host fscache serve --stdio"
 * ```
 */
export const push: Command = {
  name: "push",
  summary: "send a directory to an 'fscache serve' (only changes move)",
  usage: `Usage: fscache push <dir> (--to HOST:PORT | --exec COMMAND) [--key K] [--shared-key S]
                    [--token-file F] [--exclude PATTERN]... [--no-dockerignore] [--no-listings]
                    [--timeout DURATION] [--json]

Makes a snapshot on the server equal to <dir>, sending only the files that changed since
the last push with the same shared key, and prints what changed.

  --to HOST:PORT      the server ('fscache serve --listen ...')
  --exec COMMAND      run COMMAND (with sh -c) and speak to it on its stdin/stdout, e.g.
                      "ssh host fscache serve --stdio"
  --key K             key of this snapshot (default: a fresh random key per run)
  --shared-key S      default: derived from the absolute path of <dir>
  --token-file F      the token the server was started with
  --exclude PATTERN   .dockerignore-style pattern to leave out (repeatable); a
                      .dockerignore file in <dir> is honoured too
  --no-dockerignore   ignore <dir>/.dockerignore
  --no-listings       read every directory of <dir>, and keep no listings of them in the
                      cache root (by default a directory not changed since the last push
                      of <dir> is walked from the listing kept then)
  --timeout DURATION  fail with ERR_TIMEOUT when nothing has come from the server, and
                      nothing gone to it, for DURATION while waiting for it (default: wait)

--json prints { key, checksum, added, modified, deleted, filesSent, bytesSent, wireBytes,
durationMs }.`,
  options: {
    to: { type: "string" },
    exec: { type: "string" },
    key: { type: "string" },
    "shared-key": { type: "string" },
    "token-file": { type: "string" },
    exclude: { type: "string", multiple: true },
    "no-dockerignore": { type: "boolean", default: false },
    "no-listings": { type: "boolean", default: false },
    timeout: { type: "string" },
  },
  async run({ global, io, positionals, values }) {
    const [dirArg] = positionalArgs(positionals, ["dir"]) as [string];
    const elapsed = startStopwatch();
    const to = values.to as string | undefined;
    const exec = values.exec as string | undefined;
    if ((to === undefined) === (exec === undefined)) throw new UsageError("give exactly one of --to and --exec");
    const dir = resolve(io.cwd, dirArg);
    const key = typeof values.key === "string" ? values.key : `push-${randomUUID()}`;
    const sharedKey = typeof values["shared-key"] === "string" ? values["shared-key"] : sharedKeyOf(dir);
    // The command line's patterns come last, so they win over the file's (the last match decides).
    const excludes = values["no-dockerignore"] === true ? [] : dockerignoreOf(dir);
    excludes.push(...((values.exclude as string[] | undefined) ?? []));
    excludeMatcher(excludes); // a bad pattern fails here, before anything is opened
    const idleMs = typeof values.timeout === "string" ? parseDuration(values.timeout, "--timeout") : 0;
    const tokenFile = values["token-file"] as string | undefined;
    const token = tokenFile === undefined ? undefined : readTokenFile(resolve(io.cwd, tokenFile));
    assertDirectory(dir);

    const counter = { bytes: 0 };
    const progress = commandProgress(global, io, () => `pushing ${dir}: ${formatBytes(counter.bytes)} sent`);
    let child: ChildProcess | undefined;
    const childrenClosed: Promise<void>[] = [];
    const walkThreads = diskWalkThreads();
    // Absolute: the push runs with `dir` as the working directory (below).
    const cacheRoot = resolve(io.cwd, global.root);
    const listings = values["no-listings"] === true ? undefined : loadListings(cacheRoot, dir);
    const stalled = new AbortController();
    const hostPort = to === undefined ? undefined : parseHostPort(to, "--to");
    // Called again for a second try (see `pushTree`), so each try has its own connection.
    const connect = async (): Promise<DiffCopyConnection> => {
      let connection: DiffCopyConnection;
      if (hostPort !== undefined) {
        connection = await connectSession(hostPort.host, hostPort.port);
      } else {
        // Loaded here only: `node:child_process` costs a push over TCP ~3 ms to load. By
        // `require`: the npm bin runs its bundle as a script (for its code cache), where a
        // dynamic `import()` of a builtin fails (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
        const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
        // Started from where the push was, not from <dir> (the push's working directory by then).
        child = spawn("sh", ["-c", exec as string], { cwd: io.cwd, stdio: ["pipe", "pipe", "inherit"] });
        // Listened for now: a command killed at once has closed before anyone would listen.
        const spawned = child;
        childrenClosed.push(new Promise((done) => spawned.once("close", () => done())));
        connection = nodeConnection(child.stdout!, child.stdin!);
      }
      // Opt-in, as rsync's --timeout: waiting for another client's transfer of the same
      // key is quiet too, for as long as that transfer takes.
      if (idleMs > 0) {
        connection = watchIdle(connection, idleMs, () =>
          stalled.abort(new FSCacheError("ERR_TIMEOUT", `nothing from the server for ${idleMs} ms`, { key })),
        );
      }
      return connection;
    };
    try {
      // The walk then looks entries up by relative path (see `SendOptions.cwd`).
      io.enter?.(dir);
      const result = await pushTree(connect, {
        signal: stalled.signal,
        fs: diskFileSystem,
        root: dir,
        cwd,
        key,
        sharedKey,
        excludes,
        walkThreads,
        ...(listings ? { listings } : {}),
        onSkipped: (path) => progress.note(`skipped ${path}: devices, fifos and sockets are not pushed\n`),
        onRetry: (err) => {
          if (!global.quiet) progress.note(`${err.code}: ${err.message}; pushing again\n`);
        },
        ...(token === undefined ? {} : { token }),
        onData: (n) => {
          counter.bytes += n;
        },
      });
      const report: PushReport = {
        key: result.key,
        checksum: result.checksum,
        added: result.added,
        modified: result.modified,
        deleted: result.deleted,
        filesSent: result.filesSent,
        bytesSent: result.bytesSent,
        wireBytes: result.wireBytes,
        durationMs: elapsed(),
      };
      progress.stop();
      io.stdout(formatReport(report, result.reused, global));
      // A server that already had the key asked for no walk, and a walk that read no
      // directory found the record as it was: either way the listings kept stay.
      if (listings?.changed && !result.reused) saveListings(cacheRoot, dir, listings);
    } catch (err) {
      // Aborted by the stall watch: say so, not "push aborted".
      if (stalled.signal.aborted) throw stalled.signal.reason;
      // A command that died (not found, refused, crashed) shows up here as a broken pipe
      // or a closed stream: name the command and how it ended instead. A server that said
      // why it refused (then exited, as `serve --stdio` does) is reported as it said, and
      // a failure of our own source as such.
      const ended = child ? await endOf(child, EXIT_WAIT_MS) : undefined;
      if (ended && !isServerError(err) && !isSourceFailure(err)) {
        const why = `${(err as { code?: string }).code ?? "Error"}: ${describeError(err)}`;
        throw new FSCacheError(
          "ERR_EXEC_EXITED",
          `the --exec command ${ended} before the push finished (${why}): ${exec}`,
          { key, cause: err },
        );
      }
      // Still running after a failed push (it speaks something else, or hangs): stop it.
      child?.kill();
      throw err;
    } finally {
      progress.stop();
      await walkThreads.close();
      await Promise.all(childrenClosed);
    }
    return 0;
  },
};

/** How long a failed push waits for its `--exec` command to end, to say how it ended. */
const EXIT_WAIT_MS = 1000;

/**
 * How `child` ended ("exited with code 1", "was killed by SIGKILL"), waiting up to `ms`
 * for it; `undefined` while it still runs.
 */
async function endOf(child: ChildProcess, ms: number): Promise<string | undefined> {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((done) => {
      const timer = setTimeout(done, ms);
      child.once("exit", () => {
        clearTimeout(timer);
        done();
      });
    });
  }
  if (child.signalCode !== null) return `was killed by ${child.signalCode}`;
  if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
  return undefined;
}

function formatReport(r: PushReport, reused: boolean, global: { json: boolean; quiet: boolean }): string {
  if (global.json) return `${JSON.stringify(r)}\n`;
  if (global.quiet) return `${r.checksum}\n`;
  return [
    `key       ${r.key}${reused ? " (the server already had it)" : ""}`,
    `checksum  ${r.checksum}`,
    `changes   ${r.added} added, ${r.modified} modified, ${r.deleted} deleted`,
    `sent      ${r.filesSent} files, ${formatBytes(r.bytesSent)} (${formatBytes(r.wireBytes)} on the wire) in ${(r.durationMs / 1000).toFixed(2)}s`,
    "",
  ].join("\n");
}
