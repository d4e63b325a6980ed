/** Every `fscache` command, in the order `fscache --help` lists them. */
import type { Command } from "../command.ts";
import { checksumCommand } from "./checksum.ts";
import { diffcopyCommand } from "./diffcopy.ts";
import { tarsumCommand } from "./tarsum.ts";

export const commands: Command[] = [checksumCommand, tarsumCommand, diffcopyCommand];
