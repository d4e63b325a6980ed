/**
 * `fscache pull`: receives a source an `fscache serve` has cached into a local
 * directory, moving only what differs from what the directory holds.
 * @module
 */
import { readdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { diskFileSystem } from "../../backends/disk_fs.ts";
import { FSCacheError } from "../../core/errors.ts";
import type { CacheUpdater } from "../../core/types.ts";
import { receiveDiffCopy } from "../../transports/diffcopy/receiver.ts";
import { pullSession } from "../../transports/session/pull.ts";
import { connectSession } from "../../transports/session/tcp.ts";
import { readTokenFile } from "../../transports/session/token.ts";
import { type Command, positionalArgs, UsageError } from "../command.ts";
import { startStopwatch } from "../stopwatch.ts";
import { formatBytes, parseHostPort } from "../units.ts";

/** The directory is not a snapshot: no checksums to keep, so a hasher that does nothing. */
const throwawayUpdater: CacheUpdater = {
  markSupported() {},
  handleChange() {},
  sha256: () => ({ update() {}, digest: () => "" }),
};

/** What `fscache pull --json` prints. */
export interface PullCliReport {
  key: string;
  /** The server's checksum of the source. */
  checksum: string;
  added: number;
  modified: number;
  deleted: number;
  filesReceived: number;
  bytesReceived: number;
  durationMs: number;
}

/**
 * Makes `<dir>` equal to the server's cached source `<key>` (a pull session, version 2).
 *
 * @example
 * ```sh
 * fscache pull build-42 --from build-host:7373 --token-file ~/.fscache-token ./ctx
 * ```
 */
export const pull: Command = {
  name: "pull",
  summary: "receive a source cached by an 'fscache serve' into a directory",
  usage: `Usage: fscache pull <key> <dir> --from HOST:PORT [--token-file F] [--force] [--json]

Makes <dir> equal to the source the server caches under <key>, receiving only the
files that differ from what <dir> holds (like rsync --delete: files in <dir> that the
source lacks are deleted). <dir> is created if missing; a non-empty <dir> needs --force.

  --from HOST:PORT    the server ('fscache serve --listen ...')
  --token-file F      the token the server was started with
  --force             pull into a non-empty <dir>

--json prints { key, checksum, added, modified, deleted, filesReceived, bytesReceived,
durationMs }; checksum is the server's (yours may differ in file owners).`,
  options: {
    from: { type: "string" },
    "token-file": { type: "string" },
    force: { type: "boolean", default: false },
  },
  async run({ global, io, positionals, values }) {
    const [key, dirArg] = positionalArgs(positionals, ["key", "dir"]) as [string, string];
    const elapsed = startStopwatch();
    if (typeof values.from !== "string") throw new UsageError("--from HOST:PORT is required");
    const { host, port } = parseHostPort(values.from, "--from");
    const tokenFile = values["token-file"] as string | undefined;
    const token = tokenFile === undefined ? undefined : readTokenFile(resolve(io.cwd, tokenFile));
    const dir = resolve(io.cwd, dirArg);
    const existing = statSync(dir, { throwIfNoEntry: false });
    if (existing && !existing.isDirectory()) {
      throw new FSCacheError("ERR_NOT_A_DIRECTORY", `not a directory: ${dir}`, { path: dir });
    }
    if (existing && values.force !== true && readdirSync(dir).length > 0) {
      throw new FSCacheError(
        "ERR_NOT_EMPTY",
        `${dir} is not empty: --force makes it equal to the source (deleting what the source lacks)`,
        { path: dir },
      );
    }
    const fs = diskFileSystem;
    // Made only once the server has the key: a failed pull leaves no empty directory behind.
    const { announced, value } = await pullSession(
      await connectSession(host, port),
      { key, ...(token === undefined ? {} : { token }) },
      async (channel) => {
        await fs.mkdir(dir, { recursive: true });
        return receiveDiffCopy(channel, { dest: dir, fs, updater: throwawayUpdater });
      },
    );
    const report: PullCliReport = {
      key,
      checksum: announced.checksum,
      added: value.added,
      modified: value.modified,
      deleted: value.deleted,
      filesReceived: value.filesReceived,
      bytesReceived: value.bytesReceived,
      durationMs: elapsed(),
    };
    if (global.json) io.stdout(`${JSON.stringify(report)}\n`);
    else if (global.quiet) io.stdout(`${report.checksum}\n`);
    else {
      io.stdout(
        [
          `key       ${key}`,
          `checksum  ${report.checksum} (the server's)`,
          `changes   ${report.added} added, ${report.modified} modified, ${report.deleted} deleted`,
          `received  ${report.filesReceived} files, ${formatBytes(report.bytesReceived)} in ${(report.durationMs / 1000).toFixed(2)}s`,
          "",
        ].join("\n"),
      );
    }
    return 0;
  },
};
