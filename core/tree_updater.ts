/**
 * The {@linkcode CacheUpdater} the cache hands each transport.
 * @module
 */
import { validateChange } from "./hash_tree.ts";
import type { CacheUpdater, ChangeKind, EntryStat, Sha256Factory } from "./types.ts";

/**
 * What a transport reports through. Changes are checked as they arrive (so the
 * transport fails at the faulty call) and applied to the hash tree only after the
 * copy succeeded, so the `previous` tree the transport reads stays as recorded.
 */
export class TreeUpdater implements CacheUpdater {
  supported = false;
  readonly changes: { kind: ChangeKind; path: string; checksum?: string; stat?: EntryStat }[] = [];
  constructor(readonly sha256: Sha256Factory) {}
  markSupported(supported: boolean): void {
    this.supported = supported;
  }
  handleChange(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void {
    validateChange(kind, path, checksum);
    this.changes.push({ kind, path, checksum, stat });
  }
}
