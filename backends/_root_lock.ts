/**
 * The exclusive lock on a cache root: a small file naming its holder (pid, process
 * start time, host). Created with `link()` from a complete temp file, so the lock
 * file is never seen empty or half-written; a lock whose holder is dead, or whose
 * pid now belongs to a different process, is taken over.
 * @module
 */
import { linkSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { kill, pid } from "node:process";
import { errorCode, FSCacheError } from "../core/errors.ts";

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  /** Start time of the process (Linux: `/proc/<pid>/stat` field 22), to tell a reused pid; null if unknown. */
  start: string | null;
  host: string;
}

/**
 * Lock files this process holds, by their real path, and the texts it wrote into them:
 * a second open in the same process must fail too, also when it reaches the root by
 * another path (a symlink, a bind mount), where only the text tells the lock is ours.
 */
const heldHere = new Set<string>();
const textsHere = new Set<string>();
let counter = 0;

/**
 * An acquired lock on `path`. `acquire` fails at once with `ERR_LOCKED` when a live
 * process holds it; there is no waiting.
 *
 * @example
 * ```ts
 * const lock = RootLock.acquire("/var/cache/fscache/lock", "/var/cache/fscache");
 * try { work(); } finally { lock.release(); }
 * ```
 */
export class RootLock {
  readonly path: string;
  readonly #text: string;

  private constructor(path: string, text: string) {
    this.path = path;
    this.#text = text;
  }

  /** Takes the lock or throws `ERR_LOCKED` naming the holder; `root` is only for the message. */
  static acquire(path: string, root: string): RootLock {
    const real = realLockPath(path);
    const mine = () => lockedError(root, { pid, start: null, host: hostname() });
    if (heldHere.has(real)) throw mine();
    const me: LockHolder = { pid, start: processState(pid)?.start ?? null, host: hostname() };
    // The token makes each lock's text unique, so a release never removes another holder's lock.
    const token = `${++counter}-${Math.random().toString(36).slice(2)}`;
    const text = `${JSON.stringify({ ...me, token })}\n`;
    // A few rounds: each failed round means another opener changed the file under us.
    for (let round = 0; round < 8; round++) {
      if (tryCreate(path, text)) {
        heldHere.add(real);
        textsHere.add(text);
        return new RootLock(real, text);
      }
      let seen: string;
      try {
        seen = readFileSync(path, "utf8");
      } catch (err) {
        if (errorCode(err) === "ENOENT") continue;
        throw err;
      }
      if (textsHere.has(seen)) throw mine();
      const holder = parseHolder(seen);
      if (holder && isAlive(holder)) throw lockedError(root, holder);
      takeOver(path, seen);
    }
    throw new FSCacheError("ERR_LOCKED", `cache root ${root} is being locked by several processes at once`, {
      path: root,
    });
  }

  /** Removes the lock file if it is still ours. Safe to call twice. */
  release(): void {
    if (!heldHere.delete(this.path)) return;
    textsHere.delete(this.#text);
    try {
      if (readFileSync(this.path, "utf8") === this.#text) unlinkSync(this.path);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
  }
}

/** `path` with its directory's symlinks resolved (the directory exists: the caller made it). */
function realLockPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return `${realpathSync(path.slice(0, slash) || "/")}${path.slice(slash)}`;
}

function tryCreate(path: string, text: string): boolean {
  const temp = `${path}.${pid}.${++counter}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if (errorCode(err) === "EEXIST") return false;
    throw err;
  } finally {
    unlinkIfThere(temp);
  }
}

/**
 * Removes one file; one already gone is fine, as with `rmSync`'s `force`, which this
 * spares loading Node's recursive remover (~1 ms of every command's start).
 */
function unlinkIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
  }
}

/**
 * Moves a stale lock aside. If another opener replaced it between our read and our
 * rename, we moved *its* live lock: put it back (`link` fails rather than clobber a
 * third opener's). The remaining window — three openers racing over one dead lock
 * within microseconds — is accepted and documented.
 */
function takeOver(path: string, seen: string): void {
  const aside = `${path}.${pid}.${++counter}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return;
    throw err;
  }
  try {
    if (readFileSync(aside, "utf8") !== seen) linkSync(aside, path);
  } catch (err) {
    if (errorCode(err) !== "EEXIST") throw err;
  } finally {
    unlinkIfThere(aside);
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isSafeInteger(value.pid) || (value.pid as number) <= 0) return undefined;
    return {
      pid: value.pid as number,
      start: typeof value.start === "string" ? value.start : null,
      host: typeof value.host === "string" ? value.host : "",
    };
  } catch {
    return undefined;
  }
}

function isAlive(holder: LockHolder): boolean {
  // A holder on another host (a shared file system) cannot be checked: assume it lives.
  if (holder.host !== hostname()) return true;
  // Our own pid, but a text this process did not write: left by an earlier process that had our pid.
  if (holder.pid === pid) return false;
  try {
    kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if (errorCode(err) !== "EPERM") return false;
  }
  const state = processState(holder.pid);
  // A zombie has exited; only its parent has not collected it yet.
  if (state?.zombie) return false;
  return holder.start === null || !state || state.start === null || state.start === holder.start;
}

/**
 * The process's start time in clock ticks since boot, so a reused pid is told apart,
 * and whether it has exited unreaped (Linux `/proc/<pid>/stat`; undefined elsewhere).
 */
function processState(pid: number): { start: string | null; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesized command name (which may itself contain spaces or parens).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { start: fields[19] ?? null, zombie: fields[0] === "Z" };
  } catch {
    return undefined;
  }
}

function lockedError(root: string, holder: LockHolder): FSCacheError {
  const where = holder.host && holder.host !== hostname() ? ` on host ${holder.host}` : "";
  return new FSCacheError("ERR_LOCKED", `cache root ${root} is locked by process ${holder.pid}${where}`, {
    path: root,
  });
}
