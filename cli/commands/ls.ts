/** `fscache ls`: the cached sources. */
import { type Command, positionalArgs } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { formatTable } from "../table.ts";
import { formatAge, formatBytes } from "../units.ts";

/**
 * Lists sources: key, shared key, size, last use, references held.
 *
 * @example
 * ```sh
 * fscache ls --json
 * ```
 */
export const ls: Command = {
  name: "ls",
  summary: "list cached sources",
  usage: `Usage: fscache ls [--json]

Lists every cached source: key, shared key, size, last use, and whether it is in use.
--json prints an array of { key, sharedKey, backendId, path, size, lastUsed, refs, stale }.`,
  options: {},
  async run({ global, io, positionals }) {
    positionalArgs(positionals, []);
    await using cache = await openCache(global, io.stderr);
    const sources = (await cache.sources()).sort((a, b) => b.lastUsed - a.lastUsed);
    if (global.json) {
      io.stdout(`${JSON.stringify(sources)}\n`);
      return 0;
    }
    const now = Date.now();
    const rows = sources.map((s) => [
      s.key,
      s.sharedKey || "-",
      formatBytes(s.size),
      formatAge(s.lastUsed, now),
      s.refs > 0 ? `yes (${s.refs})` : s.stale ? "stale" : "no",
    ]);
    io.stdout(formatTable(["KEY", "SHARED KEY", "SIZE", "LAST USED", "IN USE"], rows));
    return 0;
  },
};
