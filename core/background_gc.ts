/**
 * Garbage collection in the background: after each release and on a periodic timer,
 * one run at a time, a run asked for meanwhile folded into one more. The timer never
 * keeps the process alive.
 * @module
 */
import { FSCacheError } from "./errors.ts";
import type { Logger } from "./types.ts";

/** Timers take at most 2^31-1 ms; beyond that they fire at once, every millisecond. */
const MAX_INTERVAL = 2 ** 31 - 1;

/**
 * Throws `ERR_INVALID_OPTION` unless `interval` is one a timer can keep: 0 (no timer)
 * or a number of milliseconds up to 2^31-1.
 *
 * @example
 * ```ts
 * checkGcInterval(5 * 60 * 1000); // fine
 * checkGcInterval(Infinity); // throws ERR_INVALID_OPTION
 * ```
 */
export function checkGcInterval(interval: unknown): void {
  if (typeof interval === "number" && interval >= 0 && interval <= MAX_INTERVAL) return;
  throw new FSCacheError(
    "ERR_INVALID_OPTION",
    `gcInterval must be 0 (no timer) or a number of milliseconds up to ${MAX_INTERVAL} (24.8 days), got ${String(interval)}`,
  );
}

/**
 * Runs `collect` when asked, never twice at once; failures go to the logger.
 *
 * @example
 * ```ts
 * const gc = new BackgroundGc(() => registry.collect(policy, Date.now()), console);
 * gc.startTimer(5 * 60 * 1000);
 * gc.schedule(); // after a release
 * gc.stop();
 * await gc.idle();
 * ```
 */
export class BackgroundGc {
  readonly #collect: () => Promise<unknown>;
  readonly #logger: Logger;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(collect: () => Promise<unknown>, logger: Logger) {
    this.#collect = collect;
    this.#logger = logger;
  }

  /** Also runs every `interval` ms (0: never); see {@linkcode checkGcInterval}. */
  startTimer(interval: number): void {
    if (!(interval > 0)) return;
    this.#timer = setInterval(() => this.schedule(), interval);
    unrefTimer(this.#timer);
  }

  /** Runs soon: now if idle, else once more after the run in progress. */
  schedule(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#collect().catch((err) => this.#logger.warn("garbage collection failed", err));
        } while (this.#again && !this.#stopped);
      } finally {
        this.#running = undefined;
      }
    })();
  }

  /** Waits until no run is in progress. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops the timer and any further runs (the one in progress finishes). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}

function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    (timer as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
}
