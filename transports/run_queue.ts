/**
 * The queue a walk shared between threads runs on (the local transport's source walk
 * and the push client's): a walk is cut into runs in walk order, the calling thread
 * takes runs from the front and workers from the back, so whoever is free takes the
 * next, and the runs a worker did always form the tail of the walk.
 * @module
 */

/** A piece of a walk and its weight (expected entries). */
export type Unit = [item: string, weight: number];

/**
 * Cuts units into up to `parts` runs of about equal weight, in order; with `tapered`,
 * largest at both ends and smallest in the middle, where the calling thread (from the
 * front) and the workers (from the back) meet when they walk at about the same pace.
 * Whoever finishes first waits there for the other's last run, so that run is best
 * short, while long runs elsewhere keep the per-run cost down.
 *
 * @example
 * ```ts
 * splitUnits([["a", 1], ["b", 1], ["c", 2]], 2); // [["a", "b"], ["c"]]
 * ```
 */
export function splitUnits(units: readonly Unit[], parts: number, tapered = false): string[][] {
  let total = 0;
  for (const [, w] of units) total += w;
  // Run j's share: equal, or growing with its distance from the middle.
  const middle = (parts - 1) / 2;
  const shape = (j: number) => (tapered ? 1 + Math.abs(j - middle) : 1);
  let shapes = 0;
  for (let j = 0; j < parts; j++) shapes += shape(j);
  const runs: string[][] = [[]];
  let sum = 0;
  let end = (total * shape(0)) / shapes;
  for (const [item, w] of units) {
    const current = runs[runs.length - 1] as string[];
    // Start the next run once this one holds its part, unless it is the last.
    if (current.length > 0 && runs.length < parts && sum + w / 2 > end) {
      runs.push([item]);
      end += (total * shape(runs.length - 1)) / shapes;
    } else current.push(item);
    sum += w;
  }
  return runs;
}

/**
 * `count` runs shared between the calling thread (from the front, {@linkcode takeFront})
 * and worker lanes (from the back, {@linkcode workerLane}). One failure stops every
 * lane from taking more.
 *
 * @example
 * ```ts
 * const queue = new RunQueue<WalkResult>(runs.length);
 * const lane = queue.workerLane(startWorker(), (i) => offload(runs[i]));
 * for (let i = queue.takeFront(); i !== -1; i = queue.takeFront()) queue.results[i] = walkHere(runs[i]);
 * await lane;
 * ```
 */
export class RunQueue<R> {
  readonly count: number;
  /** Each run's result, once done (set by the caller for its own runs). */
  readonly results: R[];
  /** Runs handed to a worker, by index: the calling thread may wait for one in order. */
  readonly #offloaded: Promise<R>[] = [];
  #front = 0;
  #back: number;
  #failed = false;
  /** Settles once no run is left to take (all taken, or a failure). */
  readonly #drained: Promise<false>;
  #drain!: () => void;

  constructor(count: number) {
    this.count = count;
    this.#back = count;
    this.results = new Array<R>(count);
    this.#drained = new Promise<false>((resolve) => {
      this.#drain = () => resolve(false);
    });
    if (count === 0) this.#drain();
  }

  /** Runs not taken by anyone yet. */
  get left(): number {
    return this.#failed ? 0 : this.#back - this.#front;
  }

  /** Index of the first run a worker took (`count` while none did). */
  get firstOffloaded(): number {
    return this.#back;
  }

  /** The next run for the calling thread, or -1 when none is left. */
  takeFront(): number {
    if (this.left > 0) return this.#front++;
    this.#drain();
    return -1;
  }

  /** Stops every lane from taking more runs. */
  fail(): void {
    this.#failed = true;
    this.#drain();
  }

  /** The result of run `i` if a worker lane took it (see {@linkcode firstOffloaded}). */
  offloaded(i: number): Promise<R> | undefined {
    return this.#offloaded[i];
  }

  /**
   * A worker's lane: once `up` resolves (its worker has started), it keeps two runs in
   * flight, taken from the back, so its next run is already queued when it answers and
   * it never waits for the calling thread (busy between event-loop turns) to hand one out.
   * Without `up`, its first two runs are handed out before this call returns.
   */
  async workerLane(up: Promise<unknown> | undefined, run: (i: number) => Promise<R>): Promise<void> {
    // A worker still starting when every run is taken has nothing left to do (a small
    // tree): its lane ends without waiting for it, and its start failing is no failure.
    if (up) {
      up.catch(() => undefined);
      if ((await Promise.race([up.then(() => true), this.#drained])) === false) return;
    }
    let error: unknown;
    const inFlight = new Set<Promise<unknown>>();
    while (true) {
      while (error === undefined && inFlight.size < 2 && this.left > 0) {
        const i = --this.#back;
        const result = run(i);
        this.#offloaded[i] = result;
        const settled: Promise<unknown> = result.then(
          (value) => {
            this.results[i] = value;
            inFlight.delete(settled);
          },
          (err) => {
            error ??= err;
            inFlight.delete(settled);
          },
        );
        inFlight.add(settled);
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
    }
    if (error !== undefined) {
      this.fail();
      throw error;
    }
  }
}
