/**
 * The {@linkcode CacheUpdater} the cache hands each transport.
 * @module
 */
import { validateChange } from "./hash_tree.ts";
import type { SnapshotTree } from "./snapshot_tree.ts";
import type { CacheUpdater, ChangeKind, EntryStat, Sha256Factory } from "./types.ts";

/**
 * What a transport reports through. Changes are checked as they arrive (so the
 * transport fails at the faulty call) and applied to the hash tree only after the
 * copy succeeded, so the `previous` tree the transport reads stays as recorded.
 *
 * @example
 * ```ts
 * const updater = new TreeUpdater(nodeSha256);
 * await transport.copy({ ...request, updater });
 * if (updater.supported) for (const c of updater.changes) tree.apply(c.kind, c.path, c.checksum, c.stat);
 * ```
 */
export class TreeUpdater implements CacheUpdater {
  supported = false;
  /** The changes reported, unless they went into the tree given to the constructor. */
  readonly changes: { kind: ChangeKind; path: string; checksum?: string; stat?: EntryStat }[] = [];
  readonly #into: SnapshotTree | undefined;

  /**
   * `into`, when given, takes each change as it arrives instead of `changes`: only for
   * a tree no transport reads and that is dropped if the copy fails (a fresh
   * snapshot's), so a first sync's adds are folded in while the copy still runs.
   */
  constructor(
    readonly sha256: Sha256Factory,
    into?: SnapshotTree,
  ) {
    this.#into = into;
  }
  markSupported(supported: boolean): void {
    this.supported = supported;
  }
  handleChange(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void {
    validateChange(kind, path, checksum);
    if (this.#into) this.#into.apply(kind, path, checksum, stat);
    else this.changes.push({ kind, path, checksum, stat });
  }
}
