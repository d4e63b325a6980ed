/**
 * Size of a snapshot (SPEC §3.2): regular-file sizes plus symlink-target lengths,
 * each inode counted once. The walk uses synchronous calls (one awaited call per
 * entry would cost ~50 µs here) but gives the event loop a turn every few thousand
 * entries, so a large walk never stalls unrelated syncs for its whole duration. File
 * systems with only promise methods ({@linkcode FileSystem.asyncOnly}) are walked with
 * awaited calls, the same count.
 * @module
 */
import { isGone } from "./errors.ts";
import type { FileStats, FileSystem } from "./file_system.ts";
import { joinPath } from "./path.ts";

const encoder = new TextEncoder();
const ENTRIES_PER_TURN = 2000;

/** Lets other tasks run; works the same on Node, Deno and browsers. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Bytes a snapshot directory holds, or `undefined` if `signal` aborted first.
 *
 * @example
 * ```ts
 * const bytes = await snapshotSize(backend.fs, await backend.get(id));
 * ```
 */
export async function snapshotSize(fs: FileSystem, root: string, signal?: AbortSignal): Promise<number | undefined> {
  if (fs.asyncOnly) return await snapshotSizeAsync(fs, root, signal);
  const tally = new SizeTally();
  const stack = [root];
  let visited = 0;
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    for (const name of names) {
      if (++visited % ENTRIES_PER_TURN === 0) {
        await yieldToEventLoop();
        if (signal?.aborted) return undefined;
      }
      const path = joinPath(dir, name);
      let st: FileStats;
      try {
        st = fs.lstatSync(path);
      } catch (err) {
        if (isGone(err)) continue;
        throw err;
      }
      if (st.isDirectory()) stack.push(path);
      else if (tally.add(st)) tally.addLink(fs.readlinkSync(path));
    }
  }
  return signal?.aborted ? undefined : tally.total;
}

/** {@linkcode snapshotSize} with awaited calls. */
async function snapshotSizeAsync(fs: FileSystem, root: string, signal?: AbortSignal): Promise<number | undefined> {
  const tally = new SizeTally();
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    for (const name of names) {
      if (signal?.aborted) return undefined;
      const path = joinPath(dir, name);
      let st: FileStats;
      try {
        st = await fs.lstat(path);
      } catch (err) {
        if (isGone(err)) continue;
        throw err;
      }
      if (st.isDirectory()) stack.push(path);
      else if (tally.add(st)) tally.addLink(await fs.readlink(path));
    }
  }
  return signal?.aborted ? undefined : tally.total;
}

/** The running count of both walks: each inode once, a symlink by its target's bytes. */
class SizeTally {
  total = 0;
  readonly #seen = new Set<string>();

  /** Counts an entry that is not a directory; true for a symlink, whose target goes to {@linkcode addLink}. */
  add(st: FileStats): boolean {
    if (st.nlink > 1) {
      const inode = `${st.dev}:${st.ino}`;
      if (this.#seen.has(inode)) return false;
      this.#seen.add(inode);
    }
    if (st.isFile()) this.total += st.size;
    return st.isSymbolicLink();
  }

  addLink(target: string): void {
    this.total += encoder.encode(target).length;
  }
}
