/** `fscache prune`: delete every idle source. */
import process from "node:process";
import { type Command, positionalArgs } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { formatBytes } from "../units.ts";

/**
 * Deletes every idle source and prints the bytes freed. Ctrl-C stops it early and
 * still reports what was freed.
 *
 * @example
 * ```sh
 * fscache prune --json   # {"freed":1048576}
 * ```
 */
export const prune: Command = {
  name: "prune",
  summary: "delete every idle source",
  usage: `Usage: fscache prune [--json]

Deletes every source not in use and prints the bytes freed. Interrupting it stops early
and reports what was freed so far. --json prints { freed }.`,
  options: {},
  async run({ global, io, positionals }) {
    positionalArgs(positionals, []);
    await using cache = await openCache(global, io.stderr);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    try {
      const freed = await cache.prune({ signal: controller.signal });
      if (global.json) io.stdout(`${JSON.stringify({ freed })}\n`);
      else io.stdout(global.quiet ? `${freed}\n` : `freed ${formatBytes(freed)}\n`);
    } finally {
      process.off("SIGINT", stop);
    }
    return 0;
  },
};
