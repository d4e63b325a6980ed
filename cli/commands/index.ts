/** Every `fscache` command, in the order `fscache --help` lists them. */
import type { Command } from "../command.ts";
import { diffcopyCommand } from "./diffcopy.ts";

export const commands: Command[] = [diffcopyCommand];
