/**
 * Test doubles shared by the test files: the seed's own test transport, a clock the
 * test moves by hand, and a logger that records instead of printing.
 */
import { existsSync } from "node:fs";
import {
  type Backend,
  FSCache,
  type FSCacheOptions,
  type Logger,
  MemoryBackend,
  MemoryMetaStore,
  type MetaStore,
  type RecordedTree,
  type Transport,
} from "../mod.ts";

/** The seed's test transport: writes one file named after the key, holding `id.data`. */
export class DataTransport implements Transport {
  calls = 0;
  /** When set, the next copy waits for this promise before writing (to hold a transfer open). */
  gate: Promise<void> | undefined;
  /** The recorded tree the last copy was given. */
  previous: RecordedTree | undefined;
  async copy({ id, dest, fs, signal, previous }: Parameters<Transport["copy"]>[0]): Promise<void> {
    this.calls++;
    this.previous = previous;
    if (this.gate) await this.gate;
    if (signal.aborted) throw signal.reason;
    await fs.writeFile(`${dest}/${id.key}`, String(id.data));
  }
}

/** A clock that only moves when told to. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** A logger that keeps warnings for assertions. */
export function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  return { messages, warn: (message) => void messages.push(message) };
}

/** Opens a cache on memory adapters with the test transport registered as `test`. */
export async function openTestCache(
  options: Partial<FSCacheOptions> & { backend?: Backend; metaStore?: MetaStore } = {},
): Promise<{ cache: FSCache; transport: DataTransport; backend: Backend; metaStore: MetaStore }> {
  const backend = options.backend ?? new MemoryBackend();
  const metaStore = options.metaStore ?? new MemoryMetaStore();
  const cache = await FSCache.open({ logger: recordingLogger(), gcInterval: 0, ...options, backend, metaStore });
  const transport = new DataTransport();
  cache.registerTransport("test", transport);
  return { cache, transport, backend, metaStore };
}

/** A deferred promise, to hold a transfer open. */
export function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export { seededRandom } from "./_random.ts";

/** The project's root directory (where package.json is), from tests built or not. */
export function projectRoot(): string {
  let dir = new URL(".", import.meta.url).pathname;
  while (!existsSync(`${dir}/package.json`)) {
    const parent = dir.replace(/\/[^/]+\/?$/, "");
    if (parent === dir || parent === "") throw new Error("package.json not found above the tests");
    dir = parent;
  }
  return dir.replace(/\/$/, "");
}

/** The chunks of a byte stream (e.g. a `tar-stream` pack) joined into one array. */
export async function collectBytes(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return concatBytes(parts);
}

/** `parts` one after the other in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `check` holds or `ms` pass; answers whether it held. For what a test waits
 * on: a fixed sleep loses the race on a loaded machine.
 *
 * @example
 * ```ts
 * assert.ok(await pollUntil(1000, () => existsSync(path)));
 * ```
 */
export async function pollUntil(ms: number, check: () => boolean): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (check()) return true;
  return check();
}

/** `s` quoted for `sh -c`: in single quotes, each `'` written as `'\''`. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
