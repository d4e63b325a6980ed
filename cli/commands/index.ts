/** Every `fscache` command, in the order `fscache --help` lists them. */
import type { Command } from "../command.ts";
import { checksumCommand } from "./checksum.ts";
import { diffcopyCommand } from "./diffcopy.ts";
import { du } from "./du.ts";
import { gc } from "./gc.ts";
import { hash } from "./hash.ts";
import { ls } from "./ls.ts";
import { prune } from "./prune.ts";
import { push } from "./push.ts";
import { serve } from "./serve.ts";
import { sync } from "./sync.ts";
import { tarsumCommand } from "./tarsum.ts";

export const commands: Command[] = [
  sync,
  ls,
  du,
  hash,
  prune,
  gc,
  checksumCommand,
  tarsumCommand,
  diffcopyCommand,
  serve,
  push,
];
