/**
 * The new directories a receive makes while its entry list still arrives (the
 * receiver's `earlyDirs`): the first few on the receiving thread, the rest, where the
 * receive has write threads that make directories, on one of those in batches, so that
 * the receiving thread goes on reading entries. A first push of the small benchmark
 * tree spent ~0.1 s of the receiving thread in its 1,110 `mkdir`s, while the sender
 * had finished walking and waited for the first REQ.
 * @module
 */
import type { ReceivedDirBatch, WriteThreads } from "./file_batches.ts";
import type { SafeTree } from "./safe_tree.ts";

/**
 * Directories made on the receiving thread before any go elsewhere: a small tree's few
 * are not worth a message, nor a writing thread's start.
 */
const INLINE_DIRS = 64;
/** The most directories in one batch: the writing thread starts on it while more arrive. */
const BATCH_DIRS = 256;

/**
 * New directories made early, here or on a writing thread. Each must have its parent
 * there already or made here before it (walk order gives that).
 *
 * @example
 * ```ts
 * const early = new EarlyDirs(tree, writeThreads, crypto.randomUUID());
 * early.make("src", 0o755);
 * early.flush(); // before waiting for more entries
 * await early.done(); // every directory is there
 * ```
 */
export class EarlyDirs {
  readonly #tree: SafeTree;
  readonly #threads: Required<Pick<WriteThreads, "makeDirs">> | undefined;
  readonly #made = new Set<string>();
  /** The receive's id: the writing thread keeps what it checked for this receive's batches only. */
  readonly #session: string;
  #batch: ReceivedDirBatch | undefined;
  readonly #sent: Promise<void>[] = [];
  #failure: unknown;

  constructor(tree: SafeTree, threads: WriteThreads | undefined, session: string) {
    this.#tree = tree;
    this.#session = session;
    const usable = threads?.makeDirs && threads.lanes > 0 && threads.accepts(tree.fs);
    this.#threads = usable ? (threads as Required<Pick<WriteThreads, "makeDirs">>) : undefined;
  }

  /** Whether `path` was made here (or is being made). */
  has(path: string): boolean {
    return this.#made.has(path);
  }

  /** Makes the new directory `path` with `mode` (see `SafeTree.mkdir`), here or on a writing thread. */
  make(path: string, mode: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    this.#made.add(path);
    if (!this.#threads || this.#made.size <= INLINE_DIRS) {
      this.#tree.mkdir(path, mode);
      return;
    }
    this.#batch ??= { dest: this.#tree.dest, session: this.#session, paths: [], modes: [] };
    this.#batch.paths.push(path);
    this.#batch.modes.push(mode);
    if (this.#batch.paths.length >= BATCH_DIRS) this.flush();
  }

  /** Sends the directories gathered so far: call it before waiting for more entries. */
  flush(): void {
    const batch = this.#batch;
    if (!batch || !this.#threads) return;
    this.#batch = undefined;
    // Their modes and times are set where the receive ends, as for those made here
    // (`restoreDirTimes`); this thread checks them again before writing below them.
    this.#sent.push(
      this.#threads.makeDirs(batch).catch((err) => {
        this.#failure ??= err;
      }),
    );
  }

  /** Flushes, and waits until every directory is there; throws the first failure. */
  async done(): Promise<void> {
    this.flush();
    await this.settle();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Waits for every batch sent, after a failure too: a thread still making directories
   * must not race the receive that repairs the snapshot.
   */
  async settle(): Promise<void> {
    await Promise.all(this.#sent);
  }
}
