/** `fscache hash`: the checksum of a path in a cached source. */
import { FSCacheError } from "../../core/errors.ts";
import { type Command, positionalArgs, UsageError } from "../command.ts";
import { parseEntryName } from "../entry_line.ts";
import { openCache } from "../open_cache.ts";

/**
 * Prints the `file:`/`dir:` checksum (Docker-compatible) of a path inside a cached
 * source, without transferring anything.
 *
 * @example
 * ```sh
 * fscache hash ctx-1 src/main.ts   # file:3a6e…
 * ```
 */
export const hash: Command = {
  name: "hash",
  summary: "checksum of a path in a cached source",
  usage: `Usage: fscache hash <key> [path] [--escaped] [--json]

Prints the file:/dir: checksum of <path> (default: the whole source) in the source cached
under <key>, as Docker's COPY would key it. --json prints { key, path, checksum }.

  --escaped    <path> is written as 'checksum --entries' escapes names: \\\\, \\n, \\r, and
               \\xHH for a byte that is not UTF-8 (which a command line cannot pass as it is)`,
  options: {
    escaped: { type: "boolean", default: false },
  },
  async run({ global, io, positionals, values }) {
    const [key, given = "."] = positionalArgs(positionals, ["key"], ["path"]) as [string, string | undefined];
    const path = values.escaped === true ? parseEntryName(given) : given;
    if (path === undefined) throw new UsageError(`--escaped: a backslash in ${JSON.stringify(given)} starts no escape`);
    await using cache = await openCache(global, io.stderr);
    const source = await cache.get(key);
    if (!source) {
      // `ls` lists a source whose last sync failed; its content is not what was asked for
      if ((await cache.sources()).some((s) => s.key === key && s.stale)) {
        throw new FSCacheError(
          "ERR_STALE",
          `the source cached under key ${JSON.stringify(key)} is stale: its last sync failed; sync it again`,
          { key },
        );
      }
      throw new FSCacheError("ENOENT", `no source is cached under key ${JSON.stringify(key)}`, { key });
    }
    await using _ = source;
    const checksum = await source.hash(path);
    io.stdout(global.json ? `${JSON.stringify({ key, path, checksum })}\n` : `${checksum}\n`);
    return 0;
  },
};
