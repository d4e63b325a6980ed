/**
 * `fscache sync --tar <file.tar|->`: a tar stream imported as a snapshot, the classic
 * upload path. Diff semantics as for a directory: entries absent from the archive are
 * deleted, identical files are not rewritten.
 * @module
 */
import { createReadStream, existsSync } from "node:fs";
import { resolve } from "node:path";
import { stdin } from "node:process";
import { randomUUID } from "../../backends/node_crypto.ts";
import { type CommandContext, UsageError } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { commandProgress } from "../progress.ts";
import { startStopwatch } from "../stopwatch.ts";
import { sharedKeyOf, syncAndReport } from "./sync.ts";

// Loaded on use so the other commands never pay for the tar parser. Kept out of the
// function below: the compiler does not rewrite the `.ts` of a dynamic import inside a
// function that declares `await using`.
const loadTarTransport = () => import("../../transports/tar/tar_transport.ts");

/**
 * Runs `sync --tar`; the report has the same keys as a directory sync (`path` is the
 * snapshot, `bytesCopied` the content bytes written).
 *
 * @example
 * ```ts
 * await syncTar(ctx); // from sync's run when --tar is given
 * ```
 */
export async function syncTar({ global, io, positionals, values }: CommandContext): Promise<number> {
  if (positionals.length > 0) throw new UsageError("--tar takes the archive instead of <dir>");
  if (values.exclude !== undefined || values["no-dockerignore"] === true) {
    throw new UsageError("--exclude and --no-dockerignore apply to a directory, not to --tar");
  }
  const file = values.tar as string;
  const elapsed = startStopwatch();
  const full = file === "-" ? "-" : resolve(io.cwd, file);
  // Before the cache is opened: a mistyped name leaves no failed source behind.
  if (full !== "-" && !existsSync(full)) {
    throw Object.assign(new Error(`no such file: ${full}`), { code: "ENOENT", path: full });
  }
  const key = typeof values.key === "string" ? values.key : `sync-${randomUUID()}`;
  const sharedKey =
    typeof values["shared-key"] === "string" ? values["shared-key"] : `tar:${sharedKeyOf(full).slice("local:".length)}`;
  const { TarTransport } = await loadTarTransport();
  const transport = new TarTransport(() => (full === "-" ? stdin : createReadStream(full)));
  const progress = commandProgress(global, io, () => `importing ${file}`);
  try {
    await using cache = await openCache(global, progress.note);
    cache.registerTransport("tar", transport);
    await syncAndReport({ global, io, cache, elapsed, progress }, { key, sharedKey, transport: "tar" }, () => {
      const r = transport.lastResult;
      return r && { ...r, bytesCopied: r.bytesWritten };
    });
  } finally {
    progress.stop();
  }
  return 0;
}
