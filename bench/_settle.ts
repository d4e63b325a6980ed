/**
 * A pause before a benchmark's first timed copy. On this machine's ext4, creating many
 * files within ~30 s of deleting many is several times slower, and whichever tool is
 * timed first would pay for what ran just before the benchmark (another benchmark's
 * cleanup). It does not explain every slow peer run: rsync's daemon took 15.4–16.1 s
 * for the 100k-file first push after this pause too, and 6.5–6.6 s in a run that began
 * after idle minutes, while fscache (timed second) took ~9 s in all of them.
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
