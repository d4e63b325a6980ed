/** `fscache du`: how much the cache holds. */
import { type Command, positionalArgs } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { formatBytes } from "../units.ts";

/**
 * Idle bytes (what GC and prune can reclaim), bytes in use, and the number of sources.
 *
 * @example
 * ```sh
 * fscache du --json   # {"idle":5,"inUse":0,"count":1}
 * ```
 */
export const du: Command = {
  name: "du",
  summary: "show idle and in-use bytes",
  usage: `Usage: fscache du [--json]

Shows the bytes of idle sources (reclaimable by gc/prune), of sources in use, and the count.
--json prints { idle, inUse, count }.`,
  options: {},
  async run({ global, io, positionals }) {
    positionalArgs(positionals, []);
    await using cache = await openCache(global, io.stderr);
    const sources = await cache.sources();
    let idle = 0;
    let inUse = 0;
    for (const s of sources) {
      if (s.refs > 0) inUse += s.size;
      else idle += s.size;
    }
    if (global.json) io.stdout(`${JSON.stringify({ idle, inUse, count: sources.length })}\n`);
    else if (global.quiet) io.stdout(`${idle}\n`);
    else {
      io.stdout(`idle    ${formatBytes(idle)}\nin use  ${formatBytes(inUse)}\nsources ${sources.length}\n`);
    }
    return 0;
  },
};
