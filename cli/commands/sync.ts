/** `fscache sync`: snapshot a local directory into the cache, moving only what changed. */
import { isAbsolute, relative, resolve } from "node:path";
import { randomUUID } from "../../backends/node_crypto.ts";
import { FSCacheError } from "../../core/errors.ts";
import type { FSCache } from "../../core/fscache.ts";
import type { CacheUpdater, CopyRequest, RemoteIdentifier, Transport } from "../../core/types.ts";
import { excludeMatcher } from "../../transports/diffcopy/excludes.ts";
import { LocalTransport, type SyncSummary } from "../../transports/local/local_transport.ts";
import { noteCodePath } from "../code_path.ts";
import { type CliIO, type Command, type GlobalOptions, positionalArgs } from "../command.ts";
import { openCache, warningLogger } from "../open_cache.ts";
import { commandProgress, type Progress } from "../progress.ts";
import { assertDirectory, dockerignoreOf, sharedKeyOf } from "../source_dir.ts";
import { startStopwatch } from "../stopwatch.ts";
import { formatBytes } from "../units.ts";
import { syncTar } from "./sync_tar.ts";

// kept importable from here; they live apart so that `push` loads without the local transport
export { dockerignoreOf, sharedKeyOf };

/** What `fscache sync --json` prints, exactly these keys. */
export interface SyncReport {
  key: string;
  sharedKey: string;
  path: string;
  checksum: string;
  added: number;
  modified: number;
  deleted: number;
  unchanged: number;
  bytesCopied: number;
  durationMs: number;
}

/**
 * Syncs `<dir>` into the cache like `docker build` sends its context: a fresh key per
 * run and a shared key derived from the directory's absolute path, so repeat syncs of
 * the same directory rebase onto the last snapshot and move only the changes.
 *
 * @example
 * ```sh
 * fscache sync . --exclude node_modules --json
 * ```
 */
export const sync: Command = {
  name: "sync",
  summary: "snapshot a directory into the cache (only changes move)",
  usage: `Usage: fscache sync <dir> [--key K] [--shared-key S] [--exclude PATTERN]... [--json]
       fscache sync --tar <file.tar|-> [--key K] [--shared-key S] [--json]

Makes a cached snapshot equal to <dir>, copying only what changed since the last sync of
the same directory, and prints the key, the snapshot path, its Docker-compatible dir:
checksum and what changed.

  --key K             key of this snapshot (default: a fresh random key per run)
  --shared-key S      snapshots with the same shared key are bases for each other
                      (default: derived from the absolute path of <dir>)
  --exclude PATTERN   .dockerignore-style pattern to leave out (repeatable); a
                      .dockerignore file in <dir> is honoured too
  --no-dockerignore   ignore <dir>/.dockerignore
  --tar FILE          import an uncompressed tar archive ("-" reads stdin) instead of
                      a directory; entry checksums equal 'fscache tarsum --entries'

--json prints { key, sharedKey, path, checksum, added, modified, deleted, unchanged,
bytesCopied, durationMs }.`,
  options: {
    key: { type: "string" },
    "shared-key": { type: "string" },
    exclude: { type: "string", multiple: true },
    "no-dockerignore": { type: "boolean", default: false },
    tar: { type: "string" },
  },
  async run(ctx) {
    if (typeof ctx.values.tar === "string") return syncTar(ctx);
    const { global, io, positionals, values } = ctx;
    const [dirArg] = positionalArgs(positionals, ["dir"]) as [string];
    const elapsed = startStopwatch();
    const dir = resolve(io.cwd, dirArg);
    assertDirectory(dir);
    const key = typeof values.key === "string" ? values.key : `sync-${randomUUID()}`;
    const sharedKey = typeof values["shared-key"] === "string" ? values["shared-key"] : sharedKeyOf(dir);
    // The command line's patterns come last, so they win over the file's (the last match decides).
    const excludes = values["no-dockerignore"] === true ? [] : dockerignoreOf(dir);
    excludes.push(...((values.exclude as string[] | undefined) ?? []));
    excludes.push(...cacheRootExclude(dir, global.root));
    excludeMatcher(excludes); // a bad pattern fails here, before anything is opened

    let summary: SyncSummary | undefined;
    const counter = { changes: 0, bytes: 0 };
    const progress = commandProgress(
      global,
      io,
      () => `syncing ${dir}: ${counter.changes} changes, ${formatBytes(counter.bytes)}`,
    );
    try {
      const local = new LocalTransport({
        onSummary: (s) => {
          summary = s;
        },
        logger: warningLogger(progress.note),
      });
      await using cache = await openCache(global, progress.note);
      cache.registerTransport("local", countingTransport(local, counter));
      // The walk then looks entries up by relative path (see `WalkOptions.cwd`); the
      // cache's paths were made absolute when it opened.
      io.enter?.(dir);
      try {
        await syncAndReport(
          { global, io, cache, elapsed, progress },
          { key, sharedKey, transport: "local", path: dir, excludes },
          () => summary,
        );
      } finally {
        await local.close();
      }
    } finally {
      progress.stop();
    }
    return 0;
  },
};

/** What a sync reports besides its key and checksum. */
export type SyncCounts = Pick<SyncReport, "added" | "modified" | "deleted" | "unchanged" | "bytesCopied">;

/**
 * Syncs `id`, then erases the progress line and prints the report: the one way every
 * `fscache sync` variant (directory, tar) ends.
 */
export async function syncAndReport(
  run: { global: GlobalOptions; io: CliIO; cache: FSCache; elapsed: () => number; progress: Progress },
  id: RemoteIdentifier,
  counts: () => SyncCounts | undefined,
): Promise<void> {
  const { global, io, cache, elapsed, progress } = run;
  await using source = await cache.syncFrom(id);
  const c = counts();
  const report: SyncReport = {
    key: id.key,
    sharedKey: id.sharedKey ?? "",
    path: source.root,
    checksum: await source.hash("."),
    added: c?.added ?? 0,
    modified: c?.modified ?? 0,
    deleted: c?.deleted ?? 0,
    unchanged: c?.unchanged ?? 0,
    bytesCopied: c?.bytesCopied ?? 0,
    durationMs: elapsed(),
  };
  const changes = report.added + report.modified + report.deleted;
  const first = report.added === changes && report.unchanged === 0;
  noteCodePath(`${id.transport}:${changes === 0 ? "noop" : first ? "first" : "changed"}`);
  progress.stop();
  io.stdout(formatReport(report, global));
}

export function formatReport(r: SyncReport, global: { json: boolean; quiet: boolean }): string {
  if (global.json) return `${JSON.stringify(r)}\n`;
  if (global.quiet) return `${r.checksum}\n`;
  return [
    `key       ${r.key}`,
    `snapshot  ${r.path}`,
    `checksum  ${r.checksum}`,
    `changes   ${r.added} added, ${r.modified} modified, ${r.deleted} deleted, ${r.unchanged} unchanged`,
    `copied    ${formatBytes(r.bytesCopied)} in ${(r.durationMs / 1000).toFixed(2)}s`,
    "",
  ].join("\n");
}

/** Wraps a transport so the progress line can count changes as they are reported. */
function countingTransport(inner: Transport, counter: { changes: number; bytes: number }): Transport {
  return {
    // Forwarded: the local transport starts its walk workers there, while the tree loads.
    prepare: inner.prepare?.bind(inner),
    copy(request: CopyRequest) {
      const updater: CacheUpdater = {
        sha256: request.updater.sha256,
        markSupported: (s) => request.updater.markSupported(s),
        handleChange(kind, path, checksum, stat) {
          counter.changes++;
          if (kind !== "delete" && stat && (stat.mode & 0o170000) === 0o100000) counter.bytes += stat.size;
          request.updater.handleChange(kind, path, checksum, stat);
        },
      };
      return inner.copy({ ...request, updater });
    },
  };
}

/**
 * An exclude for the cache root when it lies inside the synced directory (`fscache sync ~`
 * with the default root under `~/.cache`): else each sync would copy the cache into
 * itself, one level deeper every time.
 */
function cacheRootExclude(dir: string, root: string): string[] {
  const inside = relative(dir, resolve(root));
  if (inside === "") {
    throw new FSCacheError("ERR_INVALID_PATH", `cannot sync the cache root into itself: ${dir}`, { path: dir });
  }
  if (inside === ".." || inside.startsWith("../") || isAbsolute(inside)) return [];
  // Escaped, so a root whose name holds *, ?, [ or \ names only itself.
  return [inside.replace(/[*?[\\]/g, "\\$&")];
}
