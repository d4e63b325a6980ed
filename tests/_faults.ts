/**
 * Fault injection for tests: a {@linkcode FileSystem} and a {@linkcode MetaStore} that
 * fail chosen calls with real-looking errors (`EIO`, `ENOSPC`, `EACCES`, `EMFILE`, with
 * `code`, `errno`, `syscall` and `path` as node's own), and a connection that is cut
 * after N bytes. One {@linkcode FaultInjector} decides for all of them, so "the Nth
 * call" counts across the file system and the store, and a seed replays a run exactly.
 *
 * Faults reach only code that goes through the wrapped objects: worker threads open
 * `node:fs` themselves. Callers therefore run the local transport inline (a wrapped
 * file system is not `node:fs`, so it does) and pass `inlineScanner` to the cache.
 */
import { type FileSystem, nodeStyleModuleOf } from "../core/file_system.ts";
import type { MetaStore, SourceRecord } from "../core/types.ts";
import type { DiffCopyConnection } from "../transports/diffcopy/framing.ts";
import { seededRandom } from "./_random.ts";

/** The errors injected. */
export type FaultCode = "EIO" | "ENOSPC" | "EACCES" | "EMFILE";

/** When to fail. */
export interface FaultPlan {
  /** Seed of the random choices (which calls fail, with which code). Default 1. */
  seed?: number;
  /** Probability that an eligible call fails. Default 0. */
  rate?: number;
  /** Fail exactly these eligible calls (1-based counts), whatever `rate` says. */
  at?: readonly number[];
  /** Codes to choose from (each call only gets codes it can really return). Default: all four. */
  codes?: readonly FaultCode[];
  /** Method names that may fail (`"writeSync"`, `"put"`, …). Default: every one. */
  methods?: readonly string[];
  /** Only calls on paths matching this may fail. Default: any call. */
  paths?: RegExp;
  /** Probability that a `readSync`/`writeSync` that does not fail moves fewer bytes than asked. */
  shortIo?: number;
}

/** What an injector did. */
export interface FaultLog {
  calls: number;
  injected: number;
  byCode: Record<string, number>;
}

const ERRNO: Record<FaultCode, [number, string]> = {
  EIO: [-5, "i/o error"],
  ENOSPC: [-28, "no space left on device"],
  EACCES: [-13, "permission denied"],
  EMFILE: [-24, "too many open files"],
};

/** Which codes a call can really fail with: no `ENOSPC` from a read, no `EMFILE` from a stat. */
const WRITES = new Set([
  "writeFile",
  "mkdir",
  "symlink",
  "rename",
  "copyFile",
  "link",
  "writeFileSync",
  "mkdirSync",
  "symlinkSync",
  "renameSync",
  "copyFileSync",
  "linkSync",
  "writeSync",
  "openSync",
  "fsyncSync",
  "closeSync",
  "put",
  "rebase",
  "putHashTree",
  "delete",
]);
const OPENS = new Set([
  "readFile",
  "writeFile",
  "readdir",
  "copyFile",
  "readFileSync",
  "writeFileSync",
  "readdirSync",
  "copyFileSync",
  "openSync",
  "getHashTree",
  "put",
  "putHashTree",
]);

const SYSCALL: Record<string, string> = {
  readFile: "open",
  writeFile: "open",
  readdir: "scandir",
  utimes: "utime",
  copyFile: "copyfile",
  readFileSync: "open",
  writeFileSync: "open",
  readdirSync: "scandir",
  utimesSync: "utime",
  copyFileSync: "copyfile",
  openSync: "open",
  readSync: "read",
  writeSync: "write",
  fsyncSync: "fsync",
  closeSync: "close",
  lutimesSync: "lutime",
  lchownSync: "lchown",
};

/** A node-style system error: what `node:fs` throws. */
export function systemError(code: FaultCode, syscall: string, path?: string): Error {
  const [errno, text] = ERRNO[code];
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${text}, ${where}`) as Error & Record<string, unknown>;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** Decides which calls fail; shared by every wrapper of one test run. */
export class FaultInjector {
  readonly log: FaultLog = { calls: 0, injected: 0, byCode: {} };
  /** While false, nothing fails (and nothing is counted): for setup and verification. */
  armed = true;
  #plan: FaultPlan;
  #random: () => number;
  #eligible = 0;

  constructor(plan: FaultPlan = {}) {
    this.#plan = plan;
    this.#random = seededRandom(plan.seed ?? 1);
  }

  /** Replaces the plan (and restarts the Nth-call count); the log keeps adding up. */
  replan(plan: FaultPlan): void {
    this.#plan = plan;
    this.#random = seededRandom(plan.seed ?? 1);
    this.#eligible = 0;
  }

  /** The error the call `method` on `path` fails with, or `undefined` when it goes through. */
  next(method: string, path?: string): Error | undefined {
    if (!this.armed) return undefined;
    const plan = this.#plan;
    if (plan.methods && !plan.methods.includes(method)) return undefined;
    if (plan.paths && !(path !== undefined && plan.paths.test(path))) return undefined;
    this.log.calls++;
    const n = ++this.#eligible;
    const hit = plan.at?.includes(n) || (plan.rate !== undefined && plan.rate > 0 && this.#random() < plan.rate);
    if (!hit) return undefined;
    const allowed = (plan.codes ?? (Object.keys(ERRNO) as FaultCode[])).filter(
      (c) =>
        c === "EIO" ||
        c === "EACCES" ||
        (c === "ENOSPC" && WRITES.has(method)) ||
        (c === "EMFILE" && OPENS.has(method)),
    );
    const code = allowed.length > 0 ? (allowed[Math.floor(this.#random() * allowed.length)] as FaultCode) : "EIO";
    this.log.injected++;
    this.log.byCode[code] = (this.log.byCode[code] ?? 0) + 1;
    return systemError(code, SYSCALL[method] ?? method.replace(/Sync$/, "").toLowerCase(), path);
  }

  /** True when a read or write should move fewer bytes than asked (legal, and easy to get wrong). */
  short(): boolean {
    const p = this.#plan.shortIo ?? 0;
    return this.armed && p > 0 && this.#random() < p;
  }
}

/** Calls whose failure happens after the work was done: `close` always releases the descriptor. */
const FAIL_AFTER = new Set(["closeSync"]);

/**
 * `inner` with every call passed through `injector` first. The optional calls the
 * local transport looks for (`lutimesSync`, `lchownSync`) are wrapped too when `inner`
 * adapts a module that has them.
 *
 * @example
 * ```ts
 * const injector = new FaultInjector({ seed: 7, rate: 0.01 });
 * const fs = faultyFileSystem(fileSystemFrom(new Volume()), injector);
 * ```
 */
export function faultyFileSystem(inner: FileSystem, injector: FaultInjector): FileSystem {
  const out: Record<string, unknown> = {};
  const source = inner as unknown as Record<string, unknown>;
  const module = nodeStyleModuleOf(inner) as Record<string, unknown> | undefined;
  const names = new Set(Object.keys(source));
  for (const extra of ["lutimesSync", "lchownSync"]) if (typeof module?.[extra] === "function") names.add(extra);
  for (const name of names) {
    const owner = name in source ? source : (module as Record<string, unknown>);
    const method = owner[name];
    if (typeof method !== "function") {
      out[name] = method;
      continue;
    }
    const call = (args: unknown[]) => (method as (...a: unknown[]) => unknown).apply(owner, args);
    if (name === "existsSync") out[name] = (...args: unknown[]) => call(args);
    else if (name === "readSync" || name === "writeSync") {
      out[name] = (...args: unknown[]) => {
        const error = injector.next(name);
        if (error) throw error;
        const length = args[3] as number | undefined;
        if (typeof length === "number" && length > 1 && injector.short()) args[3] = Math.ceil(length / 2);
        return call(args);
      };
    } else if (name.endsWith("Sync")) {
      out[name] = (...args: unknown[]) => {
        const error = injector.next(name, pathArg(args[0]));
        if (error && !FAIL_AFTER.has(name)) throw error;
        const result = call(args);
        if (error) throw error;
        return result;
      };
    } else {
      out[name] = async (...args: unknown[]) => {
        const error = injector.next(name, pathArg(args[0]));
        if (error) throw error;
        return await call(args);
      };
    }
  }
  return out as unknown as FileSystem;
}

function pathArg(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * `inner` with every call passed through `injector`. Writes fail either before they
 * happen or, with probability `afterRate`, after (the data is stored but the caller is
 * told it failed, as when an fsync fails after a rename).
 *
 * @example
 * ```ts
 * const metaStore = faultyMetaStore(new MemoryMetaStore(), injector);
 * ```
 */
export function faultyMetaStore(inner: MetaStore, injector: FaultInjector, afterRate = 0.3, seed = 1): MetaStore {
  const random = seededRandom(seed);
  const guard = async <T>(method: string, key: string | undefined, run: () => Promise<T>): Promise<T> => {
    const error = injector.next(method, key === undefined ? undefined : `meta/${key}`);
    if (!error) return await run();
    if (method !== "loadAll" && method !== "getHashTree" && random() < afterRate) await run();
    throw error;
  };
  return {
    loadAll: () => guard("loadAll", undefined, () => inner.loadAll()),
    put: (record: SourceRecord) => guard("put", record.key, () => inner.put(record)),
    delete: (key: string) => guard("delete", key, () => inner.delete(key)),
    rebase: (oldKey: string, record: SourceRecord) => guard("rebase", record.key, () => inner.rebase(oldKey, record)),
    getHashTree: (key: string) => guard("getHashTree", key, () => inner.getHashTree(key)),
    putHashTree: (key: string, data: Uint8Array) => guard("putHashTree", key, () => inner.putHashTree(key, data)),
    close: () => inner.close(),
  };
}

/** How a cut connection ends. */
export interface CutOptions {
  /** Bytes (both directions together) that pass before the cut. */
  after: number;
  /** `"reset"`: both ends see an `ECONNRESET` error; `"close"`: the streams just end. Default `"reset"`. */
  how?: "reset" | "close";
}

/**
 * `inner` cut after `after` bytes, as a dropped TCP connection: once the budget is
 * spent (part of a chunk may still pass), both directions end for this side and for
 * the peer, whose reads end and whose writes fail.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPipe();
 * await Promise.allSettled([sendDiffCopy(cutConnection(a, { after: 300 }), send), receiveDiffCopy(b, target)]);
 * ```
 */
export function cutConnection(inner: DiffCopyConnection, options: CutOptions): DiffCopyConnection & { cut(): boolean } {
  let budget = options.after;
  let dead = false;
  const error = Object.assign(new Error("ECONNRESET: connection reset by peer (injected)"), {
    code: "ECONNRESET",
    errno: -104,
    syscall: "read",
  });
  const writer = inner.writable.getWriter();
  const reader = inner.readable.getReader();
  let readController: ReadableStreamDefaultController<Uint8Array> | undefined;
  const kill = () => {
    if (dead) return;
    dead = true;
    if (options.how === "close") void writer.close().catch(() => undefined);
    else void writer.abort(error).catch(() => undefined);
    void reader.cancel(error).catch(() => undefined);
    try {
      if (options.how === "close") readController?.close();
      else readController?.error(error);
    } catch {
      // already closed
    }
  };
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      readController = controller;
    },
    async pull(controller) {
      if (dead) return;
      const r = await reader.read().catch((e) => ({ done: true as const, value: undefined, e }));
      if (dead) return;
      if (r.done) {
        if ("e" in r) controller.error(r.e);
        else controller.close();
        return;
      }
      const chunk = r.value.subarray(0, Math.max(0, budget));
      budget -= r.value.length;
      if (chunk.length > 0) controller.enqueue(chunk);
      if (budget <= 0) kill();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (dead) throw error;
      const part = chunk.subarray(0, Math.max(0, budget));
      budget -= chunk.length;
      if (part.length > 0) await writer.write(part);
      if (budget <= 0) {
        kill();
        if (part.length < chunk.length) throw error;
      }
    },
    close() {
      if (!dead) return writer.close();
    },
    abort(reason) {
      if (!dead) return writer.abort(reason);
    },
  });
  return { readable, writable, cut: () => dead };
}

/**
 * A byte stream cut after `after` bytes: it errors with `ECONNRESET` (or just ends, with
 * `how: "close"`). For truncated uploads (a tar body) and dropped downloads.
 *
 * @example
 * ```ts
 * await importTar(cutStream(chunksOf(tar), { after: 700 }), target); // rejects
 * ```
 */
export function cutStream(inner: ReadableStream<Uint8Array>, options: CutOptions): ReadableStream<Uint8Array> {
  let budget = options.after;
  const reader = inner.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await reader.read();
      if (r.done) return controller.close();
      const chunk = r.value.subarray(0, Math.max(0, budget));
      budget -= r.value.length;
      if (chunk.length > 0) controller.enqueue(chunk);
      if (budget > 0) return;
      await reader.cancel().catch(() => undefined);
      if (options.how === "close") controller.close();
      else {
        controller.error(
          Object.assign(new Error("ECONNRESET: connection reset by peer (injected)"), { code: "ECONNRESET" }),
        );
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
