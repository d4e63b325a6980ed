/**
 * Whether this process's stdin and stdout are terminals. A module of its own, loaded
 * only by the commands that ask: `node:tty` brings `node:net` in (~5 ms), which a
 * sync never needs.
 * @module
 */
import { isatty } from "node:tty";

/**
 * Which of stdin (fd 0) and stdout (fd 1) are terminals.
 *
 * @example
 * ```ts
 * const { stdin, stdout } = stdioTTY(); // both false under a pipe
 * ```
 */
export function stdioTTY(): { stdin: boolean; stdout: boolean } {
  return { stdin: isatty(0), stdout: isatty(1) };
}
