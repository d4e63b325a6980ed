/**
 * A pause before a benchmark's first timed copy. On ext4, creating many files within
 * ~30 s of deleting many is several times slower, and whichever tool is timed first
 * pays for it: rsync's daemon, timed first, took 14.5–16.0 s for the 100k-file first
 * push in runs that started right after another benchmark had deleted its trees, and
 * 6.5–6.6 s in a run that started after idle minutes, while fscache (timed second) took
 * ~9 s in both.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Seconds waited unless the command line says `--settle N`. */
export const DEFAULT_SETTLE_SECONDS = 45;

/**
 * Waits `--settle N` seconds (default {@linkcode DEFAULT_SETTLE_SECONDS}) and returns a
 * line saying so, for the results.
 *
 * @example
 * ```ts
 * console.error(await settle(process.argv.slice(2)));
 * ```
 */
export async function settle(args: readonly string[]): Promise<string> {
  const at = args.indexOf("--settle");
  const seconds = at >= 0 ? Number(args[at + 1]) : DEFAULT_SETTLE_SECONDS;
  if (!(seconds >= 0)) throw new Error(`--settle takes a number of seconds, got ${args[at + 1]}`);
  await sleep(seconds * 1000);
  return `waited ${seconds} s before the first timed copy (--settle): files deleted just before the run make creating files slower for whichever tool is timed first`;
}
