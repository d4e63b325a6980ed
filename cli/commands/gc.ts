/** `fscache gc`: collect idle sources by age and size budget. */
import { type Command, positionalArgs } from "../command.ts";
import { openCache } from "../open_cache.ts";
import { formatBytes, parseDuration, parseSize } from "../units.ts";

/**
 * Runs garbage collection with the given budget: idle sources unused for longer than
 * `--keep` go, then the least recently used until idle bytes fit in `--max-size`.
 *
 * @example
 * ```sh
 * fscache gc --max-size 2GiB --keep 3d
 * ```
 */
export const gc: Command = {
  name: "gc",
  summary: "collect idle sources by age and size budget",
  usage: `Usage: fscache gc [--max-size SIZE] [--keep DURATION] [--json]

  --max-size SIZE    idle bytes to keep at most (default 512MiB; e.g. 2GB, 100MiB)
  --keep DURATION    drop idle sources unused for longer (default 7d; e.g. 90s, 12h)

--json prints { removed: [keys], freed }.`,
  options: {
    "max-size": { type: "string" },
    keep: { type: "string" },
  },
  async run({ global, io, positionals, values }) {
    positionalArgs(positionals, []);
    const policy: { maxSize?: number; maxKeepDuration?: number } = {};
    if (typeof values["max-size"] === "string") policy.maxSize = parseSize(values["max-size"], "--max-size");
    if (typeof values.keep === "string") policy.maxKeepDuration = parseDuration(values.keep, "--keep");
    await using cache = await openCache(global, io.stderr, policy);
    const result = await cache.gc();
    if (global.json) io.stdout(`${JSON.stringify(result)}\n`);
    else if (global.quiet) io.stdout(`${result.freed}\n`);
    else io.stdout(`removed ${result.removed.length} source(s), freed ${formatBytes(result.freed)}\n`);
    return 0;
  },
};
