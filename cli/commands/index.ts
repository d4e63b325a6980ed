/**
 * Every `fscache` command, in the order `fscache --help` lists them. Each module is
 * imported only when its command runs: loading them all (and what they import) cost
 * more than a no-op sync's own work.
 */
import type { CommandEntry } from "../command.ts";

export const commands: CommandEntry[] = [
  {
    name: "sync",
    summary: "snapshot a directory into the cache (only changes move)",
    load: async () => (await import("./sync.ts")).sync,
  },
  { name: "ls", summary: "list cached sources", load: async () => (await import("./ls.ts")).ls },
  { name: "du", summary: "show idle and in-use bytes", load: async () => (await import("./du.ts")).du },
  {
    name: "hash",
    summary: "checksum of a path in a cached source",
    load: async () => (await import("./hash.ts")).hash,
  },
  { name: "prune", summary: "delete every idle source", load: async () => (await import("./prune.ts")).prune },
  {
    name: "gc",
    summary: "collect idle sources by age and size budget",
    load: async () => (await import("./gc.ts")).gc,
  },
  {
    name: "checksum",
    summary: "print the Docker checksum of a local directory",
    load: async () => (await import("./checksum.ts")).checksumCommand,
  },
  {
    name: "tarsum",
    summary: "print the Docker TarSum of a tar archive",
    load: async () => (await import("./tarsum.ts")).tarsumCommand,
  },
  {
    name: "diffcopy",
    summary: "send or receive a directory with the bare diff-copy protocol on stdin/stdout",
    load: async () => (await import("./diffcopy.ts")).diffcopyCommand,
  },
  {
    name: "serve",
    summary: "receive pushed directories into the cache (TCP and WebSocket, or --stdio)",
    load: async () => (await import("./serve.ts")).serve,
  },
  {
    name: "push",
    summary: "send a directory to an 'fscache serve' (only changes move)",
    load: async () => (await import("./push.ts")).push,
  },
  {
    name: "pull",
    summary: "receive a source cached by an 'fscache serve' into a directory",
    load: async () => (await import("./pull.ts")).pull,
  },
];
