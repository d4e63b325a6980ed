/**
 * A small pool of `node:worker_threads` workers (Node and Deno both provide them).
 * Hot loops — walking, hashing, copying many small files — run synchronously inside
 * workers, where one fs call costs ~1 µs instead of the ~50 µs of an awaited call,
 * while the public API stays async and the main thread stays responsive.
 * @module
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";

/**
 * `node:worker_threads`' `Worker`, loaded with the first worker: the module costs a
 * command ~2–4 ms to load, and a sync or push of a small tree starts no worker.
 */
let WorkerClass: typeof Worker | undefined;
function workerClass(): typeof Worker {
  WorkerClass ??= (createRequire(import.meta.url)("node:worker_threads") as typeof import("node:worker_threads"))
    .Worker;
  return WorkerClass;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** What a worker module posts back: `{ id, result }` or `{ id, error: { message, code, path } }`. */
export interface WorkerReply {
  id: number;
  result?: unknown;
  error?: { message: string; code?: string; path?: string };
}

/**
 * The URL of a worker module beside `base` (pass `import.meta.url`), with `base`'s own
 * extension: `.ts` when running from source (Deno, tests), `.js` from `dist/`, `.cjs`
 * from the CLI bundle. tsc and esbuild rewrite import specifiers, not URL strings.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool(siblingModule(import.meta.url, "scan_worker"));
 * ```
 */
export function siblingModule(base: string, name: string): URL {
  const ext = /\.(ts|cjs)$/.exec(base)?.[0] ?? ".js";
  return new URL(`./${name}${ext}`, base);
}

/**
 * Runs messages on up to `size` workers of one module, least busy first. Workers are
 * `unref`'d: an idle pool never keeps the process alive.
 *
 * A worker module answers each `{ id, ...task }` message with a {@linkcode WorkerReply}.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool(siblingModule(import.meta.url, "hash_worker"), 2);
 * const digest = await pool.run({ op: "hash", path: "/etc/hostname" });
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly size: number;
  readonly #url: URL;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  constructor(url: URL, size: number = availableParallelism()) {
    this.#url = url;
    this.size = Math.max(1, size);
  }

  /**
   * Sends `task` to the least busy worker, or with `on` to worker number `on` (started
   * if need be): a caller that keeps two tasks queued on one worker, so it never waits
   * for the next, would otherwise have the second start another worker.
   */
  run<T>(task: Record<string, unknown>, transfer: Transferable[] = [], on?: number): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("worker pool is closed"));
    const slot = on === undefined ? this.#pick() : this.#slotAt(on);
    const id = this.#nextId++;
    slot.busy++;
    if (slot.busy === 1) slot.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (value) => {
          this.#done(slot);
          resolve(value as T);
        },
        reject: (error) => {
          this.#done(slot);
          reject(error);
        },
      });
      slot.worker.postMessage({ id, ...task }, transfer as never);
    });
  }

  /**
   * Starts workers now, up to `count` in all, so that they are up by the time tasks
   * come (a worker takes ~100 ms to start). Idle, they do not keep the process alive.
   */
  start(count: number = this.size): void {
    if (this.#closed) return;
    while (this.#slots.length < Math.min(count, this.size)) this.#spawn();
  }

  /** Terminates every worker; tasks still running are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => stop(s.worker)));
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new Error("worker pool closed"));
    }
  }

  #slotAt(index: number): Slot {
    const at = Math.min(Math.max(0, Math.floor(index)), this.size - 1);
    while (this.#slots.length <= at) this.#spawn();
    return this.#slots[at] as Slot;
  }

  #pick(): Slot {
    let best = this.#slots.reduce<Slot | undefined>((a, s) => (a && a.busy <= s.busy ? a : s), undefined);
    if ((!best || best.busy > 0) && this.#slots.length < this.size) best = this.#spawn();
    return best as Slot;
  }

  #spawn(): Slot {
    const worker = new (workerClass())(this.#url);
    const slot: Slot = { worker, busy: 0 };
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.error) pending.reject(Object.assign(new Error(reply.error.message), reply.error));
      else pending.resolve(reply.result);
    });
    worker.on("error", (err) => this.#fail(slot, err));
    worker.on("exit", (code) => this.#fail(slot, new Error(`worker exited with code ${code}`)));
    this.#slots.push(slot);
    return slot;
  }

  #done(slot: Slot): void {
    slot.busy--;
    if (slot.busy === 0) slot.worker.unref();
  }

  /** A crashed worker fails every task and is replaced on the next run. */
  #fail(slot: Slot, err: unknown): void {
    const index = this.#slots.indexOf(slot);
    if (index === -1) return;
    this.#slots.splice(index, 1);
    // Which pending ids belong to this worker is not tracked; a crash is a bug, so fail all.
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(err);
    }
  }
}

const transfers = new WeakMap<object, Transferable[]>();

/**
 * Marks a worker's answer to be sent with `transfer` moved, not copied (a buffer the
 * caller hands back and forth, say).
 *
 * @example
 * ```ts
 * serveWorker(({ buffer }) => withTransfer({ buffer }, [(buffer as Uint8Array).buffer]));
 * ```
 */
export function withTransfer<T extends object>(value: T, transfer: Transferable[]): T {
  transfers.set(value, transfer);
  return value;
}

/**
 * Terminates `worker`, waiting at most a second. A worker told to stop while it was
 * still loading its modules was seen (Node 20) never to report its exit, and close()
 * must not hang on it: unref'd, it then keeps no process alive.
 */
async function stop(worker: Worker): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STOP_WAIT_MS);
  });
  try {
    await Promise.race([worker.terminate().then(() => undefined), late]);
  } finally {
    clearTimeout(timer);
    worker.unref();
  }
}

const STOP_WAIT_MS = 1000;

/**
 * The worker side: answers each message with `handle(message)`'s result or error.
 * Call it once at the top of a worker module.
 *
 * @example
 * ```ts
 * serveWorker(async ({ op, path }) => op === "size" ? statSync(path as string).size : undefined);
 * ```
 */
export async function serveWorker(handle: (task: Record<string, unknown>) => unknown): Promise<void> {
  const { parentPort } = await import("node:worker_threads");
  if (!parentPort) throw new Error("serveWorker must run inside a worker thread");
  const port = parentPort;
  port.on("message", async (message: { id: number } & Record<string, unknown>) => {
    try {
      const result = await handle(message);
      const transfer = typeof result === "object" && result !== null ? transfers.get(result) : undefined;
      port.postMessage({ id: message.id, result } satisfies WorkerReply, transfer as never);
    } catch (err) {
      const e = err as { message?: string; code?: string; path?: string };
      port.postMessage({
        id: message.id,
        error: { message: e?.message ?? String(err), code: e?.code, path: e?.path },
      } satisfies WorkerReply);
    }
  });
}
