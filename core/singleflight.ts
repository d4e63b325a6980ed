/**
 * Collapses concurrent calls for one key into one run. Unlike Go's singleflight,
 * the run learns how many callers are still waiting when it finishes, so it can
 * hand each of them its own reference in the same tick; and it is aborted only
 * when every caller has given up.
 * @module
 */
import { FSCacheError } from "./errors.ts";

/** What a flight's work function is given. */
export interface FlightContext {
  /** Aborts when every waiting caller's signal has aborted. */
  readonly signal: AbortSignal;
  /**
   * Ends the flight for its callers: from now on their aborts are ignored (each
   * will receive the result) and new callers start a new flight. Returns how
   * many callers will receive the result. Call it synchronously with the state
   * change that hands out their references, so no caller is counted twice or missed.
   */
  claim(): number;
}

interface Flight<T> {
  promise: Promise<T>;
  waiting: number;
  claimed: boolean;
  controller: AbortController;
}

/**
 * Runs at most one `work` per key at a time; callers arriving meanwhile share it.
 *
 * @example
 * ```ts
 * const group = new SingleFlight<number>();
 * const [a, b] = await Promise.all([
 *   group.run("k", undefined, async () => 1),
 *   group.run("k", undefined, async () => 2), // joins the first: also 1
 * ]);
 * ```
 */
export class SingleFlight<T> {
  #flights = new Map<string, Flight<T>>();

  /** Number of keys with work in progress. */
  get size(): number {
    return this.#flights.size;
  }

  /** Promises of all work in progress (settled or not), for shutdown. */
  pending(): Promise<unknown>[] {
    return [...this.#flights.values()].map((f) => f.promise.catch(() => undefined));
  }

  run(key: string, signal: AbortSignal | undefined, work: (ctx: FlightContext) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(key, signal));
    let flight = this.#flights.get(key);
    // A flight every caller gave up on is still winding down: a new caller must not be
    // handed its abort, nor run beside it on the same key, so it starts a new flight
    // once that one has settled.
    const windingDown = flight && !flight.claimed && flight.controller.signal.aborted ? flight : undefined;
    if (!flight || windingDown) {
      const controller = new AbortController();
      const created: Flight<T> = {
        promise: undefined as unknown as Promise<T>,
        waiting: 0,
        claimed: false,
        controller,
      };
      const end = () => {
        created.claimed = true;
        if (this.#flights.get(key) === created) this.#flights.delete(key);
      };
      const ctx: FlightContext = {
        signal: controller.signal,
        claim: () => {
          end();
          return created.waiting;
        },
      };
      this.#flights.set(key, created);
      // Started on a later tick, so this caller is counted before the work can claim.
      const before = windingDown ? windingDown.promise.then(noop, noop) : Promise.resolve();
      created.promise = before.then(() => work(ctx)).finally(end);
      flight = created;
    }
    flight.waiting++;
    return this.#wait(key, flight, signal);
  }

  #wait(key: string, flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return flight.promise;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled || flight.claimed) return;
        settled = true;
        flight.waiting--;
        if (flight.waiting === 0) flight.controller.abort(signal.reason);
        reject(abortError(key, signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          if (!settled) {
            settled = true;
            resolve(value);
          }
        },
        (err) => {
          signal.removeEventListener("abort", onAbort);
          if (!settled) {
            settled = true;
            reject(err);
          }
        },
      );
    });
  }
}

function noop(): void {}

/** The error a caller gets when its own signal aborts. */
export function abortError(key: string, signal: AbortSignal): FSCacheError {
  return new FSCacheError("ERR_ABORTED", `sync of key ${JSON.stringify(key)} was aborted`, {
    key,
    cause: signal.reason,
  });
}
