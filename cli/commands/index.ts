/** Every `fscache` command, in the order `fscache --help` lists them. */
import type { Command } from "../command.ts";

export const commands: Command[] = [];
