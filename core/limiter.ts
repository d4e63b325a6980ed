/**
 * A bound on operations in flight at once, the rest waiting in order.
 * @module
 */

/**
 * Runs at most `size` operations at once; later ones wait their turn, first come first
 * served.
 *
 * @example
 * ```ts
 * const limit = new Limiter(4);
 * await Promise.all(paths.map((p) => limit.run(() => fs.unlink(p)))); // never more than 4 unlinks at once
 * ```
 */
export class Limiter {
  readonly #size: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Runs `operation` once fewer than `size` others are running. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await operation();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
